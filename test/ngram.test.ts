import assert from "node:assert/strict"
import { describe, it } from "node:test"
import fc from "fast-check"
import {
  crossEntropy,
  describeNgram,
  ngramFromSafetensors,
  ngramToSafetensors,
  nextTokenDistribution,
  perplexity,
  sampleNgram,
  trainNgram,
  type NgramModel,
  type NgramSmoothing,
  type SampleOptions,
  type TokenDocuments
} from "../src/lm/ngram.ts"
import { readSafetensors, writeSafetensors, type Tensor } from "../src/format/safetensors.ts"

const EOS = 1

const toData = (docs: ReadonlyArray<ReadonlyArray<number>>): TokenDocuments => {
  const offsets = new Int32Array(docs.length + 1)
  docs.forEach((d, i) => (offsets[i + 1] = offsets[i] + d.length))
  return { ids: Int32Array.from(docs.flat()), offsets }
}

/** Deterministic LCG for building test corpora (no Math.random). */
const lcg = (seed: number): () => number => {
  let x = seed >>> 0
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 2 ** 32
  }
}

/**
 * Straightforward reference: interpolated KN / add-k from string-keyed maps, following the textbook definitions
 * (top order raw counts, lower orders N1+(• h w), uniform 1/V below order 1).
 */
const referenceModel = (
  docs: ReadonlyArray<ReadonlyArray<number>>,
  V: number,
  n: number,
  smoothing: NgramSmoothing
): (prefix: ReadonlyArray<number>, w: number) => number => {
  const top = new Map<string, number>()
  const cont: Array<Map<string, Set<number>>> = Array.from({ length: n }, () => new Map())
  for (const doc of docs) {
    const seq = [...Array<number>(n - 1).fill(EOS), ...doc, EOS]
    for (let j = n - 1; j < seq.length; j++) {
      const gram = seq.slice(j - n + 1, j + 1).join(",")
      top.set(gram, (top.get(gram) ?? 0) + 1)
      for (let k = 1; k < n; k++) {
        const g = seq.slice(j - k + 1, j + 1).join(",")
        let s = cont[k].get(g)
        if (s === undefined) cont[k].set(g, s = new Set())
        s.add(seq[j - k])
      }
    }
  }
  const count = (k: number, h: ReadonlyArray<number>, w: number): number => {
    const key = [...h, w].join(",")
    return k === n ? top.get(key) ?? 0 : cont[k].get(key)?.size ?? 0
  }
  const prob = (k: number, h: ReadonlyArray<number>, w: number): number => {
    if (smoothing.kind === "add-k") {
      let total = 0
      for (let v = 0; v < V; v++) total += count(n, h, v)
      return (count(n, h, w) + smoothing.k) / (total + smoothing.k * V)
    }
    if (k === 0) return 1 / V
    const lower = prob(k - 1, h.slice(1), w)
    let total = 0
    let types = 0
    for (let v = 0; v < V; v++) {
      const c = count(k, h, v)
      total += c
      if (c > 0) types++
    }
    if (total === 0) return lower
    const D = smoothing.discount
    return Math.max(count(k, h, w) - D, 0) / total + ((D * types) / total) * lower
  }
  return (prefix, w) => {
    const context = [...Array<number>(n - 1).fill(EOS), ...prefix]
    return prob(n, context.slice(context.length - (n - 1)), w)
  }
}

const smoothingArb: fc.Arbitrary<NgramSmoothing> = fc.oneof(
  fc.double({ min: 0.05, max: 1, noNaN: true }).map((discount) => ({ kind: "kneser-ney" as const, discount })),
  fc.double({ min: 0.01, max: 3, noNaN: true }).map((k) => ({ kind: "add-k" as const, k }))
)

