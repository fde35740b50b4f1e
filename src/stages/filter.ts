/** Filters on a synthetic corpus, applied before mixing: exact duplicates, length, repetitiveness. */
import { Schema } from "effect"
import { Corpus } from "../artifact/artifacts.ts"
import { type Corpus as CorpusTable, type CorpusDocument, corpusDocuments, corpusFromDocuments } from "../artifact/corpus.ts"
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

export const Filter = {
  /** Drops documents whose text repeats an earlier document's exactly. */
  dedup: () => dedup({}),
  /** Keeps documents of minWords..maxWords whitespace-separated words. */
  length: (o: typeof LengthParams.Encoded) => length(ownKeys(o)),
  /** Drops documents whose word n-gram repetition rate exceeds maxRate. */
  repetition: (o: typeof RepetitionParams.Encoded) => repetition(ownKeys(o))
}
