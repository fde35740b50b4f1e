/**
 * Causal attention kernels in WebAssembly SIMD (f32x4), for one (batch row, head) tile at a time: the wasm backend's
 * batched matMul is a naive loop and plain JS does about 1 multiply-add per ns. The kernels are WAT text assembled
 * at load by wabt (no binary in the repository). Softmax and its gradient stay in JS (wasm has no exp); every sum
 * runs in a fixed order, so results are bit-deterministic. Tiles are row-major [T, hd] f32 with hd % 4 == 0.
 */
import wabtInit from "wabt"

const WAT = `
(module
  (memory (export "memory") 1)
  ;; s[i*t+j] = scale * q[i]·k[j] for j <= i
  (func (export "scores") (param $q i32) (param $k i32) (param $s i32) (param $t i32) (param $hd i32) (param $scale f32)
    (local $i i32) (local $j i32) (local $c i32) (local $qi i32) (local $kj i32) (local $acc v128) (local $rb i32)
    (local.set $rb (i32.shl (local.get $hd) (i32.const 2)))
    (block $di (loop $li
      (br_if $di (i32.ge_u (local.get $i) (local.get $t)))
      (local.set $qi (i32.add (local.get $q) (i32.mul (local.get $i) (local.get $rb))))
      (local.set $j (i32.const 0))
      (block $dj (loop $lj
        (br_if $dj (i32.gt_u (local.get $j) (local.get $i)))
        (local.set $kj (i32.add (local.get $k) (i32.mul (local.get $j) (local.get $rb))))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (block $dc (loop $lc
          (br_if $dc (i32.ge_u (local.get $c) (local.get $rb)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
            (v128.load (i32.add (local.get $qi) (local.get $c)))
            (v128.load (i32.add (local.get $kj) (local.get $c))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $lc)))
        (f32.store
          (i32.add (local.get $s) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $t)) (local.get $j)) (i32.const 2)))
          (f32.mul (local.get $scale) (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
            (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $lj)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))
  ;; o[i] = sum over j <= i of p[i*t+j] * x[j]
  (func (export "pv") (param $p i32) (param $x i32) (param $o i32) (param $t i32) (param $hd i32)
    (local $i i32) (local $j i32) (local $c i32) (local $acc v128) (local $rb i32) (local $prow i32)
    (local.set $rb (i32.shl (local.get $hd) (i32.const 2)))
    (block $di (loop $li
      (br_if $di (i32.ge_u (local.get $i) (local.get $t)))
      (local.set $prow (i32.add (local.get $p) (i32.shl (i32.mul (local.get $i) (local.get $t)) (i32.const 2))))
      (local.set $c (i32.const 0))
      (block $dc (loop $lc
        (br_if $dc (i32.ge_u (local.get $c) (local.get $rb)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $dj (loop $lj
          (br_if $dj (i32.gt_u (local.get $j) (local.get $i)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
            (f32x4.splat (f32.load (i32.add (local.get $prow) (i32.shl (local.get $j) (i32.const 2)))))
            (v128.load (i32.add (i32.add (local.get $x) (i32.mul (local.get $j) (local.get $rb))) (local.get $c))))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $lj)))
        (v128.store (i32.add (i32.add (local.get $o) (i32.mul (local.get $i) (local.get $rb))) (local.get $c)) (local.get $acc))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $lc)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))
  ;; o[j] = sum over i >= j of p[i*t+j] * x[i]
  (func (export "ptv") (param $p i32) (param $x i32) (param $o i32) (param $t i32) (param $hd i32)
    (local $i i32) (local $j i32) (local $c i32) (local $acc v128) (local $rb i32)
    (local.set $rb (i32.shl (local.get $hd) (i32.const 2)))
    (block $dj (loop $lj
      (br_if $dj (i32.ge_u (local.get $j) (local.get $t)))
      (local.set $c (i32.const 0))
      (block $dc (loop $lc
        (br_if $dc (i32.ge_u (local.get $c) (local.get $rb)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $i (local.get $j))
        (block $di (loop $li
          (br_if $di (i32.ge_u (local.get $i) (local.get $t)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
            (f32x4.splat (f32.load (i32.add (local.get $p)
              (i32.shl (i32.add (i32.mul (local.get $i) (local.get $t)) (local.get $j)) (i32.const 2)))))
            (v128.load (i32.add (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $rb))) (local.get $c))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $li)))
        (v128.store (i32.add (i32.add (local.get $o) (i32.mul (local.get $j) (local.get $rb))) (local.get $c)) (local.get $acc))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $lc)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $lj)))))
`

// The project's lib (ES2023, no DOM) has no WebAssembly types: the members used here.
declare const WebAssembly: {
  compile(bytes: Uint8Array): Promise<object>
  instantiate(module: object, imports: object): Promise<{ readonly exports: object }>
}

interface Kernels {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number }
  scores(q: number, k: number, s: number, t: number, hd: number, scale: number): void
  pv(p: number, x: number, o: number, t: number, hd: number): void
  ptv(p: number, x: number, o: number, t: number, hd: number): void
}

const compile = async (): Promise<Kernels> => {
  const wabt = await wabtInit()
  const mod = wabt.parseWat("attention.wat", WAT, { simd: true })
  try {
    const { buffer } = mod.toBinary({})
    const instance = await WebAssembly.instantiate(await WebAssembly.compile(buffer), {})
    return instance.exports as unknown as Kernels
  } finally {
    mod.destroy()
  }
}

