/** The CLI's progress renderer: the `Progress` service writing to stderr. */
import { Effect, Layer } from "effect"
import { Progress, type ProgressEvent } from "../engine/Progress.ts"

/**
 * Progress on stderr, so stdout stays the result: one line per stage that ran, a stage's log lines, and its status
 * line (a progress bar) redrawn in place on a terminal, or printed at most every STATUS_EVERY_MS elsewhere.
 */
const STATUS_EVERY_MS = 10_000
export const progressLayer = (quiet: boolean) => {
  const tty = process.stderr.isTTY === true
  let shown = false // a status line is on screen (terminal only)
  const lastPlain = new Map<string, number>()
  let lastDraw = 0
  const write = (line: string) => {
    process.stderr.write(`${shown ? "\r\x1b[K" : ""}${line}\n`)
    shown = false
  }
  const status = (path: string, line: string) => {
    const now = performance.now()
    if (tty) {
      if (now - lastDraw < 100) return
      lastDraw = now
      const text = `          ${path}: ${line}`.slice(0, Math.max(20, (process.stderr.columns ?? 100) - 1))
      process.stderr.write(`\r\x1b[K${text}`)
      shown = true
    } else if (now - (lastPlain.get(path) ?? -Infinity) >= STATUS_EVERY_MS) {
      lastPlain.set(path, now)
      write(`          ${path}: ${line}`)
    }
  }
  return Layer.succeed(Progress, {
    emit: (e: ProgressEvent) => {
      if (quiet) return Effect.void
      switch (e._tag) {
        case "Started":
          return Effect.sync(() => write(`  run     ${e.path}`))
        case "Finished":
          return e.status === "ran" ? Effect.sync(() => write(`  done    ${e.path}  ${(e.ms / 1000).toFixed(2)} s`)) : Effect.void
        case "Log":
          return Effect.sync(() => write(`          ${e.path}: ${e.line}`))
        case "Status":
          return Effect.sync(() => status(e.path, e.line))
      }
    }
  })
}
