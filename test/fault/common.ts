/**
 * What every fault kind of `npm run fault` shares: the pipelines (small n-gram ones, a few seconds from an empty
 * store), `ouro` as a child process, the seeded generator, the record of violations, and the sentinel: files outside
 * the store (a directory of files, the links' targets, the project directory) hashed with their contents, modes and
 * modification times before and after every trial, so that a trial that touched anything outside the store is a
 * violation.
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from "node:fs"
import { join, resolve } from "node:path"
import { uniformInt } from "pure-rand/distribution/uniformInt"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import type { RandomGenerator } from "pure-rand/types/RandomGenerator"
import { Effect, Layer } from "effect"
import { formatVerifyReport, isClean, verify } from "../../src/audit/verify.ts"
import { ArtifactStore } from "../../src/store/ArtifactStore.ts"
import { makeLocalStore } from "../../src/store/local.ts"

export const ROOT = resolve(import.meta.dirname, "../..")
export const BIN = join(ROOT, "bin/ouro.js")

export type Rng = RandomGenerator
/** A generator of its own for each kind, so that a kind's trials are the same whatever runs beside it. */
export const rngFor = (seed: number, kind: string): Rng => {
  let h = seed >>> 0
  for (const c of kind) h = Math.imul(h ^ c.charCodeAt(0), 0x9e3779b1) >>> 0
  return xoroshiro128plus(h)
}
export const int = (rng: Rng, from: number, to: number): number => uniformInt(rng, from, to)
export const pick = <A>(rng: Rng, xs: ReadonlyArray<A>): A => xs[uniformInt(rng, 0, xs.length - 1)]

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * The pipeline every kind runs: a seed corpus, a tokenizer and `generations` of train, sample, dedup, evaluate, mix.
 * `variant` changes the samples' seeds from the second generation on: a pipeline of the same name that shares a
 * prefix (the seed, the tokenizer, the first model), as an edited experiment does.
 */
export const writePipeline = (
  dir: string,
  file: string,
  o: { readonly variant?: number; readonly generations?: number } = {}
): string => {
  const path = join(dir, file)
  writeFileSync(
    path,
    `
import { Evaluate, Filter, Mix, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"
export default Pipeline.make("fault", (p) => {
  const real = p.add(Seed.corpus({ source: ${
      JSON.stringify(join(ROOT, "data/shakespeare-sample.txt"))
    }, testFraction: 0.2, seed: 3 }), {})
  const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
  p.generations(${o.generations ?? 2}, { corpus: real.train, pool: real.train }, (g, prev) => {
    const { model } = g.add(Train.ngram({ order: 3 }), { corpus: prev.corpus, tokenizer })
    const seed = g.index === 0 ? 0 : g.index + ${10 * (o.variant ?? 0)}
    const sampled = g.add(Sample.text({ documents: 100, maxLength: 100, seed }), { model, tokenizer }).corpus
    const synthetic = g.add(Filter.dedup(), { corpus: sampled }).corpus
    g.add(Evaluate.lm({ selfBleuDocs: 10, selfBleuLength: 30 }), { model, tokenizer, test: real.test, sample: synthetic })
    return g.add(Mix.accumulate(), { real: real.train, previous: prev.pool, synthetic })
  })
})
`
  )
  return path
}

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface Child {
  readonly pid: number
  readonly stdout: () => string
  readonly stderr: () => string
  readonly done: Promise<Exit>
  kill(signal: NodeJS.Signals): void
}

/** `ouro ARGS` in the background, in `cwd`, with OURO_STORE unset and `env` added. */
export const ouroAsync = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Child => {
  const { OURO_STORE: _ignored, ...base } = process.env
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d) => (stdout += d))
  child.stderr.on("data", (d) => (stderr += d))
  const done = new Promise<Exit>((ok) => child.on("close", (code, signal) => ok({ code, signal, stdout, stderr })))
  return {
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    kill: (signal) => {
      try {
        child.kill(signal)
      } catch {
        // already gone
      }
    }
  }
}

