import { strict as assert } from "node:assert"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, it } from "node:test"
import { Effect } from "effect"
import { corpusDocuments } from "../src/artifact/corpus.ts"
import { splitByHash } from "../src/artifact/split.ts"
import { execute, type RunResult } from "../src/engine/execute.ts"
import { localInProcess } from "../src/engine/layers.ts"
import { plan } from "../src/engine/plan.ts"
import type { Progress } from "../src/engine/Progress.ts"
import type { StageRunner } from "../src/engine/StageRunner.ts"
import {
  Corpus,
  Evaluate,
  Filter,
  Metrics,
  Mix,
  type MixStage,
  PipelineInvalid,
  Sample,
  Seed,
  Tokenize,
  Tokenizer,
  Train
} from "../src/index.ts"
import { encodeDocuments } from "../src/lm/tokenizer.ts"
import * as Pipeline from "../src/pipeline/pipeline.ts"
import { ArtifactStore } from "../src/store/ArtifactStore.ts"
import { type Doc, Docs } from "./support/docs.ts"

const SHAKESPEARE = join(import.meta.dirname, "..", "data", "shakespeare-sample.txt")

let dir = ""
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ouro-stages-"))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const run = <A, E>(eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>, root = join(dir, "store")) =>
  Effect.runPromise(eff.pipe(Effect.provide(localInProcess(root))))

/** The content hash of `output` of the node at `path`. */
const hashOf = (result: RunResult, path: string, output: string): string => {
  const node = result.nodes.find((n) => n.node.path === path)
  assert.ok(node !== undefined, `no node ${path} (have: ${result.nodes.map((n) => n.node.path).join(", ")})`)
  return node.outputs[output].hash
}

const readBlob = (hash: string, root?: string) =>
  run(
    Effect.gen(function*() {
      return yield* (yield* ArtifactStore).getBlob(hash)
    }),
    root
  )

const readDocs = async (hash: string): Promise<Doc[]> => {
  const { ids, texts } = corpusDocuments(Corpus.decode(await readBlob(hash)))
  return ids.map((id, i) => ({ id, text: texts[i] }))
}

const words = (text: string): number => text.split(/\s+/).filter((w) => w !== "").length
const totalWords = (docs: ReadonlyArray<Doc>): number => docs.reduce((n, d) => n + words(d.text), 0)

const writeParagraphs = (file: string, texts: ReadonlyArray<string>) => writeFileSync(file, texts.join("\n\n") + "\n")

