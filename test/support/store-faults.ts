/** Helpers for the store fault tests: a toy pipeline file the real `ouro` can run, child processes, mount namespaces. */
import { spawn, spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import { Metrics } from "../../src/artifact/artifacts.ts"
import { defineStage } from "../../src/pipeline/stage.ts"
import { ROOT } from "./cli.ts"
import { Text } from "./toy.ts"

const BIN = join(ROOT, "bin", "ouro.js")

/** A toy stage with a metrics output, so that `ouro run` reads a blob back after the run (its metrics table). */
export const Score = defineStage({
  kind: "toy/score",
  version: 1,
  params: Schema.Struct({}),
  inputs: { in: Text },
  outputs: { metrics: Metrics },
  run: (_p, i) => Effect.succeed({ metrics: { values: { length: i.in.length } } })
})

/** source → upper(suffix) → score: three stages, no language model, quick to run from the CLI. */
export const writeToyPipeline = (
  dir: string,
  o: { readonly name?: string; readonly suffix?: string; readonly file?: string } = {}
): string => {
  const file = join(dir, o.file ?? `${o.name ?? "toy"}.ts`)
  writeFileSync(
    file,
    `
import { Pipeline } from ${JSON.stringify(join(ROOT, "src/index.ts"))}
import { Source, Upper } from ${JSON.stringify(join(ROOT, "test/support/toy.ts"))}
import { Score } from ${JSON.stringify(join(ROOT, "test/support/store-faults.ts"))}

export default Pipeline.make(${JSON.stringify(o.name ?? "toy")}, (p) => {
  const src = p.add(Source({ text: "some text" }), {})
  const up = p.add(Upper({ suffix: ${JSON.stringify(o.suffix ?? "!")} }), { in: src.out })
  p.add(Score({}), { in: up.out })
})
`
  )
  return file
}

export interface Running {
  readonly pid: number
  readonly stderr: () => string
  readonly stdout: () => string
  readonly done: Promise<
    {
      readonly code: number | null
      readonly signal: NodeJS.Signals | null
      readonly stdout: string
      readonly stderr: string
    }
  >
}

/** `ouro ARGS` in the background. */
export const ouroAsync = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Running => {
  const { OURO_STORE: _ignored, ...base } = process.env
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...base, ...env } })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d) => (stdout += d))
  child.stderr.on("data", (d) => (stderr += d))
  return {
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    done: new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })))
  }
}

/** The state letter of a process (R, S, T for stopped, Z, ...), from /proc. */
export const processState = (pid: number): string | undefined => {
  try {
    return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1]
  } catch {
    return undefined
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits until `ok()` or `ms` pass; says which. */
export const waitFor = async (ok: () => boolean, ms: number): Promise<boolean> => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (ok()) return true
    await sleep(25)
  }
  return ok()
}

/** Can this process make a private mount namespace (root, unshare available)? Tests that need one skip otherwise. */
export const canUnshare = (): boolean =>
  process.platform === "linux" && spawnSync("unshare", ["-m", "true"], { encoding: "utf8" }).status === 0

/** Runs a bash script in a private mount namespace (mounts made there vanish with it). */
export const inNamespace = (script: string, cwd: string) => {
  const { OURO_STORE: _ignored, ...env } = process.env
  const r = spawnSync("unshare", ["-m", "bash", "-c", script], {
    cwd,
    encoding: "utf8",
    env: { ...env, OURO: `${process.execPath} ${BIN}` }
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}
