/**
 * Faults the audit and the engine must survive (issue #10): outputs that do not decode, bad entries in the store's
 * folders, records edited after the fact, scratch and temp files left behind, mistyped store paths.
 */
import assert from "node:assert/strict"
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, afterEach, before, beforeEach, describe, it } from "node:test"
import { Cause, Effect, Exit } from "effect"
import { Metrics } from "../src/artifact/artifacts.ts"
import { planGc } from "../src/audit/gc.ts"
import { formatVerifyReport, isClean, verify } from "../src/audit/verify.ts"
import { execute, type RunResult } from "../src/engine/execute.ts"
import { localInProcess } from "../src/engine/layers.ts"
import type { Progress } from "../src/engine/Progress.ts"
import type { StageRunner } from "../src/engine/StageRunner.ts"
import * as Pipeline from "../src/pipeline/pipeline.ts"
import { ArtifactStore } from "../src/store/ArtifactStore.ts"
import { tempDir } from "./support/cli.ts"
import { BadMetrics, GoodMetrics, ouroWith, writeFlakyPipeline } from "./support/faults.ts"
import { Concat, Lower, Source, Upper } from "./support/toy.ts"

let dir = ""
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ouro-faults-"))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const run = <A, E>(eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>) =>
  Effect.runPromise(eff.pipe(Effect.provide(localInProcess(dir))))
const exit = <A, E>(eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>) =>
  Effect.runPromise(Effect.exit(eff).pipe(Effect.provide(localInProcess(dir))))

const chain = Pipeline.make("toy", (p) => {
  const src = p.add(Source({ text: "seed" }), {})
  p.generations(2, { text: src.out }, (g, prev) => {
    const up = g.add(Upper({ suffix: "!" }), { in: prev.text })
    const low = g.add(Lower({ suffix: "x" }), { in: up.out })
    return { text: g.add(Concat({}), { a: low.out, b: prev.text }).out }
  })
})

const recordPath = (k: string) => join(dir, "records", k.slice(0, 2), `${k}.json`)
const byPath = (r: RunResult, path: string) => r.nodes.find((n) => n.node.path === path)!
/** Rewrites a stored record (records are read-only once written). */
const editRecord = (key: string, edit: (r: Record<string, unknown>) => void) => {
  const p = recordPath(key)
  const json = JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>
  edit(json)
  chmodSync(p, 0o644)
  writeFileSync(p, JSON.stringify(json, null, 2) + "\n")
}
const listings = Effect.gen(function*() {
  const store = yield* ArtifactStore
  return { blobs: yield* store.listBlobs, records: yield* store.listRecordKeys }
})

describe("5: a stage output that encodes but does not decode", () => {
  it("fails the stage naming the output, and nothing is stored", async () => {
    const p = Pipeline.make("bad", (b) => {
      b.add(BadMetrics({}), {})
    })
    const result = await exit(execute(p))
    assert.ok(Exit.isFailure(result), "the run must fail")
    const error = Cause.squash(result.cause) as { _tag?: string; message?: string }
    assert.equal(error._tag, "StageFailed")
    assert.match(
      String(error.message),
      /^stage toy-bad-metrics \(toy\/bad-metrics\) failed: output m \(metrics\) does not decode: .*x/
    )
    const { blobs, records } = await run(listings)
    assert.deepEqual([blobs.length, records.length], [0, 0])
  })
})

