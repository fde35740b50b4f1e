/**
 * Processes of a cluster run on loopback, for the cluster tests, the fault script and the bench: workers
 * (`ouro worker`) whose stdout is collected and watched, a submitter (`ouro run --cluster`), local reference runs,
 * and checks on stores (records against a reference, manifests by bytes).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"

export const ROOT = resolve(import.meta.dirname, "../..")
const BIN = join(ROOT, "bin", "ouro.js")

export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const cleanEnv = (extra: Record<string, string>) => {
  const { OURO_STORE: _ignored, ...env } = process.env
  return { ...env, ...extra }
}

/** A running `ouro` process: its output so far, a wait for a line, its end. */
export interface Proc {
  readonly child: ChildProcess
  readonly out: () => string
  readonly err: () => string
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<string>
  readonly done: Promise<Result>
  readonly kill9: () => void
}

export const startOuro = (args: ReadonlyArray<string>, env: Record<string, string> = {}, bin = BIN): Proc => {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: ROOT,
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const waiters: Array<() => void> = []
  const poke = () => waiters.splice(0).forEach((w) => w())
  child.stdout!.setEncoding("utf8").on("data", (d: string) => ((stdout += d), poke()))
  child.stderr!.setEncoding("utf8").on("data", (d: string) => ((stderr += d), poke()))
  const done = new Promise<Result>((resolve) =>
    child.on("close", (code, signal) => (poke(), resolve({ code, signal, stdout, stderr })))
  )
  let ended = false
  void done.then(() => (ended = true))
  const waitFor = (pattern: RegExp, timeoutMs = 120_000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`)
          ),
        timeoutMs
      )
      const check = () => {
        const m = pattern.exec(stdout + "\n" + stderr)
        if (m !== null) return clearTimeout(timer), resolve(m[0])
        if (ended) {
          return clearTimeout(timer),
            reject(new Error(`ended before ${pattern}; stdout:\n${stdout}\nstderr:\n${stderr}`))
        }
        waiters.push(check)
      }
      check()
    })
  return {
    child,
    out: () => stdout,
    err: () => stderr,
    waitFor,
    done,
    kill9: () => void child.kill("SIGKILL")
  }
}

export const ouroSync = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Result => {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", env: cleanEnv(env) })
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
}

export interface WorkerOptions {
  readonly cluster: string
  readonly store: string
  readonly name: string
  readonly cache: string
  readonly lockExpirationSeconds?: number
  /** The local cache in front of a remote store (`--cache`): each worker its own, as on machines of their own. */
  readonly storeCache?: string
  /** Another ouroboros's bin/ouro.js (a worker of another version). */
  readonly bin?: string
}

/** Starts a worker and waits until it is a runner of the cluster. */
export const startWorker = async (o: WorkerOptions): Promise<Proc> => {
  const args = ["worker", "--cluster", o.cluster, "--store", o.store, "--name", o.name, "--code-cache", o.cache]
  if (o.lockExpirationSeconds !== undefined) args.push("--shard-lock-expiration", String(o.lockExpirationSeconds))
  if (o.storeCache !== undefined) args.push("--cache", o.storeCache)
  const w = startOuro(args, {}, o.bin)
  await w.waitFor(/\] ready/)
  return w
}

/** Stops workers: SIGTERM, then SIGKILL for one that does not stop. */
export const stopAll = async (procs: ReadonlyArray<Proc>) => {
  await Promise.all(procs.map(async (p) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return
    p.child.kill("SIGTERM")
    const timer = setTimeout(() => p.child.kill("SIGKILL"), 20_000)
    await p.done
    clearTimeout(timer)
  }))
}

/** The paths a worker's log says it computed (not found stored, not refused). */
export const computedBy = (log: string): string[] => [...log.matchAll(/^\[[^\]]+\] computed (\S+) /gm)].map((m) => m[1])

/** The keys (their first 12 digits) a worker's log says it started computing. */
export const keysStartedBy = (log: string): string[] =>
  [...log.matchAll(/^\[[^\]]+\] computing \S+ \(([0-9a-f]{12})\)/gm)].map((m) => m[1])

/** The paths a worker's log says it started computing. */
export const startedBy = (log: string): string[] => [...log.matchAll(/^\[[^\]]+\] computing (\S+) /gm)].map((m) => m[1])

export const manifestOf = (stdout: string): string => {
  const m = /run manifest ([0-9a-f]{64})/.exec(stdout)
  if (m === null) throw new Error(`no run manifest in:\n${stdout}`)
  return m[1]
}

export const blobBytes = (store: string, hash: string): Buffer =>
  readFileSync(join(store, "blobs", hash.slice(0, 2), hash))

/** Every record of a store: key → outputs (name → hash). */
export const recordOutputs = (store: string): Map<string, Record<string, string>> => {
  const found = new Map<string, Record<string, string>>()
  const dir = join(store, "records")
  for (const shard of readdirSync(dir)) {
    for (const file of readdirSync(join(dir, shard))) {
      const record = JSON.parse(readFileSync(join(dir, shard, file), "utf8")) as {
        key: string
        outputs: Record<string, { hash: string }>
      }
      // By output name, sorted: the order of a record's fields is no part of what it says.
      const outputs = Object.entries(record.outputs).map(([k, v]) => [k, v.hash] as const)
      found.set(record.key, Object.fromEntries(outputs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
    }
  }
  return found
}

/** Keys of `store` whose outputs differ from the same key's in `reference` (should be none). */
export const disagreeingKeys = (store: string, reference: string): string[] => {
  const ref = recordOutputs(reference)
  return [...recordOutputs(store)].filter(([key, outputs]) =>
    ref.has(key) && JSON.stringify(outputs) !== JSON.stringify(ref.get(key))
  ).map(([key]) => key)
}
