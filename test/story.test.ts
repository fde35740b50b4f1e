/** The main job's pieces: Tokenize.bpe, the repetition measures, Filter.perplexity, and `ouro metrics`. */
import assert from "node:assert/strict"
import { rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { Tiktoken } from "js-tiktoken/lite"
import r50kBase from "js-tiktoken/ranks/r50k_base"
import { Effect } from "effect"
import { Tokenizer } from "../src/artifact/artifacts.ts"
import { corpusDocuments, corpusFromDocuments } from "../src/artifact/corpus.ts"
import { crossEntropy, sampleNgram, trainNgram } from "../src/lm/ngram.ts"
import { bpeTokenizer, decode, encode, encodeDocuments, EOS_ID, fitTokenizer } from "../src/lm/tokenizer.ts"
import { compressionRatio, repeatedNgramShare, wordRepN } from "../src/metrics/repetition.ts"
import { Filter } from "../src/stages/filter.ts"
import { Mix } from "../src/stages/mix.ts"
import { Tokenize } from "../src/stages/tokenize.ts"
import { parseCsv } from "../bench/claims.ts"
import { exportColumns, type ExportRow, toCsv, toJson, toTable } from "../src/report/metrics-export.ts"
import { ouro, ROOT, tempDir } from "./support/cli.ts"

const ctx = { node: "test", log: () => Effect.void, status: () => {} }

describe("Tokenize.bpe (r50k_base, from js-tiktoken, offline)", () => {
  const bpe = bpeTokenizer({ encoding: "r50k_base", lowercase: false })
  const tiktoken = new Tiktoken(r50kBase)

  it("is GPT-2's vocabulary shifted past <unk> and <eos>: 50256 tokens + 2", () => {
    assert.equal(bpe.vocab.length, 50258)
    assert.deepEqual(bpe.vocab.slice(0, 4), ["<unk>", "<eos>", "!", "\""])
    assert.deepEqual(Array.from(encode(bpe, "First Citizen:")), [5962 + 2, 22307 + 2, 25 + 2])
  })

  it("gives tiktoken's ids (its own encode, no specials) and decodes back to the text", () => {
    const texts = [
      "Fellow-Citizens of the Senate,  and 1,000 dollars\n\nthe end.",
      "naïve café — 東京 🎉 <|endoftext|> it's",
      "   "
    ]
    for (const t of texts) {
      assert.deepEqual(Array.from(encode(bpe, t), (id) => id - 2), tiktoken.encode(t, [], []))
      assert.equal(decode(bpe, encode(bpe, t)), t)
    }
    const docs = encodeDocuments(bpe, texts)
    assert.equal(docs.offsets.length, 4)
    assert.equal(decode(bpe, [...encode(bpe, "a"), EOS_ID, ...encode(bpe, "é")]), "a\né")
  })

  it("is a stage with no inputs whose artifact round-trips; an out-of-range id is an error", () => {
    const stage = Tokenize.bpe({ encoding: "r50k_base" })
    assert.equal(stage.kind, "tokenize/bpe")
    assert.equal(stage.params._tag, "Valid")
    assert.ok(Object.keys(stage.env).includes("js-tiktoken"))
    const back = Tokenizer.decode(Tokenizer.encode(bpe))
    assert.equal(back.kind, "bpe")
    assert.equal(back.encoding, "r50k_base")
    assert.deepEqual(Array.from(encode(back, "State of the Union")), Array.from(encode(bpe, "State of the Union")))
    assert.throws(() => decode(bpe, [50258]), /outside the vocabulary/)
    assert.equal(Tokenize.bpe({ encoding: "nope" } as never).params._tag, "Invalid")
  })

  it("word and char tokenizers are stored byte for byte as before (no new fields)", () => {
    const words = fitTokenizer(["a b a"], { kind: "word", lowercase: true, minCount: 1 })
    const json = new TextDecoder().decode(Tokenizer.encode(words))
    assert.ok(!json.includes("encoding") && !json.includes("encoder"), json)
  })

  it("an n-gram model trains on it and samples decodable text (vocabulary 50258)", () => {
    const data = encodeDocuments(bpe, ["The union is strong. The union is strong and free.", "We the people."])
    const model = trainNgram(data, bpe.vocab.length, { order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 } })
    const docs = sampleNgram(model, { documents: 3, maxLength: 20, temperature: 1, topK: 0, topP: 1, seed: 1 })
    for (const d of docs) assert.equal(typeof decode(bpe, d), "string")
  })
})

