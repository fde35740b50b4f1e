/**
 * A GPT-style transformer LM on TensorFlow.js: token + learned position embeddings, `layers` pre-LayerNorm blocks
 * (causal multi-head attention with one fused QKV projection, GELU MLP of width 4·dModel), a final LayerNorm and an
 * UNTIED output head with bias (as the PyTorch anchor: the head is its own [dModel, vocab] matrix).
 *
 * The weights live in JS as Float32Arrays (the master copy); each step uploads them as NEW tensors, takes the
 * gradients with tf.grads, and applies AdamW in JS. Fresh tensors each step keep the wasm backend's XNNPACK
 * packed-weight cache from going stale, and JS arithmetic in a fixed order keeps the update bit-deterministic.
 *
 * Fast path ("fast" impl, for the wasm backend): dense layers with a custom gradient that only uses untransposed 2-D
 * matMuls (XNNPACK's fast path; transposed or batched products fall back to a naive loop), causal attention on the
 * fused QKV rows, GELU, LayerNorm and the dense layers' weight gradients in wasm SIMD kernels (simd-kernels.ts; on
 * the wasm backend they work on its heap in place, resident-kernels.ts; JS versions where a size is no multiple of
 * the 4 lanes), an embedding gathered in JS whose gradient is a JS
 * scatter-add (wasm has no UnsortedSegmentSum kernel) and a fused softmax cross-entropy. The "reference" impl is the plain tf formulation
 * (tests compare the two; the bench measures each lever). Impls differ in the last bits: the impl belongs in a key.
 */
import * as tf from "@tensorflow/tfjs-core"
// Side effect: registers the gradient of every op (tfjs-core alone ships none in its Node build).
import "@tensorflow/tfjs"
import { geluFrom, geluSlope, geluTanh } from "./gelu.ts"
import {
  affineOnHeap,
  attentionGradOnHeap,
  attentionOnHeap,
  geluGradOnHeap,
  geluOnHeap,
  layerNormGradOnHeap,
  layerNormOnHeap,
  type ResidentHeap,
  residentHeap,
  weightGradOnHeap
} from "./resident-kernels.ts"
import { gradientsOf, tidyRead } from "./tensors.ts"
import {
  attentionBackwardWasm,
  attentionForwardWasm,
  attentionProbabilitiesWasm,
  geluBackwardWasm,
  geluForwardWasm,
  layerNormBackwardWasm,
  layerNormForwardWasm,
  wasmAttentionFits,
  wasmLayerNormFits,
  wasmWeightGradFits,
  weightGradWasm
} from "./simd-kernels.ts"
import {
  NEURAL_ARTIFACTS,
  type Params,
  type ParamShapes,
  seededDraws,
  size,
  weightsFromSafetensors,
  weightsToSafetensors
} from "./weights.ts"
import { CONFIG_FIELDS, type TransformerConfig, validateConfig } from "./transformer-config.ts"

export { type TransformerConfig, validateConfig } from "./transformer-config.ts"

export type { Params } from "./weights.ts"

/** Which formulation of each part to use; "fast" everywhere is the default. */
export interface Impl {
  readonly dense: "custom" | "plain"
  readonly attention: "wasm" | "js" | "tf"
  readonly embedding: "custom" | "onehot"
  readonly loss: "custom" | "plain"
  /** GELU and LayerNorm: one JS pass each way ("js") or tf ops. */
  readonly elementwise: "js" | "tf"
}

export const FAST: Impl = { dense: "custom", attention: "wasm", embedding: "custom", loss: "custom", elementwise: "js" }
export const REFERENCE: Impl = {
  dense: "plain",
  attention: "tf",
  embedding: "onehot",
  loss: "plain",
  elementwise: "tf"
}

export const MODEL_ARTIFACT = NEURAL_ARTIFACTS.transformer