describe("10: one bad entry does not abort the whole check", () => {
  it("verify reports a dangling symlink in blobs/ and goes on checking the rest", async () => {
    await run(execute(chain))
    const shard = join(dir, "blobs", "ab")
    mkdirSync(shard, { recursive: true })
    const link = join(shard, `ab${"0".repeat(62)}`)
    symlinkSync(join(dir, "nowhere"), link)
    const report = await run(verify)
    assert.equal(isClean(report), false)
    // 2 generations × 3 stages + the seed = 7 outputs, and the run manifest.
    assert.equal(report.blobs, 8)
    assert.equal(report.records, 7)
    assert.deepEqual(report.corrupt.map((c) => [c.what, c.id]), [["entry", join("blobs", "ab", `ab${"0".repeat(62)}`)]])
    assert.match(formatVerifyReport(report), /^corrupt entry blobs\/ab\/ab0+: a symbolic link to nothing\n/)
  })

  it("the store's listings (what status counts) skip bad entries instead of failing", async () => {
    await run(execute(chain))
    mkdirSync(join(dir, "blobs", "ab"), { recursive: true })
    symlinkSync(join(dir, "nowhere"), join(dir, "blobs", "ab", `ab${"1".repeat(62)}`))
    writeFileSync(join(dir, "blobs", "README"), "not a shard")
    writeFileSync(join(dir, "records", "README"), "not a shard")
    const { blobs, records } = await run(listings)
    assert.deepEqual([blobs.length, records.length], [8, 7])
  })

  it("a stray file in records/ is reported by verify and skipped by gc", async () => {
    await run(execute(chain))
    writeFileSync(join(dir, "records", "README"), "not a shard")
    mkdirSync(join(dir, "records", "ab"), { recursive: true })
    writeFileSync(join(dir, "records", "ab", "notes.json"), "{}")
    const report = await run(verify)
    assert.deepEqual(report.corrupt.map((c) => c.id).sort(), [
      join("records", "README"),
      join("records", "ab", "notes.json")
    ])
    assert.equal(report.records, 7)
    const plan = await run(planGc({ graceMs: 0, nowMs: Date.now() }))
    assert.deepEqual(plan.records, [])
    assert.deepEqual(plan.skipped.map((s) => s.path).sort(), [
      join("records", "README"),
      join("records", "ab", "notes.json")
    ])
  })
})

describe("13: verify checks a record against what it can without recomputing", () => {
  it("a record whose params were edited no longer hashes to its key", async () => {
    const result = await run(execute(chain))
    const key = byPath(result, "g1/toy-upper").key
    editRecord(key, (r) => {
      r.params = { suffix: "?" }
    })
    const report = await run(verify)
    assert.deepEqual(report.corrupt.map((c) => [c.what, c.id]), [["record", key]])
    assert.match(report.corrupt[0].detail, /^its contents hash to [0-9a-f]{64}, not its key$/)
  })

  it("a record pointing at another intact blob of another size, or of the same size and another kind", async () => {
    const value = { values: { x: 1 } }
    const size = Metrics.encode(value).byteLength
    const p = Pipeline.make("mixed", (b) => {
      b.add(Source({ text: "y".repeat(size) }), {}, { name: "same-size" })
      const short = b.add(Source({ text: "short" }), {}, { name: "other-size" })
      b.add(GoodMetrics({ x: 1 }), {}, { name: "metrics" })
      b.add(Upper({ suffix: "!!" }), { in: short.out }, { name: "upper" })
    })
    const result = await run(execute(p))
    const same = byPath(result, "same-size").outputs.out
    const other = byPath(result, "other-size").outputs.out
    const metrics = byPath(result, "metrics")
    const upper = byPath(result, "upper")
    assert.equal(same.bytes, size)
    editRecord(metrics.key, (r) => {
      r.outputs = { m: { hash: same.hash, artifact: "metrics", bytes: size } }
    })
    editRecord(upper.key, (r) => {
      r.outputs = { out: { hash: other.hash, artifact: "text", bytes: upper.outputs.out.bytes } }
    })
    const report = await run(verify)
    assert.equal(isClean(report), false)
    const problems = Object.fromEntries(report.corrupt.map((c) => [c.id, c.detail]))
    assert.deepEqual(Object.keys(problems).sort(), [metrics.key, upper.key].sort())
    assert.match(problems[metrics.key], new RegExp(`^output m: blob ${same.hash} does not decode as metrics: `))
    assert.match(
      problems[upper.key],
      new RegExp(
        `^output out: the record says ${upper.outputs.out.bytes} bytes, blob ${other.hash} has ${other.bytes}$`
      )
    )
  })
})

