/**
 * The transformer's WebAssembly SIMD (f32x4) kernels: causal attention, GELU, LayerNorm and dense-layer gradients.
 *
 * Causal attention: the whole fused QKV matrix [B·T, 3d] is copied into the
 * kernels' memory once per call and every kernel takes row pitches, so a (batch row, head) tile is addressed in place
 * (no per-row copies). Softmax and its gradient run in wasm too, with a polynomial exp (Cephes' expf: range
 * reduction by ln 2, degree-5 polynomial, within 2 ulp): pure arithmetic, so results are bit-deterministic. Sums run
 * in a fixed order; hd % 4 == 0. The kernels are WAT text (kernels/*.wat) assembled at load by wabt (no binary in the
 * repository).
 * The same module holds the transformer's other elementwise kernels, GELU and LayerNorm (one JS pass each was ~20 ns
 * per element; f32x4 is ~1 ns): a call copies its inputs in and its outputs out, and no state stays between calls.
 * On the wasm backend the transformer calls the same module instantiated on that backend's heap instead
 * (`kernelsOn`, resident-kernels.ts), which copies nothing, and there its dense layers' products too (affine.wat,
 * the decoder's: XNNPACK's sums, so the same bits, without repacking the weights at every call).
 */
import { readFile } from "node:fs/promises"
import wabtInit from "wabt"
import { loadOnce } from "./load-once.ts"

/**
 * The module's parts (kernels/*.wat), in this order: functions are numbered in text order, so the order fixes the
 * binary, and layer-norm.wat calls attention.wat's $sum. Found beside this file, wherever the package is installed.
 */
const PARTS = ["attention.wat", "gelu.wat", "layer-norm.wat", "weight-grad.wat", "affine.wat"]

const readWat = async (): Promise<string> => {
  const parts = await Promise.all(PARTS.map((name) => readFile(new URL(`./kernels/${name}`, import.meta.url), "utf8")))
  return ["(module", "(import \"js\" \"memory\" (memory 1))", ...parts, ")"].join("\n")
}

/** A WebAssembly.Memory (the project's lib, ES2023 without DOM, has no WebAssembly types: the members used here). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
declare const WebAssembly: {
  compile(bytes: Uint8Array): Promise<object>
  Instance: new(module: object, imports: object) => { readonly exports: object }
  Memory: new(descriptor: { initial: number }) => WasmMemory
}

/** The kernels of one instance, and the memory they work in. */
export interface Kernels {
  readonly memory: WasmMemory
  scores(
    q: number,
    qPitch: number,
    k: number,
    kPitch: number,
    s: number,
    sPitch: number,
    t: number,
    hd: number,
    scale: number
  ): void
  pv(p: number, pPitch: number, x: number, xPitch: number, o: number, oPitch: number, t: number, hd: number): void
  ptv(p: number, pPitch: number, x: number, xPitch: number, o: number, oPitch: number, t: number, hd: number): void
  softmaxRows(s: number, sPitch: number, t: number): void
  softmaxGradRows(p: number, dp: number, sPitch: number, t: number, scale: number): void
  gelu(x: number, y: number, n: number): void
  geluGrad(x: number, dy: number, dx: number, n: number): void
  layerNorm(x: number, g: number, b: number, y: number, stats: number, rows: number, d: number): void
  layerNormGrad(
    x: number,
    dy: number,
    g: number,
    stats: number,
    dx: number,
    dg64: number,
    db64: number,
    rows: number,
    d: number
  ): void
  weightGrad(x: number, din: number, g: number, dout: number, rows: number, dw: number, db: number): void
  affine(x: number, w: number, b: number, y: number, m: number, k: number, n: number): void
}

/** The module, and an instance of it in memory of its own (the copying kernels below). */
interface Compiled {
  readonly module: object
  readonly own: Kernels
}

const instantiate = (module: object, memory: WasmMemory): Kernels => ({
  ...(new WebAssembly.Instance(module, { js: { memory } }).exports as Omit<Kernels, "memory">),
  memory
})

const compile = async (): Promise<Compiled> => {
  const wabt = await wabtInit()
  const mod = wabt.parseWat("simd-kernels.wat", await readWat(), { simd: true })
  try {
    const module = await WebAssembly.compile(mod.toBinary({}).buffer)
    return { module, own: instantiate(module, new WebAssembly.Memory({ initial: 1 })) }
  } finally {
    mod.destroy()
  }
}

/** The kernels, assembled and instantiated once per thread; selectBackend (backend.ts) awaits `loadSimdKernels`. */
const simd = loadOnce(compile, "simd-kernels.ts: kernels not loaded (await loadSimdKernels() first)")
export const loadSimdKernels = simd.load
const kernels = (): Kernels => simd.get().own

/**
 * The same kernels in another module's memory (resident-kernels.ts: the TF.js wasm backend's heap, so they work on
 * its tensors in place). One instance per memory, made on first use.
 */
const onMemory = new WeakMap<WasmMemory, Kernels>()
export const kernelsOn = (memory: WasmMemory): Kernels => {
  let k = onMemory.get(memory)
  if (k === undefined) onMemory.set(memory, k = instantiate(simd.get().module, memory))
  return k
}