describe("trainNgram / probabilities", () => {
  it("matches a reference implementation and sums to 1 over the vocabulary", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 7 }).chain((V) =>
          fc.record({
            V: fc.constant(V),
            order: fc.integer({ min: 1, max: 4 }),
            smoothing: smoothingArb,
            docs: fc.array(fc.array(fc.integer({ min: 0, max: V - 1 }), { maxLength: 10 }), {
              minLength: 1,
              maxLength: 6
            }),
            prefixes: fc.array(fc.array(fc.integer({ min: 0, max: V - 1 }), { maxLength: 5 }), {
              minLength: 1,
              maxLength: 4
            })
          })
        ),
        ({ V, order, smoothing, docs, prefixes }) => {
          const model = trainNgram(toData(docs), V, { order, smoothing })
          const ref = referenceModel(docs, V, order, smoothing)
          for (const prefix of [...prefixes, ...docs.map((d) => d.slice(0, 3))]) {
            const dist = nextTokenDistribution(model, prefix)
            let sum = 0
            for (let w = 0; w < V; w++) {
              const expected = ref(prefix, w)
              assert.ok(dist[w] > 0)
              assert.ok(
                Math.abs(dist[w] - expected) <= 1e-12 * expected,
                `p(${w} | ${prefix}) = ${dist[w]} vs ${expected}`
              )
              sum += dist[w]
            }
            assert.ok(Math.abs(sum - 1) < 1e-12, `sum ${sum}`)
          }
        }
      ),
      { numRuns: 150 }
    )
  })

  it("computes a hand-checked Kneser-Ney value", () => {
    // docs [2 3] [2], order 2, D = 0.5, V = 4. p(2 | <bos>) = (2 - .5)/2 + (.5 * 1/2) * p1(2), with continuation
    // counts {1: 2, 2: 1, 3: 1}: p1(2) = (1 - .5)/4 + (.5 * 3/4) / 4 = 0.21875
    const model = trainNgram(toData([[2, 3], [2]]), 4, { order: 2, smoothing: { kind: "kneser-ney", discount: 0.5 } })
    assert.equal(nextTokenDistribution(model, [])[2], 0.75 + 0.25 * 0.21875)
    assert.deepEqual(describeNgram(model), {
      order: 2,
      vocabSize: 4,
      smoothing: { kind: "kneser-ney", discount: 0.5 },
      ngrams: [3, 4],
      trainingTokens: 5
    })
  })

  it("rejects bad configurations and data", () => {
    const data = toData([[2, 3]])
    const kn = { kind: "kneser-ney", discount: 0.75 } as const
    assert.throws(() => trainNgram(data, 4, { order: 6, smoothing: kn }), /order must be an integer in 1..5/)
    assert.throws(() => trainNgram(data, 4, { order: 2, smoothing: { kind: "kneser-ney", discount: 0 } }), /discount/)
    assert.throws(() => trainNgram(data, 4, { order: 2, smoothing: { kind: "add-k", k: 0 } }), /add-k needs k > 0/)
    assert.throws(() => trainNgram(data, 3, { order: 2, smoothing: kn }), /token id 3/)
  })
})

describe("perplexity", () => {
  const V = 12
  const rand = lcg(7)
  // structured corpus: mostly the cycle 2..11, with some noise
  const docs: number[][] = []
  for (let d = 0; d < 40; d++) {
    const doc: number[] = []
    let t = 2 + Math.floor(rand() * 10)
    for (let i = 0; i < 30; i++) {
      doc.push(t)
      t = rand() < 0.85 ? 2 + ((t - 1) % 10) : 2 + Math.floor(rand() * 10)
    }
    docs.push(doc)
  }
  const shuffled = docs.map((doc) => {
    const out = [...doc]
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      ;[out[i], out[j]] = [out[j], out[i]]
    }
    return out
  })

  it("is lower on the training data than on the same tokens shuffled", () => {
    for (const smoothing of [{ kind: "kneser-ney", discount: 0.75 }, { kind: "add-k", k: 0.1 }] as const) {
      for (const order of [2, 3]) {
        const model = trainNgram(toData(docs), V, { order, smoothing })
        const train = perplexity(model, toData(docs))
        const shuf = perplexity(model, toData(shuffled))
        assert.ok(train < 3 && shuf > 2 * train, `${smoothing.kind} order ${order}: ${train} vs ${shuf}`)
      }
    }
  })

  it("counts each document's <eos> and equals V for a uniform unigram model", () => {
    // every id 0..9 (eos included, once per document) occurs 5 times
    const uniform = Array.from({ length: 5 }, () => [0, 2, 3, 4, 5, 6, 7, 8, 9])
    for (const smoothing of [{ kind: "kneser-ney", discount: 0.75 }, { kind: "add-k", k: 1 }] as const) {
      const model = trainNgram(toData(uniform), 10, { order: 1, smoothing })
      const ce = crossEntropy(model, toData(uniform))
      assert.equal(ce.tokens, 50)
      assert.ok(Math.abs(perplexity(model, toData(uniform)) - 10) < 1e-9)
    }
  })

  it("scores a slice of documents (offsets not starting at 0)", () => {
    const model = trainNgram(toData(docs), V, { order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 } })
    const all = toData(docs)
    const tail = { ids: all.ids, offsets: all.offsets.subarray(30) }
    const direct = crossEntropy(model, toData(docs.slice(30)))
    const sliced = crossEntropy(model, tail)
    assert.equal(sliced.tokens, direct.tokens)
    assert.ok(Math.abs(sliced.nll - direct.nll) < 1e-9)
  })
})