describe("the ouro command on faults (12, 14, 10)", () => {
  const project = tempDir("ouro-faults-cli-")
  // Scratch stores go to os.tmpdir(): a private one shows what a command leaves behind.
  const tmp = mkdtempSync(join(tmpdir(), "ouro-faults-tmp-"))
  const env = { TMPDIR: tmp }
  const leftovers = () => readdirSync(tmp).filter((n) => n.startsWith("ouro-replay-"))
  let pipeline = ""
  before(async () => {
    pipeline = writeFlakyPipeline(project)
    const r = await ouroWith(project, env, ["run", pipeline, "--quiet", "--jobs", "1"])
    assert.equal(r.code, 0, r.stderr)
  })
  after(() => {
    rmSync(project, { recursive: true, force: true })
    rmSync(tmp, { recursive: true, force: true })
  })

  it("12: a failed replay leaves no scratch store behind", async () => {
    const r = await ouroWith(project, { ...env, OURO_TEST_FAIL: "1" }, ["replay", pipeline, "--jobs", "1"])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /^ouro: stage toy-flaky \(toy\/flaky\) failed: failing as asked$/m)
    assert.deepEqual(leftovers(), [])
  })

  it("12: replay interrupted by SIGINT mid-stage leaves no scratch store behind", async () => {
    const earlier = new Set(leftovers())
    const inFlight = () =>
      leftovers().some((s) => {
        if (earlier.has(s)) return false
        const leases = join(tmp, s, ".ouroboros", "leases")
        return existsSync(leases) && readdirSync(leases).length > 0
      })
    const started = Date.now()
    const r = await ouroWith(project, { ...env, OURO_TEST_SLOW_MS: "60000" }, ["replay", pipeline, "--jobs", "1"], {
      whenStarted: inFlight,
      signal: "SIGINT"
    })
    assert.ok(Date.now() - started < 50_000, "interrupted, not run to the end")
    assert.notEqual(r.code, 0)
    assert.deepEqual(leftovers().filter((s) => !earlier.has(s)), [])
  })

  it("12: report -o <directory> says so in one line and leaves no temp file", async () => {
    const out = join(project, "out")
    mkdirSync(out)
    const r = await ouroWith(project, env, ["report", pipeline, "-o", out])
    assert.equal(r.code, 1)
    assert.equal(r.stderr, `ouro: cannot write report to ${out}: is a directory\n`)
    assert.deepEqual(readdirSync(project).filter((n) => n.endsWith(".tmp")), [])
  })

  it("14: verify and status on a mistyped --store say there is no store, exit 1, create nothing", async () => {
    for (const cmd of ["verify", "status"]) {
      const missing = join(project, `no-such-store-${cmd}`)
      const r = await ouroWith(project, env, [cmd, "--store", missing])
      assert.equal(r.code, 1, `${cmd}: ${r.stdout}`)
      assert.equal(r.stderr, `ouro: no store at ${missing}\n`)
      assert.equal(existsSync(missing), false, `${cmd} created ${missing}`)
    }
  })

  it("14: show --head -1 is refused as a usage error (exit 2)", async () => {
    const r = await ouroWith(project, env, ["show", "flaky/toy-flaky", "--head", "-1"])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--head.*-1.*(not negative|0 or more)/)
    assert.equal(r.stdout.includes("hello"), false)
  })

  it("10: status counts what it can past a dangling symlink; verify lists it and exits 1", async () => {
    const store = join(project, ".ouroboros")
    mkdirSync(join(store, "blobs", "cd"), { recursive: true })
    symlinkSync(join(store, "nowhere"), join(store, "blobs", "cd", `cd${"0".repeat(62)}`))
    try {
      const status = await ouroWith(project, env, ["status"])
      assert.equal(status.code, 0, status.stderr)
      assert.match(status.stdout, /: 2 blobs \(.*\), 1 stage records/)
      assert.match(status.stdout, /1 entry is neither a blob nor a record/)
      const v = await ouroWith(project, env, ["verify"])
      assert.equal(v.code, 1, v.stderr)
      assert.match(v.stdout, /^corrupt entry blobs\/cd\/cd0+: a symbolic link to nothing$/m)
      assert.match(v.stdout, /verified 2 blobs, 1 records, 2 refs: 1 corrupt, 0 missing/)
    } finally {
      rmSync(join(store, "blobs", "cd"), { recursive: true, force: true })
    }
  })
})