describe("Seed.corpus", () => {
  const texts = Array.from(
    { length: 30 },
    (_, i) => `paragraph number ${i} says\nsomething ${"more ".repeat(i % 5)}here`
  )
  const seedPipeline = (file: string, o: { testFraction?: number; seed?: number } = {}) =>
    Pipeline.make("seed", (p) => {
      p.add(
        Seed.corpus({ source: file, split: "paragraph", testFraction: o.testFraction ?? 0.3, seed: o.seed ?? 7 }),
        {}
      )
    })

  it("splits a text file into disjoint train and test corpora covering every document, by the seeded id hash", async () => {
    const file = join(dir, "book.txt")
    writeParagraphs(file, texts)
    const result = await run(execute(seedPipeline(file)))
    const train = await readDocs(hashOf(result, "seed-corpus", "train"))
    const test = await readDocs(hashOf(result, "seed-corpus", "test"))
    const all = texts.map((text, i) => ({ id: `book:${String(i).padStart(6, "0")}`, text: text.trim() }))
    const isTest = splitByHash(all.map((d) => d.id), 0.3, 7)
    assert.deepEqual(test, all.filter((_, i) => isTest[i]))
    assert.deepEqual(train, all.filter((_, i) => !isTest[i]))
    assert.ok(train.length > 0 && test.length > 0)
    const trainIds = new Set(train.map((d) => d.id))
    assert.ok(test.every((d) => !trainIds.has(d.id)), "disjoint")
    assert.equal(train.length + test.length, all.length)
  })

  it("is deterministic: a fresh store gives byte-identical outputs; another seed gives another split", async () => {
    const file = join(dir, "book.txt")
    writeParagraphs(file, texts)
    const a = await run(execute(seedPipeline(file)), join(dir, "store-a"))
    const b = await run(execute(seedPipeline(file)), join(dir, "store-b"))
    assert.equal(hashOf(b, "seed-corpus", "train"), hashOf(a, "seed-corpus", "train"))
    assert.equal(hashOf(b, "seed-corpus", "test"), hashOf(a, "seed-corpus", "test"))
    assert.equal(b.nodes[0].key, a.nodes[0].key)
    const c = await run(execute(seedPipeline(file, { seed: 8 })), join(dir, "store-a"))
    assert.notEqual(hashOf(c, "seed-corpus", "test"), hashOf(a, "seed-corpus", "test"))
  })

  it("keys on the file's content: an edit reruns the stage, an identical rewrite does not", async () => {
    const file = join(dir, "book.txt")
    writeParagraphs(file, texts)
    const first = await run(execute(seedPipeline(file)))
    assert.deepEqual((await run(plan(seedPipeline(file)))).map((e) => e.status), ["cached"])

    writeParagraphs(file, texts) // same bytes, new mtime
    assert.deepEqual((await run(plan(seedPipeline(file)))).map((e) => e.status), ["cached"])

    writeParagraphs(file, [...texts.slice(0, -1), "an edited last paragraph"])
    const [entry] = await run(plan(seedPipeline(file)))
    assert.equal(entry.status, "run")
    assert.notEqual(entry.key, first.nodes[0].key)
    assert.ok(entry.reasons.some((r) => /^input external:source changed/.test(r)), entry.reasons.join("; "))
    const second = await run(execute(seedPipeline(file)))
    assert.equal(second.nodes[0].status, "ran")
    const docs = [
      ...await readDocs(hashOf(second, "seed-corpus", "train")),
      ...await readDocs(hashOf(second, "seed-corpus", "test"))
    ]
    assert.ok(docs.some((d) => d.text === "an edited last paragraph"))

    writeParagraphs(file, texts) // back to the original: cached again
    assert.deepEqual((await run(plan(seedPipeline(file)))).map((e) => e.status), ["cached"])
  })

  it("fails with StageFailed for a missing file or a single-document file", async () => {
    const missing = await run(Effect.flip(execute(seedPipeline(join(dir, "nope.txt")))))
    assert.equal(missing._tag, "StageFailed")
    assert.match(missing.message, /cannot read source file .*nope\.txt/)
    const one = join(dir, "one.txt")
    writeFileSync(one, "just one paragraph\n")
    const single = await run(Effect.flip(execute(seedPipeline(one))))
    assert.equal(single._tag, "StageFailed")
    assert.match(single.message, /1 document\(s\); a train\/test split needs 2/)
  })
})

// Mix inputs: literal corpora with distinct ids, so every output document can be traced to its source.
const realDocs: Doc[] = Array.from({ length: 20 }, (_, i) => ({
  id: `r${String(i).padStart(2, "0")}`,
  text: Array.from({ length: (i % 4) + 1 }, (_, w) => `real${i}w${w}`).join(" ")
})) // 50 words
const previousDocs: Doc[] = Array.from({ length: 5 }, (_, i) => ({ id: `p${i}`, text: `previous doc ${i}` }))
const synthLengths = [5, 3, 7, 4, 6, 5, 4, 6] // 40 words
const synthDocs: Doc[] = synthLengths.map((n, i) => ({
  id: `s${i}`,
  text: Array.from({ length: n }, (_, w) => `synth${i}w${w}`).join(" ")
}))

const mixPipeline = (stages: ReadonlyArray<MixStage>) =>
  Pipeline.make("mix", (p) => {
    const real = p.add(Docs(realDocs), {}, { name: "real" }).corpus
    const previous = p.add(Docs(previousDocs), {}, { name: "previous" }).corpus
    const synthetic = p.add(Docs(synthDocs), {}, { name: "synthetic" }).corpus
    stages.forEach((stage, i) => p.add(stage, { real, previous, synthetic }, { name: `mix${i}` }))
  })

