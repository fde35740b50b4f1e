/**
 * Filters on a synthetic corpus, applied before mixing: exact duplicates, length, repetitiveness, and quality as a
 * verifier judges it (Filter.perplexity: the documents a reference model finds most likely).
 */
import { Schema } from "effect"
import { Corpus, Tokenizer } from "../artifact/artifacts.ts"
import { type Corpus as CorpusTable, type CorpusDocument, corpusDocuments, corpusFromDocuments } from "../artifact/corpus.ts"
import { Model, ngramOf } from "../artifact/model.ts"
import { crossEntropy } from "../lm/ngram.ts"
import { encodeDocuments } from "../lm/tokenizer.ts"
import { defineStage, type RunContext } from "../pipeline/stage.ts"
import { NonNegativeInt, orDefault, ownKeys, PositiveInt, Unit } from "./params.ts"
import { compute, wordCount } from "./util.ts"

const io = { inputs: { corpus: Corpus }, outputs: { corpus: Corpus } }

const keep = (ctx: RunContext, corpus: CorpusTable, pred: (d: CorpusDocument) => boolean) =>
  compute(ctx, () => {
    const { ids, texts } = corpusDocuments(corpus)
    const kept: CorpusDocument[] = []
    for (let i = 0; i < ids.length; i++) if (pred({ id: ids[i], text: texts[i] })) kept.push({ id: ids[i], text: texts[i] })
    return { corpus: corpusFromDocuments(kept) }
  })

/** 1 - distinct word n-grams / word n-grams of one text (0 when it has none). */
export const wordRepetition = (text: string, n: number): number => {
  const words = text.trim().split(/\s+/).filter((w) => w !== "")
  const total = words.length - n + 1
  if (total <= 0) return 0
  const seen = new Set<string>()
  for (let i = 0; i < total; i++) seen.add(words.slice(i, i + n).join(" "))
  return 1 - seen.size / total
}

const dedup = defineStage({
  kind: "filter/dedup",
  version: 1,
  params: Schema.Struct({}),
  ...io,
  run: (_p, { corpus }, ctx) => {
    const seen = new Set<string>()
    return keep(ctx, corpus, (d) => (seen.has(d.text) ? false : (seen.add(d.text), true)))
  }
})

const LengthParams = Schema.Struct({
  minWords: orDefault(NonNegativeInt, 0),
  maxWords: orDefault(PositiveInt, Number.MAX_SAFE_INTEGER)
})

const length = defineStage({
  kind: "filter/length",
  version: 1,
  params: LengthParams,
  ...io,
  run: (p, { corpus }, ctx) =>
    keep(ctx, corpus, (d) => {
      const n = wordCount(d.text)
      return n >= p.minWords && n <= p.maxWords
    })
})

const RepetitionParams = Schema.Struct({
  n: orDefault(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 8 })), 4),
  maxRate: Unit()
})

const repetition = defineStage({
  kind: "filter/repetition",
  version: 1,
  params: RepetitionParams,
  ...io,
  run: (p, { corpus }, ctx) => keep(ctx, corpus, (d) => wordRepetition(d.text, p.n) <= p.maxRate)
})

const PerplexityParams = Schema.Struct({
  /** The fraction of documents kept (at least one): those the reference model scores best. */
  keep: Unit({ exclusiveMinimum: true })
})

/**
 * Verification by a reference model (Feng et al. 2024; Drayson et al. 2025 weight by a detector instead): each
 * document is scored by the reference model's cross-entropy per token (its final <eos> included), and the
 * ceil(keep · documents) lowest are kept, in their original order (ties: the earlier document). The reference is
 * an n-gram model, e.g. one trained once on the real training text.
 */
const perplexityFilter = defineStage({
  kind: "filter/perplexity",
  version: 1,
  params: PerplexityParams,
  inputs: { corpus: Corpus, model: Model, tokenizer: Tokenizer },
  outputs: { corpus: Corpus },
  run: (p, { corpus, model, tokenizer }, ctx) =>
    compute(ctx, () => {
      const reference = ngramOf(model, ctx.kind)
      if (reference.config.vocabSize !== tokenizer.vocab.length) {
        throw new Error(`the reference model's vocabulary (${reference.config.vocabSize}) is not the tokenizer's (${tokenizer.vocab.length})`)
      }
      const { ids, texts } = corpusDocuments(corpus)
      const data = encodeDocuments(tokenizer, texts)
      const scores = new Float64Array(ids.length)
      for (let d = 0; d < ids.length; d++) {
        const one = { ids: data.ids.subarray(data.offsets[d], data.offsets[d + 1]), offsets: Int32Array.of(0, data.offsets[d + 1] - data.offsets[d]) }
        const { nll, tokens } = crossEntropy(reference, one)
        scores[d] = nll / tokens
      }
      const order = Array.from(ids, (_, d) => d).sort((a, b) => scores[a] - scores[b] || a - b)
      const kept = order.slice(0, Math.max(1, Math.ceil(p.keep * ids.length))).sort((a, b) => a - b)
      return { corpus: corpusFromDocuments(kept.map((d) => ({ id: ids[d], text: texts[d] }))) }
    })
})

export const Filter = {
  /** Drops documents whose text repeats an earlier document's exactly. */
  dedup: () => dedup({}),
  /** Keeps documents of minWords..maxWords whitespace-separated words. */
  length: (o: typeof LengthParams.Encoded) => length(ownKeys(o)),
  /** Drops documents whose word n-gram repetition rate exceeds maxRate. */
  repetition: (o: typeof RepetitionParams.Encoded) => repetition(ownKeys(o)),
  /**
   * Keeps the `keep` fraction of documents that a reference n-gram model scores best (lowest cross-entropy per
   * token); inputs: { corpus, model: the reference, tokenizer }.
   */
  perplexity: (o: typeof PerplexityParams.Encoded) => perplexityFilter(ownKeys(o))
}