const kernels: Kernels = await compile()

/** Tile offsets (bytes) in the kernels' memory, grown on demand; views are rebuilt after growth. */
const layout = (t: number, hd: number) => {
  const tile = t * hd * 4
  const square = t * t * 4
  const need = 7 * tile + 2 * square
  const have = kernels.memory.buffer.byteLength
  if (need > have) kernels.memory.grow(Math.ceil((need - have) / 65536))
  const at = { q: 0, k: tile, v: 2 * tile, a: 3 * tile, b: 4 * tile, c: 5 * tile, d: 6 * tile, s: 7 * tile, s2: 7 * tile + square }
  return { at, f32: new Float32Array(kernels.memory.buffer) }
}

/** Whether these kernels apply (head size a multiple of the 4 SIMD lanes). */
export const wasmAttentionFits = (hd: number): boolean => hd % 4 === 0

const load = (x: Float32Array, dst: Float32Array, at: number, b: number, t: number, width: number, offset: number, hd: number) => {
  for (let i = 0; i < t; i++) dst.set(x.subarray((b * t + i) * width + offset, (b * t + i) * width + offset + hd), at / 4 + i * hd)
}

const store = (src: Float32Array, at: number, out: Float32Array, b: number, t: number, width: number, offset: number, hd: number) => {
  for (let i = 0; i < t; i++) out.set(src.subarray(at / 4 + i * hd, at / 4 + (i + 1) * hd), (b * t + i) * width + offset)
}

/** Forward: out [B·T, d] from fused qkv [B·T, 3d]; p receives the probabilities [B, H, T, T] (causal). */
export const attentionForwardWasm = (
  x: Float32Array, out: Float32Array, p: Float32Array, batch: number, t: number, heads: number, d3: number
): void => {
  const d = d3 / 3, hd = d / heads, scale = 1 / Math.sqrt(hd)
  const { at, f32 } = layout(t, hd)
  const s = at.s / 4
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      load(x, f32, at.q, b, t, d3, h * hd, hd)
      load(x, f32, at.k, b, t, d3, d + h * hd, hd)
      load(x, f32, at.v, b, t, d3, 2 * d + h * hd, hd)
      kernels.scores(at.q, at.k, at.s, t, hd, scale)
      for (let i = 0; i < t; i++) {
        const r = s + i * t
        let max = -Infinity
        for (let j = 0; j <= i; j++) if (f32[r + j] > max) max = f32[r + j]
        let sum = 0
        for (let j = 0; j <= i; j++) {
          const e = Math.exp(f32[r + j] - max)
          f32[r + j] = e
          sum += e
        }
        const inv = 1 / sum
        for (let j = 0; j <= i; j++) f32[r + j] *= inv
        for (let j = i + 1; j < t; j++) f32[r + j] = 0
      }
      kernels.pv(at.s, at.v, at.a, t, hd)
      p.set(f32.subarray(s, s + t * t), (b * heads + h) * t * t)
      store(f32, at.a, out, b, t, d, h * hd, hd)
    }
  }
}

/** Backward: dx [B·T, 3d] (dq | dk | dv) from dOut g [B·T, d] and the forward's probabilities. */
export const attentionBackwardWasm = (
  x: Float32Array, g: Float32Array, p: Float32Array, dx: Float32Array, batch: number, t: number, heads: number, d3: number
): void => {
  const d = d3 / 3, hd = d / heads, scale = 1 / Math.sqrt(hd)
  const { at, f32 } = layout(t, hd)
  const s = at.s / 4, s2 = at.s2 / 4
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      load(x, f32, at.q, b, t, d3, h * hd, hd)
      load(x, f32, at.k, b, t, d3, d + h * hd, hd)
      load(x, f32, at.v, b, t, d3, 2 * d + h * hd, hd)
      load(g, f32, at.a, b, t, d, h * hd, hd) // dOut
      f32.set(p.subarray((b * heads + h) * t * t, (b * heads + h + 1) * t * t), s)
      kernels.ptv(at.s, at.a, at.d, t, hd) // dV = Pᵀ·dOut
      kernels.scores(at.a, at.v, at.s2, t, hd, 1) // dP = dOut·Vᵀ (causal half)
      for (let i = 0; i < t; i++) {
        const r = i * t
        let rowDot = 0
        for (let j = 0; j <= i; j++) rowDot += f32[s + r + j] * f32[s2 + r + j]
        for (let j = 0; j <= i; j++) f32[s2 + r + j] = f32[s + r + j] * (f32[s2 + r + j] - rowDot) * scale
        for (let j = i + 1; j < t; j++) f32[s2 + r + j] = 0
      }
      kernels.pv(at.s2, at.k, at.b, t, hd) // dQ = dS·K
      kernels.ptv(at.s2, at.q, at.c, t, hd) // dK = dSᵀ·Q
      store(f32, at.b, dx, b, t, d3, h * hd, hd)
      store(f32, at.c, dx, b, t, d3, d + h * hd, hd)
      store(f32, at.d, dx, b, t, d3, 2 * d + h * hd, hd)
    }
  }
}
