import assert from "node:assert/strict"
import { spawn, spawnSync } from "node:child_process"
import { readdirSync, rmSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { ouro, ROOT, tempDir, writeTinyPipeline } from "./support/cli.ts"

const BIN = join(ROOT, "bin", "ouro.js")
const runAsync = (cwd: string, ...args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("exit", (code) => done({ code, stdout, stderr }))
  })
const manifest = (stdout: string) => /run manifest ([0-9a-f]{64})/.exec(stdout)?.[1]

describe("two ouro run processes on one store at once", () => {
  const dir = tempDir("ouro-concurrent-")
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("compute each stage once between them and end with the same results", async () => {
    const pipeline = writeTinyPipeline(dir)
    const [a, b] = await Promise.all([
      runAsync(dir, "run", pipeline, "--jobs", "2"),
      runAsync(dir, "run", pipeline, "--jobs", "1")
    ])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(b.code, 0, b.stderr)
    const computed = (r: { stderr: string }) =>
      r.stderr.split("\n").filter((l) => l.startsWith("  done")).map((l) => l.trim().split(/\s+/)[1])
    const all = [...computed(a), ...computed(b)].sort()
    assert.equal(all.length, 14, `stages computed by the two runs together: ${all.join(", ")}`)
    assert.equal(new Set(all).size, 14)
    assert.equal(manifest(a.stdout), manifest(b.stdout))
    const records = readdirSync(join(dir, ".ouroboros", "records")).flatMap((s) =>
      readdirSync(join(dir, ".ouroboros", "records", s))
    )
    assert.equal(records.length, 14)
    assert.deepEqual(readdirSync(join(dir, ".ouroboros", "leases")), [])
    assert.deepEqual(readdirSync(join(dir, ".ouroboros", "active")), [])
  })
})

