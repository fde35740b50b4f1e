/**
 * Stage runs on Effect's cluster over PostgreSQL (issue #13): a private PostgreSQL on loopback for this file, one
 * submitter and two worker processes sharing a store directory. The grid's manifest is byte-identical to a local
 * run's; a worker killed (-9) in the middle of a stage has it finished by the other; a submitter killed and
 * restarted computes nothing twice; bad input ends in one `ouro:` line.
 */
import assert from "node:assert/strict"
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  readFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { type PgServer, startPostgres } from "./support/postgres.ts"
import {
  blobBytes,
  computedBy,
  disagreeingKeys,
  manifestOf,
  ouroSync,
  type Proc,
  ROOT,
  startedBy,
  startOuro,
  startWorker,
  stopAll
} from "./support/cluster.ts"

const GRID = join(ROOT, "test/fixtures/cluster/grid.ts")
const SLOW = join(ROOT, "test/fixtures/cluster/slow.ts")
const LOCK_SECONDS = 4

let pg: PgServer
let tmp: string
const workers: Proc[] = []
const references = new Map<string, { store: string; manifest: string }>()

/** A local `ouro run` of `file` (once per file): the reference every cluster run is compared with. */
const reference = (file: string) => {
  const hit = references.get(file)
  if (hit !== undefined) return hit
  const store = join(tmp, `reference-${references.size}`)
  const r = ouroSync(["run", file, "--store", store, "--jobs", "2", "--quiet"])
  assert.equal(r.code, 0, r.stderr)
  const made = { store, manifest: manifestOf(r.stdout) }
  references.set(file, made)
  return made
}

const fresh = (name: string) => {
  const dir = join(tmp, name)
  mkdirSync(dir, { recursive: true })
  return dir
}

/** Two workers on `store`, in `cluster` (a database of their own: nothing shared with the other tests). */
const twoWorkers = async (store: string, cluster: string) => {
  const started = await Promise.all(
    ["w1", "w2"].map((name) =>
      startWorker({
        cluster,
        store,
        name,
        cache: join(tmp, `cache-${name}`),
        lockExpirationSeconds: LOCK_SECONDS
      })
    )
  )
  workers.push(...started)
  return started
}

const submit = (file: string, store: string, cluster: string) =>
  startOuro(["run", file, "--store", store, "--cluster", cluster], {
    OURO_SHARD_LOCK_EXPIRATION_MS: String(LOCK_SECONDS * 1000)
  })

const verifyClean = (store: string) => {
  const v = ouroSync(["verify", "--store", store])
  assert.equal(v.code, 0, `ouro verify:\n${v.stdout}${v.stderr}`)
}

