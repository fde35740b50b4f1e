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
import { sampleDiversity, sampleRepetition } from "../metrics/index.ts"
import { defineStage } from "../pipeline/stage.ts"
import { EvaluateNeural, SampleNeural, TrainNeural } from "./neural.ts"
import { EvaluateHf, SampleHf, TrainHf } from "./hf.ts"
import { EvaluateDownstream } from "./downstream.ts"
import { EvaluateTorch, TrainTorch } from "./torch.ts"
import { orDefault, ownKeys, Positive, repetitionField, samplingFields, selfBleuFields, Unit } from "./params.ts"
import { compute, encodeCorpus, vocabularyDocs } from "./util.ts"

const Smoothing = Schema.Union([
  Schema.Struct({
    kind: Schema.Literal("kneser-ney"),
    discount: Unit({ exclusiveMinimum: true, exclusiveMaximum: true })
  }),
  Schema.Struct({ kind: Schema.Literal("add-k"), k: Positive })
])

/** A smoothing given replaces the default one whole. */
const TrainNgramParams = Schema.Struct({
  order: orDefault(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 5 })), 3),
  smoothing: orDefault(Smoothing, { kind: "kneser-ney", discount: 0.75 })
})

const trainNgramStage = defineStage({
  kind: "train/ngram",
  version: 1,
  params: TrainNgramParams,
  inputs: { corpus: Corpus, tokenizer: Tokenizer },
  outputs: { model: Model },
  run: (p, { corpus, tokenizer }, ctx) =>
    compute(ctx, () => {
      const data = encodeDocuments(tokenizer, corpusDocuments(corpus).texts)
      if (data.offsets.length < 2) throw new Error("the training corpus has no documents")
      return { model: { family: "ngram" as const, ngram: trainNgram(data, tokenizer.vocab.length, p) } }
    })
})

export const Train = {
  ngram: (o?: typeof TrainNgramParams.Encoded) => trainNgramStage(ownKeys(o)),
  ...TrainNeural,
  ...TrainTorch,
  ...TrainHf
}

const SampleTextParams = Schema.Struct(
  samplingFields(Schema.Finite.check(Schema.isBetween({ minimum: MIN_TEMPERATURE, maximum: MAX_TEMPERATURE })))
)

const sampleText = defineStage({
  kind: "sample/text",
  version: 1,
  params: SampleTextParams,
  inputs: { model: Model, tokenizer: Tokenizer },
  outputs: { corpus: Corpus },
  run: (p, { model, tokenizer }, ctx) =>
    compute(ctx, () => {
      const docs = sampleNgram(ngramOf(model, ctx.kind), { ...p, totalTokens: p.tokens })
      const width = String(p.documents - 1).length
      return {
        corpus: corpusFromDocuments(
          docs.map((ids, i) => ({ id: `s${p.seed}-${String(i).padStart(width, "0")}`, text: decode(tokenizer, ids) }))
        )
      }
    })
})

export const Sample = {
  /** Documents from an n-gram model (Sample.neural samples a neural one). */
  text: (o: typeof SampleTextParams.Encoded) => sampleText(ownKeys(o)),
  ...SampleNeural,
  ...SampleHf
}

const EvaluateLmParams = Schema.Struct({ ...selfBleuFields, ...repetitionField })

const evaluateLm = defineStage({
  kind: "evaluate/lm",
  version: 1,
  params: EvaluateLmParams,
  inputs: { model: Model, tokenizer: Tokenizer, test: Corpus, sample: Corpus },
  outputs: { metrics: Metrics },
  run: (p, { model, tokenizer, test, sample }, ctx) =>
    compute(ctx, () => {
      const real = encodeCorpus(tokenizer, test)
      const synthetic = encodeCorpus(tokenizer, sample)
      if (real.docs.length === 0) throw new Error("the test corpus has no documents: perplexity is undefined")
      if (synthetic.docs.length === 0) {
        throw new Error("the sample corpus has no documents: diversity metrics are undefined")
      }
      return {
        metrics: {
          values: {
            perplexity: perplexity(ngramOf(model, ctx.kind), real.data),
            // An untrained model knows nothing: uniform over the vocabulary, perplexity = V.
            baseline_perplexity: tokenizer.vocab.length,
            ...sampleDiversity(synthetic.docs, vocabularyDocs(tokenizer), p),
            ...(p.repetition === true ? sampleRepetition(corpusDocuments(sample).texts) : {}),
            sample_tokens: synthetic.data.ids.length
          }
        }
      }
    })
})

export const Evaluate = {
  /** An n-gram model's perplexity on real text and its sample's diversity (Evaluate.neural for neural models). */
  lm: (o?: typeof EvaluateLmParams.Encoded) => evaluateLm(ownKeys(o)),
  ...EvaluateNeural,
  ...EvaluateTorch,
  ...EvaluateHf,
  ...EvaluateDownstream
}
