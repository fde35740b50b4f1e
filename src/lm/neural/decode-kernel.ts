/**
 * The decoder's cached attention in WebAssembly (kernels/decode.wat): one instance per decoder, whose memory holds
 * that decoder's key/value caches (so a step copies in only the new rows' q|k|v) and whose `attend` runs a layer's
 * attention for all the rows of a step in one call. Same float64 arithmetic, in the same order, and the same exp
 * (Math.exp) as the JavaScript it replaced: the same bits. The module is assembled from its text by wabt once per
 * process, as simd-kernels.ts does.
 */
import { readFile } from "node:fs/promises"
import wabtInit from "wabt"

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
    scale: number
  ): void
}

const compile = async (): Promise<object> => {
  const wabt = await wabtInit()
  const text = await readFile(new URL("./kernels/decode.wat", import.meta.url), "utf8")
  const mod = wabt.parseWat("decode.wat", text, { simd: true, bulk_memory: true })
  try {
    return await WebAssembly.compile(mod.toBinary({}).buffer)
  } finally {
    mod.destroy()
  }
}

const decodeModule = await compile()

export interface DecodeShape {
  readonly layers: number
  readonly rows: number
  /** Context length (cache positions per row). */
  readonly context: number
  readonly dModel: number
  readonly heads: number
  /** The most positions one call attends for (rows · positions per row). */
  readonly maxPositions: number
}

export interface DecodeKernel {
  /** Layer l's key and value caches [rows, context, dModel], views of the kernel's memory. */
  readonly keys: ReadonlyArray<Float32Array>
  readonly values: ReadonlyArray<Float32Array>
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
  const d = s.dModel, cache = s.rows * s.context * d
  // Byte offsets of the regions, each 16-aligned.
  let end = 0
  const region = (bytes: number) => {
    const at = end
    end += Math.ceil(bytes / 16) * 16
    return at
  }
  const kAt = Array.from({ length: s.layers }, () => region(cache * 4))
  const vAt = Array.from({ length: s.layers }, () => region(cache * 4))
  const qkvAt = region(s.maxPositions * 3 * d * 4)
  const attAt = region(s.maxPositions * d * 4)
  const scoresAt = region(s.context * 8)
  const whichAt = region(s.rows * 4)
  const lensAt = region(s.rows * 4)
  const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(end / 65536)) })
  const exports = new WebAssembly.Instance(decodeModule, { js: { memory, exp: Math.exp } }).exports as DecodeExports
  // The memory never grows (it is sized here), so these views stay valid for the decoder's life.
  const f32 = new Float32Array(memory.buffer)
  const i32 = new Int32Array(memory.buffer)
  const scale = 1 / Math.sqrt(d / s.heads)
  return {
    keys: kAt.map((at) => f32.subarray(at / 4, at / 4 + cache)),
    values: vAt.map((at) => f32.subarray(at / 4, at / 4 + cache)),
    attend: (l, qkv, which, lengths, n) => {
      const m = which.length * n
      if (m > s.maxPositions) throw new Error(`decode kernel: ${m} positions, room for ${s.maxPositions}`)
      f32.set(qkv.subarray(0, m * 3 * d), qkvAt / 4)
      for (let i = 0; i < which.length; i++) {
        i32[whichAt / 4 + i] = which[i]
        i32[lensAt / 4 + i] = lengths[i]
      }
      exports.attend(
        qkvAt,
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
        scale
      )
      return f32.subarray(attAt / 4, attAt / 4 + m * d)
    }
  }
}