describe("Mix", () => {
  it("replace: the training corpus and the pool are the synthetic corpus, byte for byte", async () => {
    const result = await run(execute(mixPipeline([Mix.replace()])))
    const synthetic = hashOf(result, "synthetic", "corpus")
    assert.equal(hashOf(result, "mix0", "corpus"), synthetic)
    assert.equal(hashOf(result, "mix0", "pool"), synthetic)
    assert.deepEqual(await readDocs(hashOf(result, "mix0", "corpus")), synthDocs)
  })

  it("accumulate: previous ++ synthetic, in order, as both corpus and pool", async () => {
    const result = await run(execute(mixPipeline([Mix.accumulate()])))
    assert.deepEqual(await readDocs(hashOf(result, "mix0", "corpus")), [...previousDocs, ...synthDocs])
    assert.equal(hashOf(result, "mix0", "pool"), hashOf(result, "mix0", "corpus"))
  })

  it("accumulateSubsample: `size` distinct documents of the pool, in pool order; the pool is everything", async () => {
    const pool = [...previousDocs, ...synthDocs]
    const result = await run(execute(mixPipeline([
      Mix.accumulateSubsample(6, 1),
      Mix.accumulateSubsample(6, 1),
      Mix.accumulateSubsample(6, 2),
      Mix.accumulateSubsample(100, 1)
    ])))
    assert.deepEqual(await readDocs(hashOf(result, "mix0", "pool")), pool)
    const chosen = await readDocs(hashOf(result, "mix0", "corpus"))
    assert.equal(chosen.length, 6)
    const at = chosen.map((d) => pool.findIndex((q) => q.id === d.id && q.text === d.text))
    assert.ok(at.every((i) => i >= 0), "drawn from the pool")
    assert.deepEqual([...at].sort((a, b) => a - b), at, "in pool order")
    assert.equal(new Set(at).size, 6, "distinct")
    // Same params: the same key and the same documents; another seed: another draw.
    assert.equal(result.nodes.find((n) => n.node.path === "mix1")!.status, "shared")
    assert.notDeepEqual(await readDocs(hashOf(result, "mix2", "corpus")), chosen)
    assert.equal((await readDocs(hashOf(result, "mix2", "corpus"))).length, 6)
    // A size beyond the pool takes all of it.
    assert.deepEqual(await readDocs(hashOf(result, "mix3", "corpus")), pool)
  })

  it("realFraction(f): as many words as the synthetic corpus, exactly round(f * words) of them real", async () => {
    const fractions = [0, 0.1, 0.25, 0.5, 0.9, 1]
    const synthWords = totalWords(synthDocs)
    assert.equal(synthWords, 40)
    const result = await run(execute(mixPipeline(fractions.map((f) => Mix.realFraction(f, 3)))))
    const realById = new Map(realDocs.map((d) => [d.id, d.text]))
    const synthById = new Map(synthDocs.map((d) => [d.id, d.text]))
    for (const [i, f] of fractions.entries()) {
      const docs = await readDocs(hashOf(result, `mix${i}`, "corpus"))
      assert.equal(hashOf(result, `mix${i}`, "pool"), hashOf(result, `mix${i}`, "corpus"), `f=${f}`)
      assert.equal(totalWords(docs), synthWords, `f=${f}: total words`)
      const real = docs.filter((d) => realById.has(d.id))
      const synth = docs.filter((d) => synthById.has(d.id))
      assert.equal(real.length + synth.length, docs.length, `f=${f}: every document comes from real or synthetic`)
      assert.equal(totalWords(real), Math.round(f * synthWords), `f=${f}: real words`)
      assert.equal(new Set(docs.map((d) => d.id)).size, docs.length, `f=${f}: no document twice`)
      // Each document is whole, or (at most one per source) cut at a word boundary.
      for (const [part, source] of [[real, realById], [synth, synthById]] as const) {
        let cut = 0
        for (const d of part) {
          const original = source.get(d.id)!
          if (d.text === original) continue
          cut++
          assert.ok(original.startsWith(d.text + " "), `f=${f}: ${d.id} is a word prefix of its source`)
        }
        assert.ok(cut <= 1, `f=${f}: at most one cut document per source`)
      }
    }
  })

  it("realFraction is seeded: the same seed gives the same corpus, another seed another choice of real documents", async () => {
    const result = await run(execute(mixPipeline([Mix.realFraction(0.5, 1), Mix.realFraction(0.5, 2)])))
    const a = await readDocs(hashOf(result, "mix0", "corpus"))
    const b = await readDocs(hashOf(result, "mix1", "corpus"))
    assert.notDeepEqual(a.map((d) => d.id), b.map((d) => d.id))
    const again = await run(execute(mixPipeline([Mix.realFraction(0.5, 1)])), join(dir, "other-store"))
    assert.equal(hashOf(again, "mix0", "corpus"), hashOf(result, "mix0", "corpus"))
  })
})

