/**
 * The decoder's WebAssembly kernels (src/lm/neural/decode-kernel.ts) against the JavaScript they replaced, kept here
 * as the reference: bit for bit the same attention output and caches (head sizes with and without a remainder of the
 * 4-wide dot product and of the 2-wide output columns, rows taken out of order, several new positions per row: a
 * rebuild), the same LayerNorm, residual additions and GELU (the training kernel's), and affine maps with the bits of
 * the tf.matMul (XNNPACK) and JavaScript bias addition they replaced. Same bits is what keeps every sampling stage's
 * outputs unchanged.
 */
import assert from "node:assert/strict"
import { before, describe, it } from "node:test"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import { selectBackend } from "../src/lm/neural/backend.ts"
import { type DecodeShape, loadDecodeKernels, makeDecodeKernel } from "../src/lm/neural/decode-kernel.ts"
import { geluForwardWasm, loadSimdKernels } from "../src/lm/neural/simd-kernels.ts"
import { residentAffine } from "../src/lm/neural/tensors.ts"

/** The JavaScript cached attention of transformer-decoder.ts before the kernel (one head of one query). */
function cachedAttention(
  qkv: Float32Array,
  q: number,
  kc: Float32Array,
  vc: Float32Array,
  base: number,
  pitch: number,
  last: number,
  hd: number,
  scale: number,
  scores: Float64Array,
  out: Float32Array
): void {
  let max = -Infinity
  for (let j = 0; j <= last; j++) {
    const ko = base + j * pitch
    let d0 = 0, d1 = 0, d2 = 0, d3 = 0, k = 0
    for (; k + 3 < hd; k += 4) {
      d0 += qkv[q + k] * kc[ko + k]
      d1 += qkv[q + k + 1] * kc[ko + k + 1]
      d2 += qkv[q + k + 2] * kc[ko + k + 2]
      d3 += qkv[q + k + 3] * kc[ko + k + 3]
    }
    for (; k < hd; k++) d0 += qkv[q + k] * kc[ko + k]
    const sc = (d0 + d1 + (d2 + d3)) * scale
    scores[j] = sc
    if (sc > max) max = sc
  }
  let sum = 0
  for (let j = 0; j <= last; j++) sum += scores[j] = Math.exp(scores[j] - max)
  for (let j = 0; j <= last; j++) scores[j] /= sum
  for (let k = 0; k < hd; k++) {
    let a = 0
    for (let j = 0; j <= last; j++) a += scores[j] * vc[base + j * pitch + k]
    out[k] = a
  }
}

/** The reference layer: the decoder's loop of old around cachedAttention, on caches of its own. */
const referenceAttend = (
  qkv: Float32Array,
  kc: Float32Array,
  vc: Float32Array,
  which: ReadonlyArray<number>,
  lengths: ReadonlyArray<number>,
  n: number,
  heads: number,
  d: number,
  T: number
): Float32Array => {
  const hd = d / heads, scale = 1 / Math.sqrt(hd)
  const att = new Float32Array(which.length * n * d)
  const scores = new Float64Array(T), acc = new Float32Array(hd)
  which.forEach((r, i) => {
    for (let s = 0; s < n; s++) {
      const src = (i * n + s) * 3 * d, dst = (r * T + lengths[i] + s) * d
      kc.set(qkv.subarray(src + d, src + 2 * d), dst)
      vc.set(qkv.subarray(src + 2 * d, src + 3 * d), dst)
    }
    for (let s = 0; s < n; s++) {
      for (let h = 0; h < heads; h++) {
        cachedAttention(
          qkv,
          (i * n + s) * 3 * d + h * hd,
          kc,
          vc,
          r * T * d + h * hd,
          d,
          lengths[i] + s,
          hd,
          scale,
          scores,
          acc
        )
        att.set(acc, (i * n + s) * d + h * hd)
      }
    }
  })
  return att
}

