/**
 * Train, Sample and Evaluate for language models. A corpus is tokenized with the experiment's fixed tokenizer
 * (fit once on the real data), so perplexities are comparable across generations.
 */
import { Schema } from "effect"
import { Corpus, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { corpusDocuments, corpusFromDocuments } from "../artifact/corpus.ts"
import { Model, ngramOf } from "../artifact/model.ts"
import { MAX_TEMPERATURE, MIN_TEMPERATURE, perplexity, sampleNgram, trainNgram } from "../lm/ngram.ts"
import { decode, encodeDocuments } from "../lm/tokenizer.ts"
import { sampleDiversity } from "../metrics/index.ts"
import { defineStage } from "../pipeline/stage.ts"
import { EvaluateNeural, SampleNeural, TrainNeural } from "./neural.ts"
import { compute, encodeCorpus, vocabularyDocs } from "./util.ts"

const Smoothing = Schema.Union([
  Schema.Struct({
    kind: Schema.Literal("kneser-ney"),
    discount: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMinimum: true, exclusiveMaximum: true }))
  }),
  Schema.Struct({ kind: Schema.Literal("add-k"), k: Schema.Finite.check(Schema.isGreaterThan(0)) })
])

const trainNgramStage = defineStage({
  kind: "train/ngram",
  version: 1,
  params: Schema.Struct({
    order: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 5 })),
    smoothing: Smoothing
  }),
  inputs: { corpus: Corpus, tokenizer: Tokenizer },
  outputs: { model: Model },
  run: (p, { corpus, tokenizer }, ctx) =>
    compute(ctx, () => {
      const data = encodeDocuments(tokenizer, corpusDocuments(corpus).texts)
      if (data.offsets.length < 2) throw new Error("the training corpus has no documents")
      return { model: { family: "ngram" as const, ngram: trainNgram(data, tokenizer.vocab.length, p) } }
    })
})

export interface TrainNgramOptions {
  readonly order?: number
  readonly smoothing?: { readonly kind: "kneser-ney"; readonly discount: number } | { readonly kind: "add-k"; readonly k: number }
}

export const Train = {
  ngram: (o: TrainNgramOptions = {}) => trainNgramStage({ order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 }, ...o }),
  ...TrainNeural
}

const sampleText = defineStage({
  kind: "sample/text",
  version: 1,
  params: Schema.Struct({
    /** Documents at most. */
    documents: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
    /** Tokens per document at most. */
    maxLength: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
    /** Total tokens over all documents (0 = no limit): keeps every generation's corpus the same size. */
    tokens: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
    temperature: Schema.Finite.check(Schema.isBetween({ minimum: MIN_TEMPERATURE, maximum: MAX_TEMPERATURE })),
    /** 0 = off */
    topK: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
    /** in (0, 1]; 1 = off */
    topP: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMinimum: true })),
    seed: Schema.Int.check(Schema.isInt32())
  }),
  inputs: { model: Model, tokenizer: Tokenizer },
  outputs: { corpus: Corpus },
  run: (p, { model, tokenizer }, ctx) =>
    compute(ctx, () => {
      const docs = sampleNgram(ngramOf(model, ctx.kind), { ...p, totalTokens: p.tokens })
      const width = String(p.documents - 1).length
      return {
        corpus: corpusFromDocuments(docs.map((ids, i) => ({ id: `s${p.seed}-${String(i).padStart(width, "0")}`, text: decode(tokenizer, ids) })))
      }
    })
})

export interface SampleOptions {
  readonly documents: number
  readonly maxLength: number
  readonly tokens?: number
  readonly temperature?: number
  readonly topK?: number
  readonly topP?: number
  readonly seed: number
}

export const Sample = {
  /** Documents from an n-gram model (Sample.neural samples a neural one). */
  text: (o: SampleOptions) => sampleText({ temperature: 1, topK: 0, topP: 1, tokens: 0, ...o }),
  ...SampleNeural
}

const evaluateLm = defineStage({
  kind: "evaluate/lm",
  version: 1,
  params: Schema.Struct({
    /** Self-BLEU is quadratic in documents: computed on the first `selfBleuDocs`, each cut to `selfBleuLength` tokens. */
    selfBleuDocs: Schema.Int.check(Schema.isGreaterThanOrEqualTo(2)),
    selfBleuLength: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
  }),
  inputs: { model: Model, tokenizer: Tokenizer, test: Corpus, sample: Corpus },
  outputs: { metrics: Metrics },
  run: (p, { model, tokenizer, test, sample }, ctx) =>
    compute(ctx, () => {
      const real = encodeCorpus(tokenizer, test)
      const synthetic = encodeCorpus(tokenizer, sample)
      if (real.docs.length === 0) throw new Error("the test corpus has no documents: perplexity is undefined")
      if (synthetic.docs.length === 0) throw new Error("the sample corpus has no documents: diversity metrics are undefined")
      return {
        metrics: {
          values: {
            perplexity: perplexity(ngramOf(model, ctx.kind), real.data),
            // An untrained model knows nothing: uniform over the vocabulary, perplexity = V.
            baseline_perplexity: tokenizer.vocab.length,
            ...sampleDiversity(synthetic.docs, vocabularyDocs(tokenizer), p),
            sample_tokens: synthetic.data.ids.length
          }
        }
      }
    })
})

export const Evaluate = {
  /** An n-gram model's perplexity on real text and its sample's diversity (Evaluate.neural for neural models). */
  lm: (o: { readonly selfBleuDocs?: number; readonly selfBleuLength?: number } = {}) =>
    evaluateLm({ selfBleuDocs: 50, selfBleuLength: 200, ...o }),
  ...EvaluateNeural
}
