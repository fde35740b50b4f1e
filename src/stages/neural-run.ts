/**
 * What the neural stages do when they run (neural.ts wires them, neural-params.ts holds their Schemas). Imported on
 * demand: it loads TF.js and the model families.
 */
import { Effect } from "effect"
import { type Corpus as CorpusTable, corpusDocuments, corpusFromDocuments } from "../artifact/corpus.ts"
import type { MetricsValue } from "../artifact/artifacts.ts"
import type { LanguageModel } from "../artifact/model.ts"
import { usePlannedBackend } from "../lm/neural/backend.ts"
import { decodeDocuments } from "../lm/neural/decode.ts"
import { decodeThreads } from "../lm/neural/decoder-pool.ts"
import { slidingNll } from "../lm/neural/evaluate.ts"
import { bind, lstm, type Net, netFromSafetensors, transformer } from "../lm/neural/families.ts"
import type { Family } from "../lm/neural/family.ts"
import { decode, encodeDocuments, EOS_ID, fitTokenizer, type TokenizerSpec } from "../lm/tokenizer.ts"
import { trainNet } from "../lm/neural/train.ts"
import { sampleDiversity, sampleRepetition } from "../metrics/index.ts"
import type { RunContext, StageContext } from "../pipeline/stage.ts"
import { encodeCorpus, vocabularyDocs } from "./util.ts"
import type {
  LstmTrainParams,
  NeuralEvaluateParams,
  NeuralSampleParams,
  PerplexityEvalParams,
  TransformerTrainParams
} from "./neural-params.ts"

/** Documents' tokens back to back, each followed by <eos> (so a model learns where documents end and begin). */
export const tokenStream = (tokenizer: TokenizerSpec, corpus: CorpusTable): Int32Array => {
  const { ids, offsets } = encodeDocuments(tokenizer, corpusDocuments(corpus).texts)
  const docs = offsets.length - 1
  const out = new Int32Array(ids.length + docs)
  for (let i = 0, o = 0; i < docs; i++) {
    out.set(ids.subarray(offsets[i], offsets[i + 1]), o)
    o += offsets[i + 1] - offsets[i]
    out[o++] = EOS_ID
  }
  return out
}

const neuralNet = (m: LanguageModel, what: string): Net => {
  if (m.family !== "neural") {
    throw new Error(`${what} takes a neural model, got an n-gram model (use Sample.text / Evaluate.lm)`)
  }
  return netFromSafetensors(m.bytes)
}

