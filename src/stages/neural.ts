/**
 * Neural LM stages: Train.transformer / Train.lstm, Sample.neural, Evaluate.neural and Evaluate.perplexity.
 * This module holds only their Schemas and wiring; the computing code (and TF.js) is imported when a stage runs
 * (neural-run.ts), so planning and cached runs never load it.
 *
 * Every stage here computes with TF.js, so its key includes the planned backend and the computing packages'
 * versions (lm/backend-plan.ts): installing tfjs-node reruns them, as it changes their bits.
 */
import { Schema } from "effect"
import { Corpus, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { Model } from "../artifact/model.ts"
import { backendEnv } from "../lm/backend-plan.ts"
import { defineStage, type Stage } from "../pipeline/stage.ts"
import { computeAsync } from "./util.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Unit = (o: { readonly exclusiveMinimum?: boolean; readonly exclusiveMaximum?: boolean }) =>
  Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, ...o }))

const TransformerShape = Schema.Struct({
  layers: PositiveInt,
  dModel: PositiveInt,
  heads: PositiveInt,
  /** Longest sequence the model sees (learned positions 0..context-1). */
  context: PositiveInt
}).check(Schema.makeFilter((m) =>
  m.dModel % m.heads === 0 ? undefined : { path: ["heads"], issue: `heads (${m.heads}) must divide dModel (${m.dModel})` }
))

const LstmShape = Schema.Struct({
  layers: PositiveInt,
  embed: PositiveInt,
  hidden: PositiveInt,
  /** Truncated-backpropagation window, and the evaluation window. */
  context: PositiveInt
})

const Optimizer = Schema.Struct({
  lr: Schema.Finite.check(Schema.isGreaterThan(0)),
  beta1: Unit({ exclusiveMaximum: true }),
  beta2: Unit({ exclusiveMaximum: true }),
  eps: Schema.Finite.check(Schema.isGreaterThan(0)),
  weightDecay: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  warmup: NonNegativeInt,
  schedule: Schema.Literals(["cosine", "constant"]),
  minLrFraction: Unit({})
})

const Validation = Schema.Struct({
  /** The last `fraction` of the training stream is held out (0 = no validation loss). */
  fraction: Unit({ exclusiveMaximum: true }),
  /** Validation loss every `every` steps and after the last (0 = after the last only). */
  every: NonNegativeInt,
  batches: PositiveInt
})

const trainFields = {
  /** Optimisation steps (0 = the untrained, randomly initialised model: the baseline). */
  steps: Schema.optional(NonNegativeInt),
  /** Or passes over the training stream, rounded up to whole steps. */
  epochs: Schema.optional(Schema.Finite.check(Schema.isGreaterThan(0))),
  batch: PositiveInt,
  optimizer: Optimizer,
  validation: Validation,
  seed: Schema.Int.check(Schema.isInt32()),
  /** Threads the batch is split over (transformer only). Part of the key: sums in another order differ in the last bits. */
  shards: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })),
  /** "scratch": fresh weights each time (Wang et al.); "previous": continue the `previous` input's (Shumailov et al.). */
  from: Schema.Literals(["scratch", "previous"])
}

const exactlyOneLength = Schema.makeFilter((p: { readonly steps?: number; readonly epochs?: number }) =>
  (p.steps === undefined) !== (p.epochs === undefined) ? undefined : { path: ["steps"], issue: "give exactly one of steps and epochs" }
)

const TransformerParams = Schema.Struct({ ...trainFields, model: TransformerShape }).check(exactlyOneLength)
const LstmParams = Schema.Struct({ ...trainFields, model: LstmShape }).check(exactlyOneLength)
export type TransformerTrainParams = typeof TransformerParams.Type
export type LstmTrainParams = typeof LstmParams.Type

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
      run: (p, resolved, ctx) => computeAsync(ctx, async () => ({ model: await (await run()).train(family, p, resolved, ctx) }))
    })
  return { scratch: define(TRAIN_INPUTS), previous: define(CONTINUE_INPUTS) }
}

const transformerStages = trainStages("transformer", TransformerParams)
const lstmStages = trainStages("lstm", LstmParams)

type DeepPartial<T> = { readonly [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] }
type Options<P> = DeepPartial<Omit<P, "from">>

const DEFAULT_OPTIMIZER = {
  lr: 3e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01, warmup: 20, schedule: "cosine", minLrFraction: 0.1
} as const
const DEFAULT_VALIDATION = { fraction: 0.05, every: 100, batches: 4 } as const

/** Fills defaults one level deep (model, optimizer, validation are merged field by field). */
const withDefaults = (o: Record<string, unknown>, model: Record<string, number>, shards: number) => {
  const { model: m, optimizer, validation, ...rest } = o
  const length = rest.steps === undefined && rest.epochs === undefined ? { steps: 300 } : {}
  return {
    batch: 32,
    seed: 1,
    shards,
    ...length,
    ...rest,
    model: { ...model, ...(m as object | undefined) },
    optimizer: { ...DEFAULT_OPTIMIZER, ...(optimizer as object | undefined) },
    validation: { ...DEFAULT_VALIDATION, ...(validation as object | undefined) }
  }
}

