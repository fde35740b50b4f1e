/**
 * Neural LM stages: Train.transformer / Train.lstm, Sample.neural, Evaluate.neural and Evaluate.perplexity.
 * This module holds only their wiring; their params Schemas (defaults included) are in neural-params.ts, and the
 * computing code (and TF.js) is imported when a stage runs (neural-run.ts), so planning and cached runs never load it.
 *
 * Every stage here computes with TF.js, so its key includes the planned backend and the computing packages'
 * versions (lm/neural/backend-plan.ts): installing tfjs-node reruns them, as it changes their bits.
 */
import type { Schema } from "effect"
import { Corpus, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { Model } from "../artifact/model.ts"
import { backendEnv } from "../lm/neural/backend-plan.ts"
import { defineStage, type Stage } from "../pipeline/stage.ts"
import { EvaluateParams, LstmParams, PerplexityParams, SampleParams, TransformerParams } from "./neural-params.ts"
import { ownKeys } from "./params.ts"
import { computeAsync } from "./util.ts"

const run = () => import("./neural-run.ts")

const TRAIN_INPUTS = { corpus: Corpus, tokenizer: Tokenizer }
const CONTINUE_INPUTS = { ...TRAIN_INPUTS, previous: Model }

const trainStages = <P extends typeof TransformerParams.Type | typeof LstmParams.Type>(
  family: "transformer" | "lstm",
  params: Schema.Codec<P, unknown>
) => {
  // The same stage with or without a `previous` model input (from: "previous" continues it).
  const define = <I extends typeof TRAIN_INPUTS | typeof CONTINUE_INPUTS>(inputs: I) =>
    defineStage({
      kind: `train/${family}`,
      version: 1,
      params,
      env: backendEnv,
      inputs,
      outputs: { model: Model },
      run: (p, resolved, ctx) =>
        computeAsync(ctx, async () => ({ model: await (await run()).train(family, p, resolved, ctx) }))
    })
  return { scratch: define(TRAIN_INPUTS), previous: define(CONTINUE_INPUTS) }
}

const transformerStages = trainStages("transformer", TransformerParams)
const lstmStages = trainStages("lstm", LstmParams)

type TrainInputs = typeof TRAIN_INPUTS
type ContinueInputs = typeof CONTINUE_INPUTS
type Outputs = { readonly model: typeof Model }

/** Train.transformer / Train.lstm: the Schema's encoded params; `from: "previous"` adds a `previous` model input. */
interface TrainConstructor<E> {
  (o?: Omit<E, "from"> & { readonly from?: "scratch" }): Stage<TrainInputs, Outputs>
  (o: Omit<E, "from"> & { readonly from: "previous" }): Stage<ContinueInputs, Outputs>
}

const constructor = <E extends { readonly from?: "scratch" | "previous" }>(
  stages: {
    readonly scratch: (raw: unknown) => Stage<TrainInputs, Outputs>
    readonly previous: (raw: unknown) => Stage<ContinueInputs, Outputs>
  }
): TrainConstructor<E> =>
  ((o?: E) => (o?.from === "previous" ? stages.previous(ownKeys(o)) : stages.scratch(ownKeys(o)))) as TrainConstructor<
    E
  >

export const TrainNeural = {
  /**
   * A GPT-style transformer trained with AdamW on the corpus's token stream (documents joined by <eos>).
   * Defaults: 2 layers, dModel 64, 4 heads, context 64; batch 32, 300 steps, lr 3e-3 with 20 warmup steps and a
   * cosine decay; 5% held out for the validation loss; 2 shards. `from: "previous"` adds a `previous` model input.
   */
  transformer: constructor<typeof TransformerParams.Encoded>(transformerStages),
  /** An LSTM for comparison (one thread). Defaults: 1 layer, embed 64, hidden 128, context 64. */
  lstm: constructor<typeof LstmParams.Encoded>(lstmStages)
}

const sampleNeural = defineStage({
  kind: "sample/neural",
  version: 1,
  params: SampleParams,
  env: backendEnv,
  inputs: { model: Model, tokenizer: Tokenizer },
  outputs: { corpus: Corpus },
  run: (p, inputs, ctx) => computeAsync(ctx, async () => ({ corpus: await (await run()).sample(p, inputs, ctx) }))
})

export const SampleNeural = {
  /**
   * Documents from a neural model, each begun after an <eos> as in training, ended by <eos> or maxLength.
   * Defaults: pure sampling (temperature 1, no top-k/top-p, no penalty), 32 rows.
   */
  neural: (o: typeof SampleParams.Encoded) => sampleNeural(ownKeys(o))
}

const evaluatePerplexity = defineStage({
  kind: "evaluate/perplexity",
  version: 1,
  params: PerplexityParams,
  env: backendEnv,
  inputs: { model: Model, tokenizer: Tokenizer, test: Corpus },
  outputs: { metrics: Metrics },
  run: (p, inputs, ctx) => computeAsync(ctx, async () => ({ metrics: await (await run()).perplexity(p, inputs, ctx) }))
})

const evaluateNeural = defineStage({
  kind: "evaluate/neural",
  version: 1,
  params: EvaluateParams,
  env: backendEnv,
  inputs: { model: Model, baseline: Metrics, tokenizer: Tokenizer, test: Corpus, sample: Corpus },
  outputs: { metrics: Metrics },
  run: (p, inputs, ctx) => computeAsync(ctx, async () => ({ metrics: await (await run()).evaluate(p, inputs, ctx) }))
})

export const EvaluateNeural = {
  /** Sliding-window perplexity on real text (used for the untrained baseline: evaluate it once, outside generations). */
  perplexity: (o?: typeof PerplexityParams.Encoded) => evaluatePerplexity(ownKeys(o)),
  /**
   * Perplexity on real text as `perplexity`, the `baseline` metrics' perplexity as baseline_perplexity, and the
   * sample's diversity (distinct-n, rep-4, self-BLEU, entropy, coverage of the test text's words), on words.
   */
  neural: (o?: typeof EvaluateParams.Encoded) => evaluateNeural(ownKeys(o))
}
