/** The diversity figures every Evaluate stage reports for a synthetic sample, in one place. */
import { distinctN, repN, unigramEntropy, vocabCoverage } from "./diversity.ts"
import { selfBleu } from "./selfBleu.ts"

export interface SampleDiversityOptions {
  /** Self-BLEU is quadratic in documents: computed on the first `selfBleuDocs`, each cut to `selfBleuLength` tokens. */
  readonly selfBleuDocs: number
  readonly selfBleuLength: number
}

/** distinct-1/2, rep-4, self-BLEU (4-grams), unigram entropy and coverage of `vocabulary`, over token-id documents. */
export const sampleDiversity = (
  docs: ReadonlyArray<Int32Array>,
  vocabulary: ReadonlyArray<Int32Array>,
  o: SampleDiversityOptions
): Record<string, number> => ({
  distinct_1: distinctN(docs, 1),
  distinct_2: distinctN(docs, 2),
  rep_4: repN(docs, 4),
  self_bleu: selfBleu(docs, { n: 4, maxDocs: o.selfBleuDocs, maxLength: o.selfBleuLength }),
  unigram_entropy: unigramEntropy(docs),
  vocab_coverage: vocabCoverage(docs, vocabulary)
})