/** Reference truncation of a full next-token distribution: temperature, then top-k, then top-p (see sample.ts). */
const transform = (p: Float64Array, temperature: number, topK: number, topP: number): Float64Array => {
  const V = p.length
  const keep = new Array<boolean>(V).fill(true)
  const byP = Array.from({ length: V }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b)
  if (topK > 0 && topK < V) {
    const t = p[byP[topK - 1]]
    for (let w = 0; w < V; w++) keep[w] = p[w] >= t
  }
  const q = Array.from(p, (x) => Math.pow(x, 1 / temperature))
  if (topP < 1) {
    let mass = 0
    for (let w = 0; w < V; w++) if (keep[w]) mass += q[w]
    let acc = 0
    let cut = 0
    for (const w of byP) {
      if (!keep[w]) continue
      acc += q[w]
      cut = p[w]
      if (acc >= topP * mass) break
    }
    for (let w = 0; w < V; w++) keep[w] = keep[w] && p[w] >= cut
  }
  let z = 0
  for (let w = 0; w < V; w++) z += keep[w] ? q[w] : 0
  return Float64Array.from(q, (x, w) => (keep[w] ? x / z : 0))
}

/** Chi-square of the joint distribution of the first two tokens (eos ends a document) against the model's. */
const checkFirstTwo = (
  model: NgramModel,
  opts: Omit<SampleOptions, "documents" | "maxLength">,
  documents: number
): void => {
  const V = model.config.vocabSize
  const first = transform(nextTokenDistribution(model, []), opts.temperature, opts.topK, opts.topP)
  // cells: a*V + b for [a, b], a*V + EOS for [a], V*V for []
  const empty = V * V
  const expected = new Float64Array(V * V + 1)
  expected[empty] = first[EOS]
  for (let a = 0; a < V; a++) {
    if (a === EOS || first[a] === 0) continue
    const second = transform(nextTokenDistribution(model, [a]), opts.temperature, opts.topK, opts.topP)
    for (let b = 0; b < V; b++) expected[a * V + b] = first[a] * second[b]
  }
  const observed = new Float64Array(V * V + 1)
  for (const doc of sampleNgram(model, { ...opts, documents, maxLength: 2 })) {
    observed[doc.length === 0 ? empty : doc.length === 1 ? doc[0] * V + EOS : doc[0] * V + doc[1]]++
  }
  let chi2 = 0
  let cells = 0
  for (let c = 0; c <= empty; c++) {
    if (expected[c] === 0) {
      assert.equal(observed[c], 0, `cell ${c} has probability 0 but was sampled ${observed[c]} times`)
      continue
    }
    const e = expected[c] * documents
    chi2 += (observed[c] - e) ** 2 / e
    cells++
  }
  const df = cells - 1
  // about a 1e-6 tail for these degrees of freedom; the seeds are fixed, so this is deterministic
  assert.ok(chi2 < df + 7 * Math.sqrt(2 * df) + 10, `chi2 ${chi2.toFixed(1)} with ${df} df (${JSON.stringify(opts)})`)
}