/** Whether these kernels apply (head size a multiple of the 4 SIMD lanes). */
export const wasmAttentionFits = (hd: number): boolean => hd % 4 === 0

/** Probability rows are padded to a multiple of 4 floats, so the softmax kernels work in whole f32x4 groups. */
export const rowPitch = (t: number): number => (t + 3) & ~3

/** Room for the probabilities [B, H, T, rowPitch(T)] that the forward pass hands to the backward pass. */
export const attentionProbabilitiesWasm = (batch: number, heads: number, t: number): Float32Array =>
  new Float32Array(batch * heads * t * rowPitch(t))

/**
 * Consecutive regions (byte offsets, 16-aligned) of the given float counts in the kernels' memory, grown on demand,
 * with a view of that memory and the kernels themselves.
 */
const regions = <K extends string>(
  floats: Record<K, number>
): { at: Record<K, number>; f32: Float32Array; wasm: Kernels } => {
  const at = {} as Record<K, number>
  let end = 0
  for (const k in floats) {
    at[k] = end
    end += Math.ceil(floats[k] / 4) * 16
  }
  const wasm = kernels()
  const have = wasm.memory.buffer.byteLength
  if (end > have) wasm.memory.grow(Math.ceil((end - have) / 65536))
  return { at, f32: new Float32Array(wasm.memory.buffer), wasm }
}

/** Forward: out [B·T, d] from fused qkv [B·T, 3d]; p receives the probabilities (attentionProbabilitiesWasm). */
export const attentionForwardWasm = (
  x: Float32Array,
  out: Float32Array,
  p: Float32Array,
  batch: number,
  t: number,
  heads: number,
  d3: number
): void => {
  const { at, f32, wasm } = regions({ x: x.length, out: out.length, p: p.length })
  f32.set(x, at.x / 4)
  attentionForwardAt(wasm, at, batch, t, heads, d3)
  out.set(f32.subarray(at.out / 4, at.out / 4 + out.length))
  p.set(f32.subarray(at.p / 4, at.p / 4 + p.length))
}

/** attentionForwardWasm on data in place: byte offsets in `wasm`'s memory (p: attentionProbabilitiesWasm's size). */
export const attentionForwardAt = (
  wasm: Kernels,
  at: { readonly x: number; readonly out: number; readonly p: number },
  batch: number,
  t: number,
  heads: number,
  d3: number
): void => {
  const d = d3 / 3, hd = d / heads, tp = rowPitch(t), tile = t * tp
  for (let b = 0; b < batch; b++) {
    const xb = at.x + b * t * d3 * 4
    for (let h = 0; h < heads; h++) {
      const s = at.p + (b * heads + h) * tile * 4
      wasm.scores(xb + h * hd * 4, d3 * 4, xb + (d + h * hd) * 4, d3 * 4, s, tp * 4, t, hd, 1 / Math.sqrt(hd))
      wasm.softmaxRows(s, tp * 4, t)
      wasm.pv(s, tp * 4, xb + (2 * d + h * hd) * 4, d3 * 4, at.out + (b * t * d + h * hd) * 4, d * 4, t, hd)
    }
  }
}

/** Backward: dx [B·T, 3d] (dq | dk | dv) from dOut g [B·T, d] and the forward's probabilities. */
export const attentionBackwardWasm = (
  x: Float32Array,
  g: Float32Array,
  p: Float32Array,
  dx: Float32Array,
  batch: number,
  t: number,
  heads: number,
  d3: number
): void => {
  const { at, f32, wasm } = regions({ x: x.length, g: g.length, p: p.length, dx: dx.length, ds: t * rowPitch(t) })
  f32.set(x, at.x / 4)
  f32.set(g, at.g / 4)
  f32.set(p, at.p / 4)
  attentionBackwardAt(wasm, at, batch, t, heads, d3)
  dx.set(f32.subarray(at.dx / 4, at.dx / 4 + dx.length))
}

/** attentionBackwardWasm on data in place: byte offsets in `wasm`'s memory; ds: room for one [T, rowPitch(T)] tile. */
export const attentionBackwardAt = (
  wasm: Kernels,
  at: { readonly x: number; readonly g: number; readonly p: number; readonly dx: number; readonly ds: number },
  batch: number,
  t: number,
  heads: number,
  d3: number
): void => {
  const d = d3 / 3, hd = d / heads, tp = rowPitch(t), tile = t * tp
  for (let b = 0; b < batch; b++) {
    const xb = at.x + b * t * d3 * 4, gb = at.g + b * t * d * 4, db = at.dx + b * t * d3 * 4
    for (let h = 0; h < heads; h++) {
      const s = at.p + (b * heads + h) * tile * 4
      const q = xb + h * hd * 4, k = xb + (d + h * hd) * 4, v = xb + (2 * d + h * hd) * 4, go = gb + h * hd * 4
      wasm.ptv(s, tp * 4, go, d * 4, db + (2 * d + h * hd) * 4, d3 * 4, t, hd) // dV = Pᵀ·dOut
      wasm.scores(go, d * 4, v, d3 * 4, at.ds, tp * 4, t, hd, 1) // dP = dOut·Vᵀ (causal half)
      wasm.softmaxGradRows(s, at.ds, tp * 4, t, 1 / Math.sqrt(hd)) // dS
      wasm.pv(at.ds, tp * 4, k, d3 * 4, db + h * hd * 4, d3 * 4, t, hd) // dQ = dS·K
      wasm.ptv(at.ds, tp * 4, q, d3 * 4, db + (d + h * hd) * 4, d3 * 4, t, hd) // dK = dSᵀ·Q
    }
  }
}

