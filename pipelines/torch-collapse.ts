/**
 * Replace against accumulate with the GPT trained by PyTorch (Train.torch, python/ouro_gpt.py): the neural
 * experiment of pipelines/neural.ts at a size for CI (a minute or two on a CPU): 30 State of the Union addresses,
 * a character-level GPT (2 layers, dModel 64, 4 heads, context 64), 3 generations. Sampling and evaluation are
 * ouroboros's own TypeScript stages (Sample.neural, Evaluate.neural), reading the torch-trained models unchanged.
 * Needs `pip install torch pyarrow` (README "Your own model").
 */
import { Evaluate, Mix, type MixStage, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"

const ARMS: Record<string, () => MixStage> = {
  replace: () => Mix.replace(),
  accumulate: () => Mix.accumulate()
}

const MODEL = { layers: 2, dModel: 64, heads: 4, context: 64 }
const TRAINING = {
  model: MODEL,
  steps: 150,
  batch: 16,
  shards: 1,
  validation: { fraction: 0.02, every: 50, batches: 2 }
}
const SAMPLE_TOKENS = 20_000
const EVALUATION = { maxTokens: 20_000, selfBleuDocs: 20 }

export default Pipeline.make("torch-collapse", (p) => {
  const real = p.add(Seed.corpus({ source: "sotu", testFraction: 0.1, seed: 1, maxDocuments: 30 }))
  const { tokenizer } = p.add(Tokenize.chars({ lowercase: true, minCount: 50 }), { corpus: real.train })
  const baseline = p.scope({ arm: "untrained" }, (u) => {
    const { model } = u.add(Train.torch({ ...TRAINING, steps: 0 }), { corpus: real.train, tokenizer })
    return u.add(Evaluate.perplexity({ maxTokens: EVALUATION.maxTokens }), { model, tokenizer, test: real.test })
  })
  for (const arm of Object.keys(ARMS)) {
    p.scope({ arm }, (a) =>
      a.generations(3, { corpus: real.train, pool: real.train }, (g, prev) => {
        const { model } = g.add(Train.torch({ ...TRAINING, seed: g.index }), { corpus: prev.corpus, tokenizer })
        const synthetic = g.add(
          Sample.neural({ documents: 1_000, maxLength: 1_000, tokens: SAMPLE_TOKENS, seed: g.index }),
          { model, tokenizer }
        ).corpus
        g.add(Evaluate.neural(EVALUATION), {
          model,
          baseline: baseline.metrics,
          tokenizer,
          test: real.test,
          sample: synthetic
        })
        return g.add(ARMS[arm](), { real: real.train, previous: prev.pool, synthetic })
      }))
  }
})