/** The decoder's JavaScript LayerNorm before the kernel. */
function layerNormRows(x: Float32Array, g: Float32Array, b: Float32Array, y: Float32Array, m: number, d: number): void {
  for (let r = 0; r < m; r++) {
    const o = r * d
    let mean = 0
    for (let k = 0; k < d; k++) mean += x[o + k]
    mean /= d
    let v = 0
    for (let k = 0; k < d; k++) v += (x[o + k] - mean) ** 2
    const s = 1 / Math.sqrt(v / d + 1e-5)
    for (let k = 0; k < d; k++) y[o + k] = (x[o + k] - mean) * s * g[k] + b[k]
  }
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length))

/** A kernel of this shape, with LayerNorm weights "n" drawn from `next` (and no affine maps unless given). */
const shape = (
  o: Omit<DecodeShape, "hidden" | "norms" | "affines"> & {
    readonly hidden?: number
    readonly affines?: DecodeShape["affines"]
  },
  next: () => number
): DecodeShape => ({
  hidden: 4 * o.dModel,
  affines: {},
  ...o,
  norms: { n: { g: Float32Array.from({ length: o.dModel }, next), b: Float32Array.from({ length: o.dModel }, next) } }
})

describe("the decoder's wasm attention", () => {
  // What selectBackend does before any neural stage runs.
  before(() => Promise.all([loadDecodeKernels(), loadSimdKernels()]))

  for (const [d, heads] of [[64, 4], [30, 2], [14, 7], [12, 12], [36, 3]] as const) {
    it(`gives the JavaScript's bits, dModel ${d}, ${heads} heads (head size ${d / heads})`, () => {
      const rows = 5, T = 9, layers = 2
      const rng = xoroshiro128plus(d * 31 + heads)
      const normal = () => (uniformFloat64(rng) * 2 - 1) * 3
      const kernel = makeDecodeKernel(
        shape({ layers, rows, context: T, dModel: d, heads, maxPositions: rows * T }, normal)
      )
      const refK = Array.from({ length: layers }, () => new Float32Array(rows * T * d))
      const refV = Array.from({ length: layers }, () => new Float32Array(rows * T * d))
      const length = new Int32Array(rows)
      // Steps of one new position for every row, a rebuild of some rows with several, rows out of order.
      const plan: Array<{ which: number[]; n: number; reset?: boolean }> = [
        { which: [0, 1, 2, 3, 4], n: 1 },
        { which: [4, 2, 0], n: 3 },
        { which: [1, 3], n: 2 },
        { which: [0, 1, 2, 3, 4], n: 1 },
        { which: [3, 0], n: 4, reset: true },
        { which: [2, 4, 1, 0, 3], n: 1 }
      ]
      for (const step of plan) {
        if (step.reset === true) { for (const r of step.which) length[r] = 0 }
        const m = step.which.length * step.n
        const starts = step.which.map((r) => length[r])
        for (let l = 0; l < layers; l++) {
          const qkv = Float32Array.from({ length: m * 3 * d }, normal)
          const got = kernel.attend(l, qkv, step.which, starts, step.n)
          const want = referenceAttend(qkv, refK[l], refV[l], step.which, starts, step.n, heads, d, T)
          assert.deepEqual(bits(got), bits(want))
          assert.deepEqual(bits(kernel.keys[l]), bits(refK[l]))
          assert.deepEqual(bits(kernel.values[l]), bits(refV[l]))
        }
        for (const r of step.which) length[r] += step.n
      }
    })
  }

  for (const d of [64, 30, 14]) {
    it(`LayerNorm, the residual additions and GELU give the JavaScript's bits, dModel ${d}`, () => {
      const rng = xoroshiro128plus(d)
      const normal = () => (uniformFloat64(rng) * 2 - 1) * 3
      const m = 7
      const s = shape({ layers: 1, rows: m, context: 2, dModel: d, heads: 2, maxPositions: m }, normal)
      const kernel = makeDecodeKernel(s)
      const x = Float32Array.from({ length: m * d }, normal)
      kernel.x.set(x)
      const want = new Float32Array(m * d)
      layerNormRows(x, s.norms.n.g, s.norms.n.b, want, m, d)
      assert.deepEqual(bits(kernel.layerNorm("n", m)), bits(want))
      const y = Float32Array.from({ length: m * d }, normal)
      kernel.addInto(y, m)
      for (let k = 0; k < x.length; k++) x[k] += y[k]
      assert.deepEqual(bits(kernel.x.subarray(0, m * d)), bits(x))
      const h = Float32Array.from({ length: m * 4 * d }, normal)
      const g = new Float32Array(h.length)
      geluForwardWasm(h, g)
      assert.deepEqual(bits(kernel.gelu(h, m)), bits(g))
    })
  }

  it("refuses more positions than it has room for, and a LayerNorm it was not given", () => {
    const kernel = makeDecodeKernel(
      shape({ layers: 1, rows: 2, context: 4, dModel: 8, heads: 2, maxPositions: 2 }, () => 0.5)
    )
    assert.throws(() => kernel.layerNorm("ln_f", 1), /no LayerNorm ln_f/)
    assert.throws(
      () =>
        makeDecodeKernel(
          shape({ layers: 8, rows: 512, context: 2048, dModel: 256, heads: 4, maxPositions: 512 }, () => 0)
        ),
      /the decoder needs 16\.0 GiB for 512 rows of context 2048 \(WebAssembly memory holds at most 4 GiB\): sample with fewer rows/
    )
    assert.throws(
      () => kernel.attend(0, new Float32Array(3 * 3 * 8), [0, 1, 0], [0, 0, 1], 1),
      /3 positions, room for 2/
    )
  })

  // Shapes of the decoder's maps (qkv, proj, fc, mlp proj, a head of 65) and odd ones, with row counts below, at and
  // past the 4-row block and column counts past the 8-column block, so every tail is taken.
  it("affine maps give the bits of tf.matMul plus the bias added in JavaScript, every block and tail", async () => {
    await selectBackend()
    const maps: Array<[string, number, number]> = [
      ["qkv", 64, 192],
      ["proj", 64, 64],
      ["up", 64, 256],
      ["down", 256, 64],
      ["head", 64, 65],
      ["odd", 13, 7],
      ["narrow", 30, 9],
      ["one", 1, 12],
      ["square", 9, 9],
      ["square2", 9, 9]
    ]
    const rng = xoroshiro128plus(77)
    const normal = () => (uniformFloat64(rng) * 2 - 1) * 3
    const params = Object.fromEntries(
      maps.flatMap(([name, k, n]) => [
        [`${name}.w`, Float32Array.from({ length: k * n }, normal)],
        [`${name}.b`, Float32Array.from({ length: n }, normal)]
      ])
    )
    const reference = residentAffine(params, maps.map(([name, k, n]) => [`${name}.w`, [k, n]]), maps.map(([n]) => n))
    const kernel = makeDecodeKernel(shape({
      layers: 1,
      rows: 40,
      context: 2,
      dModel: 8,
      heads: 2,
      maxPositions: 40,
      affines: Object.fromEntries(maps.map(([name]) => [name, { w: params[`${name}.w`], b: params[`${name}.b`] }]))
    }, normal))
    try {
      for (const [name, k] of maps) {
        for (const m of [1, 3, 4, 5, 7, 8, 32, 37]) {
          const x = Float32Array.from({ length: m * k }, normal)
          assert.deepEqual(bits(kernel.affine(name, x, m)), bits(reference.apply(x, m, name)), `${name}, ${m} rows`)
        }
      }
      // An input that is a view of the kernel's own memory (a LayerNorm's output) is read where it is.
      kernel.x.set(Float32Array.from({ length: 5 * 8 }, normal))
      const normed = kernel.layerNorm("n", 5)
      const copy = Float32Array.from(normed)
      const fromView = kernel.affine("one", normed.subarray(0, 5), 5)
      assert.deepEqual(bits(fromView), bits(reference.apply(copy.subarray(0, 5), 5, "one")))
      // Maps as wide share an output region: one map's output fed to another as wide is read before it is written.
      const x = Float32Array.from({ length: 6 * 9 }, normal)
      const twice = kernel.affine("square2", kernel.affine("square", x, 6), 6)
      assert.deepEqual(bits(twice), bits(reference.apply(reference.apply(x, 6, "square"), 6, "square2")))
      assert.throws(() => kernel.affine("nope", copy, 1), /no affine map nope/)
    } finally {
      reference.dispose()
    }
  })
})
