/**
 * simd-kernels.ts's kernels on the TF.js wasm backend's own heap: they read each tensor where the backend keeps it
 * and write their results into tensors the backend allocates, so a call copies nothing. The copying kernels move
 * every input out of the heap (dataSync), into their own memory, and every result back out and into a new tensor.
 * The same kernels run in the same order on the same numbers: the same bits. Only on the wasm backend; elsewhere
 * `residentHeap()` is undefined and the transformer uses the copying kernels.
 */
import * as tf from "@tensorflow/tfjs-core"
import {
  attentionBackwardAt,
  attentionForwardAt,
  type Kernels,
  kernelsOn,
  rowPitch,
  type WasmMemory
} from "./simd-kernels.ts"

/** The members of TF.js's BackendWasm used here (its heap, its allocator, where each tensor's data lives). */
interface WasmBackendParts {
  readonly wasm: {
    readonly asm: { readonly memory: WasmMemory }
    _malloc(bytes: number): number
    _free(at: number): void
  }
  readonly dataIdMap: { get(dataId: object): { readonly memoryOffset: number } | undefined }
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo
}

export interface ResidentHeap {
  readonly kernels: Kernels
  /** The byte offset of a float32 tensor's data on the heap. */
  at(t: tf.Tensor): number
  /** A new float32 tensor on the heap (its contents unset) and its byte offset. */
  output(shape: number[]): { readonly tensor: tf.Tensor; readonly at: number }
  /** `bytes` bytes of scratch on the heap, 16-aligned, zeroed, until `release`. */
  scratch(bytes: number): { readonly at: number; release(): void }
}

const heaps = new WeakMap<object, ResidentHeap>()

/** The wasm backend's heap with the kernels bound to it, when that backend is the active one. */
export const residentHeap = (): ResidentHeap | undefined => {
  if (tf.getBackend() !== "wasm") return undefined
  const backend = tf.backend() as unknown as WasmBackendParts
  let heap = heaps.get(backend)
  if (heap !== undefined) return heap
  const memory = backend.wasm.asm.memory
  const at = (t: tf.Tensor): number => {
    const data = backend.dataIdMap.get(t.dataId)
    if (data === undefined || t.dtype !== "float32") {
      throw new Error("resident kernels: not a float32 tensor on the wasm heap")
    }
    return data.memoryOffset
  }
  heap = {
    kernels: kernelsOn(memory),
    at,
    output(shape) {
      const tensor = tf.engine().makeTensorFromTensorInfo(backend.makeOutput(shape, "float32"))
      return { tensor, at: at(tensor) }
    },
    scratch(bytes) {
      const raw = backend.wasm._malloc(bytes + 16)
      const aligned = (raw + 15) & ~15
      new Uint8Array(memory.buffer, aligned, bytes).fill(0)
      return { at: aligned, release: () => backend.wasm._free(raw) }
    }
  }
  heaps.set(backend, heap)
  return heap
}

/**
 * y = x·W + b for x [m, k], W [k, n] (b: zeros when absent), summed as TF.js's wasm matMul (XNNPACK) sums and the
 * bias added as tf.add adds it (kernels/affine.wat): the bits of `tf.add(tf.matMul(x, w), b)`, without repacking W.
 */
