/**
 * A worker thread of a decoder pool (decoder-pool.ts): it holds one transformer decoder over a range of a sampling
 * decoder's rows, and steps it when the calling thread asks through their shared channel (decode-channel.ts). It
 * loads the decoder's kernels only, not TensorFlow.js.
 */
import { parentPort, workerData } from "node:worker_threads"
import {
  answer,
  COMMAND,
  decodeChannel,
  type DecodeWorkerInit,
  DISPOSE,
  type OpenDecoder,
  SEQ,
  spinUntilChanged,
  STEP,
  writeError
} from "./decode-channel.ts"
import { loadDecodeKernels } from "./decode-kernel.ts"
import type { Decoder } from "./family.ts"
import { transformerDecoder } from "./transformer-decoder.ts"

const port = parentPort
if (port === null) throw new Error("decode-worker: not started as a worker thread")
const init = workerData as DecodeWorkerInit
const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** Serves one decoder until the caller disposes of it; blocks this thread meanwhile (it has nothing else to do). */
const serve = (open: OpenDecoder): void => {
  const ch = decodeChannel(open.rows, init.config.vocab, open.buffer)
  let decoder: Decoder
  try {
    decoder = transformerDecoder(init.config, init.params, open.rows)
  } catch (e) {
    writeError(ch, message(e))
    answer(ch, open.seq)
    return
  }
  answer(ch, open.seq)
  let seen = open.seq
  for (;;) {
    spinUntilChanged(ch.control, SEQ, seen)
    // A wake-up is no request: the caller's notify of request n can come late, after this thread answered n and
    // went back to waiting (on a loaded machine, a thread descheduled between its add and its notify), and then
    // it wakes this wait for n + 1. Taken as a request, n was stepped twice and the rows ran a token ahead. A
    // request is there only once SEQ has moved.
    while (Atomics.load(ch.control, SEQ) === seen) Atomics.wait(ch.control, SEQ, seen)
    seen = Atomics.load(ch.control, SEQ)
    const command = Atomics.load(ch.control, COMMAND)
    if (command === DISPOSE) {
      decoder.dispose()
      answer(ch, seen)
      return
    }
    try {
      if (command !== STEP) throw new Error(`unknown request ${command}`)
      for (let r = 0; r < open.rows; r++) {
        if (ch.resets[r] === 1) {
          decoder.resetRow(r)
          ch.resets[r] = 0
        }
      }
      ch.logits.set(decoder.step(ch.tokens))
    } catch (e) {
      writeError(ch, message(e))
    }
    answer(ch, seen)
  }
}

// Requests wait for the kernels: a promise, not a top-level await (the bundled CLI is one CommonJS file).
const ready = loadDecodeKernels().then(() => port.postMessage({ ready: true }))
port.on("message", (open: OpenDecoder) => void ready.then(() => serve(open)))
