/**
 * Fault injection (`npm run fault`): the store's promises under faults, trial after trial, each kind on a store of
 * its own (see each module in kinds/ for what it does and what it requires):
 *   kill9    `ouro run` killed with SIGKILL at random moments              kinds/kill9.ts
 *   flips    a byte flipped in a blob (its seal broken)                   kinds/kill9.ts
 *   gc       gc --apply paused (SIGSTOP) mid-sweep while a run starts     kinds/gc.ts
 *   enospc   the disk full at a random write (a small tmpfs)              kinds/enospc.ts
 *   plant    a symlink planted as a blob or a record; a foreign file      kinds/plant.ts
 *            in blobs/ or records/
 *   rot      a byte flipped with the seal put back, in a blob a run reads kinds/rot.ts
 *   sigint   Ctrl-C at random moments, --jobs 1 and 2                     kinds/sigint.ts
 * Every trial ends with `ouro verify` clean (for the kill and interrupt kinds, when the run was stopped before it
 * made its store: verify says there is none, and makes none), every completed run ends with the manifest of an
 * uninterrupted reference run in a store of its own, and no file outside the stores changes: a sentinel tree (files
 * of several modes, a link, the targets of the links planted in the store) and the project directory are hashed
 * with contents, modes and modification times before and after each trial.
 * What "clean" means for a planted foreign file: it is not the store's, so no run removes it and verify reports it
 * as a stray entry for as long as it is there. Those trials check that verify reports it before and after the run
 * (and nothing else after), then the harness removes the file it planted, and verify must be clean.
 *
 *   npm run fault                              100 trials (kill9 20, plant 16, sigint 14, flips 14, gc 12, enospc 12,
 *                                              rot 12: the kinds that start `ouro` less often get more)
 *   npm run fault -- --trials-per-kind 5       5 of each kind
 *   npm run fault -- --kinds gc,rot --rot 30   some kinds only; a count of its own for one kind
 *   --seed N (default 20261125)   --parallel N kinds at once (default 2)   --keep: leave the work directory
 * Uses pure-rand's xoroshiro128plus, one generator per kind seeded from --seed and the kind's name: a violation
 * names its kind, trial and seed, and `--kinds KIND --seed N` runs that kind's trials again in the same order.
 * Prints the counts per kind; exits non-zero on any violation. The ENOSPC kind needs root and unshare; elsewhere it
 * is skipped, says why, and is not counted.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { linkOuroboros } from "../support/cli.ts"
import {
  type KindContext,
  type KindResult,
  manifestOf,
  ouro,
  rngFor,
  Sentinel,
  Violations,
  writePipeline
} from "./common.ts"
import { enospc, enospcUnavailable } from "./kinds/enospc.ts"
import { gcPaused } from "./kinds/gc.ts"
import { flips, kill9 } from "./kinds/kill9.ts"
import { plant } from "./kinds/plant.ts"
import { rot } from "./kinds/rot.ts"
import { sigint } from "./kinds/sigint.ts"

/** The kinds, the slowest first (they start first when kinds run side by side). */
export const KINDS = {
  enospc,
  sigint,
  gc: gcPaused,
  kill9,
  plant,
  rot,
  flips
} as const satisfies Record<string, (ctx: KindContext) => Promise<KindResult>>
export type Kind = keyof typeof KINDS

/** 100 in all; the kinds that cost fewer `ouro` starts a trial get more trials. */
export const DEFAULT_TRIALS: Readonly<Record<Kind, number>> = {
  enospc: 12,
  sigint: 14,
  gc: 12,
  kill9: 20,
  plant: 16,
  rot: 12,
  flips: 14
}

export interface FaultOptions {
  readonly kinds: ReadonlyArray<Kind>
  readonly trials: Readonly<Record<Kind, number>>
  readonly seed: number
  readonly parallel: number
  readonly keep: boolean
}

