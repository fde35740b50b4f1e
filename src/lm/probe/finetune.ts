/**
 * The second probe: a short seeded fine-tune of the whole network with a linear classification head on the
 * mean-pooled final hidden states (the pooling of features.ts, windows included), by AdamW on the mean
 * cross-entropy; then the tuned network and head classify the held-out examples. The LM's own output head is
 * left as it is (the pooled states do not pass through it). Seeded: the head's initial weights and the order
 * examples are drawn in, one seeded permutation per pass over the training examples.
 */
import * as tf from "@tensorflow/tfjs-core"
import { adamwStep, type AdamWConfig, optimizerState } from "../neural/adamw.ts"
import type { HiddenNet } from "../neural/families.ts"
import { gradientsOf } from "../neural/tensors.ts"
import { seededDraws } from "../neural/weights.ts"
import { pooledHidden, windowGroups } from "./features.ts"
import type { LogisticModel } from "./logistic.ts"
import { seededOrder } from "./order.ts"

export interface FineTuneOptions {
  readonly steps: number
  /** Examples per step. */
  readonly examples: number
  readonly lr: number
  readonly seed: number
  readonly stride: number
  /** Windows per forward pass when classifying. */
  readonly batch: number
  /**
   * The head's start (linear probing, then fine-tuning: Kumar et al. 2022): a fitted linear probe, whose
   * standardisation of the pooled states (the training features' mean and 1 / standard deviation, kept fixed) and
   * weights the head takes over. Left out: no standardisation, seeded normal weights (sd 0.02), zero biases.
   */
  readonly head?: LogisticModel
  readonly onStep?: (step: number, steps: number, loss: number) => void
}

export interface FineTuned {
  /** The network's weights after tuning (every parameter, the LM head unchanged). */
  readonly params: Record<string, Float32Array>
  /** The classification head: weights [hiddenWidth · classes], biases [classes]. */
  readonly head: { readonly w: Float32Array; readonly b: Float32Array }
  /** The fixed standardisation the head reads the pooled states through (none: mean 0, scale 1). */
  readonly standardise: { readonly mean: Float32Array; readonly invScale: Float32Array }
  readonly losses: ReadonlyArray<number>
}

const HEAD_W = "probe.w"
const HEAD_B = "probe.b"