export const ouro = (cwd: string, ...args: string[]): Promise<Exit> => ouroAsync(cwd, args).done

export const manifestOf = (stdout: string) => /run manifest ([0-9a-f]{64})/.exec(stdout)?.[1]

/** stderr of a command that failed as expected: no stack trace, no internal error, every line an `ouro:` line. */
export const stackFree = (stderr: string): boolean =>
  !/^\s+at /m.test(stderr) && !/internal error/.test(stderr) &&
  stderr.split("\n").filter((l) => l.trim() !== "").every((l) => l.startsWith("ouro: "))

/** The state letter of a process (R, S, T for stopped, Z, ...), from /proc. */
export const processState = (pid: number): string | undefined => {
  try {
    return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1]
  } catch {
    return undefined
  }
}

export const waitFor = async (ok: () => boolean, ms: number): Promise<boolean> => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (ok()) return true
    await sleep(25)
  }
  return ok()
}

/** Violations, each printed when found, tagged with its kind, trial and seed so that it can be reproduced. */
export class Violations {
  readonly all: string[] = []
  constructor(readonly seed: number) {}
  check(ok: boolean, where: string, what: () => string): boolean {
    if (!ok) {
      const line = `${where} (seed ${this.seed}): ${what()}`
      this.all.push(line)
      console.log(`  VIOLATION: ${line}`)
    }
    return ok
  }
}

/** Every entry under `dir` (links not followed): type, mode, mtime, size and a hash of its contents or target. */
export const treeHash = (dir: string): string => {
  const h = createHash("sha256")
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      const st = lstatSync(p)
      h.update(`${p.slice(dir.length)}\0${st.mode}\0${st.mtimeMs}\0${st.size}\0`)
      if (st.isSymbolicLink()) h.update(`link ${readlinkSync(p)}\0`)
      else if (st.isFile()) h.update(createHash("sha256").update(readFileSync(p)).digest("hex"))
      else if (st.isDirectory()) walk(p)
      h.update("\n")
    }
  }
  walk(dir)
  return h.digest("hex")
}

/**
 * A sentinel directory outside the store: files of several modes and old modification times, a folder, a link to
 * a file in it. `target` adds a file there (the target of a link a trial plants in the store).
 */
export class Sentinel {
  constructor(readonly dir: string, private readonly also: ReadonlyArray<string> = []) {
    mkdirSync(join(dir, "sub"), { recursive: true })
    const files: Array<[string, number, string]> = [
      ["notes.txt", 0o644, "my notes\n"],
      ["readonly.txt", 0o444, "do not touch\n"],
      ["run.sh", 0o755, "#!/bin/sh\necho hi\n"],
      ["sub/secret.bin", 0o600, "\u0000\u0001secret"]
    ]
    for (const [name, mode, text] of files) {
      writeFileSync(join(dir, name), text)
      chmodSync(join(dir, name), mode)
      utimesSync(join(dir, name), 1_000_000, 1_000_000)
    }
    symlinkSync("notes.txt", join(dir, "link-to-notes"))
  }
  /** A file in the sentinel holding `bytes` (mode 0644, modification time in 2001), for a link to point at. */
  target(name: string, bytes: Uint8Array): string {
    const p = join(this.dir, name)
    writeFileSync(p, bytes)
    chmodSync(p, 0o644)
    utimesSync(p, 1_000_000_000, 1_000_000_000)
    return p
  }
  hash(): string {
    return [this.dir, ...this.also].map(treeHash).join(":")
  }
}

/** The blobs of a store: [hash, path]. */
export const blobsOf = (store: string): Array<[string, string]> => {
  const dir = join(store, "blobs")
  return readdirSync(dir).sort().flatMap((shard) =>
    readdirSync(join(dir, shard)).sort().map((name): [string, string] => [name, join(dir, shard, name)])
  )
}

