/**
 * Sampling over threads (src/lm/neural/decoder-pool.ts): a decoder whose rows are split over worker threads gives
 * each row the logits one decoder of all the rows gives, bit for bit, so sampling writes the same documents whatever
 * the thread count (which is therefore no param of a stage).
 */
import assert from "node:assert/strict"
import { setTimeout as sleep } from "node:timers/promises"
import { after, before, describe, it } from "node:test"
import { Worker } from "node:worker_threads"
import { selectBackend } from "../src/lm/neural/backend.ts"
import { decodeDocuments, type DecodeOptions } from "../src/lm/neural/decode.ts"
import { awaitAnswer, decodeChannel, OPEN, request, SEQ, STEP } from "../src/lm/neural/decode-channel.ts"
import { decodeThreads, startDecoderPool } from "../src/lm/neural/decoder-pool.ts"
import type { DecoderPool } from "../src/lm/neural/family.ts"
import { initParams, type TransformerConfig } from "../src/lm/neural/transformer.ts"
import { transformerDecoder } from "../src/lm/neural/transformer-decoder.ts"
import { PLAIN_SAMPLING } from "./support/decode.ts"

const CONFIG: TransformerConfig = { vocab: 23, layers: 2, dModel: 16, heads: 2, context: 8 }
const PARAMS = initParams(CONFIG, 5)

const OPTIONS: DecodeOptions = {
  ...PLAIN_SAMPLING,
  documents: 40,
  // Past the context of 8: rows are rebuilt from their last 4 tokens, some while others step.
  maxLength: 30,
  rows: 7,
  seed: 11
}

describe("lm/decoder-pool", () => {
  let pools: DecoderPool[] = []
  before(async () => {
    await selectBackend()
    pools = await Promise.all([2, 3].map((threads) => startDecoderPool(CONFIG, PARAMS, threads)))
  })
  after(async () => {
    await Promise.all(pools.map((p) => p.close()))
  })

  it("steps every row to the bits of one decoder, rows split over 2 and 3 threads, resets and rebuilds included", () => {
    for (const pool of pools) {
      const one = transformerDecoder(CONFIG, PARAMS, 7)
      const split = pool.decoder(7)
      let tokens = Int32Array.from({ length: 7 }, (_, r) => 1 + r)
      for (let step = 0; step < 20; step++) {
        if (step === 5 || step === 13) {
          // Rows of each range start afresh (on a worker, applied before its next step).
          for (const r of [0, 3, 6]) {
            one.resetRow(r)
            split.resetRow(r)
          }
        }
        const a = one.step(tokens), b = split.step(tokens)
        assert.deepEqual(b, a, `${pool.threads} threads, step ${step}`)
        tokens = Int32Array.from({ length: 7 }, (_, r) => (tokens[r] * 7 + step + r) % CONFIG.vocab)
      }
      one.dispose()
      split.dispose()
    }
  })

  it("sampling writes the same documents on 1, 2 and 3 threads", () => {
    const alone = decodeDocuments((rows) => transformerDecoder(CONFIG, PARAMS, rows), OPTIONS)
    assert.equal(alone.length, OPTIONS.documents)
    assert.ok(alone.some((d) => d.length > CONFIG.context), "some document is longer than the context")
    for (const pool of pools) {
      const split = decodeDocuments((rows) => pool.decoder(rows), OPTIONS)
      assert.deepEqual(split, alone, `${pool.threads} threads`)
    }
  })

  it("a pool's decoder takes more threads than rows, and several decoders one after another", () => {
    const pool = pools[1]
    for (const rows of [1, 2, 5]) {
      const one = transformerDecoder(CONFIG, PARAMS, rows)
      const split = pool.decoder(rows)
      const tokens = Int32Array.from({ length: rows }, (_, r) => r + 2)
      assert.deepEqual(split.step(tokens), one.step(tokens), `${rows} rows`)
      one.dispose()
      split.dispose()
    }
  })

  it("a worker steps each request once: a late wake-up of its wait (the caller's notify of the last request) is none", async () => {
    const worker = new Worker(new URL("../src/lm/neural/decode-worker-entry.mjs", import.meta.url), {
      workerData: { config: CONFIG, params: PARAMS }
    })
    try {
      await new Promise((resolve) => worker.once("message", resolve))
      const rows = 3
      const ch = decodeChannel(rows, CONFIG.vocab)
      const opened = request(ch, OPEN)
      worker.postMessage({ buffer: ch.buffer, rows, seq: opened })
      awaitAnswer(ch, opened, 60_000)
      const one = transformerDecoder(CONFIG, PARAMS, rows)
      const step = (tokens: Int32Array) => {
        ch.tokens.set(tokens)
        awaitAnswer(ch, request(ch, STEP), 60_000)
        return ch.logits.slice()
      }
      const first = Int32Array.from([1, 2, 3]), second = Int32Array.from([4, 5, 6])
      assert.deepEqual(step(first), one.step(first))
      // The wake-up a late notify gives: nothing asked, SEQ unchanged. Then time for the worker to (wrongly) act on it.
      await sleep(50)
      Atomics.notify(ch.control, SEQ)
      await sleep(50)
      assert.deepEqual(step(second), one.step(second), "the worker's rows are where the caller's are")
    } finally {
      await worker.terminate()
    }
  })

  it("refuses what it cannot do with one clear line: reorder across threads, a wrong token count, use after dispose", () => {
    const split = pools[0].decoder(4)
    assert.throws(
      () => split.reorder(Int32Array.from([0, 0, 1, 1])),
      /a decoder split over 2 threads cannot reorder its rows \(beam search\): use one thread/
    )
    assert.throws(() => split.step(new Int32Array(3)), /transformer decoder: 3 tokens for 4 rows/)
    split.dispose()
    assert.throws(() => split.step(new Int32Array(4)), /transformer decoder: used after dispose/)
  })

  it("the thread count: $OURO_DECODE_THREADS when set, else 1", () => {
    assert.equal(decodeThreads("3"), 3)
    assert.equal(decodeThreads(undefined), 1)
    assert.equal(decodeThreads(""), 1)
    for (const bad of ["0", "-1", "1.5", "two"]) {
      assert.throws(
        () => decodeThreads(bad),
        new RegExp(`^Error: OURO_DECODE_THREADS must be a positive integer, got "${bad.replace(".", "\\.")}"$`)
      )
    }
  })
})
