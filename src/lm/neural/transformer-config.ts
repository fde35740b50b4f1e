/**
 * The transformer's architecture and its check: apart from transformer.ts, so that what needs only the shape (the
 * decoder, its worker threads) does not load TensorFlow.js.
 */
import { requirePositiveInts } from "./weights.ts"

export interface TransformerConfig {
  readonly vocab: number
  readonly layers: number
  readonly dModel: number
  readonly heads: number
  readonly context: number
}

export const CONFIG_FIELDS = ["vocab", "layers", "dModel", "heads", "context"] as const

export const validateConfig = (c: TransformerConfig): void => {
  requirePositiveInts("transformer", c, CONFIG_FIELDS)
  if (c.dModel % c.heads !== 0) throw new Error(`transformer: heads (${c.heads}) must divide dModel (${c.dModel})`)
}