export const main = async (o: FaultOptions): Promise<number> => {
  const started = Date.now()
  const dir = mkdtempSync(join(tmpdir(), "ouro-fault-"))
  const project = join(dir, "project")
  mkdirSync(project)
  linkOuroboros(project)
  const pipeline = writePipeline(project, "fault.ts")
  const variant = writePipeline(project, "fault-variant.ts", { variant: 1 })
  const violations = new Violations(o.seed)

  // The references: one uninterrupted run of each pipeline, in a store of its own.
  const t0 = Date.now()
  const [reference, referenceVariant] = await Promise.all(
    [pipeline, variant].map((p, i) => ouro(project, "run", p, "--quiet", "--store", join(dir, `reference-${i}`)))
  )
  // Two side by side, as the kinds will run: about how long one run from an empty store takes on this machine now.
  const runMs = Date.now() - t0
  const expected = manifestOf(reference.stdout)
  const expectedVariant = manifestOf(referenceVariant.stdout)
  if (reference.code !== 0 || expected === undefined) throw new Error(`reference run failed: ${reference.stderr}`)
  if (referenceVariant.code !== 0 || expectedVariant === undefined) {
    throw new Error(`reference run of the variant failed: ${referenceVariant.stderr}`)
  }
  const stages = Number(/(\d+) stages/.exec(reference.stdout)?.[1])
  console.log(
    `fault injection: pipeline of ${stages} stages (${
      (runMs / 1000).toFixed(1)
    } s from an empty store); reference manifest ${expected.slice(0, 12)} (variant ${
      expectedVariant.slice(0, 12)
    }); seed ${o.seed}; ${o.kinds.length} kinds, ${o.parallel} at a time`
  )

  const results = new Map<Kind, KindResult | { skipped: string }>()
  const queue = [...(Object.keys(KINDS) as Kind[])].filter((k) => o.kinds.includes(k))
  const lane = async () => {
    for (let kind = queue.shift(); kind !== undefined; kind = queue.shift()) {
      const why = kind === "enospc" ? enospcUnavailable() : undefined
      if (why !== undefined) {
        results.set(kind, { skipped: why })
        console.log(`${kind}: skipped (${why}); not counted`)
        continue
      }
      const work = join(dir, kind)
      mkdirSync(work)
      const ctx: KindContext = {
        project,
        work,
        pipeline,
        variant,
        expected,
        expectedVariant,
        runMs,
        sentinel: new Sentinel(join(work, "sentinel"), [project]),
        rng: rngFor(o.seed, kind),
        violations,
        trials: o.trials[kind]
      }
      const t0 = Date.now()
      const result = await KINDS[kind](ctx)
      results.set(kind, result)
      console.log(`${result.line} [${((Date.now() - t0) / 1000).toFixed(0)} s]`)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, o.parallel) }, lane))

  let total = 0
  const counts: string[] = []
  for (const kind of o.kinds) {
    const r = results.get(kind)!
    if ("skipped" in r) counts.push(`${kind} skipped`)
    else {
      total += r.trials
      counts.push(`${kind} ${r.trials}`)
    }
  }
  if (o.keep) console.log(`work directory kept: ${dir}`)
  else rmSync(dir, { recursive: true, force: true })
  console.log(`trials per kind: ${counts.join(", ")}; ${total} in all, ${((Date.now() - started) / 1000).toFixed(0)} s`)
  console.log(
    violations.all.length === 0
      ? "fault injection: no violations"
      : `fault injection: ${violations.all.length} violations`
  )
  return violations.all.length === 0 ? 0 : 1
}

/** Parses the command line: `--NAME N` options, `--kinds a,b`, `--keep`. */
export const parseOptions = (
  argv: ReadonlyArray<string>,
  defaults: { kinds?: ReadonlyArray<Kind>; trials?: Partial<Record<Kind, number>> } = {}
): FaultOptions => {
  const option = (name: string): number | undefined => {
    const i = argv.indexOf(name)
    if (i < 0) return undefined
    const n = Number(argv[i + 1])
    if (!(Number.isInteger(n) && n >= 0)) throw new Error(`${name} needs a whole number, not ${argv[i + 1]}`)
    return n
  }
  const all = Object.keys(KINDS) as Kind[]
  const i = argv.indexOf("--kinds")
  const kinds = i < 0 ? defaults.kinds ?? all : argv[i + 1].split(",").map((k) => k.trim())
  for (const k of kinds) {
    if (!all.includes(k as Kind)) throw new Error(`unknown kind ${k}; the kinds are ${all.join(", ")}`)
  }
  const perKind = option("--trials-per-kind")
  const trials = Object.fromEntries(
    all.map((
      k
    ) => [k, option(`--${k === "kill9" ? "kills" : k}`) ?? perKind ?? defaults.trials?.[k] ?? DEFAULT_TRIALS[k]])
  ) as Record<Kind, number>
  return {
    kinds: kinds as Kind[],
    trials,
    seed: option("--seed") ?? 20261125,
    parallel: option("--parallel") ?? 2,
    keep: argv.includes("--keep")
  }
}

if (process.argv[1] !== undefined && import.meta.filename === (await import("node:fs")).realpathSync(process.argv[1])) {
  process.exit(await main(parseOptions(process.argv.slice(2))))
}
