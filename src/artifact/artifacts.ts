/** The artifact types ouroboros stages exchange. */
import { Schema } from "effect"
import { BPE_ENCODINGS, type TokenizerSpec } from "../lm/tokenizer.ts"
import { type Corpus as CorpusTable, decodeCorpus, encodeCorpus } from "./corpus.ts"
import { encodeJsonArtifact, jsonArtifactDecoder } from "../format/json.ts"
import type { ArtifactType } from "./type.ts"
import { packageVersion } from "../format/versions.ts"

/** Documents (id, text): an Arrow table in memory, Parquet with ZSTD on disk. */
export const Corpus: ArtifactType<CorpusTable> = {
  name: "corpus",
  env: { "parquet-wasm": packageVersion("parquet-wasm"), "apache-arrow": packageVersion("apache-arrow") },
  encode: encodeCorpus,
  decode: decodeCorpus
}

const TokenizerJson = Schema.Struct({
  artifact: Schema.Literal("tokenizer"),
  kind: Schema.Literals(["word", "char", "bpe"]),
  lowercase: Schema.Boolean,
  vocab: Schema.Array(Schema.String),
  /** bpe only: the encoding, and the package version that encodes it (so an update makes a new artifact). */
  encoding: Schema.optionalKey(Schema.Literals(BPE_ENCODINGS)),
  encoder: Schema.optionalKey(Schema.String)
})
const decodeTokenizer = jsonArtifactDecoder("tokenizer", TokenizerJson)

/** A vocabulary and how text is split; canonical JSON. */
export const Tokenizer: ArtifactType<TokenizerSpec> = {
  name: "tokenizer",
  env: {},
  encode: (t) =>
    encodeJsonArtifact({
      artifact: "tokenizer",
      kind: t.kind,
      lowercase: t.lowercase,
      vocab: t.vocab,
      // word and char tokenizers are stored exactly as before bpe existed
      ...(t.kind === "bpe" ? { encoding: t.encoding, encoder: `js-tiktoken@${packageVersion("js-tiktoken")}` } : {})
    }),
  decode: (bytes) => {
    const t = decodeTokenizer(bytes)
    if (t.vocab[0] !== "<unk>" || t.vocab[1] !== "<eos>") {
      throw new Error("tokenizer: vocab must start with <unk>, <eos>")
    }
    if (t.kind === "bpe") {
      if (t.encoding === undefined) throw new Error("tokenizer: a bpe tokenizer needs an encoding")
      return { kind: t.kind, lowercase: t.lowercase, vocab: t.vocab, encoding: t.encoding }
    }
    return { kind: t.kind, lowercase: t.lowercase, vocab: t.vocab }
  }
}

export interface MetricsValue {
  readonly values: Readonly<Record<string, number>>
}

const MetricsJson = Schema.Struct({
  artifact: Schema.Literal("metrics"),
  values: Schema.Record(Schema.String, Schema.Finite)
})
const decodeMetrics = jsonArtifactDecoder("metrics", MetricsJson)

/** Named numbers (perplexity, distinct-n, ...); canonical JSON. */
export const Metrics: ArtifactType<MetricsValue> = {
  name: "metrics",
  env: {},
  encode: (m) => encodeJsonArtifact({ artifact: "metrics", values: m.values }),
  decode: (bytes) => ({ values: decodeMetrics(bytes).values })
}

/** A predicted curve against its empirical counterpart over seeds: per generation, the prediction and the mean and band. */
export const TheoryCurve = Schema.Struct({
  title: Schema.String,
  /** e.g. "surviving types", "entropy (bits)" */
  quantity: Schema.String,
  /** What the prediction assumes, in a sentence. */
  assumption: Schema.String,
  points: Schema.Array(
    Schema.Struct({
      generation: Schema.Int,
      predicted: Schema.Finite,
      mean: Schema.Finite,
      lo: Schema.Finite,
      hi: Schema.Finite
    })
  )
})
export type TheoryCurve = typeof TheoryCurve.Type

const CurvesJson = Schema.Struct({ artifact: Schema.Literal("curves"), curves: Schema.Array(TheoryCurve) })
const decodeCurves = jsonArtifactDecoder("curves", CurvesJson)

/** Predicted curves against their empirical mean and band over seeds (the theory check); canonical JSON. */
export const Curves: ArtifactType<ReadonlyArray<TheoryCurve>> = {
  name: "curves",
  env: {},
  encode: (curves) => encodeJsonArtifact({ artifact: "curves", curves }),
  decode: (bytes) => decodeCurves(bytes).curves
}
