/**
 * The neural language models beyond the transformer's own maths (test/transformer.test.ts): the incremental
 * decoders against full forward passes, the LSTM's learning, gradients and file form, decoding and sliding-window
 * perplexity on exactly known models, and the neural stages through the engine.
 */
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { corpusDocuments } from "../src/artifact/corpus.ts"
import { writeSafetensors } from "../src/format/safetensors.ts"
import { localInProcess } from "../src/engine/layers.ts"
import type { Progress } from "../src/engine/Progress.ts"
import type { StageRunner } from "../src/engine/StageRunner.ts"
import {
  ArtifactStore,
  Corpus,
  Evaluate,
  execute,
  Metrics,
  Model,
  Pipeline,
  PipelineInvalid,
  type RunResult,
  Sample,
  Seed,
  Tokenize,
  Tokenizer,
  Train
} from "../src/index.ts"
import { selectBackend } from "../src/lm/neural/backend.ts"
import { decodeDocuments, type DecodeOptions } from "../src/lm/neural/decode.ts"
import { slidingNll } from "../src/lm/neural/evaluate.ts"
import { bind, lstm, type LstmConfig, type Net, netFromSafetensors, transformer } from "../src/lm/neural/families.ts"
import type { Decoder, Params } from "../src/lm/neural/family.ts"
import { encodeDocuments, EOS_ID } from "../src/lm/tokenizer.ts"
import { sampleBatch, trainNet, uniformStream } from "../src/lm/neural/train.ts"
import { forward, type TransformerConfig } from "../src/lm/neural/transformer.ts"
import { seededDraws } from "../src/lm/neural/weights.ts"
import { PLAIN_SAMPLING } from "./support/decode.ts"

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

/** `n` seeded token ids in [lo, vocab). */
const randomTokens = (n: number, vocab: number, seed: number, lo = 0): Int32Array => {
  const { uniform } = seededDraws(seed)
  return Int32Array.from({ length: n }, () => lo + Math.floor(uniform() * (vocab - lo)))
}

/** Every parameter plus seeded N(0, scale²) noise: weights far from the near-zero init, so logits are of order 1. */
const noisy = (params: Params, seed: number, scale: number): Params => {
  const { normal } = seededDraws(seed)
  return Object.fromEntries(
    Object.entries(params).map(([k, a]) => [k, Float32Array.from(a, (v) => v + scale * normal())])
  )
}

/** Largest |got - want| / max(1, |want|); NaN anywhere fails. */
const assertClose = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(got.length, want.length, `${what}: length`)
  let worst = 0, at = 0
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]))
    if (!(d <= worst)) {
      worst = d
      at = i
    }
  }
  assert.ok(worst <= tol, `${what}: differs by ${worst} at ${at} (${got[at]} vs ${want[at]})`)
}

const spread = (a: ArrayLike<number>): number => {
  let lo = Infinity, hi = -Infinity
  for (let i = 0; i < a.length; i++) {
    lo = Math.min(lo, a[i])
    hi = Math.max(hi, a[i])
  }
  return hi - lo
}

const row = (a: Float32Array, r: number, width: number): Float32Array => a.subarray(r * width, (r + 1) * width)

interface DecoderEvent {
  readonly reset?: number
  readonly reorder?: ReadonlyArray<number>
}

/**
 * Steps `dec` on seeded tokens for `steps` steps, applying `events` (by step, before that step's tokens), and checks
 * every row's logits against `expected(window)`, where each row's window evolves by `push` (and is emptied by a
 * reset, permuted by a reorder) as the decoder's documented semantics say.
 */
const checkDecoder = (
  dec: Decoder,
  o: {
    readonly steps: number
    readonly seed: number
    readonly events: Readonly<Record<number, DecoderEvent>>
    readonly push: (window: ReadonlyArray<number>, token: number) => number[]
    readonly expected: (window: ReadonlyArray<number>) => Float32Array
    readonly tol: number
  }
) => {
  const { rows, vocab } = dec
  let windows: number[][] = Array.from({ length: rows }, () => [])
  const tokens = randomTokens(o.steps * rows, vocab, o.seed)
  let longest = 0
  for (let s = 0; s < o.steps; s++) {
    const e = o.events[s]
    if (e?.reset !== undefined) {
      dec.resetRow(e.reset)
      windows[e.reset] = []
    }
    if (e?.reorder !== undefined) {
      dec.reorder(Int32Array.from(e.reorder))
      windows = e.reorder.map((f) => windows[f].slice())
    }
    const feed = tokens.subarray(s * rows, (s + 1) * rows)
    const got = dec.step(feed)
    for (let r = 0; r < rows; r++) {
      windows[r] = o.push(windows[r], feed[r])
      longest = Math.max(longest, windows[r].length)
      assertClose(
        row(got, r, vocab),
        o.expected(windows[r]),
        o.tol,
        `step ${s}, row ${r} (window of ${windows[r].length})`
      )
    }
  }
  return { longest }
}

// ---------------------------------------------------------------------------------------------------------------
// Models under test

const TCFG: TransformerConfig = { vocab: 13, layers: 2, dModel: 16, heads: 4, context: 8 }
const TPARAMS = noisy(transformer.initParams(TCFG, 1), 2, 0.3)
/** Last-position logits of a full forward pass over `ids` (one row). */
const transformerLast = (ids: ReadonlyArray<number>): Float32Array => {
  const all = forward(TCFG, TPARAMS, Int32Array.from(ids), 1)
  return all.slice(all.length - TCFG.vocab)
}

const LCFG: LstmConfig = { vocab: 11, layers: 2, embed: 8, hidden: 12, context: 8 }
const LPARAMS = noisy(lstm.initParams(LCFG, 3), 4, 0.6)
const lstmLast = (ids: ReadonlyArray<number>): Float32Array => {
  const all = lstm.logits(LCFG, LPARAMS, Int32Array.from(ids), 1)
  return all.slice(all.length - LCFG.vocab)
}

before(async () => {
  assert.equal((await selectBackend({ prefer: "wasm" })).name, "wasm")
})

// ---------------------------------------------------------------------------------------------------------------

