/**
 * A cluster over a remote store (issue #13): a private PostgreSQL and Debian's nginx (WebDAV) on loopback, two
 * workers and two submitters of the same pipeline at once, every process with a local cache of its own in front of
 * the HTTP store, as four machines would be. Each stage is computed once in all; both submitters' manifests are a
 * local run's, byte for byte; the store verifies clean from a fifth, empty cache.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import {
  keysStartedBy,
  manifestOf,
  ouroSync,
  type Proc,
  recordOutputs,
  ROOT,
  startOuro,
  startWorker,
  stopAll
} from "./support/cluster.ts"
import { type Nginx, nginxMissing, startNginx } from "./support/nginx.ts"
import { type PgServer, startPostgres } from "./support/postgres.ts"

const GRID = join(ROOT, "test/fixtures/cluster/grid.ts")
const LOCK_SECONDS = 4

let pg: PgServer
let nginx: Nginx
let tmp: string
const procs: Proc[] = []

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ouro-cluster-remote-"))
  pg = await startPostgres()
  nginx = await startNginx()
})

after(async () => {
  await stopAll(procs)
  pg?.stop()
  await nginx?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

describe("ouro run --cluster over an HTTP store", { timeout: 900_000, skip: nginxMissing }, () => {
  it("two submitters of one pipeline at once, two workers: each stage computed once, a local run's manifest", async () => {
    const reference = join(tmp, "reference")
    const local = ouroSync(["run", GRID, "--store", reference, "--jobs", "2", "--quiet"])
    assert.equal(local.code, 0, local.stderr)
    const manifest = manifestOf(local.stdout)
    const stages = recordOutputs(reference).size

    const cluster = pg.database("remote_two_submitters")
    const store = `${nginx.origin}/shared`
    const workers = await Promise.all(["w1", "w2"].map((name) =>
      startWorker({
        cluster,
        store,
        name,
        cache: join(tmp, `code-${name}`),
        storeCache: join(tmp, `cache-${name}`),
        lockExpirationSeconds: LOCK_SECONDS
      })
    ))
    procs.push(...workers)
    const submitters = ["s1", "s2"].map((name) =>
      startOuro(["run", GRID, "--store", store, "--cache", join(tmp, `cache-${name}`), "--cluster", cluster], {
        OURO_SHARD_LOCK_EXPIRATION_MS: String(LOCK_SECONDS * 1000)
      })
    )
    procs.push(...submitters)
    const results = await Promise.all(submitters.map((s) => s.done))
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr)
      assert.equal(manifestOf(r.stdout), manifest, "the manifest of a local run")
    }

    const started = workers.map((w) => keysStartedBy(w.out()))
    const all = started.flat()
    const twice = all.filter((k, i) => all.indexOf(k) !== i)
    console.log(`# two submitters: stages computed per worker {"w1":${started[0].length},"w2":${started[1].length}}`)
    assert.deepEqual(twice, [], "no stage is computed twice")
    assert.equal(all.length, stages, "every stage of the pipeline computed, once")
    assert.ok(started.every((keys) => keys.length > 0), "both workers computed stages")

    const verify = ouroSync(["verify", "--store", store, "--cache", join(tmp, "cache-auditor")])
    assert.equal(verify.code, 0, `ouro verify:\n${verify.stdout}${verify.stderr}`)
  })
})
