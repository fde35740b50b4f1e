/**
 * Filters on a synthetic corpus, applied before mixing: exact duplicates, length, repetitiveness, and quality as a
 * verifier judges it (Filter.perplexity: the documents a reference model finds most likely).
 */
import { Schema } from "effect"
import { Corpus, Tokenizer } from "../artifact/artifacts.ts"
import {
  type Corpus as CorpusTable,
  type CorpusDocument,
  corpusDocuments,
  corpusFromDocuments
} from "../artifact/corpus.ts"
import { Model, ngramOf } from "../artifact/model.ts"
import { crossEntropy, type NgramModel } from "../lm/ngram.ts"
import { encodeDocuments, type TokenizerSpec } from "../lm/tokenizer.ts"
import { defineStage, type RunContext } from "../pipeline/stage.ts"
import { NonNegativeInt, orDefault, ownKeys, PositiveInt, Unit } from "./params.ts"
import { compute, wordCount } from "./util.ts"

const io = { inputs: { corpus: Corpus }, outputs: { corpus: Corpus } }

const keep = (ctx: RunContext, corpus: CorpusTable, pred: (d: CorpusDocument) => boolean) =>
  compute(ctx, () => {
    const { ids, texts } = corpusDocuments(corpus)
    const kept: CorpusDocument[] = []
    for (let i = 0; i < ids.length; i++) {
      if (pred({ id: ids[i], text: texts[i] })) kept.push({ id: ids[i], text: texts[i] })
    }
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

/** Each document's cross-entropy per token (its final <eos> included) under an n-gram model. */
const documentCrossEntropies = (
  reference: NgramModel,
  tokenizer: TokenizerSpec,
  texts: ReadonlyArray<string>
): Float64Array => {
  if (reference.config.vocabSize !== tokenizer.vocab.length) {
    throw new Error(
      `the reference model's vocabulary (${reference.config.vocabSize}) is not the tokenizer's (${tokenizer.vocab.length})`
    )
  }
  const data = encodeDocuments(tokenizer, texts)
  const scores = new Float64Array(texts.length)
  for (let d = 0; d < texts.length; d++) {
    const one = {
      ids: data.ids.subarray(data.offsets[d], data.offsets[d + 1]),
      offsets: Int32Array.of(0, data.offsets[d + 1] - data.offsets[d])
    }
    const { nll, tokens } = crossEntropy(reference, one)
    scores[d] = nll / tokens
  }
  return scores
}

/** The ceil(keep · n) documents of lowest score (at least one), in their original order; ties: the earlier one. */
const keepLowest = (corpus: CorpusTable, scores: Float64Array, keep: number): CorpusTable => {
  const { ids, texts } = corpusDocuments(corpus)
  const order = Array.from(ids, (_, d) => d).sort((a, b) => scores[a] - scores[b] || a - b)
  const kept = order.slice(0, Math.max(1, Math.ceil(keep * ids.length))).sort((a, b) => a - b)
  return corpusFromDocuments(kept.map((d) => ({ id: ids[d], text: texts[d] })))
}

/**
 * Verification by a reference model (Feng et al. 2024): each document is scored by the reference model's
 * cross-entropy per token, and the `keep` fraction that scores lowest is kept. The reference is an n-gram model,
 * e.g. one trained once on the real training text. Beware: below temperature 1 the most likely documents are the
 * most repetitive ones, so this filter speeds collapse up (measured: README, "The main job").
 */
const perplexityFilter = defineStage({
  kind: "filter/perplexity",
  version: 1,
  params: PerplexityParams,
  inputs: { corpus: Corpus, model: Model, tokenizer: Tokenizer },
  outputs: { corpus: Corpus },
  run: (p, { corpus, model, tokenizer }, ctx) =>
    compute(ctx, () => {
      const scores = documentCrossEntropies(ngramOf(model, ctx.kind), tokenizer, corpusDocuments(corpus).texts)
      return { corpus: keepLowest(corpus, scores, p.keep) }
    })
})

/**
 * A typicality verifier: keeps the `keep` fraction of documents whose cross-entropy per token under the reference
 * model is closest to the reference's cross-entropy on held-out real text, i.e. documents that surprise a model of
 * real text as much as real text does; neither the too-predictable (repetitive) nor the too-surprising (garbled).
 * The held-out corpus gives one number, the target; the documents' order is kept.
 */
const typicalFilter = defineStage({
  kind: "filter/typical",
  version: 1,
  params: PerplexityParams,
  inputs: { corpus: Corpus, model: Model, tokenizer: Tokenizer, heldout: Corpus },
  outputs: { corpus: Corpus },
  run: (p, { corpus, model, tokenizer, heldout }, ctx) =>
    compute(ctx, () => {
      const reference = ngramOf(model, ctx.kind)
      const real = encodeDocuments(tokenizer, corpusDocuments(heldout).texts)
      if (real.offsets.length < 2) throw new Error("the held-out corpus has no documents: the target is undefined")
      const target = crossEntropy(reference, real)
      const goal = target.nll / target.tokens
      const scores = documentCrossEntropies(reference, tokenizer, corpusDocuments(corpus).texts).map((h) =>
        Math.abs(h - goal)
      )
      return { corpus: keepLowest(corpus, scores, p.keep) }
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
  perplexity: (o: typeof PerplexityParams.Encoded) => perplexityFilter(ownKeys(o)),
  /**
   * Keeps the `keep` fraction of documents whose cross-entropy under a reference n-gram model is closest to the
   * reference's on held-out real text; inputs: { corpus, model: the reference, tokenizer, heldout }.
   */
  typical: (o: typeof PerplexityParams.Encoded) => typicalFilter(ownKeys(o))
}
