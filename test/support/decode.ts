/** Decoding options for tests: every adjustment off (plain sampling at temperature 1, no token budget). */
import type { DecodeOptions } from "../../src/lm/neural/decode.ts"

export const PLAIN_SAMPLING = {
  tokens: 0,
  temperature: 1,
  topK: 0,
  topP: 1,
  repetitionPenalty: 1,
  beams: 1
} as const satisfies Partial<DecodeOptions>