describe("Filter", () => {
  const docs: Doc[] = [
    { id: "d0", text: "the cat sat" }, // 3 words, no repeated n-gram
    { id: "d1", text: "the cat sat" }, // exact duplicate of d0
    { id: "d2", text: "a b a b a b" }, // 6 words; bigram repetition 1 - 2/5 = 0.6, 4-gram 1 - 2/3
    { id: "d3", text: "one" }, // 1 word
    { id: "d4", text: "one two three four five" }, // 5 words
    { id: "d5", text: "  the cat sat  " }, // same words as d0, not the same text
    { id: "d6", text: "x y z x y z x y" }, // 8 words; bigram repetition 1 - 3/7, 4-gram 1 - 3/5
    { id: "d7", text: "" }, // 0 words
    { id: "d8", text: "one" } // duplicate of d3
  ]
  const pick = (...ids: string[]) => docs.filter((d) => ids.includes(d.id))

  const filterPipeline = (stages: ReadonlyArray<ReturnType<typeof Filter.dedup>>) =>
    Pipeline.make("filter", (p) => {
      const corpus = p.add(Docs(docs), {}, { name: "docs" }).corpus
      stages.forEach((stage, i) => p.add(stage, { corpus }, { name: `f${i}` }))
    })

  it("dedup drops exact repeats of an earlier document's text, keeping the first, in order", async () => {
    const result = await run(execute(filterPipeline([Filter.dedup()])))
    assert.deepEqual(await readDocs(hashOf(result, "f0", "corpus")), pick("d0", "d2", "d3", "d4", "d5", "d6", "d7"))
  })

  it("length keeps documents of minWords..maxWords words, bounds included", async () => {
    const result = await run(execute(filterPipeline([
      Filter.length({ minWords: 3, maxWords: 5 }),
      Filter.length({ minWords: 6 }),
      Filter.length({ maxWords: 1 }),
      Filter.length({})
    ])))
    assert.deepEqual(await readDocs(hashOf(result, "f0", "corpus")), pick("d0", "d1", "d4", "d5"))
    assert.deepEqual(await readDocs(hashOf(result, "f1", "corpus")), pick("d2", "d6"))
    assert.deepEqual(await readDocs(hashOf(result, "f2", "corpus")), pick("d3", "d7", "d8"))
    assert.deepEqual(await readDocs(hashOf(result, "f3", "corpus")), docs)
  })

  it("repetition drops documents whose word n-gram repetition rate exceeds maxRate", async () => {
    const result = await run(execute(filterPipeline([
      Filter.repetition({ n: 2, maxRate: 0.5 }),
      Filter.repetition({ n: 2, maxRate: 0.58 }),
      Filter.repetition({ maxRate: 0.35 }), // n = 4: d2 at 1/3 stays, d6 at 2/5 goes
      Filter.repetition({ maxRate: 0 })
    ])))
    const all = docs.map((d) => d.id)
    const without = (...ids: string[]) => pick(...all.filter((id) => !ids.includes(id)))
    assert.deepEqual(await readDocs(hashOf(result, "f0", "corpus")), without("d2", "d6"))
    assert.deepEqual(await readDocs(hashOf(result, "f1", "corpus")), without("d2"))
    assert.deepEqual(await readDocs(hashOf(result, "f2", "corpus")), without("d6"))
    assert.deepEqual(await readDocs(hashOf(result, "f3", "corpus")), without("d2", "d6"))
  })

  it("the dedup of an already deduplicated corpus is byte-identical (early cutoff below it)", async () => {
    const result = await run(execute(Pipeline.make("twice", (p) => {
      const corpus = p.add(Docs(docs), {}, { name: "docs" }).corpus
      const once = p.add(Filter.dedup(), { corpus }, { name: "once" }).corpus
      p.add(Filter.dedup(), { corpus: once }, { name: "twice" })
    })))
    assert.equal(hashOf(result, "twice", "corpus"), hashOf(result, "once", "corpus"))
  })
})