describe("transformer KV-cache decoder", () => {
  const T = TCFG.context, V = TCFG.vocab, rows = 3

  it("gives the full forward pass's logits for every prefix up to context, several rows at once", () => {
    const seqs = randomTokens(rows * T, V, 10)
    const full = forward(TCFG, TPARAMS, seqs, rows)
    assert.ok(spread(full) > 2, `the logits vary (spread ${spread(full)}): the comparison is not of near-zeros`)
    const dec = transformer.decoder(TCFG, TPARAMS, rows)
    try {
      for (let j = 0; j < T; j++) {
        const got = dec.step(Int32Array.from({ length: rows }, (_, r) => seqs[r * T + j]))
        assert.equal(got.length, rows * V)
        for (let r = 0; r < rows; r++) {
          assertClose(row(got, r, V), row(full, r * T + j, V), 1e-4, `row ${r}, prefix ${j + 1}`)
        }
      }
    } finally {
      dec.dispose()
    }
  })

  it("past the context, after resetRow and after reorder: a forward pass over the documented window", () => {
    const keep = T / 2
    let rebuilds = 0
    // The cache holds the row's last tokens since its (re)start; when full, a new token rebuilds it from the
    // row's last context/2 tokens (the new one included).
    const push = (w: ReadonlyArray<number>, t: number): number[] => {
      if (w.length < T) return [...w, t]
      rebuilds++
      return [...w.slice(T - keep + 1), t]
    }
    const dec = transformer.decoder(TCFG, TPARAMS, rows)
    try {
      const { longest } = checkDecoder(dec, {
        steps: 30,
        seed: 11,
        events: {
          3: { reset: 1 },
          10: { reorder: [2, 1, 0] }, // rows 0 and 2 swap
          11: { reorder: [1, 0, 2] }, // row 0 (length 6) takes row 1's full cache: it rebuilds from row 1's tokens
          16: { reorder: [0, 0, 1] }, // duplicates, as beam search does
          19: { reset: 0 },
          23: { reorder: [2, 0, 1] }
        },
        push,
        expected: transformerLast,
        tol: 1e-4
      })
      assert.equal(longest, T)
      assert.ok(rebuilds >= 6, `${rebuilds} rebuilds of a full cache were checked`)
    } finally {
      dec.dispose()
    }
  })

  it("refuses a wrong number of tokens and use after dispose", () => {
    const dec = transformer.decoder(TCFG, TPARAMS, 2)
    assert.throws(() => dec.step(new Int32Array(3)), /3 tokens for 2 rows/)
    assert.throws(() => dec.reorder(new Int32Array(1)), /reorder needs 2 rows/)
    dec.dispose()
    assert.throws(() => dec.step(new Int32Array(2)), /after dispose/)
  })
})

describe("LSTM decoder", () => {
  const T = LCFG.context, V = LCFG.vocab, rows = 3

  it("gives the family's logits (from a zero state) for every prefix up to context, several rows at once", () => {
    const seqs = randomTokens(rows * T, V, 20)
    const full = lstm.logits(LCFG, LPARAMS, seqs, rows)
    assert.equal(full.length, rows * T * V)
    assert.ok(spread(full) > 2, `the logits vary (spread ${spread(full)})`)
    const dec = lstm.decoder(LCFG, LPARAMS, rows)
    try {
      for (let j = 0; j < T; j++) {
        const got = dec.step(Int32Array.from({ length: rows }, (_, r) => seqs[r * T + j]))
        for (let r = 0; r < rows; r++) {
          assertClose(row(got, r, V), row(full, r * T + j, V), 1e-4, `row ${r}, prefix ${j + 1}`)
        }
      }
    } finally {
      dec.dispose()
    }
  })

  it("after resetRow and reorder, and past the context: the logits of the row's whole history", () => {
    const dec = lstm.decoder(LCFG, LPARAMS, rows)
    try {
      const { longest } = checkDecoder(dec, {
        steps: 20,
        seed: 21,
        events: { 3: { reset: 1 }, 9: { reorder: [2, 1, 0] }, 12: { reorder: [1, 1, 0] }, 15: { reset: 2 } },
        push: (w, t) => [...w, t],
        expected: lstmLast,
        tol: 1e-4
      })
      assert.ok(longest > T, `histories of ${longest} tokens, beyond the context ${T}`)
    } finally {
      dec.dispose()
    }
  })
})

// ---------------------------------------------------------------------------------------------------------------

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v))

/**
 * The LSTM's mean next-token cross-entropy written out by hand in float64, independently of lstm.ts: PyTorch's
 * cell (gates i, f, g, o; input and recurrent biases), zero initial state, a dense head.
 */
const lstmLoss64 = (
  c: LstmConfig,
  w: Readonly<Record<string, ArrayLike<number>>>,
  inputs: Int32Array,
  targets: Int32Array,
  batch: number
) => {
  const T = inputs.length / batch, H = c.hidden, G = 4 * H
  let total = 0
  for (let b = 0; b < batch; b++) {
    const h = Array.from({ length: c.layers }, () => new Float64Array(H))
    const cell = Array.from({ length: c.layers }, () => new Float64Array(H))
    for (let t = 0; t < T; t++) {
      const id = inputs[b * T + t]
      let x = Float64Array.from({ length: c.embed }, (_, k) => w["emb"][id * c.embed + k])
      for (let l = 0; l < c.layers; l++) {
        const ih = w[`l${l}.ih.w`], hh = w[`l${l}.hh.w`], bi = w[`l${l}.ih.b`], bh = w[`l${l}.hh.b`]
        const gates = new Float64Array(G)
        for (let k = 0; k < G; k++) {
          let s = bi[k] + bh[k]
          for (let i = 0; i < x.length; i++) s += x[i] * ih[i * G + k]
          for (let j = 0; j < H; j++) s += h[l][j] * hh[j * G + k]
          gates[k] = s
        }
        for (let j = 0; j < H; j++) {
          cell[l][j] = sigmoid(gates[H + j]) * cell[l][j] + sigmoid(gates[j]) * Math.tanh(gates[2 * H + j])
          h[l][j] = sigmoid(gates[3 * H + j]) * Math.tanh(cell[l][j])
        }
        x = h[l].slice()
      }
      const logits = Float64Array.from({ length: c.vocab }, (_, v) => {
        let s = w["head.b"][v]
        for (let j = 0; j < H; j++) s += x[j] * w["head.w"][j * c.vocab + v]
        return s
      })
      const max = Math.max(...logits)
      total += max + Math.log(logits.reduce((a, z) => a + Math.exp(z - max), 0)) - logits[targets[b * T + t]]
    }
  }
  return total / inputs.length
}