describe("audit commands", () => {
  const dir = tempDir("ouro-audit-cli-")
  let pipeline = ""
  before(() => {
    pipeline = writeTinyPipeline(dir)
    const r = ouro(dir, "run", pipeline, "--quiet")
    assert.equal(r.code, 0, r.stderr)
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("verify is clean on a healthy store", () => {
    const r = ouro(dir, "verify")
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /verified 13 blobs, 14 records, 15 refs: 0 corrupt, 0 missing/)
  })

  it("lineage traces an artifact back to the seed, as text, PROV-JSON and dot", () => {
    const text = ouro(dir, "lineage", "tiny/g3/evaluate-lm")
    assert.equal(text.code, 0, text.stderr)
    for (const stage of ["g3/train-ngram", "g2/sample-text", "g1/train-ngram", "tokenize-fit", "seed-corpus"]) {
      assert.ok(text.stdout.includes(stage), stage)
    }
    assert.match(text.stdout, /seed-corpus \(seed\/corpus v1, .*\[seed\]/)
    const prov = JSON.parse(ouro(dir, "lineage", "tiny/g3/evaluate-lm", "--format", "prov").stdout) as Record<
      string,
      Record<string, unknown>
    >
    // evaluate, g1..g3 train and sample, the g1 and g2 mixes (g2's and g3's training corpora come from them, though
    // Mix.replace's output is byte-identical to its sample's: lineage follows the node's own inputs), tokenize, seed.
    assert.equal(Object.keys(prov.activity).length, 1 + 3 + 3 + 2 + 1 + 1)
    for (const rel of ["used", "wasGeneratedBy", "wasDerivedFrom"]) assert.ok(Object.keys(prov[rel]).length > 0, rel)
    const dot = ouro(dir, "lineage", "tiny/g3/evaluate-lm", "--format", "dot").stdout
    assert.match(dot, /^digraph/)
  })

  it("replay recomputes from scratch and finds every output bit-identical", () => {
    const r = ouro(dir, "replay", "tiny", "--jobs", "1")
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^bit-identical: 14 stages, 18 outputs recomputed from scratch match the records/)
    const run = /last run ([0-9a-f]{12})/.exec(ouro(dir, "status").stdout)![1]
    const byRun = ouro(dir, "replay", run, "--jobs", "1")
    assert.equal(byRun.code, 0, byRun.stderr)
    assert.match(byRun.stdout, /^bit-identical: 14 stages/)
  })

  it("replay names the first divergence when a record disagrees with a recomputation", () => {
    const copy = tempDir("ouro-replay-diverge-")
    try {
      const p = writeTinyPipeline(copy)
      assert.equal(ouro(copy, "run", p, "--quiet").code, 0)
      // Rewrite one record to claim another output hash, as a nondeterministic stage would have.
      const recordsDir = join(copy, ".ouroboros", "records")
      const show = ouro(copy, "show", "tiny/g2/sample-text")
      const key = /key\s+([0-9a-f]{64})/.exec(show.stdout)![1]
      const file = join(recordsDir, key.slice(0, 2), `${key}.json`)
      const record = JSON.parse(spawnSync("cat", [file], { encoding: "utf8" }).stdout) as {
        outputs: { corpus: { hash: string } }
      }
      record.outputs.corpus.hash = "0".repeat(64)
      rmSync(file, { force: true })
      writeFileSync(file, JSON.stringify(record))
      const r = ouro(copy, "replay", p, "--jobs", "1")
      assert.equal(r.code, 1)
      assert.match(
        r.stdout,
        new RegExp(
          `diverged at stage g2/sample-text \\(key ${
            key.slice(0, 12)
          }\\), output corpus:\\n  recorded 0{64}\\n  replayed [0-9a-f]{64}`
        )
      )
    } finally {
      rmSync(copy, { recursive: true, force: true })
    }
  })

  it("gc is a dry run by default, removes only what no ref reaches, and never while a run is in flight", () => {
    const edited = writeTinyPipeline(dir, { g2Temperature: 0.5 })
    assert.equal(ouro(dir, "run", edited, "--quiet").code, 0)
    const dry = ouro(dir, "gc", "--grace-minutes", "0")
    assert.equal(dry.code, 0, dry.stderr)
    const [, blobs, records] = /would remove (\d+) blobs \([\d.]+ MB\) and (\d+) stage records/.exec(dry.stdout)!.map(
      Number
    )
    assert.ok(blobs > 0 && records === 7, dry.stdout)
    // A registered run in flight (this test process stands in for one) blocks the sweep.
    const marker = join(dir, ".ouroboros", "active", `${process.pid}-test.json`)
    writeFileSync(marker, JSON.stringify({ pid: process.pid, host: hostname(), startedMs: Date.now() }))
    const blocked = ouro(dir, "gc", "--grace-minutes", "0", "--apply")
    assert.equal(blocked.code, 1)
    assert.match(blocked.stderr, /a run is in flight \(pid \d+\); gc removes nothing while one is/)
    rmSync(marker)
    const applied = ouro(dir, "gc", "--grace-minutes", "0", "--apply")
    assert.equal(applied.code, 0, applied.stderr)
    assert.match(applied.stdout, new RegExp(`^removed ${blobs} blobs`))
    assert.equal(ouro(dir, "verify").code, 0)
    const again = ouro(dir, "run", edited, "--quiet")
    assert.match(again.stdout, /14 stages, 0 ran, 14 cached/)
  })
})

describe("fault injection (a short version of npm run fault)", () => {
  it("kill -9 at random moments, then verify, resume and byte flips: no violations", () => {
    const r = spawnSync(process.execPath, [
      "--import",
      "tsx",
      join(ROOT, "test/fault/kill9.ts"),
      "--kills",
      "3",
      "--flips",
      "3"
    ], { cwd: ROOT, encoding: "utf8" })
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(
      r.stdout,
      /kill -9: 3 kills, \d+ runs completed between them \(all with the reference manifest\), final resumed run identical/
    )
    assert.match(r.stdout, /flipped bytes: 3 blobs flipped, 3 caught by verify, 3 repaired by the next run/)
  })
})