describe("repetition measures", () => {
  it("word rep-n: per document 1 − unique/total, averaged over documents with an n-gram", () => {
    assert.equal(wordRepN(["a b a b"], 1), 0.5)
    assert.equal(wordRepN(["a b a b", "x"], 2), 1 / 3) // "x" has no bigram: not counted
    assert.equal(wordRepN([], 4), 0)
    assert.throws(() => wordRepN(["a"], 0), /positive integer/)
  })

  it("repeated n-gram share pools the n-grams of all documents, repeats only within a document", () => {
    // doc 1: a b, b a, a b (1 repeat of 3); doc 2: a b (no repeat within it)
    assert.equal(repeatedNgramShare(["a b a b", "a b"], 2), 1 / 4)
  })

  it("compression ratio: deterministic, higher for repetitive text", () => {
    const varied = Array.from({ length: 200 }, (_, i) => `word${(i * 7919) % 1009} other${(i * 104729) % 997}`).join(
      " "
    )
    const loop = "the state of the union is strong ".repeat(60)
    assert.equal(compressionRatio([loop]), compressionRatio([loop]))
    assert.ok(compressionRatio([loop]) > 2 * compressionRatio([varied]))
    assert.equal(compressionRatio([]), 1)
  })
})

describe("Filter.perplexity", () => {
  const tok = fitTokenizer(["the cat sat on the mat", "the dog sat on the log"], {
    kind: "word",
    lowercase: true,
    minCount: 1
  })
  const reference = trainNgram(
    encodeDocuments(tok, ["the cat sat on the mat", "the dog sat on the log"]),
    tok.vocab.length,
    {
      order: 2,
      smoothing: { kind: "kneser-ney", discount: 0.75 }
    }
  )
  const docs = [
    { id: "a", text: "mat the on log dog cat" },
    { id: "b", text: "the cat sat on the mat" },
    { id: "c", text: "log log log mat mat" },
    { id: "d", text: "the dog sat on the log" }
  ]

  it("keeps the documents the reference scores best, in their order", async () => {
    const run = Filter.perplexity({ keep: 0.5 }).run({
      corpus: corpusFromDocuments(docs),
      model: { family: "ngram", ngram: reference },
      tokenizer: tok
    }, ctx)
    const out = await Effect.runPromise(run)
    assert.deepEqual(corpusDocuments(out.corpus).ids, ["b", "d"])
    const score = (t: string) => {
      const ce = crossEntropy(reference, encodeDocuments(tok, [t]))
      return ce.nll / ce.tokens
    }
    assert.ok(score(docs[1].text) < score(docs[0].text))
  })

  it("keeps at least one document; keep is checked", async () => {
    const run = Filter.perplexity({ keep: 0.01 }).run({
      corpus: corpusFromDocuments(docs),
      model: { family: "ngram", ngram: reference },
      tokenizer: tok
    }, ctx)
    assert.equal(corpusDocuments((await Effect.runPromise(run)).corpus).ids.length, 1)
    assert.equal(Filter.perplexity({ keep: 0 }).params._tag, "Invalid")
    assert.equal(Filter.perplexity({ keep: 1.5 }).params._tag, "Invalid")
  })
})

describe("Filter.typical", () => {
  it("keeps the documents whose cross-entropy is closest to the reference's on held-out text", async () => {
    const real = ["the cat sat on the mat", "the dog sat on the log"]
    const tok = fitTokenizer(real, { kind: "word", lowercase: true, minCount: 1 })
    const reference = trainNgram(encodeDocuments(tok, real), tok.vocab.length, {
      order: 2,
      smoothing: { kind: "kneser-ney", discount: 0.75 }
    })
    const heldout = corpusFromDocuments([{ id: "h", text: "the cat sat on the log" }])
    const docs = [
      { id: "loop", text: "the the the the the the the the" },
      { id: "typical", text: "the dog sat on the mat" },
      { id: "garbled", text: "mat log on dog cat sat the on" }
    ]
    const run = Filter.typical({ keep: 1 / 3 }).run(
      { corpus: corpusFromDocuments(docs), model: { family: "ngram", ngram: reference }, tokenizer: tok, heldout },
      ctx
    )
    assert.deepEqual(corpusDocuments((await Effect.runPromise(run)).corpus).ids, ["typical"])
  })
})