/** Parameter names and shapes, in a fixed order (the order of tf.grads arguments and of the optimizer). */
export const paramShapes = (c: TransformerConfig): ParamShapes => {
  const d = c.dModel
  const out: Array<readonly [string, ReadonlyArray<number>]> = [
    ["tok_emb", [c.vocab, d]],
    ["pos_emb", [c.context, d]]
  ]
  for (let l = 0; l < c.layers; l++) {
    const p = `h${l}.`
    out.push(
      [p + "ln1.g", [d]],
      [p + "ln1.b", [d]],
      [p + "attn.qkv.w", [d, 3 * d]],
      [p + "attn.qkv.b", [3 * d]],
      [p + "attn.proj.w", [d, d]],
      [p + "attn.proj.b", [d]],
      [p + "ln2.g", [d]],
      [p + "ln2.b", [d]],
      [p + "mlp.fc.w", [d, 4 * d]],
      [p + "mlp.fc.b", [4 * d]],
      [p + "mlp.proj.w", [4 * d, d]],
      [p + "mlp.proj.b", [d]]
    )
  }
  out.push(["ln_f.g", [d]], ["ln_f.b", [d]], ["head.w", [d, c.vocab]], ["head.b", [c.vocab]])
  return out
}

/**
 * GPT-2 initialisation from a seeded xoroshiro128+: weights N(0, 0.02) (Box-Muller), residual output projections
 * scaled by 1/sqrt(2·layers), biases 0, LayerNorm gains 1. Pure JS, so the same on every backend.
 */
export const initParams = (c: TransformerConfig, seed: number): Params => {
  validateConfig(c)
  const { normal } = seededDraws(seed)
  const params: Params = {}
  for (const [name, shape] of paramShapes(c)) {
    const a = new Float32Array(size(shape))
    if (name.endsWith(".g")) a.fill(1)
    else if (shape.length === 2) {
      const std = name.endsWith("proj.w") ? 0.02 / Math.sqrt(2 * c.layers) : 0.02
      for (let i = 0; i < a.length; i++) a[i] = std * normal()
    }
    params[name] = a
  }
  return params
}

export const countParams = (c: TransformerConfig): number => paramShapes(c).reduce((n, [, s]) => n + size(s), 0)

// ---------------------------------------------------------------------------------------------------------------
// Layers

/** tf.customGrad over `n` tensor inputs (tfjs types its arguments as one union array; this names them). */
const customGrad = <T extends tf.Tensor>(
  n: number,
  f: (
    xs: tf.Tensor[],
    save: tf.GradSaveFunc
  ) => { value: T; gradFunc: (dy: T, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] }
): (...xs: tf.Tensor[]) => T => {
  const g = tf.customGrad<T>((...args: Array<tf.Tensor | tf.GradSaveFunc>) =>
    f(args.slice(0, n) as tf.Tensor[], args[n] as tf.GradSaveFunc)
  )
  return (...xs) => g(...xs)
}

/**
 * y = x·W + b with a gradient made of untransposed 2-D matMuls (explicit transposes are cheap; XNNPACK is not).
 * dW is computed as the product with the fewer output rows (xᵀ·dy or (dyᵀ·x)ᵀ: 25% faster for [256, 64]), and the
 * bias gradient as a JS column sum (the wasm Sum over axis 0 is strided and 4x slower). On the wasm backend's heap
 * (resident-kernels.ts) the products x·W + b and dy·Wᵀ are affine.wat's and dW, db the weight-gradient kernel's, with
 * the same bits.
 */
const denseCustom = customGrad<tf.Tensor2D>(3, ([x, w, b], save) => {
  save([x, w])
  const heap = residentHeap()
  const value = heap === undefined
    ? tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b) as tf.Tensor2D
    : affineOnHeap(heap, x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D)
  return {
    value,
    gradFunc: (g, saved) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D]
      const [din, dout] = sw.shape
      if (heap !== undefined && wasmWeightGradFits(din, dout)) {
        return [affineOnHeap(heap, g, tf.transpose(sw)), ...weightGradOnHeap(heap, sx, g)]
      }
      if (wasmWeightGradFits(din, dout)) {
        const dw = new Float32Array(din * dout), db = new Float32Array(dout)
        weightGradWasm(sx.dataSync() as Float32Array, g.dataSync() as Float32Array, dw, db, sx.shape[0])
        return [tf.matMul(g, tf.transpose(sw)), tf.tensor2d(dw, [din, dout]), tf.tensor1d(db)]
      }
      const dw = din <= dout ? tf.matMul(tf.transpose(sx), g) : tf.transpose(tf.matMul(tf.transpose(g), sx))
      return [tf.matMul(g, tf.transpose(sw)), dw, tf.tensor1d(columnSums(g.dataSync() as Float32Array, dout))]
    }
  }
})