const REPETITIVE = "abcab dacab abcab dacab ".repeat(40)
const REP_CHARS = [...new Set(REPETITIVE)].sort()
const REP_TOKENS = Int32Array.from(REPETITIVE, (ch) => REP_CHARS.indexOf(ch))

describe("LSTM training", () => {
  it("learns: the loss falls well below ln(vocab) on a tiny repetitive corpus within 40 steps", async () => {
    const config: LstmConfig = { vocab: REP_CHARS.length, layers: 1, embed: 8, hidden: 16, context: 12 }
    const params = lstm.initParams(config, 5)
    const losses: number[] = []
    const half = REP_TOKENS.length / 2
    const curve = await trainNet(lstm, config, params, REP_TOKENS.subarray(0, half), REP_TOKENS.subarray(half), {
      batch: 8,
      steps: 40,
      seed: 6,
      adamw: {
        lr: 2e-2,
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weightDecay: 0,
        warmup: 0,
        schedule: "constant",
        totalSteps: 40,
        minLrFraction: 1
      },
      shards: 1,
      every: 0,
      validationBatches: 2,
      backend: "wasm"
    }, (p) => losses.push(p.loss))
    assert.equal(losses.length, 40)
    const mean = (a: ReadonlyArray<number>) => a.reduce((x, y) => x + y, 0) / a.length
    const head = mean(losses.slice(0, 3)), tail = mean(losses.slice(-5))
    const uniform = Math.log(config.vocab)
    assert.ok(Math.abs(head - uniform) < 0.3, `the initial loss ${head} is near ln(vocab) = ${uniform}`)
    assert.ok(tail < head - 0.8, `the loss fell from ${head.toFixed(3)} to ${tail.toFixed(3)}`)
    assert.equal(curve.length, 1)
    assert.ok(
      curve[0].validation !== undefined && curve[0].validation < uniform - 0.8,
      `validation ${curve[0].validation}`
    )
  })

  it("lossAndGrads: the loss of a hand-written float64 LSTM, and its central differences", () => {
    const config: LstmConfig = { vocab: 7, layers: 2, embed: 5, hidden: 6, context: 5 }
    const params = noisy(lstm.initParams(config, 7), 8, 0.2)
    const batch = 3
    const { inputs, targets } = sampleBatch(randomTokens(60, config.vocab, 9), batch, config.context, uniformStream(10))
    const { loss, grads } = lstm.lossAndGrads(config, params, inputs, targets, batch)
    const p64: Record<string, Float64Array> = Object.fromEntries(
      Object.entries(params).map(([k, a]) => [k, Float64Array.from(a)])
    )
    const at = () => lstmLoss64(config, p64, inputs, targets, batch)
    assert.ok(Math.abs(loss - at()) < 1e-5, `tf loss ${loss} vs float64 ${at()}`)

    // Float64 central differences (h = 1e-5: truncation ~1e-10, rounding ~1e-11) against the float32 gradient.
    const h = 1e-5
    const numeric = (name: string, i: number) => {
      const a = p64[name], v = a[i]
      a[i] = v + h
      const up = at()
      a[i] = v - h
      const down = at()
      a[i] = v
      return (up - down) / (2 * h)
    }
    const { uniform } = seededDraws(11)
    let checked = 0
    for (const [name] of lstm.paramShapes(config)) {
      const g = grads[name]
      assert.equal(g.length, params[name].length, name)
      let big = 0
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[big])) big = i
      for (const i of [big, Math.floor(uniform() * g.length)]) {
        const want = numeric(name, i)
        assert.ok(
          Math.abs(g[i] - want) <= 2e-3 * Math.abs(want) + 2e-6,
          `${name}[${i}]: gradient ${g[i]}, central difference ${want}`
        )
        checked++
      }
      assert.ok(Math.abs(g[big]) > 1e-3, `${name}: its largest gradient ${g[big]} is not vacuous`)
    }
    assert.equal(checked, 2 * lstm.paramShapes(config).length)

    // Every coordinate at once: the directional derivative along a random direction.
    const { normal } = seededDraws(12)
    const dir = Object.fromEntries(Object.entries(p64).map(([k, a]) => [k, Float64Array.from(a, () => normal())]))
    let dot = 0
    for (const k of Object.keys(dir)) for (let i = 0; i < dir[k].length; i++) dot += grads[k][i] * dir[k][i]
    const shifted = (s: number) =>
      lstmLoss64(
        config,
        Object.fromEntries(Object.entries(p64).map(([k, a]) => [k, a.map((v, i) => v + s * dir[k][i])])),
        inputs,
        targets,
        batch
      )
    const directional = (shifted(h) - shifted(-h)) / (2 * h)
    assert.ok(
      Math.abs(dot - directional) <= 1e-3 * Math.abs(directional),
      `g·d ${dot} vs central difference ${directional}`
    )
  })
})

describe("LSTM safetensors", () => {
  it("round-trips byte-identically, and reads back with an independent parser", () => {
    const metadata = { training: JSON.stringify({ steps: 3 }) }
    const bytes = lstm.toSafetensors(LCFG, LPARAMS, metadata)
    const back = lstm.fromSafetensors(bytes)
    assert.deepEqual(back.config, LCFG)
    assert.equal(back.metadata["artifact"], "model/lstm")
    assert.equal(back.metadata["training"], metadata.training)
    assert.deepEqual(Object.keys(back.params).sort(), Object.keys(LPARAMS).sort())
    for (const k of Object.keys(LPARAMS)) assert.deepEqual(back.params[k], LPARAMS[k], k)
    assert.equal(sha(lstm.toSafetensors(back.config, back.params, metadata)), sha(bytes))

    // By hand: u64 LE header length, JSON header (dtype, shape, data offsets), little-endian f32 data.
    const n = Number(Buffer.from(bytes).readBigUInt64LE(0))
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8")) as Record<string, unknown>
    const meta = header["__metadata__"] as Record<string, string>
    assert.equal(meta["artifact"], "model/lstm")
    assert.deepEqual(JSON.parse(meta["config"]), LCFG)
    const tensors = Object.keys(header).filter((k) => k !== "__metadata__").sort()
    assert.deepEqual(tensors, lstm.paramShapes(LCFG).map(([name]) => name).sort())
    for (const [name, shape] of lstm.paramShapes(LCFG)) {
      const t = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] }
      assert.equal(t.dtype, "F32", name)
      assert.deepEqual(t.shape, [...shape], name)
      const buf = Buffer.from(bytes.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]))
      assert.deepEqual(
        Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(4 * i)),
        Array.from(LPARAMS[name]),
        name
      )
    }
    assert.deepEqual((header["l1.hh.w"] as { shape: number[] }).shape, [LCFG.hidden, 4 * LCFG.hidden])

    // netFromSafetensors finds the family from the file; another family's file is refused.
    const net = netFromSafetensors(bytes)
    assert.equal(net.family, "lstm")
    assert.deepEqual(net.metadata, metadata)
    assert.throws(() => lstm.fromSafetensors(transformer.toSafetensors(TCFG, TPARAMS, {})), /not a model\/lstm/)
    const other = writeSafetensors({ x: { dtype: "F32", shape: [1], data: new Float32Array(1) } }, {
      artifact: "model/ngram"
    })
    assert.throws(() => netFromSafetensors(other), /not a neural model file/)
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Decoding on exactly known models