describe("sampleNgram", () => {
  const corpus = [
    [2, 3, 4, 2, 3, 5],
    [3, 4, 2, 6],
    [2, 3, 4, 4, 7],
    [5, 2, 3],
    [2, 6, 6, 3, 4]
  ]
  const V = 9 // token 8 never occurs: it is reached only through the uniform floor (KN) or add-k
  const models: Array<[string, NgramModel]> = [
    ["KN order 3", trainNgram(toData(corpus), V, { order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 } })],
    ["KN order 2, D = 1", trainNgram(toData(corpus), V, { order: 2, smoothing: { kind: "kneser-ney", discount: 1 } })],
    ["KN order 1", trainNgram(toData(corpus), V, { order: 1, smoothing: { kind: "kneser-ney", discount: 0.5 } })],
    ["add-k order 2", trainNgram(toData(corpus), V, { order: 2, smoothing: { kind: "add-k", k: 0.5 } })],
    ["add-k order 1", trainNgram(toData(corpus), V, { order: 1, smoothing: { kind: "add-k", k: 0.2 } })]
  ]
  const settings = [
    { temperature: 1, topK: 0, topP: 1 },
    { temperature: 0.7, topK: 0, topP: 1 },
    { temperature: 1, topK: 3, topP: 1 },
    { temperature: 1.6, topK: 0, topP: 0.8 },
    { temperature: 0.7, topK: 4, topP: 0.7 }
  ]

  for (const [name, model] of models) {
    it(`matches the model's (tempered, truncated) distribution: ${name}`, () => {
      settings.forEach((s, i) => checkFirstTwo(model, { ...s, seed: 100 + i }, 12000))
    })
  }

  it("matches the truncated distribution where kept sets are large (cached cuts, rejection draws)", () => {
    // first tokens 2..51, token j as often as j - 1 times: distinct probabilities, a broad nucleus
    const docs: number[][] = []
    for (let j = 2; j < 52; j++) for (let c = 0; c < j - 1; c++) docs.push([j, 2 + ((j * c) % 50)])
    const Vb = 60
    const model = trainNgram(toData(docs), Vb, { order: 2, smoothing: { kind: "kneser-ney", discount: 0.75 } })
    for (
      const s of [
        { temperature: 1, topK: 0, topP: 0.9 },
        { temperature: 0.8, topK: 40, topP: 1 },
        { temperature: 1.3, topK: 45, topP: 0.95 }
      ]
    ) {
      const expected = transform(nextTokenDistribution(model, []), s.temperature, s.topK, s.topP)
      const N = 20000
      const observed = new Float64Array(Vb)
      for (const doc of sampleNgram(model, { ...s, documents: N, maxLength: 1, seed: 5 })) {
        observed[doc.length === 0 ? EOS : doc[0]]++
      }
      let chi2 = 0
      let cells = 0
      for (let w = 0; w < Vb; w++) {
        if (expected[w] === 0) {
          assert.equal(observed[w], 0, `token ${w} is truncated but was sampled ${observed[w]} times`)
          continue
        }
        chi2 += (observed[w] - expected[w] * N) ** 2 / (expected[w] * N)
        cells++
      }
      assert.ok(cells >= 32)
      const df = cells - 1
      assert.ok(chi2 < df + 7 * Math.sqrt(2 * df) + 10, `chi2 ${chi2.toFixed(1)} with ${df} df (${JSON.stringify(s)})`)
    }
  })

  it("is deterministic in the seed and differs across seeds", () => {
    const model = models[0][1]
    for (const s of settings) {
      const opts = { ...s, documents: 50, maxLength: 20, seed: 42 }
      const a = sampleNgram(model, opts)
      assert.deepEqual(a, sampleNgram(model, opts))
      assert.notDeepEqual(a, sampleNgram(model, { ...opts, seed: 43 }))
      assert.equal(a.length, 50)
      for (const doc of a) {
        assert.ok(doc.length <= 20)
        assert.ok(!doc.includes(EOS))
      }
    }
    assert.deepEqual(sampleNgram(model, { ...settings[0], documents: 3, maxLength: 0, seed: 1 }), [
      new Int32Array(0),
      new Int32Array(0),
      new Int32Array(0)
    ])
  })

  it("validates its options", () => {
    const model = models[0][1]
    const ok = { documents: 1, maxLength: 5, temperature: 1, topK: 0, topP: 1, seed: 1 }
    assert.throws(() => sampleNgram(model, { ...ok, temperature: 0 }), /temperature/)
    assert.throws(() => sampleNgram(model, { ...ok, topP: 0 }), /topP/)
    assert.throws(() => sampleNgram(model, { ...ok, topK: -1 }), /topK/)
    assert.throws(() => sampleNgram(model, { ...ok, seed: 0.5 }), /seed/)
  })

  it("stops at a total token budget, cutting the last document there", () => {
    const rand = lcg(11)
    const docs: number[][] = []
    for (let d = 0; d < 30; d++) docs.push(Array.from({ length: 40 }, () => 2 + Math.floor(rand() * 30)))
    const model = trainNgram(toData(docs), 32, { order: 2, smoothing: { kind: "kneser-ney", discount: 0.75 } })
    const opts = { documents: 1000, maxLength: 25, temperature: 1, topK: 0, topP: 1, seed: 5 }
    const free = sampleNgram(model, opts)
    const capped = sampleNgram(model, { ...opts, totalTokens: 333 })
    assert.equal(capped.reduce((n, d) => n + d.length, 0), 333)
    assert.ok(capped.length < free.length)
    // Same seed, same stream: the capped documents are a prefix of the free ones, the last one cut.
    capped.slice(0, -1).forEach((d, i) => assert.deepEqual(d, free[i]))
    const last = capped.length - 1
    assert.deepEqual(capped[last], free[last].slice(0, capped[last].length))
  })

  it("samples a larger model in every mode", () => {
    const rand = lcg(3)
    const Vb = 2000
    const docs: number[][] = []
    for (let d = 0; d < 200; d++) {
      const doc: number[] = []
      for (let i = 0; i < 200; i++) doc.push(2 + Math.floor(Math.pow(rand(), 3) * (Vb - 2)))
      docs.push(doc)
    }
    const model = trainNgram(toData(docs), Vb, { order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 } })
    for (const s of settings) {
      const out = sampleNgram(model, { ...s, documents: 50, maxLength: 200, seed: 9 })
      assert.equal(out.length, 50)
      assert.ok(out.every((d) => d.every((w) => w >= 0 && w < Vb)))
    }
  })
})

