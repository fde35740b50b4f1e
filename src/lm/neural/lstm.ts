/**
 * An LSTM language model on TensorFlow.js, for comparison with the transformer: token embedding, `layers` LSTM
 * layers (PyTorch's gate order i, f, g, o, with both input and recurrent biases), and an output head.
 *
 * Training unrolls `context` steps from a zero state (truncated backpropagation over the same random windows the
 * transformer sees); sampling carries the state along a whole document. Weights live in JS as Float32Arrays and the
 * dense products use the transformer's custom-gradient layers (XNNPACK's fast path on wasm).
 */
import * as tf from "@tensorflow/tfjs-core"
// Side effect: registers the gradient of every op (tfjs-core alone ships none in its Node build).
import "@tensorflow/tfjs"
import { checkedDecoder, type Decoder, type Family } from "./family.ts"
import { gradientsOf, residentAffine, tidyRead } from "./tensors.ts"
import { crossEntropy, dense, embedding, FAST } from "./transformer.ts"
import {
  NEURAL_ARTIFACTS,
  type Params,
  type ParamShapes,
  requirePositiveInts,
  seededDraws,
  size,
  weightsFromSafetensors,
  weightsToSafetensors
} from "./weights.ts"

export interface LstmConfig {
  readonly vocab: number
  readonly layers: number
  readonly embed: number
  readonly hidden: number
  /** Training windows (truncated backpropagation) and evaluation windows are this long. */
  readonly context: number
}

export const LSTM_ARTIFACT = NEURAL_ARTIFACTS.lstm
const CONFIG_FIELDS = ["vocab", "layers", "embed", "hidden", "context"] as const

export const validateLstm = (c: LstmConfig): void => requirePositiveInts("lstm", c, CONFIG_FIELDS)

export const lstmShapes = (c: LstmConfig): ParamShapes => {
  const H = 4 * c.hidden
  const out: Array<readonly [string, ReadonlyArray<number>]> = [["emb", [c.vocab, c.embed]]]
  for (let l = 0; l < c.layers; l++) {
    out.push(
      [`l${l}.ih.w`, [l === 0 ? c.embed : c.hidden, H]],
      [`l${l}.ih.b`, [H]],
      [`l${l}.hh.w`, [c.hidden, H]],
      [`l${l}.hh.b`, [H]]
    )
  }
  out.push(["head.w", [c.hidden, c.vocab]], ["head.b", [c.vocab]])
  return out
}

/**
 * PyTorch's initialisation from a seeded xoroshiro128+: embedding N(0, 1), every other weight and bias
 * U(-1/sqrt(hidden), 1/sqrt(hidden)), except the head's bias (0) and the forget gate's input bias, raised by 1 so
 * that early in training the cell keeps what it holds.
 */
export const initLstm = (c: LstmConfig, seed: number): Params => {
  validateLstm(c)
  const { uniform, normal } = seededDraws(seed)
  const k = 1 / Math.sqrt(c.hidden)
  const params: Params = {}
  for (const [name, shape] of lstmShapes(c)) {
    const a = new Float32Array(size(shape))
    if (name === "emb") { for (let i = 0; i < a.length; i++) a[i] = normal() }
    else if (name !== "head.b") { for (let i = 0; i < a.length; i++) a[i] = k * (2 * uniform() - 1) }
    if (name.endsWith(".ih.b")) { for (let i = c.hidden; i < 2 * c.hidden; i++) a[i] += 1 }
    params[name] = a
  }
  return params
}

/** The top layer's hidden states [batch·T, hidden] for ids [batch, T] row-major, each row from a zero state. */
export const lstmHiddenTensors = (
  c: LstmConfig,
  w: Readonly<Record<string, tf.Tensor>>,
  ids: Int32Array,
  batch: number
): tf.Tensor2D => {
  const t = ids.length / batch
  if (!Number.isInteger(t) || t < 1) throw new Error(`lstm: ${ids.length} ids do not make ${batch} rows`)
  const H = c.hidden
  const W2 = (n: string) => w[n] as tf.Tensor2D
  const W1 = (n: string) => w[n] as tf.Tensor1D
  let x = embedding(FAST, W2("emb"), ids) // [B·T, in]
  for (let l = 0; l < c.layers; l++) {
    // Input projections for every step at once, then the steps: [B·T, 4H] -> T tensors [B, 4H].
    const projected = tf.reshape(dense(FAST, x, W2(`l${l}.ih.w`), W1(`l${l}.ih.b`)), [batch, t, 4 * H])
    const steps = tf.unstack(tf.transpose(projected, [1, 0, 2])) as tf.Tensor2D[]
    let h: tf.Tensor2D = tf.zeros([batch, H])
    let cell: tf.Tensor2D = tf.zeros([batch, H])
    const hs: tf.Tensor2D[] = []
    for (const xs of steps) {
      const gates = tf.add(xs, dense(FAST, h, W2(`l${l}.hh.w`), W1(`l${l}.hh.b`)))
      const [i, f, g, o] = tf.split(gates, 4, 1) as tf.Tensor2D[]
      cell = tf.add(tf.mul(tf.sigmoid(f), cell), tf.mul(tf.sigmoid(i), tf.tanh(g)))
      h = tf.mul(tf.sigmoid(o), tf.tanh(cell))
      hs.push(h)
    }
    x = tf.reshape(tf.stack(hs, 1), [batch * t, H])
  }
  return x as tf.Tensor2D
}