describe("Tokenize, Train.ngram, Sample.text, Evaluate.lm", () => {
  const lmPipeline = (budget: number, o: { seed?: number; documents?: number; maxLength?: number } = {}) =>
    Pipeline.make("lm", (p) => {
      const real = p.add(Seed.corpus({ source: SHAKESPEARE, split: "paragraph", testFraction: 0.2, seed: 7 }), {})
      const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
      const { model } = p.add(Train.ngram({ order: 2 }), { corpus: real.train, tokenizer })
      const sample = p.add(
        Sample.text({
          documents: o.documents ?? 1000,
          maxLength: o.maxLength ?? 40,
          tokens: budget,
          seed: o.seed ?? 5
        }),
        { model, tokenizer }
      ).corpus
      p.add(Evaluate.lm({ selfBleuDocs: 10, selfBleuLength: 30 }), { model, tokenizer, test: real.test, sample })
    })

  it("Sample.text with a token budget gives exactly that many tokens; Evaluate.lm reports every metric", async () => {
    const result = await run(execute(lmPipeline(777)))
    const tokenizer = Tokenizer.decode(await readBlob(hashOf(result, "tokenize-fit", "tokenizer")))
    assert.equal(tokenizer.vocab[0], "<unk>")
    assert.equal(tokenizer.vocab[1], "<eos>")
    const sample = await readDocs(hashOf(result, "sample-text", "corpus"))
    const encoded = encodeDocuments(tokenizer, sample.map((d) => d.text))
    assert.equal(encoded.ids.length, 777)
    for (let i = 0; i < sample.length; i++) {
      assert.ok(encoded.offsets[i + 1] - encoded.offsets[i] <= 40, `document ${i} is within maxLength`)
    }
    assert.ok(sample.length <= 1000)
    assert.ok(
      sample.every((d, i) => d.id === `s5-${String(i).padStart(3, "0")}`),
      sample.slice(0, 3).map((d) => d.id).join(", ")
    )

    const metrics = Metrics.decode(await readBlob(hashOf(result, "evaluate-lm", "metrics"))).values
    assert.deepEqual(Object.keys(metrics).sort(), [
      "baseline_perplexity",
      "distinct_1",
      "distinct_2",
      "perplexity",
      "rep_4",
      "sample_tokens",
      "self_bleu",
      "unigram_entropy",
      "vocab_coverage"
    ])
    for (const [k, v] of Object.entries(metrics)) assert.ok(Number.isFinite(v), `${k} = ${v}`)
    assert.equal(metrics.baseline_perplexity, tokenizer.vocab.length)
    assert.equal(metrics.sample_tokens, 777)
    assert.ok(
      metrics.perplexity > 1 && metrics.perplexity < metrics.baseline_perplexity,
      `perplexity ${metrics.perplexity}`
    )
    for (const k of ["distinct_1", "distinct_2", "rep_4", "self_bleu", "vocab_coverage"]) {
      assert.ok(metrics[k] >= 0 && metrics[k] <= 1, `${k} = ${metrics[k]}`)
    }
    assert.ok(metrics.unigram_entropy > 0 && metrics.unigram_entropy <= Math.log2(tokenizer.vocab.length))
  })

  it("Sample.text without a budget gives `documents` documents of at most maxLength tokens; it is seeded", async () => {
    const result = await run(execute(lmPipeline(0, { documents: 7, maxLength: 12 })))
    const tokenizer = Tokenizer.decode(await readBlob(hashOf(result, "tokenize-fit", "tokenizer")))
    const sample = await readDocs(hashOf(result, "sample-text", "corpus"))
    assert.equal(sample.length, 7)
    assert.deepEqual(sample.map((d) => d.id), ["s5-0", "s5-1", "s5-2", "s5-3", "s5-4", "s5-5", "s5-6"])
    const encoded = encodeDocuments(tokenizer, sample.map((d) => d.text))
    for (let i = 0; i < 7; i++) assert.ok(encoded.offsets[i + 1] - encoded.offsets[i] <= 12)
    const other = await run(execute(lmPipeline(0, { documents: 7, maxLength: 12, seed: 6 })))
    assert.equal(other.nodes.find((n) => n.node.path === "train-ngram")!.status, "cached")
    assert.notEqual(hashOf(other, "sample-text", "corpus"), hashOf(result, "sample-text", "corpus"))
    const same = await run(execute(lmPipeline(0, { documents: 7, maxLength: 12 })), join(dir, "fresh"))
    assert.equal(hashOf(same, "sample-text", "corpus"), hashOf(result, "sample-text", "corpus"))
  })
})