/** The one line a bad input gives: `ouro: …`, no stack trace. */
const oneOuroLine = (stderr: string) => {
  const lines = stderr.trim().split("\n")
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`)
  assert.match(lines[0], /^ouro: /)
  assert.doesNotMatch(stderr, /\n\s+at /)
  return lines[0]
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ouro-cluster-test-"))
  pg = await startPostgres()
})

after(async () => {
  await stopAll(workers)
  pg?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

describe("ouro run --cluster, 1 submitter and 2 workers", { timeout: 900_000 }, () => {
  it("runs the 3-arm × 3-seed grid with the manifest of a local run, both workers computing", async () => {
    const ref = reference(GRID)
    const store = fresh("grid")
    const cluster = pg.database("grid")
    const [w1, w2] = await twoWorkers(store, cluster)
    const run = await submit(GRID, store, cluster).done
    await stopAll([w1, w2])
    assert.equal(run.code, 0, run.stderr)
    const manifest = manifestOf(run.stdout)
    assert.equal(manifest, ref.manifest)
    assert.deepEqual(blobBytes(store, manifest), blobBytes(ref.store, ref.manifest))
    const counts = { w1: computedBy(w1.out()).length, w2: computedBy(w2.out()).length }
    console.log(`# grid: stages computed per worker ${JSON.stringify(counts)}`)
    assert.ok(counts.w1 > 0 && counts.w2 > 0, `both workers compute: ${JSON.stringify(counts)}`)
    // The submitter shows which worker started and finished which stage.
    assert.match(run.stderr, /worker w[12] started it/)
    assert.match(run.stderr, /worker w[12] finished it in/)
    // Each stage computed once: no path twice across the workers.
    const all = [...computedBy(w1.out()), ...computedBy(w2.out())]
    assert.equal(new Set(all).size, all.length, `computed twice: ${all.join(", ")}`)
    assert.deepEqual(disagreeingKeys(store, ref.store), [])
    verifyClean(store)
    // The workers loaded the pipeline from their own unpacked copy of the code artifact (the pipeline file and the
    // module it imports, nothing else), and its relative data path still found the file: the manifest says so.
    for (const name of ["w1", "w2"]) {
      const copies = readdirSync(join(tmp, `cache-${name}`)).filter((d) => !d.startsWith("."))
      assert.equal(copies.length, 1, `${name} unpacked one code artifact: ${copies.join(", ")}`)
      const files = readdirSync(join(tmp, `cache-${name}`, copies[0])).filter((f) => f !== "node_modules").sort()
      assert.deepEqual(files, ["arms.ts", "grid.ts"])
    }
    // A rerun is all cached: nothing goes to the cluster.
    const again = ouroSync(["run", GRID, "--store", store, "--cluster", cluster])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, / 0 ran, /)
    assert.equal(manifestOf(again.stdout), ref.manifest)
  })

  it("finishes a stage on the other worker when one is killed (-9) in the middle of it", async () => {
    const ref = reference(SLOW)
    const store = fresh("kill")
    const cluster = pg.database("kill")
    const [w1, w2] = await twoWorkers(store, cluster)
    const run = submit(SLOW, store, cluster)
    // The first worker to start a spin stage is killed in it.
    const started = await Promise.race(
      [w1, w2].map((w) => w.waitFor(/computing seed=\d\/fixture-spin/, 300_000).then((line) => ({ w, line })))
    )
    const victim = started.w
    const survivor = victim === w1 ? w2 : w1
    const path = /seed=\d\/fixture-spin/.exec(started.line)![0]
    victim.kill9()
    const result = await run.done
    await stopAll([survivor])
    assert.equal(result.code, 0, result.stderr)
    assert.ok(!computedBy(victim.out()).includes(path), "the victim did not finish it")
    assert.ok(computedBy(survivor.out()).includes(path), `the survivor computed ${path}:\n${survivor.out()}`)
    console.log(`# kill: ${path} started on the killed worker, finished on the other`)
    assert.equal(manifestOf(result.stdout), ref.manifest)
    assert.deepEqual(blobBytes(store, ref.manifest), blobBytes(ref.store, ref.manifest))
    assert.deepEqual(disagreeingKeys(store, ref.store), [])
    verifyClean(store)
  })

  it("resumes a killed submitter: restarted, it computes nothing twice", async () => {
    const ref = reference(SLOW)
    const store = fresh("resume")
    const cluster = pg.database("resume")
    const [w1, w2] = await twoWorkers(store, cluster)
    const first = submit(SLOW, store, cluster)
    // Killed once a spin stage is under way on a worker: the workers go on with what they were given.
    await Promise.race([w1, w2].map((w) => w.waitFor(/computing seed=\d\/fixture-spin/, 300_000)))
    first.kill9()
    await first.done
    const second = await submit(SLOW, store, cluster).done
    await stopAll([w1, w2])
    assert.equal(second.code, 0, second.stderr)
    assert.equal(manifestOf(second.stdout), ref.manifest)
    const computing = [...startedBy(w1.out()), ...startedBy(w2.out())]
    assert.equal(new Set(computing).size, computing.length, `started twice: ${computing.join(", ")}`)
    assert.deepEqual(disagreeingKeys(store, ref.store), [])
    verifyClean(store)
  })
})

describe("ouro run --cluster with no worker running", { timeout: 300_000 }, () => {
  it("says so, naming the command that starts one, and finishes once a worker joins", async () => {
    const store = fresh("no-workers")
    const cluster = pg.database("no_workers")
    const run = submit(GRID, store, cluster)
    const line = await run.waitFor(/no worker of cluster .* is running.*/, 60_000)
    assert.match(
      line,
      new RegExp(`start one with: ouro worker --cluster postgres://ouro@127\\.0\\.0\\.1:\\d+/no_workers --store `)
    )
    assert.equal(run.child.exitCode, null, "it waits rather than failing")
    const late = await startWorker({
      cluster,
      store,
      name: "late",
      cache: join(tmp, "cache-late"),
      lockExpirationSeconds: LOCK_SECONDS
    })
    workers.push(late)
    const r = await run.done
    await stopAll([late])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(manifestOf(r.stdout), reference(GRID).manifest)
    assert.equal(r.stderr.match(/no worker of cluster/g)?.length, 1, "said once")
  })
})

