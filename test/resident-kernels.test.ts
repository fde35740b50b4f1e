/**
 * The SIMD kernels on the TF.js wasm backend's heap (src/lm/neural/resident-kernels.ts) against the copying ones
 * (simd-kernels.ts) on the same inputs: bit for bit the same GELU and its gradient, LayerNorm and its gradients, a
 * dense layer's weight gradients and causal attention with its gradient; and dense layers with the bits of the
 * tf.matMul (XNNPACK) and tf.add they replace. Same bits is what lets the transformer use
 * them without changing any training stage's outputs.
 */
import assert from "node:assert/strict"
import { before, describe, it } from "node:test"
import * as tf from "@tensorflow/tfjs-core"
// Registers the cpu backend, for the last test.
import "@tensorflow/tfjs-backend-cpu"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import { selectBackend } from "../src/lm/neural/backend.ts"
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
} from "../src/lm/neural/resident-kernels.ts"
import {
  attentionBackwardWasm,
  attentionForwardWasm,
  attentionProbabilitiesWasm,
  geluBackwardWasm,
  geluForwardWasm,
  layerNormBackwardWasm,
  layerNormForwardWasm,
  weightGradWasm
} from "../src/lm/neural/simd-kernels.ts"

const draws = (n: number, seed: number): Float32Array => {
  const rng = xoroshiro128plus(seed)
  return Float32Array.from({ length: n }, () => 4 * uniformFloat64(rng) - 2)
}

/** The tensor's values, as bits. */
const bits = (t: tf.Tensor): Uint32Array => new Uint32Array((t.dataSync() as Float32Array).slice().buffer)
const same = (t: tf.Tensor, expected: Float32Array, what: string) =>
  assert.deepEqual(bits(t), new Uint32Array(expected.slice().buffer), what)

describe("lm/neural/resident-kernels", () => {
  let heap: ResidentHeap
  before(async () => {
    assert.equal((await selectBackend({ prefer: "wasm" })).name, "wasm")
    const found = residentHeap()
    assert.ok(found !== undefined, "no heap on the wasm backend")
    heap = found
  })

  it("GELU and its gradient: the copying kernels' bits", () => {
    const xs = draws(512 * 16, 1), dys = draws(512 * 16, 2)
    const y = new Float32Array(xs.length), dx = new Float32Array(xs.length)
    geluForwardWasm(xs, y)
    geluBackwardWasm(xs, dys, dx)
    tf.tidy(() => {
      const x = tf.tensor2d(xs, [512, 16])
      same(geluOnHeap(heap, x), y, "GELU")
      same(geluGradOnHeap(heap, x, tf.tensor2d(dys, [512, 16])), dx, "GELU's gradient")
    })
  })

  it("LayerNorm and its gradients: the copying kernels' bits", () => {
    const rows = 96, d = 64
    const xs = draws(rows * d, 3), gs = draws(d, 4), bs = draws(d, 5), dys = draws(rows * d, 6)
    const y = new Float32Array(rows * d), stats = new Float32Array(2 * rows)
    layerNormForwardWasm(xs, gs, bs, y, stats, rows, d)
    const dx = new Float32Array(rows * d), dg = new Float32Array(d), db = new Float32Array(d)
    layerNormBackwardWasm(xs, dys, gs, stats, dx, dg, db, rows, d)
    tf.tidy(() => {
      const x = tf.tensor2d(xs, [rows, d]), g = tf.tensor1d(gs)
      const out = layerNormOnHeap(heap, x, g, tf.tensor1d(bs))
      same(out.y, y, "LayerNorm")
      same(out.stats, stats, "its statistics")
      const [gx, gg, gb] = layerNormGradOnHeap(heap, x, tf.tensor2d(dys, [rows, d]), g, out.stats)
      same(gx, dx, "dx")
      same(gg, dg, "dg")
      same(gb, db, "db")
    })
  })

  it("a dense layer's weight gradients: the copying kernel's bits", () => {
    const rows = 200, din = 64, dout = 192
    const xs = draws(rows * din, 7), gs = draws(rows * dout, 8)
    const dw = new Float32Array(din * dout), db = new Float32Array(dout)
    weightGradWasm(xs, gs, dw, db, rows)
    tf.tidy(() => {
      const [w, b] = weightGradOnHeap(heap, tf.tensor2d(xs, [rows, din]), tf.tensor2d(gs, [rows, dout]))
      same(w, dw, "dw")
      same(b, db, "db")
    })
  })

  it("dense layers: the bits of tf.add(tf.matMul(x, w), b), and of tf.matMul without a bias", () => {
    // The training's shapes (x·W forward, dy·Wᵀ backward) with row counts on and off the 4-row blocks.
    for (const [m, k, n] of [[256, 64, 192], [256, 192, 64], [256, 256, 64], [255, 64, 65], [13, 65, 64]] as const) {
      tf.tidy(() => {
        const x = tf.tensor2d(draws(m * k, m + k), [m, k]), w = tf.tensor2d(draws(k * n, k + n), [k, n])
        const b = tf.tensor1d(draws(n, n))
        const biased = bits(tf.add(tf.matMul(x, w), b))
        assert.deepEqual(bits(affineOnHeap(heap, x, w, b)), biased, `x·W + b, ${m}x${k}x${n}`)
        assert.deepEqual(bits(affineOnHeap(heap, x, w)), bits(tf.matMul(x, w)), `x·W, ${m}x${k}x${n}`)
      })
    }
  })

  for (const [batch, t, heads, d] of [[3, 17, 4, 64], [2, 8, 2, 16]] as const) {
    it(`causal attention and its gradient: the copying kernels' bits (batch ${batch}, T ${t}, ${heads} heads)`, () => {
      const d3 = 3 * d
      const xs = draws(batch * t * d3, 9), dys = draws(batch * t * d, 10)
      const out = new Float32Array(batch * t * d), p = attentionProbabilitiesWasm(batch, heads, t)
      attentionForwardWasm(xs, out, p, batch, t, heads, d3)
      const dx = new Float32Array(batch * t * d3)
      attentionBackwardWasm(xs, dys, p, dx, batch, t, heads, d3)
      tf.tidy(() => {
        const qkv = tf.tensor2d(xs, [batch * t, d3])
        const onHeap = attentionOnHeap(heap, qkv, batch, t, heads)
        same(onHeap.out, out, "attention")
        same(attentionGradOnHeap(heap, qkv, tf.tensor2d(dys, [batch * t, d]), onHeap.p, batch, t, heads), dx, "dqkv")
      })
    })
  }

  it("is off the wasm backend's heap only when another backend runs", async () => {
    await tf.setBackend("cpu")
    try {
      assert.equal(residentHeap(), undefined)
    } finally {
      await tf.setBackend("wasm")
    }
    assert.ok(residentHeap() !== undefined)
  })
})