/**
 * A Markov chain as a Decoder: the logits after token t are table[t] (every row). Beam search feeds each row its
 * last token after a reorder, so the last token fed is the whole state. Records what it was fed.
 */
const chain = (table: ReadonlyArray<ReadonlyArray<number>>) => {
  const V = table.length
  const log = { made: [] as number[], fed: [] as Int32Array[], disposed: 0 }
  const make = (rows: number): Decoder => {
    log.made.push(rows)
    return {
      rows,
      vocab: V,
      step(tokens) {
        assert.equal(tokens.length, rows)
        log.fed.push(tokens.slice())
        const out = new Float32Array(rows * V)
        tokens.forEach((t, r) => out.set(table[t], r * V))
        return out
      },
      resetRow(r) {
        assert.ok(r >= 0 && r < rows)
      },
      reorder(from) {
        assert.equal(from.length, rows)
        assert.ok(from.every((f) => f >= 0 && f < rows))
      },
      dispose() {
        log.disposed++
      }
    }
  }
  return { make, log, table }
}

const NEVER = -1e4
/** The same logits after every token. */
const unigram = (logits: ReadonlyArray<number>) => chain(logits.map(() => logits))

const OPTIONS: DecodeOptions = { ...PLAIN_SAMPLING, documents: 10, maxLength: 12, rows: 4, seed: 1 }
const decodeWith = (make: (rows: number) => Decoder, o: Partial<DecodeOptions>) =>
  decodeDocuments(make, { ...OPTIONS, ...o })
const docsKey = (docs: ReadonlyArray<Int32Array>) => JSON.stringify(docs.map((d) => Array.from(d)))

/** A seeded random chain over `V` tokens whose documents end now and then. */
const randomChain = (V: number, seed: number) => {
  const { normal } = seededDraws(seed)
  return chain(
    Array.from(
      { length: V },
      (_, prev) => Array.from({ length: V }, (_, k) => (k === EOS_ID ? (prev === EOS_ID ? NEVER : -1) : 1.5 * normal()))
    )
  )
}

const softmax = (z: ReadonlyArray<number>) => {
  const max = Math.max(...z)
  const e = z.map((v) => Math.exp(v - max))
  const s = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / s)
}

const frequencies = (docs: ReadonlyArray<Int32Array>, V: number) => {
  const counts = new Array<number>(V).fill(0)
  let n = 0
  for (const d of docs) {
    for (const t of d) {
      counts[t]++
      n++
    }
  }
  return counts.map((c) => c / n)
}

/**
 * A Decoder whose next-token logits depend on each row's whole history since its reset (`next(history)`), so that
 * resetRow and reorder matter: decoding that mishandles either gets other logits.
 */
const historyModel =
  (V: number, next: (history: ReadonlyArray<number>) => ReadonlyArray<number>) => (rows: number): Decoder => {
    let history: number[][] = Array.from({ length: rows }, () => [])
    return {
      rows,
      vocab: V,
      step(tokens) {
        const out = new Float32Array(rows * V)
        tokens.forEach((t, r) => {
          history[r].push(t)
          out.set(next(history[r]), r * V)
        })
        return out
      },
      resetRow(r) {
        history[r] = []
      },
      reorder(from) {
        history = Array.from(from, (f) => history[f].slice())
      },
      dispose() {}
    }
  }