/** Column sums of a row-major [rows, cols] matrix, four rows per pass (a quarter of the accumulator traffic). */
function columnSums(g: Float32Array, cols: number): Float32Array {
  const acc = new Float64Array(cols)
  const rows = g.length / cols
  let r = 0
  for (; r + 3 < rows; r += 4) {
    const o = r * cols
    for (let c = 0; c < cols; c++) acc[c] += (g[o + c] + g[o + cols + c]) + (g[o + 2 * cols + c] + g[o + 3 * cols + c])
  }
  for (; r < rows; r++) for (let c = 0; c < cols; c++) acc[c] += g[r * cols + c]
  return Float32Array.from(acc)
}

export const dense = (impl: Impl, x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D =>
  impl.dense === "custom" ? denseCustom(x, w, b) : tf.add(tf.matMul(x, w), b)

const GELU_C = Math.sqrt(2 / Math.PI)

/** tanh-approximate GELU; "tf": x*x*x, not pow (pow's gradient is slow and NaN-prone at 0). */
export const gelu = (impl: Impl, x: tf.Tensor2D): tf.Tensor2D =>
  impl.elementwise === "js"
    ? geluJs(x)
    : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))), GELU_C))))

/** LayerNorm over the last axis (eps 1e-5, as PyTorch). */
export const layerNorm = (impl: Impl, x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor2D => {
  if (impl.elementwise === "js") return layerNormJs(x, g, b)
  const { mean, variance } = tf.moments(x, 1, true)
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b)
}

// One kernel pass each way instead of ~10 small tf ops (each op costs a pass over memory plus framework overhead):
// wasm SIMD when the size is a multiple of 4 lanes (always in a model: GELU acts on [rows, 4·dModel]), else JS.
const geluJs = customGrad<tf.Tensor2D>(1, ([x], save) => {
  const heap = residentHeap()
  if (heap !== undefined && x.size % 4 === 0) {
    save([x])
    return {
      value: geluOnHeap(heap, x as tf.Tensor2D),
      gradFunc: (dy, [sx]) => geluGradOnHeap(heap, sx, dy)
    }
  }
  const xs = x.dataSync() as Float32Array
  const y = new Float32Array(xs.length)
  const simd = xs.length % 4 === 0
  if (simd) geluForwardWasm(xs, y)
  else geluForward(xs, y)
  return {
    value: tf.tensor2d(y, x.shape as [number, number]),
    gradFunc: (dy) => {
      const dx = new Float32Array(xs.length)
      if (simd) geluBackwardWasm(xs, dy.dataSync() as Float32Array, dx)
      else geluBackward(xs, dy.dataSync() as Float32Array, dx)
      return tf.tensor2d(dx, x.shape as [number, number])
    }
  }
})

function geluForward(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) y[i] = geluFrom(x[i], geluTanh(x[i]))
}

function geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) dx[i] = dy[i] * geluSlope(x[i], geluTanh(x[i]))
}

