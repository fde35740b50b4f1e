/**
 * Mix: how each generation's training corpus is made from real and synthetic data. Every strategy takes the same
 * inputs (the real corpus, the previous generation's pool, this generation's synthetic corpus) and gives the
 * training corpus plus the pool the next generation accumulates on, so arms are a loop over strategies.
 *   replace             train on the synthetic corpus only (Wang et al., Shumailov et al.'s default)
 *   accumulate          train on real + all synthetic corpora so far (Gerstgrasser et al.)
 *   accumulateSubsample accumulate, then train on a fixed-size seeded subsample of the pool
 *   realFraction(f)     a corpus the size of the synthetic one in words, a fraction f of them real
 */
import { Schema } from "effect"
import { Corpus } from "../artifact/artifacts.ts"
import {
  type Corpus as CorpusTable,
  type CorpusDocument,
  corpusDocuments,
  corpusFromDocuments
} from "../artifact/corpus.ts"
import { defineStage, type Stage } from "../pipeline/stage.ts"
import { orDefaultIfUndefined, PositiveInt, Unit } from "./params.ts"
import { compute, firstWords, seededPermutation, wordCount } from "./util.ts"

const inputs = { real: Corpus, previous: Corpus, synthetic: Corpus }
const outputs = { corpus: Corpus, pool: Corpus }
export type MixStage = Stage<typeof inputs, typeof outputs>

const docsOf = (c: CorpusTable): CorpusDocument[] => {
  const { ids, texts } = corpusDocuments(c)
  return ids.map((id, i) => ({ id, text: texts[i] }))
}

/** Documents in seeded order until `budget` words; the last one is cut at a word boundary to meet it exactly. */
const takeWords = (docs: ReadonlyArray<CorpusDocument>, budget: number, seed: number): CorpusDocument[] => {
  const out: CorpusDocument[] = []
  let left = budget
  for (const i of seededPermutation(docs.length, seed)) {
    if (left <= 0) break
    const d = docs[i]
    const n = wordCount(d.text)
    if (n <= left) out.push(d)
    else out.push({ id: d.id, text: firstWords(d.text, left) })
    left -= n
  }
  return out
}

const replace = defineStage({
  kind: "mix/replace",
  version: 1,
  params: Schema.Struct({}),
  inputs,
  outputs,
  run: (_p, { synthetic }, ctx) => compute(ctx, () => ({ corpus: synthetic, pool: synthetic }))
})

const accumulate = defineStage({
  kind: "mix/accumulate",
  version: 1,
  params: Schema.Struct({}),
  inputs,
  outputs,
  run: (_p, { previous, synthetic }, ctx) =>
    compute(ctx, () => {
      const pool = corpusFromDocuments([...docsOf(previous), ...docsOf(synthetic)])
      return { corpus: pool, pool }
    })
})

const accumulateSubsample = defineStage({
  kind: "mix/accumulate-subsample",
  version: 1,
  params: Schema.Struct({
    /** Documents in each generation's training corpus (words, with unit "words"). */
    size: PositiveInt,
    seed: orDefaultIfUndefined(Schema.Int, 0),
    /**
     * "words": draw documents in seeded order until `size` words, the last one cut (a training corpus of a fixed
     * size whatever its documents' lengths). Left out: `size` documents, as before the field existed.
     */
    unit: Schema.optionalKey(Schema.Literals(["documents", "words"]))
  }),
  inputs,
  outputs,
  run: (p, { previous, synthetic }, ctx) =>
    compute(ctx, () => {
      const all = [...docsOf(previous), ...docsOf(synthetic)]
      if (p.unit === "words") {
        const chosen = takeWords(all, p.size, p.seed)
        // in the pool's order, so the corpus does not depend on the draw's order
        const rank = new Map(all.map((d, i) => [d.id, i]))
        chosen.sort((a, b) => rank.get(a.id)! - rank.get(b.id)!)
        return { corpus: corpusFromDocuments(chosen), pool: corpusFromDocuments(all) }
      }
      const order = seededPermutation(all.length, p.seed)
      const chosen = Array.from(order.subarray(0, Math.min(p.size, all.length))).sort((a, b) => a - b)
      return { corpus: corpusFromDocuments(chosen.map((i) => all[i])), pool: corpusFromDocuments(all) }
    })
})

const realFraction = defineStage({
  kind: "mix/real-fraction",
  version: 1,
  params: Schema.Struct({
    fraction: Unit(),
    seed: orDefaultIfUndefined(Schema.Int, 0)
  }),
  inputs,
  outputs,
  run: (p, { real, synthetic }, ctx) =>
    compute(ctx, () => {
      const synth = docsOf(synthetic)
      const total = synth.reduce((n, d) => n + wordCount(d.text), 0)
      const realWords = Math.round(p.fraction * total)
      const available = docsOf(real).reduce((n, d) => n + wordCount(d.text), 0)
      if (available < realWords) {
        throw new Error(
          `the real corpus has ${available} words, fewer than the ${realWords} that fraction ${p.fraction} of ${total} needs`
        )
      }
      const corpus = corpusFromDocuments([
        ...takeWords(docsOf(real), realWords, p.seed),
        ...takeWords(synth, total - realWords, p.seed + 1)
      ])
      return { corpus, pool: corpus }
    })
})

export const Mix = {
  replace: (): MixStage => replace({}),
  accumulate: (): MixStage => accumulate({}),
  accumulateSubsample: (size: number, seed?: number, unit?: "documents" | "words"): MixStage =>
    accumulateSubsample(unit === undefined ? { size, seed } : { size, seed, unit }),
  realFraction: (fraction: number, seed?: number): MixStage => realFraction({ fraction, seed })
}
