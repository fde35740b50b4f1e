/**
 * Running a program for a command stage: in its own process group (spawned detached), with a watchdog that kills
 * the whole group when this process goes away (even by kill -9, or when the worker thread that started it is
 * terminated), a timeout, and interruption (Ctrl-C) that kill the group too. Its stdout and stderr stream to a line
 * callback and are kept as a bounded log: the last `keepBytes` of them.
 */
import { spawn } from "node:child_process"
import { accessSync, constants, statSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"

export type ProcessOutcome =
  | { readonly _tag: "Exited"; readonly code: number; readonly log: string; readonly bytes: number }
  | { readonly _tag: "TimedOut"; readonly seconds: number; readonly log: string; readonly bytes: number }
  | { readonly _tag: "NotStarted"; readonly detail: string }

export interface ProcessOptions {
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  /** Seconds; undefined = no limit. */
  readonly timeout: number | undefined
  /** Bytes of output kept (the last ones). */
  readonly keepBytes: number
  /** A complete line of output (stdout or stderr). */
  readonly onLine: (line: string) => void
  /** A line ended by a carriage return (a progress bar): transient. */
  readonly onStatus: (line: string) => void
}

/**
 * The watchdog: `sh` leads the new process group, runs the program in the background with stdin from /dev/null,
 * and a subshell blocked on reading sh's stdin (a pipe from this process, kept on fd 3: a background job's own stdin
 * is /dev/null) kills the group when that pipe closes,
 * which happens when this process (or the worker thread holding the pipe) ends, however it ends.
 */
const WRAPPER = `exec 3<&0
"$@" </dev/null 3<&- &
child=$!
( read -r _ <&3 ; kill -KILL -$$ ) >/dev/null 2>&1 &
exec 3<&-
wait "$child"`

/** Where `program` would be run from, or a sentence saying why it cannot be. */
export const findProgram = (
  program: string,
  env: Readonly<Record<string, string>>
): { readonly ok: true } | { readonly ok: false; readonly detail: string } => {
  const runnable = (p: string) => {
    try {
      accessSync(p, constants.X_OK)
      return statSync(p).isFile()
    } catch {
      return false
    }
  }
  if (program.includes("/")) {
    return runnable(program)
      ? { ok: true }
      : { ok: false, detail: `program ${program} not found or not executable` }
  }
  for (const dir of (env["PATH"] ?? "").split(path.delimiter)) {
    if (dir !== "" && runnable(path.join(dir, program))) return { ok: true }
  }
  return { ok: false, detail: `program ${program} not found on PATH` }
}

/** The last `limit` bytes of what was appended (as strings; measured in UTF-16 units, close enough for a bound). */
const boundedTail = (limit: number) => {
  const chunks: string[] = []
  let kept = 0, total = 0, dropped = false
  return {
    push: (s: string) => {
      chunks.push(s)
      kept += s.length
      total += s.length
      while (kept > limit && chunks.length > 1) {
        kept -= chunks.shift()!.length
        dropped = true
      }
      if (kept > limit) {
        chunks[0] = chunks[0].slice(kept - limit)
        kept = limit
        dropped = true
      }
    },
    text: () =>
      (dropped ? `[... earlier output dropped: the log keeps the last ${limit} characters]\n` : "") + chunks.join(""),
    total: () => total
  }
}

/** After this much output shown line by line, only a throttled status line shows the rest (it is still kept). */
const SHOW_LIMIT = 1 << 20

export const runProcess = (o: ProcessOptions): Effect.Effect<ProcessOutcome> =>
  Effect.callback<ProcessOutcome>((resume) => {
    const found = findProgram(o.argv[0] ?? "", o.env)
    if (!found.ok) return resume(Effect.succeed({ _tag: "NotStarted", detail: found.detail }))
    const child = spawn("/bin/sh", ["-c", WRAPPER, "ouro-command", ...o.argv], {
      cwd: o.cwd,
      env: o.env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"]
    })
    const pgid = child.pid
    const killGroup = (signal: NodeJS.Signals) => {
      if (pgid === undefined) return
      try {
        process.kill(-pgid, signal)
      } catch {
        // already gone
      }
    }
    const tail = boundedTail(o.keepBytes)
    let shown = 0, lastStatus = 0
    const show = (line: string, transient: boolean) => {
      if (!transient && shown < SHOW_LIMIT) {
        shown += line.length + 1
        o.onLine(line)
        return
      }
      const now = performance.now() // display throttling only, never stored
      if (now - lastStatus > 200) {
        lastStatus = now
        o.onStatus(line.length > 200 ? line.slice(0, 200) + "…" : line)
      }
    }
    const lineSplitter = () => {
      const decoder = new TextDecoder("utf-8")
      let pending = ""
      return {
        write: (chunk: Buffer | undefined) => {
          const s = chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true })
          tail.push(s)
          pending += s
          let at = 0
          for (;;) {
            const nl = pending.indexOf("\n", at)
            const cr = pending.indexOf("\r", at)
            if (nl < 0 && cr < 0) break
            if (cr >= 0 && (nl < 0 || cr < nl)) {
              if (pending[cr + 1] === "\n") {
                show(pending.slice(at, cr), false)
                at = cr + 2
              } else {
                show(pending.slice(at, cr), true)
                at = cr + 1
              }
            } else {
              show(pending.slice(at, nl), false)
              at = nl + 1
            }
          }
          pending = pending.slice(at)
          if (pending.length > 1 << 16) {
            show(pending, true)
            pending = ""
          }
          if (chunk === undefined && pending !== "") show(pending, false)
        }
      }
    }
    const out = lineSplitter(), err = lineSplitter()
    child.stdout.on("data", (c: Buffer) => out.write(c))
    child.stderr.on("data", (c: Buffer) => err.write(c))
    child.stdin.on("error", () => {}) // the watchdog's pipe: nothing is written to it
    let timedOut = false
    const timer = o.timeout === undefined ? undefined : setTimeout(() => {
      timedOut = true
      killGroup("SIGTERM")
      setTimeout(() => killGroup("SIGKILL"), 2000).unref()
    }, o.timeout * 1000)
    let exitCode: number | undefined
    child.on("error", (e) => {
      if (timer !== undefined) clearTimeout(timer)
      killGroup("SIGKILL")
      resume(Effect.succeed({ _tag: "NotStarted", detail: e.message }))
    })
    child.on("exit", (code, signal) => {
      exitCode = code ?? 128 + (signal === null ? 0 : signalNumber(signal))
      // The program is done: whatever it left running in its group (and the watchdog) goes with it.
      killGroup("SIGKILL")
    })
    child.on("close", () => {
      if (timer !== undefined) clearTimeout(timer)
      out.write(undefined)
      err.write(undefined)
      const log = tail.text(), bytes = tail.total()
      resume(Effect.succeed(
        timedOut
          ? { _tag: "TimedOut", seconds: o.timeout ?? 0, log, bytes }
          : { _tag: "Exited", code: exitCode ?? -1, log, bytes }
      ))
    })
    // Interrupted (Ctrl-C, a failed sibling, a timeout of the whole run): the group is killed, nothing is read back.
    return Effect.sync(() => {
      if (timer !== undefined) clearTimeout(timer)
      killGroup("SIGKILL")
    })
  })

const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15
}
const signalNumber = (s: string): number => SIGNALS[s] ?? 0

/** The last `n` non-empty lines of a log, for an error message. */
export const lastLines = (log: string, n: number): ReadonlyArray<string> => {
  const lines = log.split(/\r?\n|\r/).filter((l) => l.trim() !== "")
  return lines.slice(-n).map((l) => (l.length > 300 ? l.slice(0, 300) + "…" : l))
}