type TrainInputs = typeof TRAIN_INPUTS
type ContinueInputs = typeof CONTINUE_INPUTS
type Outputs = { readonly model: typeof Model }

interface TrainConstructor<P> {
  (o?: Options<P> & { readonly from?: "scratch" }): Stage<TrainInputs, Outputs>
  (o: Options<P> & { readonly from: "previous" }): Stage<ContinueInputs, Outputs>
}

const constructor = <P>(
  stages: { readonly scratch: (raw: unknown) => Stage<TrainInputs, Outputs>; readonly previous: (raw: unknown) => Stage<ContinueInputs, Outputs> },
  model: Record<string, number>,
  shards: number
): TrainConstructor<P> =>
  ((o: Options<P> & { readonly from?: "scratch" | "previous" } = {}) => {
    const raw = withDefaults({ ...o, from: o.from ?? "scratch" }, model, shards)
    return o.from === "previous" ? stages.previous(raw) : stages.scratch(raw)
  }) as TrainConstructor<P>

export const TrainNeural = {
  /**
   * A GPT-style transformer trained with AdamW on the corpus's token stream (documents joined by <eos>).
   * Defaults: 2 layers, dModel 64, 4 heads, context 64; batch 32, 300 steps, lr 3e-3 with 20 warmup steps and a
   * cosine decay; 5% held out for the validation loss; 2 shards. `from: "previous"` adds a `previous` model input.
   */
  transformer: constructor<TransformerTrainParams>(transformerStages, { layers: 2, dModel: 64, heads: 4, context: 64 }, 2),
  /** An LSTM for comparison (one thread). Defaults: 1 layer, embed 64, hidden 128, context 64. */
  lstm: constructor<LstmTrainParams>(lstmStages, { layers: 1, embed: 64, hidden: 128, context: 64 }, 1)
}

const SampleParams = Schema.Struct({
  documents: PositiveInt,
  /** Tokens per document at most. */
  maxLength: PositiveInt,
  /** Total tokens over all documents (0 = no limit): keeps every generation's corpus the same size. */
  tokens: NonNegativeInt,
  temperature: Schema.Finite.check(Schema.isGreaterThan(0)),
  /** 0 = off */
  topK: NonNegativeInt,
  /** in (0, 1]; 1 = off */
  topP: Unit({ exclusiveMinimum: true }),
  /** 1 = off; > 1 discourages tokens already in the document */
  repetitionPenalty: Schema.Finite.check(Schema.isGreaterThan(0)),
  /** 1 = sampling; more = beam search of that width after a sampled first token */
  beams: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })),
  /** Documents decoded side by side when sampling (part of the key: it sets the order of random draws). */
  rows: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4096 })),
  seed: Schema.Int.check(Schema.isInt32())
})
export type NeuralSampleParams = typeof SampleParams.Type

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
  neural: (o: Partial<NeuralSampleParams> & Pick<NeuralSampleParams, "documents" | "maxLength" | "seed">) =>
    sampleNeural({ tokens: 0, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, beams: 1, rows: 32, ...o })
}

const PerplexityParams = Schema.Struct({
  /** Window advance of the sliding-window perplexity (at most the model's window). */
  stride: PositiveInt,
  /** Score the first `maxTokens` tokens of the test stream (0 = all). */
  maxTokens: NonNegativeInt,
  /** Windows per forward pass. */
  batch: PositiveInt
})

const EvaluateParams = Schema.Struct({
  ...PerplexityParams.fields,
  /** Self-BLEU is quadratic in documents: computed on the first `selfBleuDocs`, each cut to `selfBleuLength` words. */
  selfBleuDocs: Schema.Int.check(Schema.isGreaterThanOrEqualTo(2)),
  selfBleuLength: PositiveInt
})
export type NeuralEvaluateParams = typeof EvaluateParams.Type
export type PerplexityEvalParams = typeof PerplexityParams.Type

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

const PERPLEXITY_DEFAULTS: PerplexityEvalParams = { stride: 32, maxTokens: 50_000, batch: 32 }

export const EvaluateNeural = {
  /** Sliding-window perplexity on real text (used for the untrained baseline: evaluate it once, outside generations). */
  perplexity: (o: Partial<PerplexityEvalParams> = {}) => evaluatePerplexity({ ...PERPLEXITY_DEFAULTS, ...o }),
  /**
   * Perplexity on real text as `perplexity`, the `baseline` metrics' perplexity as baseline_perplexity, and the
   * sample's diversity (distinct-n, rep-4, self-BLEU, entropy, coverage of the test text's words), on words.
   */
  neural: (o: Partial<NeuralEvaluateParams> = {}) =>
    evaluateNeural({ ...PERPLEXITY_DEFAULTS, selfBleuDocs: 50, selfBleuLength: 200, ...o })
}