/** Fine-tunes `net` to classify `sequences` ([<eos>, tokens...]) into `classes` by their `labels`. */
export const fineTune = (
  net: HiddenNet,
  sequences: ReadonlyArray<Int32Array>,
  labels: ArrayLike<number>,
  classes: number,
  o: FineTuneOptions
): FineTuned => {
  if (classes < 2) throw new Error(`a classifier needs at least 2 classes, got ${classes}`)
  if (sequences.length !== labels.length) throw new Error(`${labels.length} labels for ${sequences.length} texts`)
  if (sequences.length === 0) throw new Error("no training examples")
  const d = net.hiddenWidth
  // The LM head is not on the pooled path: it is neither uploaded nor tuned (a gradient needs a path to the loss).
  const body = net.shapes.filter(([name]) => !name.startsWith("head."))
  const shapes: Array<readonly [string, ReadonlyArray<number>]> = [...body, [HEAD_W, [d, classes]], [HEAD_B, [classes]]]
  const draws = seededDraws(o.seed)
  const w = new Float32Array(d * classes)
  if (o.head !== undefined) {
    if (o.head.width !== d || o.head.classes !== classes) {
      throw new Error(`the initial head is ${o.head.width} · ${o.head.classes}, not ${d} · ${classes}`)
    }
    w.set(o.head.weights)
  } else for (let i = 0; i < w.length; i++) w[i] = 0.02 * draws.normal()
  const standardise = {
    mean: o.head === undefined ? new Float32Array(d) : Float32Array.from(o.head.mean),
    invScale: o.head === undefined ? new Float32Array(d).fill(1) : Float32Array.from(o.head.invScale)
  }
  const params: Record<string, Float32Array> = Object.fromEntries(body.map(([n]) => [n, net.params[n].slice()]))
  params[HEAD_W] = w
  params[HEAD_B] = o.head === undefined ? new Float32Array(classes) : Float32Array.from(o.head.bias)
  const state = optimizerState(params)
  const adamw: AdamWConfig = {
    lr: o.lr,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    warmup: 0,
    schedule: "constant",
    totalSteps: o.steps,
    minLrFraction: 1
  }
  const order = seededOrder(sequences.length, o.seed)
  const losses: number[] = []
  for (let step = 0; step < o.steps; step++) {
    const picked = Array.from({ length: Math.min(o.examples, sequences.length) }, () => order.next())
    const batchSeqs = picked.map((i) => sequences[i])
    const groups = [...windowGroups(batchSeqs, net.window, o.stride)]
    // Per group of windows of one length: the ids, and the pooling matrix [examples, windows · length].
    const inputs = groups.map(([length, windows]) => {
      const ids = new Int32Array(windows.length * length)
      const pool = new Float32Array(picked.length * windows.length * length)
      windows.forEach((win, i) => {
        ids.set(batchSeqs[win.sequence].subarray(win.start, win.start + length), i * length)
        const share = 1 / (batchSeqs[win.sequence].length - 1)
        for (let j = win.from; j < length; j++) {
          if (win.start + j === 0) continue
          pool[win.sequence * windows.length * length + i * length + j] = share
        }
      })
      return { length, count: windows.length, ids, pool }
    })
    const target = new Float32Array(picked.length * classes)
    picked.forEach((ex, r) => (target[r * classes + labels[ex]] = 1))
    const { loss, grads } = gradientsOf(
      shapes.map(([n]) => n),
      () => shapes.map(([n, shape]) => tf.tensor(state.params[n], [...shape], "float32")),
      (weights) => {
        let pooled: tf.Tensor2D | undefined
        for (const g of inputs) {
          const h = net.hiddenTensors(weights, g.ids, g.count)
          const part = tf.matMul(tf.tensor2d(g.pool, [picked.length, g.count * g.length]), h) as tf.Tensor2D
          pooled = pooled === undefined ? part : tf.add<tf.Tensor2D>(pooled, part)
        }
        const z = tf.mul(
          tf.sub(pooled!, tf.tensor1d(standardise.mean)),
          tf.tensor1d(standardise.invScale)
        ) as tf.Tensor2D
        const logits = tf.add(tf.matMul(z, weights[HEAD_W] as tf.Tensor2D), weights[HEAD_B])
        const mask = tf.tensor2d(target, [picked.length, classes])
        return tf.neg(tf.mean(tf.sum(tf.mul(mask, tf.logSoftmax(logits)), 1))) as tf.Scalar
      }
    )
    adamwStep(state, shapes, grads, adamw)
    losses.push(loss)
    o.onStep?.(step + 1, o.steps, loss)
  }
  const tuned: Record<string, Float32Array> = { ...net.params }
  for (const [n] of body) tuned[n] = state.params[n]
  return { params: tuned, head: { w: state.params[HEAD_W], b: state.params[HEAD_B] }, standardise, losses }
}

/** The fine-tuned network's class for each sequence (the lowest class index on a tie). */
export const classify = (
  net: HiddenNet,
  tuned: FineTuned,
  sequences: ReadonlyArray<Int32Array>,
  classes: number,
  o: { readonly stride: number; readonly batch: number }
): Int32Array => {
  const d = net.hiddenWidth
  const pooled = pooledHidden(net, sequences, o, tuned.params)
  const out = new Int32Array(sequences.length)
  for (let s = 0; s < sequences.length; s++) {
    let best = 0, bestScore = -Infinity
    for (let c = 0; c < classes; c++) {
      let z = tuned.head.b[c]
      for (let k = 0; k < d; k++) {
        const x = (pooled[s * d + k] - tuned.standardise.mean[k]) * tuned.standardise.invScale[k]
        z += x * tuned.head.w[k * classes + c]
      }
      if (z > bestScore) {
        bestScore = z
        best = c
      }
    }
    out[s] = best
  }
  return out
}