const layerNormJs = customGrad<tf.Tensor2D>(3, ([x, g, b], save) => {
  const [rows, d] = x.shape as [number, number]
  const heap = residentHeap()
  if (heap !== undefined && wasmLayerNormFits(d)) {
    const { y, stats } = layerNormOnHeap(heap, x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D)
    save([x, g, stats])
    return { value: y, gradFunc: (dy, [sx, sg, sstats]) => layerNormGradOnHeap(heap, sx, dy, sg, sstats) }
  }
  const xs = x.dataSync() as Float32Array
  const gs = g.dataSync() as Float32Array
  if (wasmLayerNormFits(d)) {
    const y = new Float32Array(rows * d), stats = new Float32Array(2 * rows)
    layerNormForwardWasm(xs, gs, b.dataSync() as Float32Array, y, stats, rows, d)
    return {
      value: tf.tensor2d(y, [rows, d]),
      gradFunc: (dy) => {
        const dx = new Float32Array(rows * d), dg = new Float32Array(d), db = new Float32Array(d)
        layerNormBackwardWasm(xs, dy.dataSync() as Float32Array, gs, stats, dx, dg, db, rows, d)
        return [tf.tensor2d(dx, [rows, d]), tf.tensor1d(dg), tf.tensor1d(db)]
      }
    }
  }
  const xhat = new Float64Array(rows * d)
  const rstd = new Float64Array(rows)
  const y = new Float32Array(rows * d)
  layerNormForward(xs, gs, b.dataSync() as Float32Array, xhat, rstd, y, rows, d)
  return {
    value: tf.tensor2d(y, [rows, d]),
    gradFunc: (dy) => {
      const dx = new Float32Array(rows * d), dg = new Float32Array(d), db = new Float32Array(d)
      layerNormBackward(dy.dataSync() as Float32Array, gs, xhat, rstd, dx, dg, db, rows, d)
      return [tf.tensor2d(dx, [rows, d]), tf.tensor1d(dg), tf.tensor1d(db)]
    }
  }
})

function layerNormForward(
  x: Float32Array,
  g: Float32Array,
  b: Float32Array,
  xhat: Float64Array,
  rstd: Float64Array,
  y: Float32Array,
  rows: number,
  d: number
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * d
    let mean = 0
    for (let c = 0; c < d; c++) mean += x[o + c]
    mean /= d
    let v = 0
    for (let c = 0; c < d; c++) {
      const e = x[o + c] - mean
      v += e * e
    }
    const s = 1 / Math.sqrt(v / d + 1e-5)
    rstd[r] = s
    for (let c = 0; c < d; c++) {
      const h = (x[o + c] - mean) * s
      xhat[o + c] = h
      y[o + c] = h * g[c] + b[c]
    }
  }
}

function layerNormBackward(
  dy: Float32Array,
  g: Float32Array,
  xhat: Float64Array,
  rstd: Float64Array,
  dx: Float32Array,
  dg: Float32Array,
  db: Float32Array,
  rows: number,
  d: number
): void {
  const dgAcc = new Float64Array(d), dbAcc = new Float64Array(d)
  for (let r = 0; r < rows; r++) {
    const o = r * d
    let m1 = 0, m2 = 0
    for (let c = 0; c < d; c++) {
      const gy = dy[o + c]
      dgAcc[c] += gy * xhat[o + c]
      dbAcc[c] += gy
      const dh = gy * g[c]
      m1 += dh
      m2 += dh * xhat[o + c]
    }
    m1 /= d
    m2 /= d
    const s = rstd[r]
    for (let c = 0; c < d; c++) dx[o + c] = s * (dy[o + c] * g[c] - m1 - xhat[o + c] * m2)
  }
  for (let c = 0; c < d; c++) {
    dg[c] = dgAcc[c]
    db[c] = dbAcc[c]
  }
}

/** Row gather whose gradient is a JS scatter-add in index order (deterministic; wasm lacks UnsortedSegmentSum). */
export const embedding = (impl: Impl, table: tf.Tensor2D, ids: Int32Array): tf.Tensor2D => {
  const [v, d] = table.shape
  if (impl.embedding === "onehot") {
    return tf.matMul(tf.cast(tf.oneHot(tf.tensor1d(ids, "int32"), v), "float32") as tf.Tensor2D, table)
  }
  const f = customGrad<tf.Tensor2D>(1, ([t]) => ({
    value: tf.tensor2d(gatherRows(t.dataSync() as Float32Array, ids, d), [ids.length, d]),
    gradFunc: (dy) => {
      const g = dy.dataSync()
      const out = new Float32Array(v * d)
      for (let r = 0; r < ids.length; r++) {
        const o = ids[r] * d
        const s = r * d
        for (let k = 0; k < d; k++) out[o + k] += g[s + k]
      }
      return tf.tensor2d(out, [v, d])
    }
  }))
  return f(table)
}

