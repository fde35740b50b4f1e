/**
 * The neural stages' params: their Schemas, defaults included, and the types both their wiring (neural.ts) and
 * their computing code (neural-run.ts) read. Neither of those two modules imports the other's declarations.
 */
import { Schema, SchemaGetter } from "effect"
import {
  Int32,
  NonNegative,
  NonNegativeInt,
  orDefault,
  orDefaultIfUndefined,
  Positive,
  PositiveInt,
  samplingFields,
  repetitionField,
  selfBleuFields,
  Unit
} from "./params.ts"

const TransformerShape = Schema.Struct({
  layers: orDefault(PositiveInt, 2),
  dModel: orDefault(PositiveInt, 64),
  heads: orDefault(PositiveInt, 4),
  /** Longest sequence the model sees (learned positions 0..context-1). */
  context: orDefault(PositiveInt, 64)
}).check(
  Schema.makeFilter((m) =>
    m.dModel % m.heads === 0
      ? undefined
      : { path: ["heads"], issue: `heads (${m.heads}) must divide dModel (${m.dModel})` }
  )
)

const LstmShape = Schema.Struct({
  layers: orDefault(PositiveInt, 1),
  embed: orDefault(PositiveInt, 64),
  hidden: orDefault(PositiveInt, 128),
  /** Truncated-backpropagation window, and the evaluation window. */
  context: orDefault(PositiveInt, 64)
})

/** AdamW with a warmup and a learning-rate schedule. */
const Optimizer = Schema.Struct({
  lr: orDefault(Positive, 3e-3),
  beta1: orDefault(Unit({ exclusiveMaximum: true }), 0.9),
  beta2: orDefault(Unit({ exclusiveMaximum: true }), 0.99),
  eps: orDefault(Positive, 1e-8),
  weightDecay: orDefault(NonNegative, 0.01),
  warmup: orDefault(NonNegativeInt, 20),
  schedule: orDefault(Schema.Literals(["cosine", "constant"]), "cosine"),
  minLrFraction: orDefault(Unit(), 0.1)
})

const Validation = Schema.Struct({
  /** The last `fraction` of the training stream is held out (0 = no validation loss). */
  fraction: orDefault(Unit({ exclusiveMaximum: true }), 0.05),
  /** Validation loss every `every` steps and after the last (0 = after the last only). */
  every: orDefault(NonNegativeInt, 100),
  batches: orDefault(PositiveInt, 4)
})

/** The fields of Train.transformer and Train.lstm; `shards` is the family's default thread count. */
const trainFields = (shards: number) => ({
  /** Optimisation steps (0 = the untrained, randomly initialised model: the baseline). 300 if neither this nor epochs is given. */
  steps: Schema.optionalKey(NonNegativeInt),
  /** Or passes over the training stream, rounded up to whole steps. */
  epochs: Schema.optionalKey(Positive),
  batch: orDefault(PositiveInt, 32),
  /** model, optimizer and validation are filled in field by field. */
  optimizer: orDefaultIfUndefined(Optimizer, {}),
  validation: orDefaultIfUndefined(Validation, {}),
  seed: orDefault(Int32, 1),
  /** Threads the batch is split over (transformer only). Part of the key: sums in another order differ in the last bits. */
  shards: orDefault(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })), shards),
  /** "scratch": fresh weights each time (Wang et al.); "previous": continue the `previous` input's (Shumailov et al.). */
  from: orDefaultIfUndefined(Schema.Literals(["scratch", "previous"]), "scratch")
})

type Length = { readonly steps?: number; readonly epochs?: number }

/**
 * How long to train: exactly one of steps and epochs, and 300 steps when neither is given (a decoding step of the
 * Schema, after the fields are decoded, so the key holds `steps: 300`).
 */
const trainLength = <S extends Schema.Codec<Length, unknown>>(fields: S) =>
  fields.pipe(Schema.decode<S>({
    decode: SchemaGetter.transform((p) => (p.steps === undefined && p.epochs === undefined ? { ...p, steps: 300 } : p)),
    encode: SchemaGetter.passthrough()
  })).check(Schema.makeFilter((p: Length) =>
    (p.steps === undefined) !== (p.epochs === undefined)
      ? undefined
      : { path: ["steps"], issue: "give exactly one of steps and epochs" }
  ))

export const TransformerParams = trainLength(
  Schema.Struct({ ...trainFields(2), model: orDefaultIfUndefined(TransformerShape, {}) })
)
export const LstmParams = trainLength(Schema.Struct({ ...trainFields(1), model: orDefaultIfUndefined(LstmShape, {}) }))
export type TransformerTrainParams = typeof TransformerParams.Type
export type LstmTrainParams = typeof LstmParams.Type

const { seed, ...sampling } = samplingFields(Positive)
export const SampleParams = Schema.Struct({
  ...sampling,
  /** 1 = off; > 1 discourages tokens already in the document */
  repetitionPenalty: orDefault(Positive, 1),
  /** 1 = sampling; more = beam search of that width after a sampled first token */
  beams: orDefault(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })), 1),
  /** Documents decoded side by side when sampling (part of the key: it sets the order of random draws). */
  rows: orDefault(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4096 })), 32),
  seed
})
export type NeuralSampleParams = typeof SampleParams.Type

export const PerplexityParams = Schema.Struct({
  /** Window advance of the sliding-window perplexity (at most the model's window). */
  stride: orDefault(PositiveInt, 32),
  /** Score the first `maxTokens` tokens of the test stream (0 = all). */
  maxTokens: orDefault(NonNegativeInt, 50_000),
  /** Windows per forward pass. */
  batch: orDefault(PositiveInt, 32)
})
export type PerplexityEvalParams = typeof PerplexityParams.Type

export const EvaluateParams = Schema.Struct({ ...PerplexityParams.fields, ...selfBleuFields, ...repetitionField })
export type NeuralEvaluateParams = typeof EvaluateParams.Type