/** Logits [batch·T, vocab] for ids [batch, T] row-major, each row from a zero state. */
const forwardTensors = (
  c: LstmConfig,
  w: Readonly<Record<string, tf.Tensor>>,
  ids: Int32Array,
  batch: number
): tf.Tensor2D =>
  dense(FAST, lstmHiddenTensors(c, w, ids, batch), w["head.w"] as tf.Tensor2D, w["head.b"] as tf.Tensor1D)

const upload = (c: LstmConfig, params: Params): Array<[string, tf.Tensor]> =>
  lstmShapes(c).map(([name, shape]) => [name, tf.tensor(params[name], [...shape], "float32")])

const lstmLogits = (c: LstmConfig, params: Params, ids: Int32Array, batch: number): Float32Array =>
  tidyRead(() => ({ logits: forwardTensors(c, Object.fromEntries(upload(c, params)), ids, batch) })).logits

const lstmLossAndGrads = (c: LstmConfig, params: Params, inputs: Int32Array, targets: Int32Array, batch: number) =>
  gradientsOf(
    lstmShapes(c).map(([n]) => n),
    () => upload(c, params).map(([, t]) => t),
    (w) => crossEntropy(FAST, forwardTensors(c, w, inputs, batch), targets)
  )

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v))

/** Incremental decoding: each row carries its (h, c) per layer; a step costs the same at any position. */
const lstmDecoder = (c: LstmConfig, params: Params, rows: number): Decoder => {
  validateLstm(c)
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`lstm decoder: rows must be >= 1, got ${rows}`)
  const H = c.hidden, E = c.embed, V = c.vocab
  const affines = residentAffine(params, lstmShapes(c), [
    ...Array.from({ length: c.layers }, (_, l) => [`l${l}.ih`, `l${l}.hh`]).flat(),
    "head"
  ])
  const affine = (x: Float32Array, name: string) => affines.apply(x, rows, name)
  let h: Float32Array[] = Array.from({ length: c.layers }, () => new Float32Array(rows * H))
  let cell: Float32Array[] = Array.from({ length: c.layers }, () => new Float32Array(rows * H))
  return checkedDecoder("lstm", {
    rows,
    vocab: V,
    step(tokens) {
      const emb = params["emb"]
      let x: Float32Array = new Float32Array(rows * E)
      for (let r = 0; r < rows; r++) x.set(emb.subarray(tokens[r] * E, (tokens[r] + 1) * E), r * E)
      for (let l = 0; l < c.layers; l++) {
        const gi = affine(x, `l${l}.ih`), gh = affine(h[l], `l${l}.hh`)
        const hl = h[l], cl = cell[l]
        for (let r = 0; r < rows; r++) {
          const o = r * 4 * H
          for (let j = 0; j < H; j++) {
            const i = sigmoid(gi[o + j] + gh[o + j])
            const f = sigmoid(gi[o + H + j] + gh[o + H + j])
            const g = Math.tanh(gi[o + 2 * H + j] + gh[o + 2 * H + j])
            const out = sigmoid(gi[o + 3 * H + j] + gh[o + 3 * H + j])
            const cv = f * cl[r * H + j] + i * g
            cl[r * H + j] = cv
            hl[r * H + j] = out * Math.tanh(cv)
          }
        }
        x = hl
      }
      return affine(x, "head")
    },
    resetRow(r) {
      for (let l = 0; l < c.layers; l++) {
        h[l].fill(0, r * H, (r + 1) * H)
        cell[l].fill(0, r * H, (r + 1) * H)
      }
    },
    reorder(from) {
      const move = (a: Float32Array): Float32Array => {
        const b = new Float32Array(a.length)
        for (let r = 0; r < rows; r++) b.set(a.subarray(from[r] * H, (from[r] + 1) * H), r * H)
        return b
      }
      h = h.map(move)
      cell = cell.map(move)
    },
    dispose: () => affines.dispose()
  })
}

export const lstm: Family<LstmConfig> = {
  name: "lstm",
  artifact: LSTM_ARTIFACT,
  validate: validateLstm,
  paramShapes: lstmShapes,
  initParams: initLstm,
  window: (c) => c.context,
  lossAndGrads: lstmLossAndGrads,
  logits: lstmLogits,
  hiddenWidth: (c) => c.hidden,
  hiddenTensors: lstmHiddenTensors,
  decoder: lstmDecoder,
  toSafetensors: (c, params, metadata) =>
    weightsToSafetensors(LSTM_ARTIFACT, CONFIG_FIELDS, c, lstmShapes(c), params, metadata),
  fromSafetensors: (bytes) =>
    weightsFromSafetensors<LstmConfig>(bytes, LSTM_ARTIFACT, CONFIG_FIELDS, validateLstm, lstmShapes)
}
