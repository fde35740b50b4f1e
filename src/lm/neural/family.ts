/**
 * What every neural language model family (transformer, LSTM) offers the stages: training maths, windowed logits for
 * evaluation, an incremental decoder for sampling, and a safetensors form. The stages are written against this, so a
 * family is one module implementing `Family`.
 */

import type * as tf from "@tensorflow/tfjs-core"
import type { AdamWConfig, OptimizerState } from "./adamw.ts"
import type { BackendName } from "./backend-plan.ts"
import type { Params } from "./weights.ts"

/** Weights (or gradients, or optimizer moments) by parameter name, as JS-owned Float32Arrays. */
export type { Params } from "./weights.ts"

export interface LossAndGrads {
  /** Mean next-token cross-entropy (nats) over the batch. */
  readonly loss: number
  readonly grads: Params
}

/**
 * Incremental decoding over `rows` independent sequences with a cache (attention keys/values, or recurrent state),
 * so that the cost of a step does not grow with what the rows already hold.
 */
export interface Decoder {
  readonly rows: number
  readonly vocab: number
  /** Appends tokens[r] to row r and returns every row's next-token logits, [rows · vocab] row-major. */
  step(tokens: Int32Array): Float32Array
  /** Row r starts afresh, with nothing before its next token. */
  resetRow(r: number): void
  /** Row r takes over the state that row from[r] had (beam search); from.length === rows. */
  reorder(from: Int32Array): void
  /** Frees backend memory; the decoder is unusable afterwards. */
  dispose(): void
}

/** Decoders whose rows are split over threads (decoder-pool.ts). */
export interface DecoderPool {
  /** Threads a decoder of enough rows is split over (1 = the calling thread only). */
  readonly threads: number
  /** A decoder of `rows` rows over min(threads, rows) threads; one of several threads cannot `reorder`. */
  decoder(rows: number): Decoder
  close(): Promise<void>
}

/**
 * `decoder` with the Decoder contract checked: `rows` tokens a step, a full-length reorder, nothing after dispose.
 * Errors name the family ("transformer decoder: ...").
 */
export const checkedDecoder = (family: string, decoder: Decoder): Decoder => {
  const { rows } = decoder
  let disposed = false
  return {
    rows,
    vocab: decoder.vocab,
    step(tokens) {
      if (disposed) throw new Error(`${family} decoder: used after dispose`)
      if (tokens.length !== rows) throw new Error(`${family} decoder: ${tokens.length} tokens for ${rows} rows`)
      return decoder.step(tokens)
    },
    resetRow: (r) => decoder.resetRow(r),
    reorder(from) {
      if (from.length !== rows) throw new Error(`${family} decoder: reorder needs ${rows} rows, got ${from.length}`)
      decoder.reorder(from)
    },
    dispose() {
      disposed = true
      decoder.dispose()
    }
  }
}

/** One optimisation step: forward, backward, update; resolves to the loss before the update. */
export interface Stepper {
  step(inputs: Int32Array, targets: Int32Array, batch: number): Promise<number>
  close(): Promise<void>
}

export interface Family<C> {
  /** e.g. "transformer": the `family` of the Model artifact. */
  readonly name: string
  /** The safetensors metadata `artifact` entry, e.g. "model/transformer". */
  readonly artifact: string
  /** Throws an Error naming the offending field. */
  validate(config: C): void
  paramShapes(config: C): ReadonlyArray<readonly [string, ReadonlyArray<number>]>
  /** Seeded, pure JS: the same on every backend. */
  initParams(config: C, seed: number): Params
  /** Training windows are at most this long (a transformer's context; an LSTM's truncated-BPTT length). */
  window(config: C): number
  lossAndGrads(config: C, params: Params, inputs: Int32Array, targets: Int32Array, batch: number): LossAndGrads
  /** Logits [batch · T · vocab] for ids [batch · T] (each row from an empty history). */
  logits(config: C, params: Params, ids: Int32Array, batch: number): Float32Array
  /** Width of the final hidden states (what the output head reads). */
  hiddenWidth(config: C): number
  /**
   * The final hidden states [batch · T, hiddenWidth] for ids [batch · T] (each row from an empty history), from weight
   * tensors by name (differentiable): what downstream probes pool and fine-tune through.
   */
  hiddenTensors(config: C, weights: Readonly<Record<string, tf.Tensor>>, ids: Int32Array, batch: number): tf.Tensor2D
  decoder(config: C, params: Params, rows: number): Decoder
  /**
   * Decoders whose rows are split over `threads` threads with the same logits as `decoder`'s, for families that have
   * them (decoder-pool.ts). Without it, decoding runs on the calling thread.
   */
  readonly decoderPool?: (config: C, params: Params, threads: number) => Promise<DecoderPool>
  /**
   * A data-parallel AdamW stepper over `shards` threads, for families that have one; it updates `state.params` in
   * place. Without it, training runs on the calling thread.
   */
  readonly dataParallel?: (
    config: C,
    state: OptimizerState,
    options: { readonly shards: number; readonly backend: BackendName; readonly adamw: AdamWConfig }
  ) => Promise<Stepper>
  toSafetensors(config: C, params: Params, metadata: Readonly<Record<string, string>>): Uint8Array
  fromSafetensors(
    bytes: Uint8Array
  ): { readonly config: C; readonly params: Params; readonly metadata: Record<string, string> }
}
