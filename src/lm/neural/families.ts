/**
 * The neural model families, and `Net`: one model (family, config, weights) bound together, which is what the
 * Model artifact holds and what sampling and evaluation use without caring which family it is.
 */
import type * as tf from "@tensorflow/tfjs-core"
import { type Decoder, type DecoderPool, type Family, type Params } from "./family.ts"
import { type LstmConfig, lstm } from "./lstm.ts"
import {
  FAST,
  forward,
  fromSafetensors,
  hiddenTensors,
  initParams,
  lossAndGrads,
  MODEL_ARTIFACT,
  paramShapes,
  toSafetensors,
  type TransformerConfig,
  validateConfig
} from "./transformer.ts"
import { transformerDecoder } from "./transformer-decoder.ts"
import { createParallelTrainer } from "./parallel.ts"
import { startDecoderPool } from "./decoder-pool.ts"
import { readSafetensors } from "../../format/safetensors.ts"

export const transformer: Family<TransformerConfig> = {
  name: "transformer",
  artifact: MODEL_ARTIFACT,
  validate: validateConfig,
  paramShapes,
  initParams,
  window: (c) => c.context,
  lossAndGrads: (c, params, inputs, targets, batch) => lossAndGrads(c, params, inputs, targets, batch, FAST),
  logits: (c, params, ids, batch) => forward(c, params, ids, batch, FAST),
  hiddenWidth: (c) => c.dModel,
  hiddenTensors: (c, w, ids, batch) => hiddenTensors(c, w, ids, batch, FAST),
  decoder: transformerDecoder,
  decoderPool: startDecoderPool,
  dataParallel: async (config, state, { shards, backend, adamw }) => {
    const trainer = await createParallelTrainer(config, state, { shards, backend })
    return {
      step: (inputs, targets, batch) => trainer.step(inputs, targets, batch, adamw),
      close: () => trainer.close()
    }
  },
  toSafetensors,
  fromSafetensors
}

export { lstm, type LstmConfig }

export interface Net {
  readonly family: string
  /** The architecture (vocab, layers, ...), for display. */
  readonly config: object
  readonly params: Params
  /** Safetensors metadata besides artifact and config (the training log). */
  readonly metadata: Readonly<Record<string, string>>
  readonly vocab: number
  /** Longest window `logits` takes. */
  readonly window: number
  logits(ids: Int32Array, batch: number): Float32Array
  decoder(rows: number): Decoder
  /** Decoders over `threads` threads where the family has them, else on the calling thread; the same logits. */
  decoderPool(threads: number): Promise<DecoderPool>
  toSafetensors(): Uint8Array
}

/** A Net with its final hidden states exposed: what downstream probes read and fine-tune through. */
export interface HiddenNet extends Net {
  /** Width of the final hidden states. */
  readonly hiddenWidth: number
  /** The parameters' names and shapes, in the family's order. */
  readonly shapes: ReadonlyArray<readonly [string, ReadonlyArray<number>]>
  /** Final hidden states [batch·T, hiddenWidth] from weight tensors by name (the family's, or fine-tuned ones). */
  hiddenTensors(weights: Readonly<Record<string, tf.Tensor>>, ids: Int32Array, batch: number): tf.Tensor2D
}

export const bind = <C extends { readonly vocab: number }>(
  family: Family<C>,
  config: C,
  params: Params,
  metadata: Readonly<Record<string, string>> = {}
): Net => ({
  family: family.name,
  config,
  params,
  metadata,
  vocab: config.vocab,
  window: family.window(config),
  logits: (ids, batch) => family.logits(config, params, ids, batch),
  decoder: (rows) => family.decoder(config, params, rows),
  decoderPool: (threads) =>
    family.decoderPool !== undefined && threads > 1
      ? family.decoderPool(config, params, threads)
      : Promise.resolve({ threads: 1, decoder: (rows) => family.decoder(config, params, rows), close: async () => {} }),
  toSafetensors: () => family.toSafetensors(config, params, metadata)
})

/** `bind`, with the family's hidden states. */
export const bindHidden = <C extends { readonly vocab: number }>(
  family: Family<C>,
  config: C,
  params: Params,
  metadata: Readonly<Record<string, string>> = {}
): HiddenNet => ({
  ...bind(family, config, params, metadata),
  hiddenWidth: family.hiddenWidth(config),
  shapes: family.paramShapes(config),
  hiddenTensors: (weights, ids, batch) => family.hiddenTensors(config, weights, ids, batch)
})

/** A loader per family, by the artifact name its files carry. */
const loader = <C extends { readonly vocab: number }>(family: Family<C>) => ({
  artifact: family.artifact,
  load: (bytes: Uint8Array): HiddenNet => {
    const { config, params, metadata } = family.fromSafetensors(bytes)
    const { artifact: _artifact, config: _config, ...rest } = metadata
    return bindHidden(family, config, params, rest)
  }
})
const LOADERS = [loader(transformer), loader(lstm)]

/** A Net from safetensors bytes of any family; throws when the file is of no known family or invalid. */
export const netFromSafetensors = (bytes: Uint8Array): HiddenNet => {
  const artifact = readSafetensors(bytes).metadata["artifact"]
  const found = LOADERS.find((l) => l.artifact === artifact)
  if (found === undefined) throw new Error(`not a neural model file (artifact: ${artifact ?? "none"})`)
  return found.load(bytes)
}
