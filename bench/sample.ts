/**
 * Sampling throughput of the transformer with and without the key/value cache, at the bench/train shape (character
 * vocabulary of tinyshakespeare's size, dModel 64, 2 layers, 4 heads, context 64), 32 rows side by side:
 *   - cached: transformer-decoder.ts, one token per row per step (a full cache is rebuilt from its last context/2);
 *   - no cache: every step recomputes the forward pass over each row's last min(length, context) tokens.
 * Both generate the same number of tokens per row from the same seeded model; the baseline is the no-cache run.
 *   node --import tsx bench/sample.ts [--length 256]
 */
import { parseArgs } from "node:util"
import { selectBackend } from "../src/lm/neural/backend.ts"
import { forward, initParams, type TransformerConfig } from "../src/lm/neural/transformer.ts"
import { transformerDecoder } from "../src/lm/neural/transformer-decoder.ts"

const { values } = parseArgs({ options: { length: { type: "string", default: "256" } }, strict: true })
const LENGTH = Number(values.length)
const ROWS = 32
const config: TransformerConfig = { vocab: 65, layers: 2, dModel: 64, heads: 4, context: 64 }
const backend = await selectBackend()
const params = initParams(config, 1)

/** The greedy next token of each row (argmax), so both paths follow the same sequences. */
const argmax = (logits: Float32Array, rows: number): Int32Array =>
  Int32Array.from({ length: rows }, (_, r) => {
    let best = 0
    for (let k = 1; k < config.vocab; k++) if (logits[r * config.vocab + k] > logits[r * config.vocab + best]) best = k
    return best
  })

const timed = (f: () => Int32Array[]): { seconds: number; rows: Int32Array[] } => {
  const t0 = performance.now()
  const rows = f()
  return { seconds: (performance.now() - t0) / 1000, rows }
}

const start = Int32Array.from({ length: ROWS }, (_, r) => 1 + (r % (config.vocab - 1)))

const cached = timed(() => {
  const dec = transformerDecoder(config, params, ROWS)
  const out = Array.from({ length: ROWS }, () => new Int32Array(LENGTH))
  let next: Int32Array = start
  for (let i = 0; i < LENGTH; i++) {
    out.forEach((row, r) => (row[i] = next[r]))
    next = argmax(dec.step(next), ROWS)
  }
  dec.dispose()
  return out
})

const perStep: number[] = []
const uncached = timed(() => {
  const out = Array.from({ length: ROWS }, () => new Int32Array(LENGTH))
  let next: Int32Array = start
  for (let i = 0; i < LENGTH; i++) {
    const t0 = performance.now()
    out.forEach((row, r) => (row[i] = next[r]))
    const n = Math.min(i + 1, config.context)
    const ids = new Int32Array(ROWS * n)
    out.forEach((row, r) => ids.set(row.subarray(i + 1 - n, i + 1), r * n))
    const logits = forward(config, params, ids, ROWS)
    const last = new Float32Array(ROWS * config.vocab)
    for (let r = 0; r < ROWS; r++) {
      last.set(logits.subarray(((r + 1) * n - 1) * config.vocab, (r + 1) * n * config.vocab), r * config.vocab)
    }
    next = argmax(last, ROWS)
    perStep.push(performance.now() - t0)
  }
  return out
})

// Within the context both compute the same function; past it the cache conditions on a shorter window after each
// rebuild, so sequences may part there.
const agreeWithinContext = cached.rows.every((row, r) =>
  row.subarray(0, config.context).every((t, i) => t === uncached.rows[r][i])
)
const tokens = ROWS * LENGTH
const rate = (s: number) => Math.round(tokens / s)
const ms = (from: number, to: number) => (perStep.slice(from, to).reduce((a, b) => a + b, 0) / (to - from)).toFixed(2)
console.log(`bench/sample: ${backend.name}, ${ROWS} rows x ${LENGTH} tokens, shape ${JSON.stringify(config)}`)
console.log(
  `  no cache: ${rate(uncached.seconds)} tokens/s (a step: ${ms(0, 8)} ms at lengths 1-8, ${ms(56, 64)} ms at 57-64, ${
    ms(LENGTH - 8, LENGTH)
  } ms at the end)`
)
console.log(
  `  KV cache: ${rate(cached.seconds)} tokens/s = ${
    (uncached.seconds / cached.seconds).toFixed(2)
  }x; the first ${config.context} tokens of every row identical to no-cache: ${agreeWithinContext}`
)