describe("decode: sampling", () => {
  it("the same seed gives the same documents, another seed others; documents never hold <eos>", () => {
    const m = randomChain(9, 30)
    const a = decodeWith(m.make, { seed: 5 })
    const b = decodeWith(m.make, { seed: 5 })
    const c = decodeWith(m.make, { seed: 6 })
    assert.equal(docsKey(a), docsKey(b))
    assert.notEqual(docsKey(a), docsKey(c))
    assert.ok(a.length > 0 && a.every((d) => d.length > 0 && !d.includes(EOS_ID)))
  })

  it("top-k 1, and a tiny top-p, give the greedy argmax continuation", () => {
    const m = randomChain(9, 31)
    const table = m.table.map((row) => row.map(Math.fround)) // the logits as the decoder gives them
    const greedy: number[] = []
    for (let prev = EOS_ID; greedy.length < OPTIONS.maxLength;) {
      const next = table[prev].indexOf(Math.max(...table[prev]))
      if (next === EOS_ID) break
      greedy.push(next)
      prev = next
    }
    assert.ok(greedy.length >= 2, `a greedy document of ${greedy.length} tokens`)
    const expected = docsKey(Array.from({ length: OPTIONS.documents }, () => Int32Array.from(greedy)))
    assert.equal(docsKey(decodeWith(m.make, { topK: 1 })), expected)
    assert.equal(docsKey(decodeWith(m.make, { topK: 1, seed: 99, temperature: 3 })), expected)
    assert.equal(docsKey(decodeWith(m.make, { topP: 1e-9 })), expected)
    assert.equal(docsKey(decodeWith(m.make, { topP: 1e-9, temperature: 0.2, rows: 1 })), expected)
  })

  it("temperature: frequencies follow softmax(logits / temperature)", () => {
    const logits = [NEVER, NEVER, 2, 1, 0, -0.5]
    const m = unigram(logits)
    const topShare: number[] = []
    for (const temperature of [0.5, 1, 2]) {
      const docs = decodeWith(m.make, { documents: 50, maxLength: 100, temperature })
      assert.equal(docs.reduce((n, d) => n + d.length, 0), 5000)
      const got = frequencies(docs, logits.length)
      const want = softmax(logits.map((z) => z / temperature))
      for (let k = 0; k < logits.length; k++) {
        assert.ok(Math.abs(got[k] - want[k]) < 0.02, `temperature ${temperature}, token ${k}: ${got[k]} vs ${want[k]}`)
      }
      topShare.push(got[2])
    }
    assert.ok(topShare[0] > topShare[1] + 0.1 && topShare[1] > topShare[2] + 0.1, `top token's share ${topShare}`)
  })

  it("top-k and top-p keep the most likely tokens, renormalised", () => {
    const logits = [NEVER, NEVER, 2, 1, 0, -0.5]
    const p = softmax(logits)
    const m = unigram(logits)
    const k2 = frequencies(decodeWith(m.make, { documents: 40, maxLength: 100, topK: 2 }), logits.length)
    assert.equal(k2[4] + k2[5], 0)
    assert.ok(Math.abs(k2[2] - p[2] / (p[2] + p[3])) < 0.02, `top-k 2: ${k2}`)
    // p = 0.63, 0.23, ...: top-p 0.8 needs the first two, top-p 0.9 the first three
    const p8 = frequencies(decodeWith(m.make, { documents: 40, maxLength: 100, topP: 0.8 }), logits.length)
    assert.equal(p8[4] + p8[5], 0)
    assert.ok(Math.abs(p8[2] - p[2] / (p[2] + p[3])) < 0.02, `top-p 0.8: ${p8}`)
    const p9 = frequencies(decodeWith(m.make, { documents: 40, maxLength: 100, topP: 0.9 }), logits.length)
    assert.equal(p9[5], 0)
    assert.ok(p9[4] > 0.05, `top-p 0.9 keeps the third token: ${p9}`)
  })

  it("repetition penalty: divides a seen token's positive logit, multiplies a negative one; fewer repeats", () => {
    // Greedy, so the effect is exact: the penalty applies once a token is in the document.
    const positive = unigram([NEVER, NEVER, 3, 2, 1])
    assert.deepEqual(Array.from(decodeWith(positive.make, { topK: 1, maxLength: 5, documents: 1 })[0]), [2, 2, 2, 2, 2])
    // 3 -> 1.5 < 2 picks 3; then 2 -> 1 < 1.5: back to 2 and there it stays (1.5 > 1, 1)
    assert.deepEqual(
      Array.from(decodeWith(positive.make, { topK: 1, maxLength: 5, documents: 1, repetitionPenalty: 2 })[0]),
      [2, 3, 2, 2, 2]
    )
    const negative = unigram([NEVER, NEVER, -1, -1.5, -3])
    // -1 -> -2 < -1.5 picks 3; then -1.5 -> -3: back to 2 (-2 beats -3); dividing instead would keep 2 (-0.5)
    assert.deepEqual(
      Array.from(decodeWith(negative.make, { topK: 1, maxLength: 4, documents: 1, repetitionPenalty: 2 })[0]),
      [2, 3, 2, 2]
    )

    const peaked = unigram([NEVER, NEVER, ...Array.from({ length: 20 }, (_, k) => 3 - 0.3 * k)])
    const repeats = (docs: ReadonlyArray<Int32Array>) => {
      let rep = 0, n = 0
      for (const d of docs) {
        d.forEach((t, i) => {
          if (d.subarray(0, i).includes(t)) rep++
          n++
        })
      }
      return rep / n
    }
    const rates = [1, 2, 5].map((repetitionPenalty) =>
      repeats(decodeWith(peaked.make, { documents: 40, maxLength: 15, repetitionPenalty }))
    )
    assert.ok(
      rates[0] > rates[1] + 0.05 && rates[1] > rates[2] + 0.03,
      `repeat rate by penalty 1, 2, 5: ${rates.map((r) => r.toFixed(3))}`
    )
  })

  it("each document starts from a reset row: what came before it does not condition it", () => {
    // Greedy: after <eos>, 2; after <eos> 2, 3; after <eos> 2 3, 4; then <eos>. A row not reset would go on
    // from its earlier documents' history.
    const counting = historyModel(
      6,
      (h) => Array.from({ length: 6 }, (_, k) => (k === (h.length <= 3 ? h.length + 1 : EOS_ID) ? 5 : 0))
    )
    for (const rows of [1, 2]) {
      assert.equal(
        docsKey(decodeWith(counting, { topK: 1, documents: 5, rows })),
        docsKey(Array.from({ length: 5 }, () => Int32Array.of(2, 3, 4)))
      )
    }
  })

  it("respects documents, maxLength and the token budget; begins each document after <eos>; frees the decoder", () => {
    const endless = randomChain(9, 32)
    // a chain that never ends a document on its own
    const never = chain(
      Array.from(
        { length: 9 },
        (_, prev) => Array.from({ length: 9 }, (_, k) => (k === EOS_ID ? NEVER : (prev * 7 + k * 3) % 5))
      )
    )
    for (const rows of [1, 3, 64]) {
      const budget = decodeWith(never.make, { documents: 100, maxLength: 7, tokens: 30, rows })
      assert.equal(budget.reduce((n, d) => n + d.length, 0), 30, `rows ${rows}: exactly the token budget`)
      assert.ok(budget.every((d) => d.length >= 1 && d.length <= 7))
      const docs = decodeWith(never.make, { documents: 5, maxLength: 7, rows })
      assert.deepEqual(docs.map((d) => d.length), [7, 7, 7, 7, 7], `rows ${rows}: documents and maxLength`)
      const ending = decodeWith(endless.make, { documents: 6, maxLength: 9, rows })
      assert.ok(ending.length >= 1 && ending.length <= 6 && ending.every((d) => d.length >= 1 && d.length <= 9))
    }
    assert.deepEqual(never.log.made, [1, 1, 3, 3, 64, 5], "rows are capped by documents")
    assert.equal(never.log.disposed, never.log.made.length)
    assert.ok(never.log.fed[0].every((t) => t === EOS_ID), "the first step feeds <eos> to every row")
    // rows 1, 3 documents of 2 tokens: each document begins with <eos> fed after a reset
    const feeds = chain(
      Array.from(
        { length: 9 },
        (_, prev) => Array.from({ length: 9 }, (_, k) => (k === EOS_ID ? NEVER : (prev + k) % 4))
      )
    )
    const out = decodeWith(feeds.make, { documents: 3, maxLength: 2, rows: 1 })
    assert.deepEqual(out.map((d) => d.length), [2, 2, 2])
    assert.deepEqual(feeds.log.fed.map((f) => f[0] === EOS_ID), [true, false, true, false, true, false])
  })
})

