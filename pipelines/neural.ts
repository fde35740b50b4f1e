/**
 * The neural model-collapse experiment of Wang et al. 2024 on the State of the Union addresses, as a function of its
 * arms, so that each pipeline file in this folder is one line of ablation:
 *   - a character-level GPT (2 layers, dModel 64, 4 heads, context 64) is trained from scratch every generation
 *     on the previous generation's training corpus (generation 1: the real training text);
 *   - it samples a synthetic corpus of a fixed number of characters, by pure ancestral sampling (temperature 1, no
 *     top-k/top-p), as the seed paper does;
 *   - its perplexity on the held-out real addresses is measured against the same architecture untrained (the
 *     random-init baseline, evaluated once), with the sample's diversity;
 *   - the arm's mix makes the next training corpus from the real text, the pool so far and the new sample.
 * Arms that share a prefix (every arm's generation 1, the tokenizer, the baseline) share its cached stages.
 */
import {
  type ArtifactType,
  type Builder,
  Corpus,
  Evaluate,
  type Generation,
  Mix,
  type MixStage,
  Model,
  Pipeline,
  type Ref,
  Sample,
  Seed,
  Tokenize,
  Tokenizer,
  Train
} from "ouroboros"

export const ARMS: Record<string, () => MixStage> = {
  /** The seed paper's regime: each generation trains only on the last one's samples. */
  replace: () => Mix.replace(),
  /** Gerstgrasser et al. 2024: real data plus every synthetic corpus so far. */
  accumulate: () => Mix.accumulate(),
  /** Shumailov et al. 2024: 10% real text in every generation's training corpus. */
  "real-fraction": () => Mix.realFraction(0.1, 1)
}

export interface NeuralExperiment {
  readonly arms: ReadonlyArray<keyof typeof ARMS>
  readonly generations: number
  /**
   * Seeds of the training and sampling streams, each in a scope tagged `seed` (bands over seeds). Left out: one
   * run whose streams are seeded by the generation alone, as pipelines/neural-collapse.ts has always been.
   */
  readonly seeds?: ReadonlyArray<number>
  /** Evaluate.neural's opt-in repetition measures (word rep-4, repeated 3-grams, compression ratio). */
  readonly repetition?: boolean
  /**
   * More nodes on the same experiment (pipelines/downstream.ts: probes): called once with the shared refs, beside
   * the baseline; what it returns is called in every generation of every arm with that generation's model. Left
   * out, the pipeline is exactly as before; given, the experiment's own nodes (and keys) are unchanged.
   */
  readonly extend?: NeuralExtension
}

type RefOf<T> = T extends ArtifactType<infer A> ? Ref<A> : never

/** What an extension sees of the experiment. */
export interface NeuralShared {
  readonly real: { readonly train: RefOf<typeof Corpus>; readonly test: RefOf<typeof Corpus> }
  readonly tokenizer: RefOf<typeof Tokenizer>
  /** The untrained model of the same architecture (Train.transformer with steps: 0), trained once. */
  readonly untrained: RefOf<typeof Model>
}

export type NeuralExtension = (
  p: Builder,
  shared: NeuralShared
) => (g: Generation, model: RefOf<typeof Model>) => void

const MODEL = { layers: 2, dModel: 64, heads: 4, context: 64 }
/** Every generation's model: the same recipe, from scratch; its seed is the generation's. */
const TRAINING = {
  model: MODEL,
  steps: 250,
  batch: 32,
  shards: 1,
  validation: { fraction: 0.02, every: 50, batches: 2 }
}
/** Characters sampled per generation: the synthetic corpus a replace-arm model learns from. */
const SAMPLE_TOKENS = 50_000

export const neuralCollapse = (name: string, o: NeuralExperiment) =>
  Pipeline.make(name, (p) => {
    const real = p.add(Seed.corpus({ source: "sotu", testFraction: 0.1, seed: 1 }))
    // Lowercased characters seen at least 100 times; the rest map to <unk>.
    const { tokenizer } = p.add(Tokenize.chars({ lowercase: true, minCount: 100 }), { corpus: real.train })
    // The random-init baseline: the same architecture untrained, evaluated once for every arm and generation.
    const baseline = p.scope({ arm: "untrained" }, (u) => {
      const { model } = u.add(Train.transformer({ ...TRAINING, steps: 0 }), { corpus: real.train, tokenizer })
      return { model, ...u.add(Evaluate.perplexity(), { model, tokenizer, test: real.test }) }
    })
    const extension = o.extend?.(p, { real, tokenizer, untrained: baseline.model })
    for (const arm of o.arms) {
      p.scope({ arm }, (a) => {
        const chain = (b: typeof a, seed: number | undefined) =>
          b.generations(o.generations, { corpus: real.train, pool: real.train }, (g, prev) => {
            const stream = seed === undefined ? g.index : seed * 1000 + g.index
            const { model } = g.add(Train.transformer({ ...TRAINING, seed: stream }), {
              corpus: prev.corpus,
              tokenizer
            })
            const synthetic = g.add(
              Sample.neural({ documents: 10_000, maxLength: 2_000, tokens: SAMPLE_TOKENS, seed: stream }),
              { model, tokenizer }
            ).corpus
            g.add(Evaluate.neural(o.repetition === true ? { repetition: true } : {}), {
              model,
              baseline: baseline.metrics,
              tokenizer,
              test: real.test,
              sample: synthetic
            })
            extension?.(g, model)
            return g.add(ARMS[arm](), { real: real.train, previous: prev.pool, synthetic })
          })
        if (o.seeds === undefined) chain(a, undefined)
        else a.seeds(o.seeds, (s, seed) => chain(s, seed))
      })
    }
  })