export interface StoredRecord {
  readonly key: string
  readonly node: string
  readonly inputs: Record<string, string>
  readonly outputs: Record<string, { readonly hash: string; readonly artifact: string; readonly bytes: number }>
}

/** The stage records of a store, read as files (a fault kind looks for what to break). */
export const recordsOf = (store: string): Array<StoredRecord & { readonly path: string }> => {
  const dir = join(store, "records")
  return readdirSync(dir).sort().flatMap((shard) =>
    readdirSync(join(dir, shard)).sort().map((name) => {
      const path = join(dir, shard, name)
      return { ...(JSON.parse(readFileSync(path, "utf8")) as StoredRecord), path }
    })
  )
}

/** What a kind gets: where to work, the reference manifests, its generator, and where to report. */
export interface KindContext {
  /** A project directory (package.json, node_modules/ouroboros, the pipelines) that commands run in. */
  readonly project: string
  /** A folder of this kind's own, for its stores. */
  readonly work: string
  /** The pipeline, and its variant (same name, a shared prefix), with their uninterrupted runs' manifests. */
  readonly pipeline: string
  readonly variant: string
  readonly expected: string
  readonly expectedVariant: string
  /** How long an uninterrupted run from an empty store took here (kills and interrupts land within it). */
  readonly runMs: number
  readonly sentinel: Sentinel
  readonly rng: Rng
  readonly violations: Violations
  readonly trials: number
}

/** A kind's outcome: the trials that count, and one line of what they showed. */
export interface KindResult {
  readonly trials: number
  readonly line: string
}

/** Runs one trial: the sentinel is hashed before and after, and any change is a violation. */
export const trial = async <A>(ctx: KindContext, where: string, body: () => Promise<A>): Promise<A> => {
  const before = ctx.sentinel.hash()
  const result = await body()
  ctx.violations.check(
    ctx.sentinel.hash() === before,
    where,
    () => "a file outside the store changed (the sentinel tree hashes differently)"
  )
  return result
}

/**
 * The audit `ouro verify` runs (the store opened read-only, as the command opens it), in this process: for the
 * checks that verify reports a planted fault, which would otherwise cost a second start of the CLI per trial. The
 * check that ends each trial is the command itself (verifyClean).
 */
export const verifyHere = async (store: string): Promise<{ readonly code: number; readonly stdout: string }> => {
  const report = await Effect.runPromise(
    verify.pipe(Effect.provide(Layer.effect(ArtifactStore, makeLocalStore(store, { readOnly: true }))))
  )
  return { code: isClean(report) ? 0 : 1, stdout: formatVerifyReport(report) + "\n" }
}

/** verify on a store: clean, or (when the store was never made) 'no store at' and nothing created. */
export const verifyClean = async (
  ctx: KindContext,
  store: string,
  where: string,
  existed: boolean
): Promise<boolean> => {
  const v = await ouro(ctx.project, "verify", "--store", store)
  if (existed) {
    return ctx.violations.check(
      v.code === 0,
      where,
      () => `verify exit ${v.code}: ${v.stdout.trim()} ${v.stderr.trim()}`
    )
  }
  return ctx.violations.check(
    v.code === 1 && v.stderr.startsWith("ouro: no store at") && !existsSync(store),
    where,
    () => `verify on a store never made: exit ${v.code}: ${v.stdout.trim()} ${v.stderr.trim()}`
  )
}

/** After a violation: the store made again from nothing, so that one failure does not cascade into the next trials. */
export const rebuild = async (ctx: KindContext, store: string): Promise<void> => {
  rmSync(store, { recursive: true, force: true })
  const r = await ouro(ctx.project, "run", ctx.pipeline, "--quiet", "--store", store)
  if (manifestOf(r.stdout) !== ctx.expected) throw new Error(`rebuilding ${store} failed: ${r.stderr}`)
}