describe("decode: beam search", () => {
  // Second order: from <eos> always x; after x, a (0.5) beats b (0.4); after x a, 10 tokens at 0.1 each; after x b,
  // c (0.99); after b c or a u, <eos>; after anything else, the u tokens again (no end). Greedy takes x a u; beam
  // search of width 2 finds x b c, and only if its reorder keeps each beam's history (the beams swap rows).
  const X = 2, A = 3, B = 4, C = 5, U = 6, V = 16
  const model = historyModel(V, (h) => {
    const p = new Array<number>(V).fill(1e-9)
    const [p2, p1] = [h.at(-2), h.at(-1)]
    if (h.length === 1 && p1 === EOS_ID) p[X] = 1
    else if (p1 === X) {
      p[A] = 0.5
      p[B] = 0.4
      p[C] = 0.1
    } else if (p2 === X && p1 === A) { for (let k = U; k < V; k++) p[k] = 0.1 }
    else if (p2 === X && p1 === B) {
      p[C] = 0.99
      p[U] = 0.01
    } else if ((p2 === B && p1 === C) || (p2 === A && p1 !== undefined && p1 >= U)) p[EOS_ID] = 1
    else for (let k = U; k < V; k++) p[k] = 0.1
    return p.map(Math.log)
  })

  it("finds the likelier continuation that greedy decoding misses; deterministic", () => {
    assert.deepEqual(decodeWith(model, { topK: 1, documents: 2 }).map((d) => Array.from(d)), [[X, A, U], [X, A, U]])
    const beams = decodeWith(model, { beams: 2, documents: 3 })
    assert.deepEqual(beams.map((d) => Array.from(d)), [[X, B, C], [X, B, C], [X, B, C]])
    const r = randomChain(9, 33)
    const a = decodeWith(r.make, { beams: 3, documents: 6, maxLength: 8, seed: 4 })
    const b = decodeWith(r.make, { beams: 3, documents: 6, maxLength: 8, seed: 4 })
    assert.deepEqual(r.log.made, [3, 3], "one decoder with a row per beam")
    assert.equal(docsKey(a), docsKey(b))
    assert.equal(a.length, 6)
    assert.ok(a.every((d) => d.length >= 1 && d.length <= 8 && !d.includes(EOS_ID)))
  })

  it("respects documents, maxLength and the token budget", () => {
    const r = randomChain(9, 34)
    const short = decodeWith(r.make, { beams: 3, documents: 4, maxLength: 2 })
    assert.equal(short.length, 4)
    assert.ok(short.every((d) => d.length >= 1 && d.length <= 2))
    const budget = decodeWith(r.make, { beams: 2, documents: 50, maxLength: 6, tokens: 13 })
    assert.equal(budget.reduce((n, d) => n + d.length, 0), 13)
    assert.equal(r.log.disposed, r.log.made.length)
  })
})

describe("decode over the real decoders", () => {
  it("sampling, beam search, logits and gradients free every tensor; decoding past the context is deterministic", () => {
    const before = tf.memory().numTensors
    const models: Array<[string, (rows: number) => Decoder]> = [
      ["transformer", (rows) => transformer.decoder(TCFG, TPARAMS, rows)],
      ["lstm", (rows) => lstm.decoder(LCFG, LPARAMS, rows)]
    ]
    for (const [name, make] of models) {
      for (const o of [{ rows: 3 }, { beams: 3 }]) {
        const opts = { documents: 4, maxLength: 3 * TCFG.context, seed: 8, ...o }
        const a = decodeWith(make, opts)
        assert.equal(docsKey(a), docsKey(decodeWith(make, opts)), `${name} ${JSON.stringify(o)}`)
        assert.ok(
          a.length >= 1 && a.length <= 4 &&
            a.every((d) => d.length >= 1 && d.length <= opts.maxLength && !d.includes(EOS_ID))
        )
      }
    }
    assert.equal(tf.memory().numTensors, before, "no tensor outlives its decoder")
    lstm.logits(LCFG, LPARAMS, randomTokens(16, LCFG.vocab, 1), 2)
    lstm.lossAndGrads(LCFG, LPARAMS, randomTokens(16, LCFG.vocab, 2), randomTokens(16, LCFG.vocab, 3), 2)
    assert.equal(tf.memory().numTensors, before, "nor any of the LSTM's logits or gradients")
    transformer.logits(TCFG, TPARAMS, randomTokens(16, TCFG.vocab, 4), 2)
    transformer.lossAndGrads(TCFG, TPARAMS, randomTokens(16, TCFG.vocab, 5), randomTokens(16, TCFG.vocab, 6), 2)
    assert.equal(tf.memory().numTensors, before, "nor any of the transformer's logits or gradients")
  })
})

// ---------------------------------------------------------------------------------------------------------------

/** A Net that is not a neural network: `logits` gives the same vector at every position. */
const fixedNet = (logits: ReadonlyArray<number>, window: number): Net => ({
  family: "fixed",
  config: {},
  params: {},
  metadata: {},
  vocab: logits.length,
  window,
  logits: (ids) => {
    const out = new Float32Array(ids.length * logits.length)
    for (let i = 0; i < ids.length; i++) out.set(logits, i * logits.length)
    return out
  },
  decoder: () => {
    throw new Error("not used")
  },
  decoderPool: () => {
    throw new Error("not used")
  },
  toSafetensors: () => {
    throw new Error("not used")
  }
})