describe("params validation", () => {
  const refuses = (build: (p: Pipeline.Builder) => void, re: RegExp) =>
    assert.throws(() => Pipeline.make("bad", build), (e: unknown) => e instanceof PipelineInvalid && re.test(e.message))
  const none = {} as never

  it("names the stage and the field path of a bad param", () => {
    refuses(
      (p) => p.add(Sample.text({ documents: 1, maxLength: 1, seed: 1, temperature: 0 }), none),
      /stage sample-text: invalid params for sample\/text: .* at \["temperature"\]/
    )
    refuses((p) => p.add(Sample.text({ documents: 1, maxLength: 1, seed: 1, topP: 0 }), none), /at \["topP"\]/)
    refuses((p) => p.add(Sample.text({ documents: 0, maxLength: 1, seed: 1 }), none), /at \["documents"\]/)
    refuses((p) => p.add(Sample.text({ documents: 1, maxLength: 1, seed: 2 ** 31 }), none), /at \["seed"\]/)
    refuses((p) => p.add(Mix.realFraction(1.5), none), /stage mix-real-fraction: .* at \["fraction"\]/)
    refuses((p) => p.add(Mix.accumulateSubsample(0), none), /at \["size"\]/)
    refuses((p) => p.add(Train.ngram({ order: 0 }), none), /stage train-ngram: .* at \["order"\]/)
    refuses((p) => p.add(Train.ngram({ order: 6 }), none), /at \["order"\]/)
    refuses(
      (p) => p.add(Train.ngram({ smoothing: { kind: "kneser-ney", discount: 1 } }), none),
      /at \["smoothing"\]\["discount"\]/
    )
    refuses((p) => p.add(Seed.corpus({ testFraction: 1 }), none), /stage seed-corpus: .* at \["testFraction"\]/)
    refuses((p) => p.add(Filter.repetition({ n: 9, maxRate: 0.5 }), none), /at \["n"\]/)
    refuses((p) => p.add(Filter.length({ maxWords: 0 }), none), /at \["maxWords"\]/)
    refuses((p) => p.add(Evaluate.lm({ selfBleuDocs: 1 }), none), /at \["selfBleuDocs"\]/)
    refuses((p) => p.add(Tokenize.words({ minCount: 0 }), none), /at \["minCount"\]/)
  })

  it("reports every bad field, and excess fields", () => {
    refuses((p) => p.add(Filter.repetition({ n: 9, maxRate: 2 }), none), /at \["n"\].*at \["maxRate"\]/)
    refuses(
      (p) => p.add(Sample.text({ documents: 1, maxLength: 1, seed: 1, extra: 1 } as never), none),
      /at \["extra"\]/
    )
  })
})