/** Rows `ids` of a [*, d] table, copied in JS (the wasm GatherV2 kernel takes ~10 ms for 2048 rows of 64). */
function gatherRows(table: Float32Array, ids: Int32Array, d: number): Float32Array {
  const out = new Float32Array(ids.length * d)
  for (let r = 0; r < ids.length; r++) out.set(table.subarray(ids[r] * d, ids[r] * d + d), r * d)
  return out
}

/**
 * Causal multi-head attention over fused QKV rows [batch·T, 3·dModel] (columns: q | k | v, head-major inside each),
 * returning [batch·T, dModel] with the heads side by side, ready for the output projection.
 */
export const attention = (impl: Impl, qkv: tf.Tensor2D, batch: number, t: number, heads: number): tf.Tensor2D => {
  if (impl.attention === "wasm" && wasmAttentionFits(qkv.shape[1] / 3 / heads)) {
    const heap = residentHeap()
    return heap === undefined ? attentionWasm(qkv, batch, t, heads) : attentionResident(heap, qkv, batch, t, heads)
  }
  return impl.attention === "tf" ? attentionTf(qkv, batch, t, heads) : attentionJs(qkv, batch, t, heads)
}

/**
 * Attention as one custom-gradient op around a forward and a backward kernel; the forward kernel keeps the
 * probabilities in `p` for the backward pass.
 */
const kernelAttention = <P extends Float32Array | Float64Array>(
  probabilities: (batch: number, heads: number, t: number) => P,
  forward: (x: Float32Array, out: Float32Array, p: P, batch: number, t: number, heads: number, d3: number) => void,
  backward: (
    x: Float32Array,
    dy: Float32Array,
    p: P,
    dx: Float32Array,
    batch: number,
    t: number,
    heads: number,
    d3: number
  ) => void
) =>
(qkv: tf.Tensor2D, batch: number, t: number, heads: number): tf.Tensor2D => {
  const d3 = qkv.shape[1]
  const f = customGrad<tf.Tensor2D>(1, ([input]) => {
    const x = input.dataSync() as Float32Array
    const out = new Float32Array(batch * t * (d3 / 3))
    const p = probabilities(batch, heads, t)
    forward(x, out, p, batch, t, heads, d3)
    return {
      value: tf.tensor2d(out, [batch * t, d3 / 3]),
      gradFunc: (dy) => {
        const dx = new Float32Array(batch * t * d3)
        backward(x, dy.dataSync() as Float32Array, p, dx, batch, t, heads, d3)
        return tf.tensor2d(dx, [batch * t, d3])
      }
    }
  })
  return f(qkv)
}

/** The same kernels on the wasm backend's heap (resident-kernels.ts): no copies in or out. */
const attentionResident = (heap: ResidentHeap, qkv: tf.Tensor2D, batch: number, t: number, heads: number) =>
  customGrad<tf.Tensor2D>(1, ([input], save) => {
    const { out, p } = attentionOnHeap(heap, input as tf.Tensor2D, batch, t, heads)
    save([input, p])
    return { value: out, gradFunc: (dy, [sx, sp]) => attentionGradOnHeap(heap, sx, dy, sp, batch, t, heads) }
  })(qkv)

/** simd-kernels.ts's SIMD kernels (head size a multiple of 4; "wasm" falls back to "js" otherwise). */
const attentionWasm = kernelAttention(attentionProbabilitiesWasm, attentionForwardWasm, attentionBackwardWasm)

const attentionTf = (qkv: tf.Tensor2D, batch: number, t: number, heads: number): tf.Tensor2D => {
  const d = qkv.shape[1] / 3
  const hd = d / heads
  // [B, T, 3, H, hd] -> [3, B, H, T, hd]
  const parts = tf.transpose(tf.reshape(qkv, [batch, t, 3, heads, hd]), [2, 0, 3, 1, 4])
  const [q, k, v] = tf.unstack(parts, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd))
  const mask = tf.linalg.bandPart(tf.ones([t, t]), -1, 0)
  const masked = tf.add(scores, tf.mul(tf.sub(1, mask), -1e9))
  const y = tf.matMul(tf.softmax(masked), v) // [B, H, T, hd]
  return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [batch * t, d])
}