describe("bad input to ouro run --cluster and ouro worker", { timeout: 300_000 }, () => {
  it("an unreachable PostgreSQL: one line, exit 1, no store made", () => {
    const store = join(tmp, "unreachable")
    const r = ouroSync(["run", GRID, "--store", store, "--cluster", "postgres://ouro@127.0.0.1:1/ouro"])
    assert.equal(r.code, 1)
    assert.match(oneOuroLine(r.stderr), /cannot reach PostgreSQL \(connection refused\)/)
    assert.equal(existsSync(store), false)
    const w = ouroSync(["worker", "--cluster", "postgres://ouro@127.0.0.1:1/ouro", "--store", store])
    assert.equal(w.code, 1)
    oneOuroLine(w.stderr)
    assert.equal(existsSync(store), false)
  })

  it("a wrong password: one line that names the refusal and never the password", () => {
    const store = join(tmp, "wrong-password")
    const r = ouroSync(["run", GRID, "--store", store, "--cluster", pg.urlWithPassword("hunter2-wrong")])
    assert.equal(r.code, 1)
    const line = oneOuroLine(r.stderr)
    assert.match(line, /refused the login: password authentication failed for user "secret"/)
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2-wrong/)
    assert.equal(existsSync(store), false)
  })

  it("a store URL of an unknown scheme, or one nothing answers at: one line each, exit 1, nothing written", () => {
    const cluster = pg.database("bad_store")
    const cache = join(tmp, "bad-store-cache")
    for (
      const [store, message] of [
        ["ftp://host/x", /^ouro: store: ftp:\/\/host\/x: unknown store scheme ftp:\/\//],
        [
          "http://127.0.0.1:9/nowhere",
          /^ouro: store: http:\/\/127\.0\.0\.1:9\/nowhere\/OUROBOROS-STORE: cannot reach the store/
        ]
      ] as const
    ) {
      const w = ouroSync(["worker", "--cluster", cluster, "--store", store, "--cache", cache])
      assert.equal(w.code, 1)
      assert.match(oneOuroLine(w.stderr), message)
      const r = ouroSync(["run", GRID, "--cluster", cluster, "--store", store, "--cache", cache])
      assert.equal(r.code, 1)
      assert.match(oneOuroLine(r.stderr), message)
    }
    assert.equal(existsSync(cache), false)
  })

  it("a URL that is not PostgreSQL's: one line", () => {
    const r = ouroSync(["run", GRID, "--store", join(tmp, "not-pg"), "--cluster", "http://127.0.0.1:1/x"])
    assert.equal(r.code, 1)
    assert.match(oneOuroLine(r.stderr), /not a PostgreSQL URL/)
  })

  it("a worker of another ouroboros version refuses the task: one line, exit 1, no record", async () => {
    // Another ouroboros: a copy of this one whose package.json says another version.
    const other = join(tmp, "other-ouroboros")
    for (const part of ["src", "bin", "tsconfig.json"]) cpSync(join(ROOT, part), join(other, part), { recursive: true })
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown>
    writeFileSync(join(other, "package.json"), JSON.stringify({ ...pkg, version: "0.0.9-other" }))
    symlinkSync(join(ROOT, "node_modules"), join(other, "node_modules"))
    const store = fresh("other-version")
    const cluster = pg.database("other_version")
    const old = await startWorker({
      cluster,
      store,
      name: "old",
      cache: join(tmp, "cache-old"),
      lockExpirationSeconds: LOCK_SECONDS,
      bin: join(other, "bin", "ouro.js")
    })
    workers.push(old)
    const r = await submit(GRID, store, cluster).done
    await stopAll([old])
    assert.equal(r.code, 1)
    const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("ouro:"))
    assert.equal(lines.length, 1, r.stderr)
    assert.match(
      lines[0],
      /worker old refused it: it runs ouroboros 0\.0\.9-other\+[0-9a-f]{12}, the submitter 0\.1\.0\+/
    )
    assert.doesNotMatch(r.stderr, /\n\s+at /)
    assert.deepEqual(existsSync(join(store, "records")) ? readdirSync(join(store, "records")) : [], [])
  })
})
