/**
 * The transformer decoder's WebAssembly kernels (kernels/decode.wat and kernels/affine.wat, with the training's
 * kernels/gelu.wat): one instance per decoder, whose memory holds that decoder's weights, its residual stream and its
 * key/value caches, so a step runs without TF.js and copies nothing but the logits out. Per layer: LayerNorm, the
 * affine maps (summed as TF.js's wasm matMul sums them), the cached attention of all the step's rows in one call, the
 * residual additions and GELU. The same arithmetic, in the same order, as the TF.js and JavaScript they replaced
 * (float64 where that was, and Math.exp as V8 computes it, exp-v8.wat): the same bits. The module is assembled from its text by wabt once per
 * process, as simd-kernels.ts does.
 */
import { readFile } from "node:fs/promises"
import wabtInit from "wabt"
import { loadOnce } from "./load-once.ts"

// The project's lib (ES2023, no DOM) has no WebAssembly types: the members used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer
}
declare const WebAssembly: {
  compile(bytes: Uint8Array): Promise<object>
  Instance: new(module: object, imports: object) => { readonly exports: object }
  Memory: new(descriptor: { initial: number; maximum?: number }) => WasmMemory
}

interface DecodeExports {
  affine(x: number, w: number, b: number, y: number, m: number, k: number, n: number): void
  layer_norm(x: number, g: number, b: number, y: number, m: number, d: number): void
  add_into(x: number, y: number, n: number): void
  gelu(x: number, y: number, n: number): void
  attend(
    qkv: number,
    kc: number,
    vc: number,
    att: number,
    scores: number,
    which: number,
    lens: number,
    count: number,
    n: number,
    heads: number,
    d: number,
    t: number,
    scale: number,
    qf: number
  ): void
}

/** The module's parts, in this order (functions are numbered in text order, so the order fixes the binary). */
const PARTS = ["exp-v8.wat", "gelu.wat", "decode.wat", "affine.wat"]

const compile = async (): Promise<object> => {
  const wabt = await wabtInit()
  const parts = await Promise.all(PARTS.map((name) => readFile(new URL(`./kernels/${name}`, import.meta.url), "utf8")))
  const text = [
    "(module",
    "(import \"js\" \"memory\" (memory 1))",
    ...parts,
    ")"
  ].join("\n")
  const mod = wabt.parseWat("decode-kernels.wat", text, { simd: true, bulk_memory: true })
  try {
    return await WebAssembly.compile(mod.toBinary({}).buffer)
  } finally {
    mod.destroy()
  }
}

/** The module, assembled and compiled once per thread; selectBackend (backend.ts) awaits `loadDecodeKernels`. */
const decodeModule = loadOnce(compile, "decode-kernel.ts: module not compiled (await loadDecodeKernels() first)")
export const loadDecodeKernels = decodeModule.load

export interface DecodeShape {
  readonly layers: number
  readonly rows: number
  /** Context length (cache positions per row). */
  readonly context: number
  readonly dModel: number
  readonly heads: number
  /** The MLP's hidden width. */
  readonly hidden: number
  /** The most positions one step reads at once (rows · positions per row). */
  readonly maxPositions: number
  /** LayerNorm weights by name ("h0.ln1", …, "ln_f"): `<name>.g` and `<name>.b` of the model's params. */
  readonly norms: Readonly<Record<string, { readonly g: Float32Array; readonly b: Float32Array }>>
  /** Affine maps by name ("h0.attn.qkv", …, "head"): W [in, out] row-major and b [out] (`<name>.w`, `<name>.b`). */
  readonly affines: Readonly<Record<string, { readonly w: Float32Array; readonly b: Float32Array }>>
}

export interface DecodeKernel {
  /** Layer l's key and value caches [rows, context, dModel], views of the kernel's memory. */
  readonly keys: ReadonlyArray<Float32Array>
  readonly values: ReadonlyArray<Float32Array>
  /** The residual stream [maxPositions, dModel]: its first m rows are the positions of the current step. */
  readonly x: Float32Array
  /** LayerNorm `name` of x's first m rows: a view, valid until the next call. */
  readonly layerNorm: (name: string, m: number) => Float32Array
  /** x [m, in] · W + b of affine map `name`, [m, out]: a view, valid until the next call of a map as wide. */
  readonly affine: (name: string, x: Float32Array, m: number) => Float32Array
  /** x's first m rows += `y` [m, dModel]. */
  readonly addInto: (y: Float32Array, m: number) => void
  /** GELU of `h` [m, hidden]: a view, valid until the next call. */
  readonly gelu: (h: Float32Array, m: number) => Float32Array
  /**
   * One layer's attention for rows `which` (each taking `n` new positions from `lengths[i]` on) from their fused
   * q|k|v [which.length · n, 3·dModel]: stores the new keys and values in layer l's caches and returns the
   * attention output [which.length · n, dModel] (a view, valid until the next call).
   */
  readonly attend: (
    l: number,
    qkv: Float32Array,
    which: ReadonlyArray<number>,
    lengths: ArrayLike<number>,
    n: number
  ) => Float32Array
}