/**
 * Attention in JS, one (batch row, head) at a time: its q, k, v (and dOut) are first copied into small contiguous
 * Float64Array tiles, so the inner loops are plain dot products; only the causal half (j <= i) is computed. The wasm
 * backend's batched matMul is a naive loop and slower. The kernels are top-level functions taking everything as
 * arguments: V8 optimises them about 2x better than the same loops in a closure.
 */
const attentionJs = kernelAttention(
  (batch, heads, t) => new Float64Array(batch * heads * t * t),
  attentionForward,
  attentionBackward
)

/** Copies one (b, h)'s rows of columns [offset, offset + hd) of a [B·T, width] matrix into a [T, hd] tile. */
function loadTile(
  x: Float32Array,
  tile: Float64Array,
  b: number,
  t: number,
  width: number,
  offset: number,
  hd: number
): void {
  for (let i = 0; i < t; i++) {
    const src = (b * t + i) * width + offset
    const dst = i * hd
    for (let c = 0; c < hd; c++) tile[dst + c] = x[src + c]
  }
}

/** Dot product of a[ai..ai+n) and b[bi..bi+n) with four accumulators (breaks the add dependency chain: 1.5x). */
function dot(a: Float64Array, ai: number, b: Float64Array, bi: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, c = 0
  for (; c + 3 < n; c += 4) {
    s0 += a[ai + c] * b[bi + c]
    s1 += a[ai + c + 1] * b[bi + c + 1]
    s2 += a[ai + c + 2] * b[bi + c + 2]
    s3 += a[ai + c + 3] * b[bi + c + 3]
  }
  for (; c < n; c++) s0 += a[ai + c] * b[bi + c]
  return s0 + s1 + (s2 + s3)
}

function attentionForward(
  x: Float32Array,
  out: Float32Array,
  p: Float64Array,
  batch: number,
  t: number,
  heads: number,
  d3: number
): void {
  const d = d3 / 3, hd = d / heads, scale = 1 / Math.sqrt(hd)
  const q = new Float64Array(t * hd),
    k = new Float64Array(t * hd),
    v = new Float64Array(t * hd),
    o = new Float64Array(hd)
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      loadTile(x, q, b, t, d3, h * hd, hd)
      loadTile(x, k, b, t, d3, d + h * hd, hd)
      loadTile(x, v, b, t, d3, 2 * d + h * hd, hd)
      const pBase = (b * heads + h) * t * t
      for (let i = 0; i < t; i++) {
        const qi = i * hd, pi = pBase + i * t
        let max = -Infinity
        for (let j = 0; j <= i; j++) {
          const s = dot(q, qi, k, j * hd, hd) * scale
          p[pi + j] = s
          if (s > max) max = s
        }
        let sum = 0
        for (let j = 0; j <= i; j++) {
          const e = Math.exp(p[pi + j] - max)
          p[pi + j] = e
          sum += e
        }
        const inv = 1 / sum
        o.fill(0)
        for (let j = 0; j <= i; j++) {
          const pj = p[pi + j] * inv
          p[pi + j] = pj
          const vj = j * hd
          for (let c = 0; c < hd; c++) o[c] += pj * v[vj + c]
        }
        const oi = (b * t + i) * d + h * hd
        for (let c = 0; c < hd; c++) out[oi + c] = o[c]
      }
    }
  }
}