const clock = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`
}

const bar = (done: number, total: number, width = 20): string => {
  const n = total === 0 ? width : Math.round((done / total) * width)
  return `[${"#".repeat(n)}${"-".repeat(width - n)}]`
}

/** A status-line printer with rate and ETA; wall-clock time is shown, never stored. */
const meter = (ctx: StageContext, unit: string) => {
  const t0 = performance.now()
  return (done: number, total: number, amount: number, extra: string) => {
    const seconds = (performance.now() - t0) / 1000
    const rate = amount / Math.max(seconds, 1e-9)
    const eta = done === 0 ? 0 : (seconds * (total - done)) / done
    ctx.status(`${bar(done, total)} ${done}/${total} ${extra} ${(rate / 1000).toFixed(1)}k ${unit}/s ETA ${clock(eta)}`)
    return { seconds, rate }
  }
}

type TrainParams = TransformerTrainParams | LstmTrainParams

export const train = async (
  familyName: "transformer" | "lstm",
  p: TrainParams,
  inputs: { readonly corpus: CorpusTable; readonly tokenizer: TokenizerSpec; readonly previous?: LanguageModel },
  ctx: RunContext
): Promise<LanguageModel> => {
  const info = await usePlannedBackend()
  const vocab = inputs.tokenizer.vocab.length
  if (familyName === "transformer" && "dModel" in p.model) {
    return trainFamily(transformer, { vocab, ...p.model }, p, inputs, ctx, info.name)
  }
  if (familyName === "lstm" && "hidden" in p.model) {
    return trainFamily(lstm, { vocab, ...p.model }, p, inputs, ctx, info.name)
  }
  throw new Error(`${ctx.kind}: params of another family`)
}

const trainFamily = async <C extends { readonly vocab: number }>(
  family: Family<C>,
  config: C,
  p: TrainParams,
  inputs: { readonly corpus: CorpusTable; readonly tokenizer: TokenizerSpec; readonly previous?: LanguageModel },
  ctx: RunContext,
  backend: "tensorflow" | "wasm" | "cpu"
): Promise<LanguageModel> => {
  family.validate(config)
  let params = family.initParams(config, p.seed)
  if (inputs.previous !== undefined) {
    const prev = neuralNet(inputs.previous, `${ctx.kind} from: "previous"`)
    if (prev.family !== family.name || JSON.stringify(prev.config) !== JSON.stringify(config)) {
      throw new Error(
        `the previous model is a ${prev.family} ${JSON.stringify(prev.config)}, not a ${family.name} ${
          JSON.stringify(config)
        }`
      )
    }
    params = Object.fromEntries(Object.entries(prev.params).map(([k, a]) => [k, a.slice()]))
  }
  const stream = tokenStream(inputs.tokenizer, inputs.corpus)
  const held = Math.floor(stream.length * p.validation.fraction)
  const trainStream = stream.subarray(0, stream.length - held)
  const validation = stream.subarray(stream.length - held)
  const window = family.window(config)
  const steps = p.steps ?? Math.ceil((p.epochs! * trainStream.length) / (p.batch * window))
  const show = meter(ctx, "tok")
  let last = { seconds: 0, rate: 0 }
  const curve = steps === 0 ? [] : await trainNet(family, config, params, trainStream, validation, {
    batch: p.batch,
    steps,
    seed: p.seed,
    adamw: { ...p.optimizer, totalSteps: steps },
    shards: p.shards,
    every: p.validation.every,
    validationBatches: p.validation.batches,
    backend
  }, (s) => {
    last = show(
      s.step,
      s.steps,
      s.step * p.batch * window,
      `loss ${s.loss.toFixed(3)}${s.validation === undefined ? "" : ` val ${s.validation.toFixed(3)}`}`
    )
  })
  const end = curve.at(-1)
  if (end !== undefined) {
    await Effect.runPromise(ctx.log(
      `${steps} steps on ${trainStream.length} tokens: loss ${end.train.toFixed(4)}` +
        `${end.validation === undefined ? "" : `, validation ${end.validation.toFixed(4)}`}, ${
          (last.rate / 1000).toFixed(1)
        }k tokens/s (${backend})`
    ))
  }
  const training = JSON.stringify({
    steps,
    tokens: trainStream.length,
    validationTokens: validation.length,
    curve: curve.map((c) => (c.validation === undefined ? [c.step, c.train] : [c.step, c.train, c.validation]))
  })
  return {
    family: "neural",
    artifact: family.artifact,
    bytes: bind(family, config, params, { training }).toSafetensors()
  }
}

export const sample = async (
  p: NeuralSampleParams,
  inputs: { readonly model: LanguageModel; readonly tokenizer: TokenizerSpec },
  ctx: RunContext
): Promise<CorpusTable> => {
  await usePlannedBackend()
  const net = neuralNet(inputs.model, ctx.kind)
  if (net.vocab !== inputs.tokenizer.vocab.length) {
    throw new Error(`the model's vocabulary (${net.vocab}) is not the tokenizer's (${inputs.tokenizer.vocab.length})`)
  }
  const show = meter(ctx, "tok")
  const total = p.tokens > 0 ? p.tokens : p.documents * p.maxLength
  // Beam search reorders rows across the whole beam, so it stays on one thread; sampling's rows are split.
  const pool = await net.decoderPool(p.beams > 1 ? 1 : decodeThreads())
  let docs: Int32Array[]
  try {
    docs = decodeDocuments((rows) => pool.decoder(rows), p, (s) => {
      show(s.tokens, total, s.tokens, `${s.documents} docs`)
    })
  } finally {
    await pool.close()
  }
  await Effect.runPromise(ctx.log(
    `${docs.length} documents, ${docs.reduce((n, d) => n + d.length, 0)} tokens, on ${pool.threads} thread(s)`
  ))
  const width = String(Math.max(0, docs.length - 1)).length
  return corpusFromDocuments(
    docs.map((ids, i) => ({ id: `s${p.seed}-${String(i).padStart(width, "0")}`, text: decode(inputs.tokenizer, ids) }))
  )
}

const testNll = (net: Net, p: PerplexityEvalParams, tokenizer: TokenizerSpec, test: CorpusTable, ctx: StageContext) => {
  if (net.vocab !== tokenizer.vocab.length) {
    throw new Error(`the model's vocabulary (${net.vocab}) is not the tokenizer's (${tokenizer.vocab.length})`)
  }
  const full = tokenStream(tokenizer, test)
  const stream = p.maxTokens > 0 ? full.subarray(0, p.maxTokens) : full
  const show = meter(ctx, "win")
  return slidingNll(net, stream, {
    stride: p.stride,
    batch: p.batch,
    onProgress: (done, total) => void show(done, total, done, "windows")
  })
}

export const perplexity = async (
  p: PerplexityEvalParams,
  inputs: { readonly model: LanguageModel; readonly tokenizer: TokenizerSpec; readonly test: CorpusTable },
  ctx: RunContext
): Promise<MetricsValue> => {
  await usePlannedBackend()
  const { nll, tokens } = testNll(neuralNet(inputs.model, ctx.kind), p, inputs.tokenizer, inputs.test, ctx)
  return { values: { perplexity: Math.exp(nll), nll, test_tokens: tokens } }
}

/** Word ids for diversity metrics, whatever the model's tokenizer: a word vocabulary fitted on the real test text. */
const wordDocs = (test: CorpusTable, sample: CorpusTable) => {
  const words = fitTokenizer(corpusDocuments(test).texts, { kind: "word", lowercase: true, minCount: 2 })
  return { sample: encodeCorpus(words, sample).docs, vocabulary: vocabularyDocs(words) }
}

export const evaluate = async (
  p: NeuralEvaluateParams,
  inputs: {
    readonly model: LanguageModel
    readonly baseline: MetricsValue
    readonly tokenizer: TokenizerSpec
    readonly test: CorpusTable
    readonly sample: CorpusTable
  },
  ctx: RunContext
): Promise<MetricsValue> => {
  await usePlannedBackend()
  const baseline = inputs.baseline.values["perplexity"]
  if (baseline === undefined) {
    throw new Error("the baseline metrics have no perplexity (give it Evaluate.perplexity's output)")
  }
  const { nll, tokens } = testNll(neuralNet(inputs.model, ctx.kind), p, inputs.tokenizer, inputs.test, ctx)
  const words = wordDocs(inputs.test, inputs.sample)
  const docs = words.sample.filter((d) => d.length > 0)
  if (docs.length === 0) throw new Error("the sample corpus has no words: diversity metrics are undefined")
  return {
    values: {
      perplexity: Math.exp(nll),
      nll,
      test_tokens: tokens,
      baseline_perplexity: baseline,
      ...sampleDiversity(docs, words.vocabulary, p),
      ...(p.repetition === true ? sampleRepetition(corpusDocuments(inputs.sample).texts) : {}),
      sample_tokens: encodeCorpus(inputs.tokenizer, inputs.sample).data.ids.length
    }
  }
}