export const affineOnHeap = (heap: ResidentHeap, x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D => {
  const [m, k] = x.shape, n = w.shape[1]
  const y = heap.output([m, n])
  if (b !== undefined) {
    heap.kernels.affine(heap.at(x), heap.at(w), heap.at(b), y.at, m, k, n)
    return y.tensor as tf.Tensor2D
  }
  // A sum from +0 is never -0, so adding a zero bias leaves every bit of it.
  const zeros = heap.scratch(n * 4)
  try {
    heap.kernels.affine(heap.at(x), heap.at(w), zeros.at, y.at, m, k, n)
  } finally {
    zeros.release()
  }
  return y.tensor as tf.Tensor2D
}

/** GELU of x (x.size % 4 == 0). */
export const geluOnHeap = (heap: ResidentHeap, x: tf.Tensor2D): tf.Tensor2D => {
  const y = heap.output(x.shape)
  heap.kernels.gelu(heap.at(x), y.at, x.size)
  return y.tensor as tf.Tensor2D
}

/** dy · GELU'(x). */
export const geluGradOnHeap = (heap: ResidentHeap, x: tf.Tensor, dy: tf.Tensor2D): tf.Tensor2D => {
  const dx = heap.output(dy.shape)
  heap.kernels.geluGrad(heap.at(x), heap.at(dy), dx.at, x.size)
  return dx.tensor as tf.Tensor2D
}

/** LayerNorm (eps 1e-5) of x [rows, d], and its rows' mean and 1/std ([rows, 2], for the gradient). */
export const layerNormOnHeap = (
  heap: ResidentHeap,
  x: tf.Tensor2D,
  g: tf.Tensor1D,
  b: tf.Tensor1D
): { readonly y: tf.Tensor2D; readonly stats: tf.Tensor } => {
  const [rows, d] = x.shape
  const y = heap.output([rows, d]), stats = heap.output([rows, 2])
  heap.kernels.layerNorm(heap.at(x), heap.at(g), heap.at(b), y.at, stats.at, rows, d)
  return { y: y.tensor as tf.Tensor2D, stats: stats.tensor }
}

/** LayerNorm's gradients dx, dg, db (dg and db summed over the rows in float64, as the copying kernel does). */
export const layerNormGradOnHeap = (
  heap: ResidentHeap,
  x: tf.Tensor,
  dy: tf.Tensor2D,
  g: tf.Tensor,
  stats: tf.Tensor
): [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D] => {
  const [rows, d] = dy.shape
  const dx = heap.output([rows, d])
  const sums = heap.scratch(2 * d * 8)
  try {
    heap.kernels.layerNormGrad(
      heap.at(x),
      heap.at(dy),
      heap.at(g),
      heap.at(stats),
      dx.at,
      sums.at,
      sums.at + d * 8,
      rows,
      d
    )
    const f64 = new Float64Array(heap.kernels.memory.buffer, sums.at, 2 * d)
    return [
      dx.tensor as tf.Tensor2D,
      tf.tensor1d(Float32Array.from(f64.subarray(0, d))),
      tf.tensor1d(Float32Array.from(f64.subarray(d)))
    ]
  } finally {
    sums.release()
  }
}

/** A dense layer's parameter gradients dw = xᵀ·g [din, dout] and db = g's column sums, for x [rows, din]. */
export const weightGradOnHeap = (heap: ResidentHeap, x: tf.Tensor2D, g: tf.Tensor2D): [tf.Tensor2D, tf.Tensor1D] => {
  const [rows, din] = x.shape, dout = g.shape[1]
  const dw = heap.output([din, dout]), db = heap.output([dout])
  heap.kernels.weightGrad(heap.at(x), din, heap.at(g), dout, rows, dw.at, db.at)
  return [dw.tensor as tf.Tensor2D, db.tensor as tf.Tensor1D]
}

/** Causal attention over fused qkv [B·T, 3d]: its output [B·T, d] and the probabilities the gradient reads. */
export const attentionOnHeap = (
  heap: ResidentHeap,
  qkv: tf.Tensor2D,
  batch: number,
  t: number,
  heads: number
): { readonly out: tf.Tensor2D; readonly p: tf.Tensor } => {
  const d3 = qkv.shape[1]
  const out = heap.output([batch * t, d3 / 3]), p = heap.output([batch * heads * t * rowPitch(t)])
  attentionForwardAt(heap.kernels, { x: heap.at(qkv), out: out.at, p: p.at }, batch, t, heads, d3)
  return { out: out.tensor as tf.Tensor2D, p: p.tensor }
}

/** Attention's gradient dqkv [B·T, 3d] from dOut dy [B·T, d] and the forward's probabilities. */
export const attentionGradOnHeap = (
  heap: ResidentHeap,
  qkv: tf.Tensor,
  dy: tf.Tensor2D,
  p: tf.Tensor,
  batch: number,
  t: number,
  heads: number
): tf.Tensor2D => {
  const d3 = qkv.shape[1] as number
  const dx = heap.output([batch * t, d3])
  const ds = heap.scratch(t * rowPitch(t) * 4)
  try {
    attentionBackwardAt(
      heap.kernels,
      { x: heap.at(qkv), g: heap.at(dy), p: heap.at(p), dx: dx.at, ds: ds.at },
      batch,
      t,
      heads,
      d3
    )
  } finally {
    ds.release()
  }
  return dx.tensor as tf.Tensor2D
}
