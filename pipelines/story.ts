/**
 * The main job (`npm start`): the whole collapse story on the State of the Union addresses, five regimes over three
 * seeds, with an exact Kneser-Ney trigram model (word tokens) trained from scratch every generation.
 *   replace               train only on the previous generation's sample (Wang et al. 2024): collapses
 *   accumulate            real text + every sample so far (Gerstgrasser et al. 2024): stays put
 *   accumulate-subsample  a fixed number of documents drawn from real + every sample so far (Kazdan et al. 2024,
 *                         Wang et al. v3): degrades, slowly
 *   real-fraction         10% real words in every generation's corpus (Shumailov et al. 2024): slows collapse
 *   quality               replace, but the sample is four times as large and a verifier keeps the quarter of its
 *                         documents that a reference model (trained once on the real training text) finds as
 *                         surprising as real text (Filter.typical; Feng et al. 2024 verify synthetic data)
 * Every generation samples SAMPLE_TOKENS tokens at temperature 0.8 and is scored on the held-out real addresses
 * against the untrained model (uniform over the vocabulary), with its sample's diversity and repetition.
 * README.md ("The main job") says why each number is what it is.
 */
import { Evaluate, Filter, Mix, type MixStage, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"

export const GENERATIONS = 8
export const SEEDS = [1, 2, 3]
/** Tokens each generation samples (the quality arm samples QUALITY_POOL times as many and keeps that share back). */
export const SAMPLE_TOKENS = 100_000
const QUALITY_POOL = 4
/** Below 1, each generation's sample under-represents its model's tail: what makes text grow repetitive. */
const TEMPERATURE = 0.8
/** Tokens a sampled document has at most: short enough that a verifier has documents to choose among. */
const DOCUMENT_TOKENS = 300
/** The real training addresses' size in words: accumulate-subsample trains on that many words drawn from the pool. */
const SUBSAMPLE_WORDS = 1_513_002

const ARMS: Record<string, (seed: number, g: number) => MixStage> = {
  replace: () => Mix.replace(),
  accumulate: () => Mix.accumulate(),
  "accumulate-subsample": (seed, g) => Mix.accumulateSubsample(SUBSAMPLE_WORDS, seed * 1000 + g, "words"),
  "real-fraction": (seed) => Mix.realFraction(0.1, seed),
  quality: () => Mix.replace()
}

export default Pipeline.make("collapse-story", (p) => {
  const real = p.add(Seed.corpus({ source: "sotu", testFraction: 0.1, seed: 1 }))
  const { tokenizer } = p.add(Tokenize.words({ minCount: 2 }), { corpus: real.train })
  // The verifier's reference: trained once on the real training text (the same key as every arm's generation 1).
  const reference = p.scope(
    { arm: "reference" },
    (r) => r.add(Train.ngram({ order: 3 }), { corpus: real.train, tokenizer }).model
  )
  for (const [arm, mix] of Object.entries(ARMS)) {
    p.scope(
      { arm },
      (a) =>
        a.seeds(SEEDS, (s, seed) =>
          s.generations(GENERATIONS, { corpus: real.train, pool: real.train }, (g, prev) => {
            const { model } = g.add(Train.ngram({ order: 3 }), { corpus: prev.corpus, tokenizer })
            const quality = arm === "quality"
            const tokens = quality ? QUALITY_POOL * SAMPLE_TOKENS : SAMPLE_TOKENS
            let synthetic = g.add(
              Sample.text({
                documents: 100_000,
                maxLength: DOCUMENT_TOKENS,
                tokens,
                temperature: TEMPERATURE,
                seed: seed * 1000 + g.index
              }),
              { model, tokenizer }
            ).corpus
            if (quality) {
              synthetic = g.add(Filter.typical({ keep: 1 / QUALITY_POOL }), {
                corpus: synthetic,
                model: reference,
                tokenizer,
                heldout: real.test
              }).corpus
            }
            g.add(Evaluate.lm({ repetition: true }), { model, tokenizer, test: real.test, sample: synthetic })
            return g.add(mix(seed, g.index), { real: real.train, previous: prev.pool, synthetic })
          }))
    )
  }
})
