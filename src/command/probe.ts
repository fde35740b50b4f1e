/**
 * Env probes: small commands whose output joins a command stage's key (the interpreter's version, a package's
 * version, the device). Run once per process per argv, when a stage is configured (so `ouro plan` knows the key); a
 * probe that fails does not make the pipeline invalid (it can still be planned and shown): its stage fails when it
 * runs, with the probe's error. A stage worker thread is handed the results its process already has (`knownProbes`,
 * `adoptProbes`): it computes under the keys the main thread planned, without starting every probe again (an
 * `import torch` is seconds).
 */
import { spawnSync } from "node:child_process"
import { describe } from "../errors/index.ts"
import { findProgram } from "./process.ts"

export type ProbeResult = { readonly ok: true; readonly value: string } | {
  readonly ok: false
  readonly detail: string
}

const memo = new Map<string, ProbeResult>()

const PROBE_TIMEOUT_MS = 120_000

export const probe = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string>>): ProbeResult => {
  const key = JSON.stringify(argv)
  const hit = memo.get(key)
  if (hit !== undefined) return hit
  const result = runProbe(argv, env)
  memo.set(key, result)
  return result
}

/** Every probe this thread has run, with its result: for the worker threads it starts. */
export const knownProbes = (): ReadonlyArray<readonly [string, ProbeResult]> => [...memo]

/** Takes the results of another thread's probes as this thread's own (a probe already run here is kept). */
export const adoptProbes = (known: ReadonlyArray<readonly [string, ProbeResult]>): void => {
  for (const [key, result] of known) if (!memo.has(key)) memo.set(key, result)
}

const runProbe = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string>>): ProbeResult => {
  const shown = argv.map((a) => (/^[\w./:=-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")
  const found = findProgram(argv[0] ?? "", env)
  if (!found.ok) return { ok: false, detail: found.detail }
  try {
    const r = spawnSync(argv[0], argv.slice(1), {
      encoding: "utf8",
      env,
      timeout: PROBE_TIMEOUT_MS,
      stdio: ["ignore", "pipe", "pipe"]
    })
    if (r.error !== undefined) return { ok: false, detail: `${shown}: ${r.error.message}` }
    if (r.status !== 0) {
      const last = (r.stderr || r.stdout).trim().split("\n").filter((l) => l.trim() !== "").at(-1) ?? ""
      return {
        ok: false,
        detail: `${shown} exited with code ${r.status ?? r.signal}${last === "" ? "" : `: ${last.trim()}`}`
      }
    }
    return { ok: true, value: r.stdout.trim() }
  } catch (e) {
    return { ok: false, detail: `${shown}: ${describe(e)}` }
  }
}
