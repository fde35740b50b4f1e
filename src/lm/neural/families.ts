/**
 * The neural model families, and `Net`: one model (family, config, weights) bound together, which is what the
 * Model artifact holds and what sampling and evaluation use without caring which family it is.
 */
import { type Decoder, type Family, type Params } from "./family.ts"
import { type LstmConfig, lstm } from "./lstm.ts"
import {
  FAST,
  forward,
  fromSafetensors,
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
  decoder: transformerDecoder,
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
  toSafetensors(): Uint8Array
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
  toSafetensors: () => family.toSafetensors(config, params, metadata)
})

/** A loader per family, by the artifact name its files carry. */
const loader = <C extends { readonly vocab: number }>(family: Family<C>) => ({
  artifact: family.artifact,
  load: (bytes: Uint8Array): Net => {
    const { config, params, metadata } = family.fromSafetensors(bytes)
    const { artifact: _artifact, config: _config, ...rest } = metadata
    return bind(family, config, params, rest)
  }
})
const LOADERS = [loader(transformer), loader(lstm)]

/** A Net from safetensors bytes of any family; throws when the file is of no known family or invalid. */
export const netFromSafetensors = (bytes: Uint8Array): Net => {
  const artifact = readSafetensors(bytes).metadata["artifact"]
  const found = LOADERS.find((l) => l.artifact === artifact)
  if (found === undefined) throw new Error(`not a neural model file (artifact: ${artifact ?? "none"})`)
  return found.load(bytes)
}