/** y = GELU(x) (tanh form, gelu.ts's rational tanh in f32); x.length % 4 == 0. */
export const geluForwardWasm = (x: Float32Array, y: Float32Array): void => {
  const { at, f32, wasm } = regions({ x: x.length, y: y.length })
  f32.set(x, at.x / 4)
  wasm.gelu(at.x, at.y, x.length)
  y.set(f32.subarray(at.y / 4, at.y / 4 + y.length))
}

/** dx = dy · GELU'(x). */
export const geluBackwardWasm = (x: Float32Array, dy: Float32Array, dx: Float32Array): void => {
  const { at, f32, wasm } = regions({ x: x.length, dy: dy.length, dx: dx.length })
  f32.set(x, at.x / 4)
  f32.set(dy, at.dy / 4)
  wasm.geluGrad(at.x, at.dy, at.dx, x.length)
  dx.set(f32.subarray(at.dx / 4, at.dx / 4 + dx.length))
}

/** Whether the LayerNorm kernels apply (row width a multiple of the 4 SIMD lanes). */
export const wasmLayerNormFits = (d: number): boolean => d % 4 === 0

/** LayerNorm (eps 1e-5) of the rows of x [rows, d]; stats [rows, 2] receives each row's mean and 1/std. */
export const layerNormForwardWasm = (
  x: Float32Array,
  g: Float32Array,
  b: Float32Array,
  y: Float32Array,
  stats: Float32Array,
  rows: number,
  d: number
): void => {
  const { at, f32, wasm } = regions({ x: x.length, g: d, b: d, y: y.length, stats: 2 * rows })
  f32.set(x, at.x / 4)
  f32.set(g, at.g / 4)
  f32.set(b, at.b / 4)
  wasm.layerNorm(at.x, at.g, at.b, at.y, at.stats, rows, d)
  y.set(f32.subarray(at.y / 4, at.y / 4 + y.length))
  stats.set(f32.subarray(at.stats / 4, at.stats / 4 + 2 * rows))
}

/** LayerNorm gradient: dx, and dg / db summed over the rows in float64. */
export const layerNormBackwardWasm = (
  x: Float32Array,
  dy: Float32Array,
  g: Float32Array,
  stats: Float32Array,
  dx: Float32Array,
  dg: Float32Array,
  db: Float32Array,
  rows: number,
  d: number
): void => {
  const { at, f32, wasm } = regions({
    x: x.length,
    dy: dy.length,
    g: d,
    stats: 2 * rows,
    dx: dx.length,
    dg64: 2 * d,
    db64: 2 * d
  })
  f32.set(x, at.x / 4)
  f32.set(dy, at.dy / 4)
  f32.set(g, at.g / 4)
  f32.set(stats, at.stats / 4)
  f32.fill(0, at.dg64 / 4, at.db64 / 4 + 2 * d)
  wasm.layerNormGrad(at.x, at.dy, at.g, at.stats, at.dx, at.dg64, at.db64, rows, d)
  dx.set(f32.subarray(at.dx / 4, at.dx / 4 + dx.length))
  const f64 = new Float64Array(wasm.memory.buffer)
  for (let c = 0; c < d; c++) {
    dg[c] = f64[at.dg64 / 8 + c]
    db[c] = f64[at.db64 / 8 + c]
  }
}

/** Whether weightGradWasm applies: input width a multiple of 4, output width a multiple of 8. */
export const wasmWeightGradFits = (din: number, dout: number): boolean => din % 4 === 0 && dout % 8 === 0

/**
 * A dense layer's parameter gradients: dw [din, dout] = xᵀ·g and db = column sums of g, for x [rows, din] and
 * g [rows, dout]. Replaces a transpose and an XNNPACK product whose fresh right operand it must repack every call.
 */
export const weightGradWasm = (
  x: Float32Array,
  g: Float32Array,
  dw: Float32Array,
  db: Float32Array,
  rows: number
): void => {
  const din = x.length / rows, dout = g.length / rows
  const { at, f32, wasm } = regions({ x: x.length, g: g.length, dw: din * dout, db: dout })
  f32.set(x, at.x / 4)
  f32.set(g, at.g / 4)
  wasm.weightGrad(at.x, din, at.g, dout, rows, at.dw, at.db)
  dw.set(f32.subarray(at.dw / 4, at.dw / 4 + dw.length))
  db.set(f32.subarray(at.db / 4, at.db / 4 + dout))
}