function attentionBackward(
  x: Float32Array,
  g: Float32Array,
  p: Float64Array,
  dx: Float32Array,
  batch: number,
  t: number,
  heads: number,
  d3: number
): void {
  const d = d3 / 3, hd = d / heads, scale = 1 / Math.sqrt(hd)
  const n = t * hd
  const q = new Float64Array(n), k = new Float64Array(n), v = new Float64Array(n), go = new Float64Array(n)
  const dq = new Float64Array(n), dk = new Float64Array(n), dv = new Float64Array(n), dp = new Float64Array(t)
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      loadTile(x, q, b, t, d3, h * hd, hd)
      loadTile(x, k, b, t, d3, d + h * hd, hd)
      loadTile(x, v, b, t, d3, 2 * d + h * hd, hd)
      loadTile(g, go, b, t, d, h * hd, hd)
      dq.fill(0)
      dk.fill(0)
      dv.fill(0)
      const pBase = (b * heads + h) * t * t
      for (let i = 0; i < t; i++) {
        const qi = i * hd, pi = pBase + i * t
        let rowDot = 0
        for (let j = 0; j <= i; j++) {
          const vj = j * hd
          const pj = p[pi + j]
          const s = dot(go, qi, v, vj, hd)
          for (let c = 0; c < hd; c++) dv[vj + c] += pj * go[qi + c]
          dp[j] = s
          rowDot += pj * s
        }
        for (let j = 0; j <= i; j++) {
          const ds = p[pi + j] * (dp[j] - rowDot) * scale
          const kj = j * hd
          for (let c = 0; c < hd; c++) {
            dq[qi + c] += ds * k[kj + c]
            dk[kj + c] += ds * q[qi + c]
          }
        }
      }
      for (let i = 0; i < t; i++) {
        const dst = (b * t + i) * d3 + h * hd
        for (let c = 0; c < hd; c++) {
          dx[dst + c] = dq[i * hd + c]
          dx[dst + d + c] = dk[i * hd + c]
          dx[dst + 2 * d + c] = dv[i * hd + c]
        }
      }
    }
  }
}

/** Mean cross-entropy of logits [N, V] against targets; custom: one softmax, gradient (softmax - onehot) / N. */
export const crossEntropy = (impl: Impl, logits: tf.Tensor2D, targets: Int32Array): tf.Scalar => {
  const [n, v] = logits.shape
  const onehot = () => tf.cast(tf.oneHot(tf.tensor1d(targets, "int32"), v), "float32")
  if (impl.loss === "plain") return tf.neg(tf.mean(tf.sum(tf.mul(onehot(), tf.logSoftmax(logits)), 1))) as tf.Scalar
  const f = customGrad<tf.Scalar>(1, ([z]) => {
    const probs = new Float32Array(n * v)
    const loss = softmaxCrossEntropy(z.dataSync() as Float32Array, targets, probs, n, v)
    return {
      value: tf.scalar(loss),
      gradFunc: (dy) => {
        const k = dy.dataSync()[0] / n
        const dz = new Float32Array(n * v)
        for (let r = 0; r < n; r++) {
          const o = r * v
          for (let j = 0; j < v; j++) dz[o + j] = probs[o + j] * k
          dz[o + targets[r]] = (probs[o + targets[r]] - 1) * k
        }
        return tf.tensor2d(dz, [n, v])
      }
    }
  })
  return f(logits)
}

/**
 * Mean of -log softmax(z)[target] over the rows of z [n, v], in one JS pass (float64 sums) instead of ~10 wasm ops;
 * `probs` receives the softmax.
 */
function softmaxCrossEntropy(z: Float32Array, targets: Int32Array, probs: Float32Array, n: number, v: number): number {
  let total = 0
  for (let r = 0; r < n; r++) {
    const o = r * v
    let max = -Infinity
    for (let j = 0; j < v; j++) if (z[o + j] > max) max = z[o + j]
    let sum = 0
    for (let j = 0; j < v; j++) {
      const e = Math.exp(z[o + j] - max)
      probs[o + j] = e
      sum += e
    }
    const inv = 1 / sum
    for (let j = 0; j < v; j++) probs[o + j] *= inv
    total += Math.log(sum) - (z[o + targets[r]] - max)
  }
  return total / n
}

// ---------------------------------------------------------------------------------------------------------------
// Model

/**
 * The final hidden states [batch·T, dModel] (after the last LayerNorm: what the head reads) for ids [batch·T]
 * (row-major [batch, T], T <= context), from weight tensors by name. Downstream probes pool these.
 */
