/**
 * The shared memory between a decoder pool's calling thread and one decoder worker (decoder-pool.ts,
 * decode-worker.ts). A decode step takes about a millisecond, so a request and its answer go through a
 * SharedArrayBuffer with Atomics.wait and notify (microseconds) instead of messages (which would need the calling
 * thread's event loop, and cost more than the step).
 *
 * Layout: a control block of Int32s, the row range's tokens, its reset flags, its logits, and room for an error's
 * text. The caller writes a request and bumps SEQ; the worker answers and sets DONE to that SEQ.
 */
import type { TransformerConfig } from "./transformer-config.ts"
import type { Params } from "./weights.ts"

/** What a decoder worker starts with (its workerData). */
export interface DecodeWorkerInit {
  readonly config: TransformerConfig
  readonly params: Params
}

/** Opens a decoder of `rows` rows on the channel in `buffer`; the caller has made request `seq` for the answer. */
export interface OpenDecoder {
  readonly buffer: SharedArrayBuffer
  readonly rows: number
  readonly seq: number
}

export const SEQ = 0
export const DONE = 1
export const COMMAND = 2
/** Bytes of the error text in the error area; 0 = the request succeeded. */
export const ERROR = 3
const CONTROL_INTS = 4
const ERROR_BYTES = 4096

export const STEP = 1
export const DISPOSE = 2
/** The caller asks for the worker's answer to opening a channel (decode-worker.ts) with this one. */
export const OPEN = 3

export interface DecodeChannel {
  readonly buffer: SharedArrayBuffer
  readonly control: Int32Array
  readonly tokens: Int32Array
  /** 1 where the row starts afresh before the next step's token. */
  readonly resets: Uint8Array
  readonly logits: Float32Array
  readonly error: Uint8Array
}

const pad4 = (n: number) => Math.ceil(n / 4) * 4

/** Views of a channel's buffer for `rows` rows of `vocab` logits (a new buffer when none is given). */
export const decodeChannel = (
  rows: number,
  vocab: number,
  buffer = new SharedArrayBuffer(4 * CONTROL_INTS + 4 * rows + pad4(rows) + 4 * rows * vocab + ERROR_BYTES)
): DecodeChannel => {
  let at = 0
  const take = (bytes: number) => {
    const from = at
    at += bytes
    return from
  }
  return {
    buffer,
    control: new Int32Array(buffer, take(4 * CONTROL_INTS), CONTROL_INTS),
    tokens: new Int32Array(buffer, take(4 * rows), rows),
    resets: new Uint8Array(buffer, take(pad4(rows)), rows),
    logits: new Float32Array(buffer, take(4 * rows * vocab), rows * vocab),
    error: new Uint8Array(buffer, take(ERROR_BYTES), ERROR_BYTES)
  }
}

/**
 * Polls `control[index]` while it holds `value`, for at most SPIN_MS: an answer or a request due within a step's
 * time arrives without the futex sleep and wake-up (tens of microseconds each), then Atomics.wait takes over.
 * Measured at bench/sample's shape (2 threads, medians of 10 passes, three runs each): without polling 1.11-1.46x
 * one thread's tokens/s, polling 0.2 ms 1.44-1.59x, 1 ms 1.31-1.75x.
 */
const SPIN_MS = 0.5
export const spinUntilChanged = (control: Int32Array, index: number, value: number): void => {
  const until = performance.now() + SPIN_MS
  while (Atomics.load(control, index) === value && performance.now() < until) {
    // poll
  }
}

/** The worker's side: writes an error's text (cut to the area) and marks the request failed. */
export const writeError = (ch: DecodeChannel, message: string): void => {
  const bytes = new TextEncoder().encode(message).subarray(0, ERROR_BYTES)
  ch.error.set(bytes)
  Atomics.store(ch.control, ERROR, bytes.length)
}

/** The worker's side: the request numbered `seq` is answered. */
export const answer = (ch: DecodeChannel, seq: number): void => {
  Atomics.store(ch.control, DONE, seq)
  Atomics.notify(ch.control, DONE)
}

/** The caller's side: sends `command`; returns the request's number, for `awaitAnswer`. */
export const request = (ch: DecodeChannel, command: number): number => {
  Atomics.store(ch.control, ERROR, 0)
  Atomics.store(ch.control, COMMAND, command)
  const seq = Atomics.add(ch.control, SEQ, 1) + 1
  Atomics.notify(ch.control, SEQ)
  return seq
}

/**
 * The caller's side: blocks until request `seq` is answered; throws the worker's error, or after `timeoutMs`
 * without an answer (a worker that died cannot answer, and its exit event would need this thread's event loop).
 */
export const awaitAnswer = (ch: DecodeChannel, seq: number, timeoutMs: number): void => {
  spinUntilChanged(ch.control, DONE, seq - 1) // each request is answered before the next is made
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const done = Atomics.load(ch.control, DONE)
    if (done === seq) break
    const left = deadline - performance.now()
    if (left <= 0) throw new Error(`decoder worker: no answer in ${Math.round(timeoutMs / 1000)} s`)
    Atomics.wait(ch.control, DONE, done, left)
  }
  const failed = Atomics.load(ch.control, ERROR)
  if (failed > 0) throw new Error(`decoder worker: ${new TextDecoder().decode(ch.error.slice(0, failed))}`)
}
