/**
 * Theory stages: the collapse of maximum-likelihood unigram and bigram models re-estimated each generation from N
 * of their own samples, predicted (src/theory) and simulated over seeds, on the first N tokens of a real corpus.
 * Their output is a set of curves for the report: prediction against the empirical mean and 95% band.
 */
import { Schema } from "effect"
import { Corpus, Curves, Tokenizer } from "../artifact/artifacts.ts"
import { corpusDocuments } from "../artifact/corpus.ts"
import { encodeDocuments } from "../lm/tokenizer.ts"
import { defineStage } from "../pipeline/stage.ts"
import type { TheoryCurve } from "../artifact/artifacts.ts"
import { bigramPrediction, simulateBigram } from "../theory/bigram.ts"
import { summarizeRuns } from "../theory/statistics.ts"
import { exactUnigramPrediction, simulateUnigram } from "../theory/wright-fisher.ts"
import { compute } from "./util.ts"

const TheoryParams = Schema.Struct({
  /** N: tokens taken from the start of the corpus, and sampled each generation. */
  tokens: Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: 1_000_000 })),
  generations: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })),
  /** Simulations with seeds 1..seeds. */
  seeds: Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: 1000 }))
})
type TheoryParams = typeof TheoryParams.Type

/** The first `n` tokens of the corpus, documents concatenated (no <eos>: the theory is about one stream). */
const firstTokens = (
  corpus: Parameters<typeof corpusDocuments>[0],
  tokenizer: Parameters<typeof encodeDocuments>[0],
  n: number
): number[] => {
  const { ids } = encodeDocuments(tokenizer, corpusDocuments(corpus).texts)
  if (ids.length < n) throw new Error(`the corpus has ${ids.length} tokens, fewer than the ${n} asked for`)
  return Array.from(ids.subarray(0, n))
}

const curve = (
  title: string,
  quantity: string,
  assumption: string,
  predicted: ReadonlyArray<number>,
  runs: ReadonlyArray<ReadonlyArray<number>>
): TheoryCurve => ({
  title,
  quantity,
  assumption,
  points: summarizeRuns(runs).map((s, g) => ({
    generation: g,
    predicted: predicted[g],
    mean: s.mean,
    lo: s.lo,
    hi: s.hi
  }))
})

const seedsOf = (p: TheoryParams) => Array.from({ length: p.seeds }, (_, i) => i + 1)

const unigram = defineStage({
  kind: "theory/unigram",
  version: 1,
  params: TheoryParams,
  inputs: { corpus: Corpus, tokenizer: Tokenizer },
  outputs: { curves: Curves },
  run: (p, { corpus, tokenizer }, ctx) =>
    compute(ctx, () => {
      const counts = new Map<number, number>()
      for (const t of firstTokens(corpus, tokenizer, p.tokens)) counts.set(t, (counts.get(t) ?? 0) + 1)
      const c = [...counts.values()]
      const exact = exactUnigramPrediction(c, p.generations)
      const runs = seedsOf(p).map((seed) => simulateUnigram(c, p.generations, seed))
      const assumption =
        "exact: each type's count is its own Binomial(N, c/N) Markov chain (Wright-Fisher), absorbed at 0"
      return {
        curves: [
          curve(
            "unigram: surviving types",
            "surviving types",
            assumption,
            exact.map((e) => e.expectedSurvivingTypes),
            runs.map((r) => r.map((x) => x.survivingTypes))
          ),
          curve(
            "unigram: entropy",
            "entropy (bits)",
            assumption,
            exact.map((e) => e.expectedEntropy),
            runs.map((r) => r.map((x) => x.entropy))
          )
        ]
      }
    })
})

const bigram = defineStage({
  kind: "theory/bigram",
  version: 1,
  params: TheoryParams,
  inputs: { corpus: Corpus, tokenizer: Tokenizer },
  outputs: { curves: Curves },
  run: (p, { corpus, tokenizer }, ctx) =>
    compute(ctx, () => {
      const tokens = firstTokens(corpus, tokenizer, p.tokens)
      const predicted = bigramPrediction(tokens, p.generations, "pooled")
      const runs = seedsOf(p).map((seed) => simulateBigram(tokens, p.generations, seed))
      const assumption = "approximate: a generation's N transitions taken as iid draws from the pair distribution " +
        "(no serial dependence), the chain's stationary law taken as its empirical one, start and restarts ignored"
      return {
        curves: [
          curve(
            "bigram: surviving bigram types",
            "surviving bigrams",
            assumption,
            predicted.map((e) => e.expectedSurvivingBigrams),
            runs.map((r) => r.map((x) => x.survivingBigrams))
          ),
          curve(
            "bigram: entropy rate",
            "entropy rate (bits/token)",
            assumption,
            predicted.map((e) => e.expectedEntropyRate),
            runs.map((r) => r.map((x) => x.entropyRate))
          )
        ]
      }
    })
})

export const Theory = {
  unigram: (o: typeof TheoryParams.Encoded) => unigram(o),
  bigram: (o: typeof TheoryParams.Encoded) => bigram(o)
}
