/** The CLI's progress renderer: the `Progress` service writing to stderr. */
import { Effect, Layer } from "effect"
import { Progress, type ProgressEvent } from "../engine/Progress.ts"

/** Where progress goes: stderr, or (in a test) anything that looks like a terminal or a pipe. */
export interface ProgressOutput {
  readonly isTTY?: boolean
  readonly columns?: number
  readonly write: (text: string) => unknown
}

export interface ProgressOptions {
  /** No progress at all (`--quiet`, `--log-level none`). */
  readonly quiet: boolean
  readonly out?: ProgressOutput
}

/** Seconds as the progress lines show them: "0.32 s". */
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`

/** A wait shorter than this (and than a tenth of the compute time) is not worth a word. */
const WAIT_WORTH_SAYING_MS = 1000

/** "0.32 s", or "0.32 s (waited 22.4 s)" when the stage waited long for a worker or a lease before it computed. */
export const doneTime = (computeMs: number, waitedMs: number): string =>
  waitedMs >= WAIT_WORTH_SAYING_MS && waitedMs >= computeMs / 10
    ? `${seconds(computeMs)} (waited ${(waitedMs / 1000).toFixed(1)} s)`
    : seconds(computeMs)

/**
 * `indent + path + ": " + line` in at most `width` characters: the line (the numbers) is kept whole as long as it
 * fits, and the path is cut in its middle ("ngram-collapse/ar…/train-transformer"), so both of its ends stay.
 */
export const fitStatus = (indent: string, path: string, line: string, width: number): string => {
  const full = `${indent}${path}: ${line}`
  if (full.length <= width) return full
  const room = width - indent.length - 2 - line.length // characters left for the path
  if (room >= 5) {
    const head = Math.ceil((room - 1) / 2)
    const tail = room - 1 - head
    return `${indent}${path.slice(0, head)}…${path.slice(path.length - tail)}: ${line}`
  }
  // Not even a short path fits: the numbers alone, cut at the end.
  return `${indent}${line}`.slice(0, width)
}

/**
 * Progress on stderr, so stdout stays the result: one line per stage that ran, a stage's log lines, and its status
 * line (a progress bar) redrawn in place on a terminal, or printed at most every STATUS_EVERY_MS elsewhere.
 */
const STATUS_EVERY_MS = 10_000
export const progressLayer = (options: ProgressOptions) => {
  const out: ProgressOutput = options.out ?? process.stderr
  const tty = out.isTTY === true
  let shown = false // a status line is on screen (terminal only)
  const lastPlain = new Map<string, number>()
  let lastDraw = 0
  const write = (line: string) => {
    out.write(`${shown ? "\r\x1b[K" : ""}${line}\n`)
    shown = false
  }
  const status = (path: string, line: string) => {
    const now = performance.now()
    if (tty) {
      if (now - lastDraw < 100) return
      lastDraw = now
      out.write(`\r\x1b[K${fitStatus("          ", path, line, Math.max(20, (out.columns ?? 100) - 1))}`)
      shown = true
    } else if (now - (lastPlain.get(path) ?? -Infinity) >= STATUS_EVERY_MS) {
      lastPlain.set(path, now)
      write(`          ${path}: ${line}`)
    }
  }
  return Layer.succeed(Progress, {
    emit: (e: ProgressEvent) => {
      if (options.quiet) return Effect.void
      switch (e._tag) {
        case "Started":
          return Effect.sync(() => write(`  run     ${e.path}`))
        case "Finished":
          return e.status === "ran"
            ? Effect.sync(() => write(`  done    ${e.path}  ${doneTime(e.ms, e.waitedMs)}`))
            : Effect.void
        case "Log":
          return Effect.sync(() => write(`          ${e.path}: ${e.line}`))
        case "Status":
          return Effect.sync(() => status(e.path, e.line))
      }
    }
  })
}