describe("sliding-window perplexity", () => {
  it("scores every token after the first exactly once, whatever the stride and batch", () => {
    // All tokens distinct, each with its own -log p: the total identifies which tokens were scored how often.
    const n = 31
    const logits = Array.from({ length: n }, (_, k) => Math.fround(Math.sin(k * 1.7) * 3)) // as the Float32Array holds them
    const net = fixedNet(logits, 8)
    const stream = Int32Array.from({ length: n }, (_, i) => (i * 11) % n)
    const lse = Math.log(logits.reduce((a, z) => a + Math.exp(z), 0))
    let want = 0
    for (let i = 1; i < n; i++) want += lse - logits[stream[i]]
    for (const stride of [1, 2, 3, 5, 7, 8, 50]) {
      for (const batch of [1, 2, 5]) {
        const { nll, tokens } = slidingNll(net, stream, { stride, batch })
        assert.equal(tokens, n - 1, `stride ${stride}, batch ${batch}`)
        assert.ok(Math.abs(nll * tokens - want) < 1e-9, `stride ${stride}, batch ${batch}: ${nll * tokens} vs ${want}`)
      }
    }
    // a stream shorter than the window: one window of the whole stream
    assert.equal(slidingNll(net, stream.subarray(0, 4), { stride: 2, batch: 1 }).tokens, 3)
    assert.throws(() => slidingNll(net, stream.subarray(0, 1), { stride: 1, batch: 1 }), /nothing to predict/)
  })

  it("with stride = window: the mean NLL of forward passes over non-overlapping windows", () => {
    const net = bind(transformer, TCFG, TPARAMS)
    const W = TCFG.context, windows = 4
    const stream = randomTokens(W * windows + 1, TCFG.vocab, 40)
    let total = 0
    for (let w = 0; w < windows; w++) {
      const logits = forward(TCFG, TPARAMS, stream.subarray(w * W, (w + 1) * W), 1)
      for (let j = 0; j < W; j++) {
        const z = Array.from(row(logits, j, TCFG.vocab))
        const max = Math.max(...z)
        total += max + Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0)) - z[stream[w * W + j + 1]]
      }
    }
    const { nll, tokens } = slidingNll(net, stream, { stride: W, batch: 3 })
    assert.equal(tokens, W * windows)
    assert.ok(Math.abs(nll - total / tokens) < 1e-6, `${nll} vs ${total / tokens}`)
    assert.ok(nll > 0.5, `a real loss (${nll})`)
  })

  it("a uniform model (all-zero logits) has perplexity exactly its vocabulary", () => {
    for (const V of [2, 13, 1000]) {
      const { nll, tokens } = slidingNll(fixedNet(new Array<number>(V).fill(0), 16), randomTokens(100, V, V), {
        stride: 5,
        batch: 4
      })
      assert.equal(tokens, 99)
      assert.ok(Math.abs(Math.exp(nll) - V) < 1e-9 * V, `vocab ${V}: perplexity ${Math.exp(nll)}`)
    }
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Through the engine

const SHAKESPEARE = join(import.meta.dirname, "..", "data", "shakespeare-sample.txt")
const TINY = { layers: 1, dModel: 16, heads: 2, context: 16 }

describe("neural stages through the engine", () => {
  const dir = mkdtempSync(join(tmpdir(), "ouro-neural-"))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const run = <A, E>(eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>, store: string) =>
    Effect.runPromise(eff.pipe(Effect.provide(localInProcess(join(dir, store)))))
  const hashOf = (result: RunResult, path: string, output: string): string => {
    const node = result.nodes.find((n) => n.node.path === path)
    assert.ok(node !== undefined, `no node ${path} (have: ${result.nodes.map((n) => n.node.path).join(", ")})`)
    return node.outputs[output].hash
  }
  const blob = (hash: string, store: string) =>
    run(
      Effect.gen(function*() {
        return yield* (yield* ArtifactStore).getBlob(hash)
      }),
      store
    )
  const net = async (hash: string, store: string): Promise<Net> => {
    const m = Model.decode(await blob(hash, store))
    assert.equal(m.family, "neural")
    return netFromSafetensors(m.family === "neural" ? m.bytes : new Uint8Array())
  }
  const curve = (n: Net): number[][] => (JSON.parse(n.metadata["training"]) as { curve: number[][] }).curve

  const base = (p: Pipeline.Builder) => {
    const real = p.add(Seed.corpus({ source: SHAKESPEARE, testFraction: 0.2, seed: 7 }), {})
    const { tokenizer } = p.add(Tokenize.chars(), { corpus: real.train })
    return { real, corpus: real.train, tokenizer }
  }
  const trainSample = (trainSeed: number) =>
    Pipeline.make("neural", (p) => {
      const { real, corpus, tokenizer } = base(p)
      const { model } = p.add(Train.transformer({ steps: 10, batch: 8, shards: 1, seed: trainSeed, model: TINY }), {
        corpus,
        tokenizer
      })
      p.add(Sample.neural({ documents: 4, maxLength: 40, rows: 4, seed: 1 }), { model, tokenizer })
      const untrained = p.add(Train.transformer({ steps: 0, seed: trainSeed, model: TINY }), { corpus, tokenizer }, {
        name: "untrained"
      })
      p.add(Evaluate.perplexity({ maxTokens: 400, stride: 5, batch: 16 }), {
        model: untrained.model,
        tokenizer,
        test: real.test
      })
    })

  it("the same seed gives the same model and sample in two fresh stores; another seed another model", async () => {
    const a = await run(execute(trainSample(1)), "a")
    const b = await run(execute(trainSample(1)), "b")
    const c = await run(execute(trainSample(2)), "a")
    for (const path of ["train-transformer", "sample-neural"]) {
      assert.equal(a.nodes.find((n) => n.node.path === path)?.status, "ran", path)
      assert.equal(b.nodes.find((n) => n.node.path === path)?.status, "ran", path)
    }
    assert.equal(hashOf(a, "train-transformer", "model"), hashOf(b, "train-transformer", "model"))
    assert.equal(hashOf(a, "sample-neural", "corpus"), hashOf(b, "sample-neural", "corpus"))
    assert.notEqual(hashOf(c, "train-transformer", "model"), hashOf(a, "train-transformer", "model"))
    assert.notEqual(hashOf(c, "sample-neural", "corpus"), hashOf(a, "sample-neural", "corpus"))

    const model = await net(hashOf(a, "train-transformer", "model"), "a")
    assert.equal(model.family, "transformer")
    assert.deepEqual(model.config, { vocab: model.vocab, ...TINY })
    const tokenizer = Tokenizer.decode(await blob(hashOf(a, "tokenize-fit", "tokenizer"), "a"))
    assert.equal(model.vocab, tokenizer.vocab.length)
    const { texts } = corpusDocuments(Corpus.decode(await blob(hashOf(a, "sample-neural", "corpus"), "a")))
    assert.ok(texts.length >= 1 && texts.length <= 4, `${texts.length} documents`)
    const { offsets } = encodeDocuments(tokenizer, texts)
    for (let i = 0; i < texts.length; i++) {
      assert.ok(offsets[i + 1] - offsets[i] <= 40, `document ${i} within maxLength`)
    }

    // The untrained model (GPT-2 init: logits near zero) is close to uniform; 400 tokens score 399 predictions.
    const metrics = Metrics.decode(await blob(hashOf(a, "evaluate-perplexity", "metrics"), "a")).values
    assert.equal(metrics.test_tokens, 399)
    assert.ok(
      Math.abs(metrics.perplexity / model.vocab - 1) < 0.05,
      `untrained perplexity ${metrics.perplexity}, vocabulary ${model.vocab}`
    )
    assert.ok(Math.abs(Math.log(metrics.perplexity) - metrics.nll) < 1e-12)
  })

  it("from: \"previous\" continues from the previous model's weights", async () => {
    const result = await run(
      execute(Pipeline.make("continue", (p) => {
        const { corpus, tokenizer } = base(p)
        const first = p.add(
          Train.transformer({
            steps: 30,
            batch: 8,
            shards: 1,
            seed: 1,
            model: TINY,
            optimizer: { lr: 1e-2, warmup: 0 }
          }),
          { corpus, tokenizer },
          { name: "first" }
        )
        const o = { steps: 2, batch: 8, shards: 1, seed: 2, model: TINY, validation: { every: 1 } }
        p.add(Train.transformer({ ...o, from: "previous" }), { corpus, tokenizer, previous: first.model }, {
          name: "continued"
        })
        p.add(Train.transformer(o), { corpus, tokenizer }, { name: "fresh" })
        p.add(Train.transformer({ ...o, steps: 0, from: "previous" }), { corpus, tokenizer, previous: first.model }, {
          name: "unchanged"
        })
      })),
      "continue"
    )
    const first = await net(hashOf(result, "first", "model"), "continue")
    const continued = curve(await net(hashOf(result, "continued", "model"), "continue"))
    const fresh = curve(await net(hashOf(result, "fresh", "model"), "continue"))
    // The same seed, so the same first batch: only the starting weights differ.
    assert.equal(continued.length, 2)
    // Curve points are [step, mean training loss since the last point, validation loss]; with every: 1 the first
    // training loss is that of the starting weights on the first batch, and the validation windows are shared.
    assert.ok(
      continued[0][1] < fresh[0][1] - 0.4,
      `initial loss: continued ${continued[0][1]}, from scratch ${fresh[0][1]}`
    )
    assert.ok(
      continued[0][2] < fresh[0][2] - 0.7,
      `validation after one step: continued ${continued[0][2]}, from scratch ${fresh[0][2]}`
    )
    assert.ok(Math.abs(fresh[0][1] - Math.log(first.vocab)) < 0.3, `from scratch starts near ln(vocab): ${fresh[0][1]}`)
    // Zero steps from the previous model: its weights, unchanged.
    const unchanged = await net(hashOf(result, "unchanged", "model"), "continue")
    assert.deepEqual(Object.keys(unchanged.params), Object.keys(first.params))
    for (const k of Object.keys(first.params)) assert.deepEqual(unchanged.params[k], first.params[k], k)
  })
})

describe("neural stage params", () => {
  const none = {} as never
  const refuses = (build: (p: Pipeline.Builder) => void, re: RegExp) =>
    assert.throws(() => Pipeline.make("bad", build), (e: unknown) => e instanceof PipelineInvalid && re.test(e.message))

  it("are refused when the pipeline is defined, naming the field path", () => {
    refuses(
      (p) => p.add(Train.transformer({ model: { dModel: 16, heads: 3 } }), none),
      /stage train-transformer: invalid params for train\/transformer: heads \(3\) must divide dModel \(16\) at \["model"\]\["heads"\]/
    )
    refuses((p) => p.add(Train.transformer({ model: { heads: 0 } }), none), /at \["model"\]\["heads"\]/)
    refuses(
      (p) => p.add(Train.transformer({ model: { context: 0 } }), none),
      /stage train-transformer: .* at \["model"\]\["context"\]/
    )
    refuses(
      (p) => p.add(Train.lstm({ model: { hidden: 0 } }), none),
      /stage train-lstm: invalid params for train\/lstm: .* at \["model"\]\["hidden"\]/
    )
    refuses((p) => p.add(Train.lstm({ steps: 10, epochs: 1 }), none), /exactly one of steps and epochs at \["steps"\]/)
    refuses((p) => p.add(Train.lstm({ optimizer: { lr: 0 } }), none), /at \["optimizer"\]\["lr"\]/)
    refuses((p) => p.add(Train.transformer({ shards: 0 }), none), /at \["shards"\]/)
    const sample = (o: Partial<Parameters<typeof Sample.neural>[0]>) => (p: Pipeline.Builder) =>
      p.add(Sample.neural({ documents: 1, maxLength: 1, seed: 1, ...o }), none)
    refuses(
      sample({ temperature: 0 }),
      /stage sample-neural: invalid params for sample\/neural: .* at \["temperature"\]/
    )
    refuses(sample({ temperature: -1 }), /at \["temperature"\]/)
    refuses(sample({ topP: 0 }), /at \["topP"\]/)
    refuses(sample({ topP: 1.5 }), /at \["topP"\]/)
    refuses(sample({ topK: -1 }), /at \["topK"\]/)
    refuses(sample({ beams: 0 }), /at \["beams"\]/)
    refuses(sample({ repetitionPenalty: 0 }), /at \["repetitionPenalty"\]/)
    // the boundaries that are allowed
    assert.doesNotThrow(() =>
      Pipeline.make("ok", (p) => {
        const s = p.add(Seed.corpus({ source: SHAKESPEARE }), {})
        const { tokenizer } = p.add(Tokenize.chars(), { corpus: s.train })
        const { model } = p.add(Train.lstm({ steps: 0 }), { corpus: s.train, tokenizer })
        p.add(Sample.neural({ documents: 1, maxLength: 1, seed: 1, topP: 1, temperature: 1e-3 }), { model, tokenizer })
      })
    )
  })
})
