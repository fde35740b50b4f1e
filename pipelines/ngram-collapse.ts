/**
 * Model collapse with an exact n-gram model (Wang et al. 2024's setting with a model whose training is exact):
 * each generation trains a Kneser-Ney trigram model on the previous generation's corpus, samples a synthetic
 * corpus from it, and evaluates on held-out real text. Three arms over three seeds:
 *   replace        train on the last synthetic corpus only: collapses
 *   accumulate     train on real + every synthetic corpus so far (Gerstgrasser et al. 2024): does not
 *   real-fraction  10% real data in every generation (Shumailov et al. 2024): collapses more slowly
 * plus the theory check of pipelines/theory-unigram.ts, so that one report tells the whole story.
 */
import { Evaluate, Mix, type MixStage, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"
import { addTheory } from "./theory-unigram.ts"

const GENERATIONS = 10
const SEEDS = [1, 2, 3]
const ARMS: Record<string, (seed: number) => MixStage> = {
  replace: () => Mix.replace(),
  accumulate: () => Mix.accumulate(),
  "real-fraction": (seed) => Mix.realFraction(0.1, seed)
}

export default Pipeline.make("ngram-collapse", (p) => {
  const real = p.add(Seed.corpus({ source: "sotu", testFraction: 0.1, seed: 1 }))
  const { tokenizer } = p.add(Tokenize.words({ minCount: 2 }), { corpus: real.train })
  for (const [arm, mix] of Object.entries(ARMS)) {
    p.scope(
      { arm },
      (a) =>
        a.seeds(SEEDS, (s, seed) =>
          s.generations(GENERATIONS, { corpus: real.train, pool: real.train }, (g, prev) => {
            const { model } = g.add(Train.ngram({ order: 3 }), { corpus: prev.corpus, tokenizer })
            const synthetic = g.add(
              Sample.text({ documents: 10_000, maxLength: 20_000, tokens: 400_000, seed: seed * 1000 + g.index }),
              { model, tokenizer }
            ).corpus
            g.add(Evaluate.lm(), { model, tokenizer, test: real.test, sample: synthetic })
            return g.add(mix(seed), { real: real.train, previous: prev.pool, synthetic })
          }))
    )
  }
  addTheory(p, real.train, tokenizer)
})