export const makeDecodeKernel = (s: DecodeShape): DecodeKernel => {
  const d = s.dModel, cache = s.rows * s.context * d, most = s.maxPositions
  // Byte offsets of the regions, each 16-aligned.
  let end = 0
  const region = (floats: number) => {
    const at = end
    end += Math.ceil(floats / 4) * 16
    return at
  }
  const kAt = Array.from({ length: s.layers }, () => region(cache))
  const vAt = Array.from({ length: s.layers }, () => region(cache))
  const xAt = region(most * d)
  const normAt = region(most * d)
  const qkvAt = region(most * 3 * d)
  const attAt = region(most * d)
  const hiddenAt = region(most * s.hidden)
  const scoresAt = region(s.context * 2)
  const queryAt = region(d * 2)
  const whichAt = region(s.rows)
  const lensAt = region(s.rows)
  const weightsAt = Object.fromEntries(
    Object.entries(s.norms).map(([name, w]) => [name, { g: region(w.g.length), b: region(w.b.length) }])
  )
  // Maps of one output width share one output region (every layer's qkv, say): a step uses a map's output before
  // the next map of that width runs. An input inside the part of the region a call writes is copied out first.
  const outAt = new Map<number, number>()
  const affinesAt = Object.fromEntries(
    Object.entries(s.affines).map(([name, a]) => {
      const n = a.b.length, k = a.w.length / n
      if (!Number.isSafeInteger(k) || k < 1) {
        throw new Error(`decode kernel: ${name}.w has ${a.w.length} numbers, not [in, ${n}]`)
      }
      if (!outAt.has(n)) outAt.set(n, region(most * n))
      return [name, { k, n, w: region(a.w.length), b: region(n), out: outAt.get(n)! }]
    })
  )
  const inputAt = region(most * Math.max(0, ...Object.values(affinesAt).map((a) => a.k)))
  // A wasm32 memory holds at most 4 GiB (65536 pages); the caches are most of it (2 · layers · rows · context · dModel
  // floats).
  const pages = Math.max(1, Math.ceil(end / 65536))
  if (pages > 65536) {
    throw new Error(
      `the decoder needs ${(end / 2 ** 30).toFixed(1)} GiB for ${s.rows} rows of context ${s.context} ` +
        `(WebAssembly memory holds at most 4 GiB): sample with fewer rows`
    )
  }
  const memory = new WebAssembly.Memory({ initial: pages })
  const exports = new WebAssembly.Instance(decodeModule.get(), { js: { memory } })
    .exports as DecodeExports
  // The memory never grows (it is sized here), so these views stay valid for the decoder's life.
  const f32 = new Float32Array(memory.buffer)
  const i32 = new Int32Array(memory.buffer)
  const view = (at: number, floats: number) => f32.subarray(at / 4, at / 4 + floats)
  for (const [name, w] of Object.entries(s.norms)) {
    f32.set(w.g, weightsAt[name].g / 4)
    f32.set(w.b, weightsAt[name].b / 4)
  }
  for (const [name, a] of Object.entries(s.affines)) {
    f32.set(a.w, affinesAt[name].w / 4)
    f32.set(a.b, affinesAt[name].b / 4)
  }
  /**
   * The byte address of `a`'s first `floats` numbers: where they are when `a` is a view of this memory (another
   * kernel's output) clear of the `bytes` at `written` the caller will write, else a copy's in region `at`.
   */
  const addressIn = (a: Float32Array, floats: number, at: number, written = 0, bytes = 0): number => {
    const clear = a.byteOffset + floats * 4 <= written || a.byteOffset >= written + bytes
    if (a.buffer === memory.buffer && clear) return a.byteOffset
    f32.set(a.subarray(0, floats), at / 4)
    return at
  }
  const room = (m: number) => {
    if (m > most) throw new Error(`decode kernel: ${m} positions, room for ${most}`)
  }
  const scale = 1 / Math.sqrt(d / s.heads)
  return {
    keys: kAt.map((at) => view(at, cache)),
    values: vAt.map((at) => view(at, cache)),
    x: view(xAt, most * d),
    layerNorm: (name, m) => {
      room(m)
      const w = weightsAt[name]
      if (w === undefined) throw new Error(`decode kernel: no LayerNorm ${name}`)
      exports.layer_norm(xAt, w.g, w.b, normAt, m, d)
      return view(normAt, m * d)
    },
    affine: (name, x, m) => {
      room(m)
      const a = affinesAt[name]
      if (a === undefined) throw new Error(`decode kernel: no affine map ${name}`)
      const from = addressIn(x, m * a.k, inputAt, a.out, m * a.n * 4)
      exports.affine(from, a.w, a.b, a.out, m, a.k, a.n)
      return view(a.out, m * a.n)
    },
    addInto: (y, m) => {
      room(m)
      exports.add_into(xAt, addressIn(y, m * d, attAt), m * d)
    },
    gelu: (h, m) => {
      room(m)
      const at = addressIn(h, m * s.hidden, hiddenAt)
      exports.gelu(at, at, m * s.hidden)
      return view(at, m * s.hidden)
    },
    attend: (l, qkv, which, lengths, n) => {
      const m = which.length * n
      room(m)
      const from = addressIn(qkv, m * 3 * d, qkvAt)
      for (let i = 0; i < which.length; i++) {
        i32[whichAt / 4 + i] = which[i]
        i32[lensAt / 4 + i] = lengths[i]
      }
      exports.attend(
        from,
        kAt[l],
        vAt[l],
        attAt,
        scoresAt,
        whichAt,
        lensAt,
        which.length,
        n,
        s.heads,
        d,
        s.context,
        scale,
        queryAt
      )
      return view(attAt, m * d)
    }
  }
}
