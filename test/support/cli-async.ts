/** Runs `ouro` in a child process that a test can signal while it runs (test/support/cli.ts waits for the end). */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { ROOT } from "./cli.ts"

const BIN = join(ROOT, "bin", "ouro.js")

export interface Running {
  readonly child: ChildProcess
  /** Resolves once stderr has a line starting with `prefix` (after trimming), with the time it was seen. */
  readonly waitFor: (prefix: string, timeoutMs: number) => Promise<number>
  /** Resolves at exit: the exit code (128 + n when killed by signal n and not handled), and what was printed. */
  readonly exit: Promise<
    {
      readonly code: number | null
      readonly signal: NodeJS.Signals | null
      readonly at: number
      readonly stdout: string
      readonly stderr: string
    }
  >
}

export const startOuro = (cwd: string, ...args: string[]): Running => {
  const { OURO_STORE: _ignored, ...env } = process.env
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  const listeners: Array<() => void> = []
  child.stdout!.on("data", (d) => (stdout += d))
  child.stderr!.on("data", (d) => {
    stderr += d
    for (const l of [...listeners]) l()
  })
  const exit = new Promise<
    { code: number | null; signal: NodeJS.Signals | null; at: number; stdout: string; stderr: string }
  >((done) => child.on("close", (code, signal) => done({ code, signal, at: Date.now(), stdout, stderr })))
  const waitFor = (prefix: string, timeoutMs: number) =>
    new Promise<number>((resolve, reject) => {
      const check = () => {
        if (stderr.split("\n").some((l) => l.trim().startsWith(prefix))) {
          clearTimeout(timer)
          listeners.splice(listeners.indexOf(check), 1)
          resolve(Date.now())
        }
      }
      const timer = setTimeout(() => {
        listeners.splice(listeners.indexOf(check), 1)
        reject(
          new Error(`no line starting with ${JSON.stringify(prefix)} within ${timeoutMs} ms; stderr so far:\n${stderr}`)
        )
      }, timeoutMs)
      listeners.push(check)
      check()
    })
  return { child, waitFor, exit }
}
