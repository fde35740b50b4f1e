/**
 * What the built-in stages' params Schemas share. A stage's Schema is the one place its params are declared: a
 * default sits on its field, so a stage's constructor takes the Schema's encoded type (a field with a default may
 * be left out), and the key hashes the params decoded and encoded again, every default filled in.
 */
import { Effect, Schema } from "effect"

/** The field may be left out (not given as undefined): decoding fills in `value`, and encoding keeps it. */
export const orDefault = <S extends Schema.Top>(schema: S, value: NoInfer<S["Encoded"]>) =>
  Schema.withDecodingDefaultKey<S>(Effect.succeed(value))(schema)

/**
 * The field may be left out or given as undefined: where undefined has always meant the default, as for positional
 * arguments (`Mix.realFraction(0.1)`) and Train.transformer's / Train.lstm's `model`, `optimizer`, `validation`, `from`.
 */
export const orDefaultIfUndefined = <S extends Schema.Top>(schema: S, value: NoInfer<S["Encoded"]>) =>
  Schema.withDecodingDefault<S>(Effect.succeed(value))(schema)

/**
 * A constructor's argument as its Schema decodes it: a copy of its own keys, so no argument (or one that is not an
 * object) is `{}` and every default applies, while a misspelt key is still an excess property.
 */
export const ownKeys = <E extends object>(o: E | undefined): E => ({ ...o }) as E

export const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
export const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
export const Int32 = Schema.Int.check(Schema.isInt32())
export const Positive = Schema.Finite.check(Schema.isGreaterThan(0))
export const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

/** A number in [0, 1], either end excluded if asked. */
export const Unit = (o: { readonly exclusiveMinimum?: boolean; readonly exclusiveMaximum?: boolean } = {}) =>
  Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, ...o }))

/**
 * The fields Sample.text and Sample.neural share, in their order; each sampler gives its own temperature range
 * (an n-gram model's sampler bounds it, a neural one's only needs it positive), 1 by default.
 */
export const samplingFields = (temperature: typeof Schema.Finite) => ({
  /** Documents at most. */
  documents: PositiveInt,
  /** Tokens per document at most. */
  maxLength: PositiveInt,
  /** Total tokens over all documents (0 = no limit): keeps every generation's corpus the same size. */
  tokens: orDefault(NonNegativeInt, 0),
  temperature: orDefault(temperature, 1),
  /** 0 = off */
  topK: orDefault(NonNegativeInt, 0),
  /** in (0, 1]; 1 = off */
  topP: orDefault(Unit({ exclusiveMinimum: true }), 1),
  seed: Int32
})

/** Self-BLEU's cost bounds, shared by Evaluate.lm and Evaluate.neural. */
export const selfBleuFields = {
  /**
   * Self-BLEU is quadratic in documents: computed on the first `selfBleuDocs`, each cut to `selfBleuLength` units
   * (tokens for Evaluate.lm, words for Evaluate.neural).
   */
  selfBleuDocs: orDefault(Schema.Int.check(Schema.isGreaterThanOrEqualTo(2)), 50),
  selfBleuLength: orDefault(PositiveInt, 200)
}

/**
 * Evaluate.lm's and Evaluate.neural's opt-in extra figures: `repetition: true` adds word rep-4, the share of word
 * 3-grams repeated within their document and the sample's deflate compression ratio (src/metrics/repetition.ts).
 * Left out, the stage (and its key) is as it was before the field existed.
 */
export const repetitionField = { repetition: Schema.optionalKey(Schema.Boolean) }
