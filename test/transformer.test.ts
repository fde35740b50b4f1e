import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { before, describe, it } from "node:test"
import * as tf from "@tensorflow/tfjs-core"
import { writeSafetensors } from "../src/format/safetensors.ts"
import { selectBackend } from "../src/lm/neural/backend.ts"
import { createParallelTrainer } from "../src/lm/neural/parallel.ts"
import { type AdamWConfig, adamwStep, learningRate, optimizerState } from "../src/lm/neural/adamw.ts"
import { sampleBatch, uniformStream } from "../src/lm/neural/train.ts"
import {
  attention,
  crossEntropy,
  dense,
  embedding,
  FAST,
  gelu,
  layerNorm,
  forward,
  fromSafetensors,
  initParams,
  lossAndGrads,
  paramShapes,
  REFERENCE,
  toSafetensors,
  type TransformerConfig
} from "../src/lm/neural/transformer.ts"

const TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat by the log. ".repeat(20)
const CHARS = [...new Set(TEXT)].sort()
const TOKENS = Int32Array.from(TEXT, (ch) => CHARS.indexOf(ch))
const CONFIG: TransformerConfig = { vocab: CHARS.length, layers: 2, dModel: 32, heads: 4, context: 16 }
const ADAMW: AdamWConfig = {
  lr: 1e-2,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  warmup: 5,
  schedule: "cosine",
  totalSteps: 60,
  minLrFraction: 0.1
}