export const hiddenTensors = (
  c: TransformerConfig,
  w: Readonly<Record<string, tf.Tensor>>,
  ids: Int32Array,
  batch: number,
  impl: Impl = FAST
): tf.Tensor2D => {
  const t = ids.length / batch
  if (!Number.isInteger(t) || t < 1 || t > c.context) {
    throw new Error(`transformer: sequence length ${t} outside 1..${c.context}`)
  }
  const d = c.dModel
  const W2 = (n: string) => w[n] as tf.Tensor2D
  const W1 = (n: string) => w[n] as tf.Tensor1D
  const pos = tf.slice(W2("pos_emb"), [0, 0], [t, d])
  let x = tf.reshape(tf.add(tf.reshape(embedding(impl, W2("tok_emb"), ids), [batch, t, d]), pos), [
    batch * t,
    d
  ]) as tf.Tensor2D
  for (let l = 0; l < c.layers; l++) {
    const p = `h${l}.`
    const qkv = dense(
      impl,
      layerNorm(impl, x, W1(p + "ln1.g"), W1(p + "ln1.b")),
      W2(p + "attn.qkv.w"),
      W1(p + "attn.qkv.b")
    )
    const a = attention(impl, qkv, batch, t, c.heads)
    x = tf.add(x, dense(impl, a, W2(p + "attn.proj.w"), W1(p + "attn.proj.b")))
    const h = gelu(
      impl,
      dense(impl, layerNorm(impl, x, W1(p + "ln2.g"), W1(p + "ln2.b")), W2(p + "mlp.fc.w"), W1(p + "mlp.fc.b"))
    )
    x = tf.add(x, dense(impl, h, W2(p + "mlp.proj.w"), W1(p + "mlp.proj.b")))
  }
  return layerNorm(impl, x, W1("ln_f.g"), W1("ln_f.b"))
}

/** Logits [batch·T, vocab] for ids [batch·T] (row-major [batch, T], T <= context), from weight tensors by name. */
export const forwardTensors = (
  c: TransformerConfig,
  w: Readonly<Record<string, tf.Tensor>>,
  ids: Int32Array,
  batch: number,
  impl: Impl = FAST
): tf.Tensor2D =>
  dense(impl, hiddenTensors(c, w, ids, batch, impl), w["head.w"] as tf.Tensor2D, w["head.b"] as tf.Tensor1D)

const upload = (c: TransformerConfig, params: Params): Array<[string, tf.Tensor]> =>
  paramShapes(c).map(([name, shape]) => [name, tf.tensor(params[name], [...shape], "float32")])

/** Logits as a Float32Array [batch·T·vocab] (no gradient). */
export const forward = (
  c: TransformerConfig,
  params: Params,
  ids: Int32Array,
  batch: number,
  impl: Impl = FAST
): Float32Array =>
  tidyRead(() => ({ logits: forwardTensors(c, Object.fromEntries(upload(c, params)), ids, batch, impl) })).logits

export interface LossAndGrads {
  readonly loss: number
  readonly grads: Params
}

/** Mean next-token loss over `batch` rows of inputs/targets ([batch, T] row-major) and its gradient per parameter. */
export const lossAndGrads = (
  c: TransformerConfig,
  params: Params,
  inputs: Int32Array,
  targets: Int32Array,
  batch: number,
  impl: Impl = FAST
): LossAndGrads =>
  gradientsOf(
    paramShapes(c).map(([n]) => n),
    () => upload(c, params).map(([, t]) => t),
    (w) => crossEntropy(impl, forwardTensors(c, w, inputs, batch, impl), targets)
  )

// ---------------------------------------------------------------------------------------------------------------
// safetensors

/** Weights as F32 tensors named as in paramShapes; the config as JSON under metadata "config". */
export const toSafetensors = (
  c: TransformerConfig,
  params: Params,
  extra: Readonly<Record<string, string>> = {}
): Uint8Array => weightsToSafetensors(MODEL_ARTIFACT, CONFIG_FIELDS, c, paramShapes(c), params, extra)

export const fromSafetensors = (
  bytes: Uint8Array
): { config: TransformerConfig; params: Params; metadata: Record<string, string> } =>
  weightsFromSafetensors<TransformerConfig>(bytes, MODEL_ARTIFACT, CONFIG_FIELDS, validateConfig, paramShapes)
