/**
 * A neural model's view of a text: its final hidden states (after the last LayerNorm, what the output head reads),
 * mean-pooled over the text's positions, each read in the sliding windows of `windows.ts`. A text is its tokens after
 * an <eos> (a document begins after one in training); the <eos> position is read but not pooled.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { HiddenNet } from "../neural/families.ts"
import { type Window, slidingWindows } from "./windows.ts"

export interface PoolOptions {
  /** Window advance (at most the model's window). */
  readonly stride: number
  /** Windows per forward pass. */
  readonly batch: number
  readonly onProgress?: (done: number, total: number) => void
}

/** Every window of every sequence, grouped by length (windows of one length share a forward pass). */
export const windowGroups = (
  sequences: ReadonlyArray<Int32Array>,
  window: number,
  stride: number
): Map<number, Window[]> => {
  const groups = new Map<number, Window[]>()
  sequences.forEach((seq, i) => {
    for (const w of slidingWindows(i, seq.length, window, stride)) {
      const group = groups.get(w.length) ?? []
      group.push(w)
      groups.set(w.length, group)
    }
  })
  return new Map([...groups].sort(([a], [b]) => a - b))
}

/** How many positions of sequence `s` are pooled: all but the leading <eos>. */
const pooledCount = (seq: Int32Array): number => {
  if (seq.length < 2) throw new Error("a text with no tokens has no hidden states to pool")
  return seq.length - 1
}

/** Weight tensors of `params` by name (the caller disposes them). */
export const uploadWeights = (
  net: HiddenNet,
  params: Readonly<Record<string, Float32Array>>
): Record<string, tf.Tensor> =>
  Object.fromEntries(net.shapes.map(([name, shape]) => [name, tf.tensor(params[name], [...shape], "float32")]))

/**
 * The mean-pooled final hidden states of each sequence (`[<eos>, tokens...]`), [sequences · hiddenWidth] row-major,
 * in float64, with the net's own weights or `params` (a fine-tuned copy).
 */
export const pooledHidden = (
  net: HiddenNet,
  sequences: ReadonlyArray<Int32Array>,
  o: PoolOptions,
  params: Readonly<Record<string, Float32Array>> = net.params
): Float64Array => {
  const d = net.hiddenWidth
  const out = new Float64Array(sequences.length * d)
  const counts = sequences.map(pooledCount)
  const groups = windowGroups(sequences, net.window, o.stride)
  const total = [...groups.values()].reduce((n, g) => n + g.length, 0)
  const weights = uploadWeights(net, params)
  let done = 0
  try {
    for (const [length, windows] of groups) {
      for (let b0 = 0; b0 < windows.length; b0 += o.batch) {
        const group = windows.slice(b0, b0 + o.batch)
        const ids = new Int32Array(group.length * length)
        group.forEach((w, i) => ids.set(sequences[w.sequence].subarray(w.start, w.start + length), i * length))
        const h = tf.tidy(() => net.hiddenTensors(weights, ids, group.length))
        const hidden = h.dataSync() as Float32Array
        h.dispose()
        group.forEach((w, i) => {
          const o = w.sequence * d
          for (let j = w.from; j < length; j++) {
            if (w.start + j === 0) continue // the <eos> a text begins after
            const row = (i * length + j) * d
            for (let k = 0; k < d; k++) out[o + k] += hidden[row + k]
          }
        })
        done += group.length
        o.onProgress?.(done, total)
      }
    }
  } finally {
    for (const t of Object.values(weights)) t.dispose()
  }
  sequences.forEach((_, s) => {
    for (let k = 0; k < d; k++) out[s * d + k] /= counts[s]
  })
  return out
}