describe("ngram safetensors", () => {
  const docs = [
    [2, 3, 4, 2, 3],
    [4, 4, 5],
    [2, 5, 3, 3]
  ]
  const model = trainNgram(toData(docs), 7, { order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 } })

  it("round-trips and gives the same probabilities", () => {
    const back = ngramFromSafetensors(ngramToSafetensors(model))
    assert.deepEqual(back.config, model.config)
    assert.deepEqual(back.levels, model.levels)
    assert.equal(perplexity(back, toData(docs)), perplexity(model, toData(docs)))
    const file = readSafetensors(ngramToSafetensors(model))
    assert.deepEqual(file.metadata, {
      artifact: "model/ngram",
      config: "{\"order\":3,\"smoothing\":{\"discount\":0.75,\"kind\":\"kneser-ney\"},\"vocabSize\":7}"
    })
    assert.deepEqual([...file.tensors.keys()].sort(), [
      "order1.counts",
      "order1.ctx_offsets",
      "order1.words",
      "order2.counts",
      "order2.ctx_offsets",
      "order2.words",
      "order3.counts",
      "order3.ctx_offsets",
      "order3.words"
    ])
  })

  it("is byte-deterministic", () => {
    const again = trainNgram(toData(docs), 7, { order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 } })
    assert.deepEqual(ngramToSafetensors(again), ngramToSafetensors(model))
  })

  it("rejects files that are not valid n-gram models", () => {
    const file = readSafetensors(ngramToSafetensors(model))
    const tensors = Object.fromEntries(file.tensors) as Record<string, Tensor>
    const rewrite = (t: Record<string, Tensor>, meta: Record<string, string> = file.metadata): Uint8Array =>
      writeSafetensors(t, meta)
    assert.throws(
      () => ngramFromSafetensors(rewrite(tensors, { ...file.metadata, artifact: "corpus" })),
      /"artifact" is "corpus"/
    )
    assert.throws(
      () => ngramFromSafetensors(rewrite(tensors, { ...file.metadata, config: "{" })),
      /"config" is not valid JSON/
    )
    const { ["order2.words"]: _dropped, ...missing } = tensors
    assert.throws(() => ngramFromSafetensors(rewrite(missing)), /missing tensor "order2.words"/)
    const words = Int32Array.from(tensors["order1.words"].data as Int32Array)
    words[0] = 99
    assert.throws(
      () =>
        ngramFromSafetensors(
          rewrite({ ...tensors, "order1.words": { dtype: "I32", shape: [words.length], data: words } })
        ),
      /token 99 outside 0..6/
    )
    assert.throws(() => ngramFromSafetensors(new Uint8Array(3)), /safetensors: file is 3 bytes/)
  })
})
