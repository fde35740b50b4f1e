/**
 * Sampling over threads: a decoder whose rows are cut into contiguous ranges, the first stepped on the calling
 * thread and each other on a worker thread of its own (decode-worker.ts), all at once. Rows are independent (each
 * one's affine sums, LayerNorm and attention read that row alone), so every row's logits are the bits one decoder of
 * all the rows gives, whatever the thread count: the count is not a stage's param. The calling thread draws the
 * tokens from the gathered logits in row order, as before.
 *
 * The decoder is synchronous (decode.ts steps it in a loop): the calling thread waits for the workers on shared
 * memory (decode-channel.ts), not on its event loop.
 */
import { Worker } from "node:worker_threads"
import {
  awaitAnswer,
  type DecodeChannel,
  decodeChannel,
  type DecodeWorkerInit,
  DISPOSE,
  OPEN,
  type OpenDecoder,
  request,
  STEP
} from "./decode-channel.ts"
import { checkedDecoder, type DecoderPool } from "./family.ts"
import type { TransformerConfig } from "./transformer-config.ts"
import { transformerDecoder } from "./transformer-decoder.ts"
import type { Params } from "./weights.ts"
import { workerUrl } from "../../thread/worker-url.ts"

/** A decoder worker loads as this thread did: the bundle's worker, or the TypeScript one through tsx. */
const ENTRY = workerUrl("lm/neural/decode-worker", new URL("./decode-worker-entry.mjs", import.meta.url))

/**
 * The thread count for sampling: $OURO_DECODE_THREADS, else 1. It changes no output, so it is a setting of the
 * machine, not a param. Not one per core by default: `ouro run` computes a stage per core already whenever the
 * pipeline has independent ones (the arms of an experiment), and a step's threads wait for each other, so a
 * descheduled one stalls them all. Measured in `npm run start:neural` (two arms side by side on 2 cores): its 9
 * sampling stages took 31.7 s on 2 threads each against 23.8 s on one (the run before, same run manifest). It pays
 * where one stage has the machine (bench/sample, `--jobs 1`, a single arm).
 */
export const decodeThreads = (env = process.env.OURO_DECODE_THREADS): number => {
  if (env === undefined || env === "") return 1
  const n = Number(env)
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(`OURO_DECODE_THREADS must be a positive integer, got ${JSON.stringify(env)}`)
  }
  return n
}

/** A step answers in milliseconds; a worker silent this long has died. */
const ANSWER_TIMEOUT_MS = 10 * 60 * 1000

const startWorker = (init: DecodeWorkerInit): Promise<Worker> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(ENTRY, { workerData: init })
    worker.once("message", () => resolve(worker))
    worker.once("error", reject)
    worker.once("exit", (code) => reject(new Error(`decoder worker exited (${code}) before it was ready`)))
  })

export const startDecoderPool = async (
  config: TransformerConfig,
  params: Params,
  threads: number
): Promise<DecoderPool> => {
  if (!Number.isSafeInteger(threads) || threads < 1) {
    throw new Error(`decoder pool: threads must be >= 1, got ${threads}`)
  }
  const workers = await Promise.all(Array.from({ length: threads - 1 }, () => startWorker({ config, params })))
  // A pool left open does not keep the process alive.
  for (const w of workers) w.unref()
  const V = config.vocab
  return {
    threads,
    decoder(rows) {
      if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`decoder pool: rows must be >= 1, got ${rows}`)
      const k = Math.min(threads, rows)
      const bounds = Array.from({ length: k + 1 }, (_, i) => Math.round((i * rows) / k))
      const local = transformerDecoder(config, params, bounds[1])
      const remote: DecodeChannel[] = []
      const disposeAll = () => {
        local.dispose()
        for (const ch of remote) awaitAnswer(ch, request(ch, DISPOSE), ANSWER_TIMEOUT_MS)
      }
      try {
        for (let j = 1; j < k; j++) {
          const n = bounds[j + 1] - bounds[j]
          const ch = decodeChannel(n, V)
          const seq = request(ch, OPEN)
          const open: OpenDecoder = { buffer: ch.buffer, rows: n, seq }
          workers[j - 1].postMessage(open)
          awaitAnswer(ch, seq, ANSWER_TIMEOUT_MS)
          remote.push(ch)
        }
      } catch (e) {
        disposeAll()
        throw e
      }
      /** The range holding row r: 0 is the calling thread's, j > 0 is remote[j - 1]. */
      const rangeOf = (r: number) => {
        let j = 0
        while (r >= bounds[j + 1]) j++
        return j
      }
      return checkedDecoder("transformer", {
        rows,
        vocab: V,
        step(tokens) {
          const seqs = remote.map((ch, i) => {
            ch.tokens.set(tokens.subarray(bounds[i + 1], bounds[i + 2]))
            return request(ch, STEP)
          })
          const logits = new Float32Array(rows * V)
          let failure: unknown
          try {
            logits.set(local.step(tokens.subarray(0, bounds[1])))
          } catch (e) {
            failure = e
          }
          // Every worker answers before this returns or throws: none is left stepping into the next request.
          remote.forEach((ch, i) => {
            try {
              awaitAnswer(ch, seqs[i], ANSWER_TIMEOUT_MS)
              logits.set(ch.logits, bounds[i + 1] * V)
            } catch (e) {
              failure ??= e
            }
          })
          if (failure !== undefined) throw failure
          return logits
        },
        resetRow(r) {
          const j = rangeOf(r)
          // Applied by the worker before its next step, which is the next time the row is read.
          if (j === 0) local.resetRow(r)
          else remote[j - 1].resets[r - bounds[j]] = 1
        },
        reorder(from) {
          if (k > 1) {
            throw new Error(`a decoder split over ${k} threads cannot reorder its rows (beam search): use one thread`)
          }
          local.reorder(from)
        },
        dispose: disposeAll
      })
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()))
    }
  }
}