const train = (steps: number, seed: number) => {
  const s = optimizerState(initParams(CONFIG, seed))
  const next = uniformStream(seed + 1)
  const losses: number[] = []
  for (let i = 0; i < steps; i++) {
    const b = sampleBatch(TOKENS, 8, CONFIG.context, next)
    const { loss, grads } = lossAndGrads(CONFIG, s.params, b.inputs, b.targets, 8)
    adamwStep(s, paramShapes(CONFIG), grads, ADAMW)
    losses.push(loss)
  }
  return { state: s, losses }
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

describe("lm/transformer", () => {
  before(async () => {
    assert.equal((await selectBackend({ prefer: "wasm" })).name, "wasm")
  })

  it("learns: the loss falls well below its start on a tiny corpus", () => {
    const { losses } = train(60, 1)
    const head = losses.slice(0, 5).reduce((a, b) => a + b) / 5
    const tail = losses.slice(-5).reduce((a, b) => a + b) / 5
    assert.ok(Math.abs(head - Math.log(CONFIG.vocab)) < 0.3, `initial loss ${head} near ln(vocab)`)
    assert.ok(tail < head - 1, `loss ${head.toFixed(3)} -> ${tail.toFixed(3)}`)
  })

  it("two trainings with the same seed give byte-identical safetensors; another seed does not", () => {
    const a = toSafetensors(CONFIG, train(8, 3).state.params)
    const b = toSafetensors(CONFIG, train(8, 3).state.params)
    const c = toSafetensors(CONFIG, train(8, 4).state.params)
    assert.equal(sha(a), sha(b))
    assert.notEqual(sha(a), sha(c))
  })

  it("custom-gradient layers match tf.grad of the plain formulation within 1e-4", () => {
    const n = 2, t = 5, d = 8, heads = 2, v = 7
    const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed)
    const check = (name: string, f: (impl: typeof FAST, ...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]) => {
      const weight = r(f(REFERENCE, ...xs).shape, 99) // a random linear functional of the output
      const g = (impl: typeof FAST) => tf.grads((...ys: tf.Tensor[]) => tf.sum(tf.mul(f(impl, ...ys), weight)))(xs)
      const [fast, ref] = [g(FAST), g(REFERENCE)]
      assert.ok(maxDiff(f(FAST, ...xs).dataSync(), f(REFERENCE, ...xs).dataSync()) < 1e-4, `${name} forward`)
      fast.forEach((gf, i) => {
        const diff = maxDiff(gf.dataSync(), ref[i].dataSync())
        assert.ok(diff < 1e-4, `${name}: gradient ${i} differs by ${diff}`)
      })
    }
    tf.tidy(() => {
      check("dense", (impl, x, w, b) => dense(impl, x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), [
        r([n * t, d], 1),
        r([d, 3 * d], 2),
        r([3 * d], 3)
      ])
      check("attention (wasm SIMD)", (impl, qkv) => attention(impl, qkv as tf.Tensor2D, n, t, heads), [
        r([n * t, 3 * d], 4)
      ])
      const js = { ...FAST, attention: "js" as const }
      check("attention (js)", (impl, qkv) => attention(impl === FAST ? js : impl, qkv as tf.Tensor2D, n, t, heads), [
        r([n * t, 3 * d], 4)
      ])
      // head size 6 is no multiple of 4: "wasm" falls back to the JS kernels
      check("attention (hd 6)", (impl, qkv) => attention(impl, qkv as tf.Tensor2D, n, t, 2), [r([n * t, 36], 11)])
      const ids = Int32Array.from({ length: n * t }, (_, i) => (i * 5) % v)
      check("embedding", (impl, table) => embedding(impl, table as tf.Tensor2D, ids), [r([v, d], 5)])
      check("gelu", (impl, x) => gelu(impl, x as tf.Tensor2D), [r([n * t, 4 * d], 7)])
      check("layer norm", (impl, x, g, b) => layerNorm(impl, x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D), [
        r([n * t, d], 8),
        r([d], 9),
        r([d], 10)
      ])
      check("cross-entropy", (impl, z) => crossEntropy(impl, z as tf.Tensor2D, ids), [r([n * t, v], 6)])
    })
    // the whole model: every parameter's gradient
    const params = initParams(CONFIG, 7)
    const b = sampleBatch(TOKENS, 3, 12, uniformStream(8))
    const fast = lossAndGrads(CONFIG, params, b.inputs, b.targets, 3, FAST)
    const ref = lossAndGrads(CONFIG, params, b.inputs, b.targets, 3, REFERENCE)
    assert.ok(Math.abs(fast.loss - ref.loss) < 1e-5)
    for (const k of Object.keys(ref.grads)) {
      assert.ok(maxDiff(fast.grads[k], ref.grads[k]) < 1e-4, `model gradient ${k}`)
    }
    assert.ok(
      maxDiff(forward(CONFIG, params, b.inputs, 3, FAST), forward(CONFIG, params, b.inputs, 3, REFERENCE)) < 1e-4
    )
  })

  it("round-trips through safetensors, readable by an independent parser", () => {
    const params = initParams(CONFIG, 11)
    const bytes = toSafetensors(CONFIG, params)
    const back = fromSafetensors(bytes)
    assert.deepEqual(back.config, CONFIG)
    assert.equal(back.metadata["artifact"], "model/transformer")
    for (const k of Object.keys(params)) assert.deepEqual(back.params[k], params[k])
    assert.equal(sha(toSafetensors(back.config, back.params)), sha(bytes))
    // independent reader: the format by hand (u64 LE header length, JSON header, LE f32 data)
    const n = Number(Buffer.from(bytes).readBigUInt64LE(0))
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8")) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    >
    const meta = header["__metadata__"] as unknown as Record<string, string>
    assert.deepEqual(JSON.parse(meta["config"]), CONFIG)
    const w = header["h1.mlp.fc.w"]
    assert.equal(w.dtype, "F32")
    assert.deepEqual(w.shape, [32, 128])
    const buf = Buffer.from(bytes.subarray(8 + n + w.data_offsets[0], 8 + n + w.data_offsets[1]))
    const floats = Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(4 * i))
    assert.deepEqual(floats, Array.from(params["h1.mlp.fc.w"]))
    const other = writeSafetensors({ x: { dtype: "F32", shape: [1], data: new Float32Array(1) } }, {
      artifact: "model/ngram"
    })
    assert.throws(() => fromSafetensors(other), /not a model\/transformer/)
  })

  it("learning rate: linear warmup, then cosine to minLrFraction", () => {
    assert.equal(learningRate(ADAMW, 0), ADAMW.lr / 5)
    assert.equal(learningRate(ADAMW, 4), ADAMW.lr)
    assert.ok(Math.abs(learningRate(ADAMW, 60) - ADAMW.lr * ADAMW.minLrFraction) < 1e-12)
    assert.equal(learningRate({ ...ADAMW, schedule: "constant" }, 50), ADAMW.lr)
  })

  it("data-parallel training over 2 worker threads is deterministic and agrees with 1 thread", async () => {
    const run = async (shards: number) => {
      const tr = await createParallelTrainer(CONFIG, optimizerState(initParams(CONFIG, 5)), { shards, backend: "wasm" })
      const next = uniformStream(6)
      const losses: number[] = []
      try {
        for (let i = 0; i < 4; i++) {
          const b = sampleBatch(TOKENS, 8, CONFIG.context, next)
          losses.push(await tr.step(b.inputs, b.targets, 8, ADAMW))
        }
      } finally {
        await tr.close()
      }
      return { losses, hash: sha(toSafetensors(CONFIG, tr.state.params)) }
    }
    const [a, b, one] = [await run(2), await run(2), await run(1)]
    assert.equal(a.hash, b.hash)
    assert.deepEqual(a.losses, b.losses)
    assert.ok(maxDiff(a.losses, one.losses) < 1e-4, `${a.losses} vs ${one.losses}`)
  })
})