describe("Mix.accumulateSubsample(size, seed, \"words\")", () => {
  it("draws documents from the pool until size words, the last one cut, in the pool's order", async () => {
    const previous = corpusFromDocuments([{ id: "r1", text: "a b c d" }, { id: "r2", text: "e f g h" }])
    const synthetic = corpusFromDocuments([{ id: "s1", text: "i j k l" }])
    const run = Mix.accumulateSubsample(6, 3, "words").run({ real: previous, previous, synthetic }, ctx)
    const out = await Effect.runPromise(run)
    const texts = corpusDocuments(out.corpus).texts
    assert.equal(texts.join(" ").split(" ").length, 6)
    assert.equal(corpusDocuments(out.pool).ids.length, 3)
    const ids = corpusDocuments(out.corpus).ids
    assert.deepEqual(ids, ["r1", "r2", "s1"].filter((id) => ids.includes(id)))
    // without a unit: documents, and the key's params are as they always were
    assert.deepEqual(Mix.accumulateSubsample(2, 3).params, { _tag: "Valid", encoded: { size: 2, seed: 3 } })
  })
})

describe("ouro metrics", () => {
  let dir = ""
  let pipeline = ""
  before(() => {
    dir = tempDir("ouro-metrics-")
    pipeline = join(dir, "story-tiny.ts")
    writeFileSync(
      pipeline,
      `
import { Evaluate, Filter, Mix, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"

export default Pipeline.make("story-tiny", (p) => {
  const real = p.add(Seed.corpus({ source: ${
        JSON.stringify(join(ROOT, "data/shakespeare-sample.txt"))
      }, testFraction: 0.2, seed: 7 }))
  const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
  const reference = p.scope({ arm: "reference" }, (r) => r.add(Train.ngram({ order: 2 }), { corpus: real.train, tokenizer }).model)
  for (const arm of ["accumulate", "quality"]) {
    p.scope({ arm }, (a) => a.seeds([1, 2], (s, seed) =>
      s.generations(2, { corpus: real.train, pool: real.train }, (g, prev) => {
        const { model } = g.add(Train.ngram({ order: 2 }), { corpus: prev.corpus, tokenizer })
        let synthetic = g.add(Sample.text({ documents: 20, maxLength: 30, seed: seed * 10 + g.index }), { model, tokenizer }).corpus
        if (arm === "quality") synthetic = g.add(Filter.perplexity({ keep: 0.5 }), { corpus: synthetic, model: reference, tokenizer }).corpus
        g.add(Evaluate.lm({ selfBleuDocs: 5, selfBleuLength: 20, repetition: true }), { model, tokenizer, test: real.test, sample: synthetic })
        return g.add(arm === "quality" ? Mix.replace() : Mix.accumulate(), { real: real.train, previous: prev.pool, synthetic })
      })))
  }
})
`
    )
    const run = ouro(dir, "run", "--quiet", pipeline)
    assert.equal(run.code, 0, run.stderr)
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("csv: one row per arm × seed × generation, with the metrics and the training corpus's makeup", () => {
    const r = ouro(dir, "metrics", pipeline, "--format", "csv")
    assert.equal(r.code, 0, r.stderr)
    const [header, ...rows] = parseCsv(r.stdout)
    assert.deepEqual(header.slice(0, 6), ["arm", "family", "seed", "generation", "perplexity", "baseline_perplexity"])
    for (
      const c of [
        "word_rep_4",
        "repeated_3gram_share",
        "compression_ratio",
        "distinct_1",
        "train_documents",
        "train_tokens",
        "train_real_documents",
        "train_synthetic_tokens",
        "train_real_token_share",
        "dropped_documents_filter_perplexity"
      ]
    ) {
      assert.ok(header.includes(c), `no column ${c} in ${header.join(",")}`)
    }
    assert.equal(rows.length, 2 * 2 * 2)
    const col = (row: string[], c: string) => row[header.indexOf(c)]
    const byKey = new Map(rows.map((row) => [`${col(row, "arm")}/${col(row, "seed")}/${col(row, "generation")}`, row]))
    assert.equal(col(byKey.get("accumulate/1/1")!, "family"), "ngram")
    // generation 1 trains on real text only; accumulate's generation 2 adds 20 synthetic documents
    assert.equal(col(byKey.get("accumulate/1/1")!, "train_synthetic_documents"), "0")
    assert.equal(col(byKey.get("accumulate/1/1")!, "train_real_token_share"), "1")
    const g2 = byKey.get("accumulate/1/2")!
    assert.equal(Number(col(g2, "train_synthetic_documents")), 20)
    assert.equal(Number(col(g2, "train_documents")), Number(col(g2, "train_real_documents")) + 20)
    // the quality arm's filter dropped half of 20 documents; accumulate has no filter
    assert.equal(col(byKey.get("quality/2/1")!, "dropped_documents_filter_perplexity"), "10")
    assert.equal(col(byKey.get("quality/2/2")!, "train_real_documents"), "0")
    assert.equal(col(g2, "dropped_documents_filter_perplexity"), "")
  })

  it("json has the same rows and columns; parquet goes to a file", () => {
    const csv = parseCsv(ouro(dir, "metrics", pipeline, "--format", "csv").stdout)
    const r = ouro(dir, "metrics", "story-tiny", "--format", "json")
    assert.equal(r.code, 0, r.stderr)
    const json = JSON.parse(r.stdout) as Array<Record<string, string | number | null>>
    assert.equal(json.length, csv.length - 1)
    assert.deepEqual(Object.keys(json[0]), csv[0])
    assert.equal(String(json[0].perplexity), csv[1][csv[0].indexOf("perplexity")])
    const parquet = ouro(dir, "metrics", pipeline, "--format", "parquet", "-o", join(dir, "m.parquet"))
    assert.equal(parquet.code, 0, parquet.stderr)
    assert.match(parquet.stdout, /8 rows written/)
  })
})

describe("the shipped story pipelines", () => {
  it("npm start's pipeline (five arms × 3 seeds × 8 generations) and the neural one with bands define and plan", () => {
    const dir = tempDir("ouro-story-plan-")
    try {
      for (const [name, stages] of [["story", 507], ["neural-bands", 100]] as const) {
        const r = ouro(dir, "plan", join(ROOT, "pipelines", `${name}.ts`))
        assert.equal(r.code, 0, `${name}: ${r.stderr}`)
        assert.match(r.stdout, new RegExp(`^${stages} stages: 0 cached`, "m"), name)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("metrics export formats", () => {
  const rows: ReadonlyArray<ExportRow> = [
    { arm: "replace", seed: 1, generation: 2, zeta: 0.5, perplexity: 12.25, train_tokens: 10, note: "a,\"b\"" },
    { arm: "replace", seed: 1, generation: 1, perplexity: 10, baseline_perplexity: 50, dropped_documents_f: 3 }
  ]
  it("orders columns: arm, seed, generation, perplexity, baseline, other tags, metrics, confounds; csv quotes", () => {
    assert.deepEqual(exportColumns(rows), [
      "arm",
      "seed",
      "generation",
      "perplexity",
      "baseline_perplexity",
      "note",
      "zeta",
      "train_tokens",
      "dropped_documents_f"
    ])
    assert.equal(toCsv(rows).split("\n")[1], "replace,1,2,12.25,,\"a,\"\"b\"\"\",0.5,10,")
    assert.deepEqual(parseCsv(toCsv(rows))[1][5], "a,\"b\"")
    assert.match(toTable(rows), /^arm\s+seed\s+generation\s+perplexity/)
    assert.equal((JSON.parse(toJson(rows)) as Array<Record<string, unknown>>)[1].zeta, null)
  })
})
