/**
 * kill -9 of a cluster worker in the middle of a stage, N trials (default 10): each trial starts two workers on a
 * fresh store and a fresh database of the private PostgreSQL this script starts, submits test/fixtures/cluster/slow.ts, kills the
 * first worker that starts a long stage (fixture/spin) as soon as it says so, and waits for the run. Every trial must
 * end with the reference manifest (a local run's, byte for byte), no record whose outputs differ from the
 * reference's for its key, the killed stage computed by the other worker, and `ouro verify` clean.
 *
 *   node --import tsx test/fault/cluster-kill.ts [--trials N] [--lock-seconds S] [--keep]
 * Prints one line per trial and a summary; exits non-zero on any violation.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  blobBytes,
  computedBy,
  disagreeingKeys,
  manifestOf,
  ouroSync,
  ROOT,
  startOuro,
  startWorker,
  stopAll
} from "../support/cluster.ts"
import { startPostgres } from "../support/postgres.ts"

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const trials = arg("trials", 10)
const lockSeconds = arg("lock-seconds", 4)
const keep = process.argv.includes("--keep")
const SLOW = join(ROOT, "test/fixtures/cluster/slow.ts")

const work = mkdtempSync(join(tmpdir(), "ouro-cluster-kill-"))
const pg = await startPostgres()
let violations = 0
try {
  const refStore = join(work, "reference")
  const ref = ouroSync(["run", SLOW, "--store", refStore, "--jobs", "2", "--quiet"])
  if (ref.code !== 0) throw new Error(`reference run failed:\n${ref.stderr}`)
  const refManifest = manifestOf(ref.stdout)
  console.log(`reference manifest ${refManifest}`)
  for (let t = 1; t <= trials; t++) {
    const started = Date.now()
    const store = join(work, `trial-${t}`)
    mkdirSync(store)
    // A cluster (database) per trial: a done workflow whose outputs are in the store would answer for the next one.
    const cluster = pg.database(`trial_${t}`)
    const workers = await Promise.all(
      ["w1", "w2"].map((name) =>
        startWorker({
          cluster,
          store,
          name,
          cache: join(work, `cache-${name}`),
          lockExpirationSeconds: lockSeconds
        })
      )
    )
    const problems: string[] = []
    try {
      const run = startOuro(["run", SLOW, "--store", store, "--cluster", cluster, "--quiet"])
      const first = await Promise.race(
        workers.map((w) => w.waitFor(/computing seed=\d\/fixture-spin/, 300_000).then((line) => ({ w, line })))
      )
      const path = /seed=\d\/fixture-spin/.exec(first.line)![0]
      first.w.kill9()
      const survivor = workers.find((w) => w !== first.w)!
      const result = await run.done
      if (result.code !== 0) problems.push(`submitter exit ${result.code}: ${result.stderr.trim()}`)
      else {
        const manifest = manifestOf(result.stdout)
        if (manifest !== refManifest) problems.push(`manifest ${manifest}, not the reference's`)
        else if (!blobBytes(store, manifest).equals(blobBytes(refStore, refManifest))) {
          problems.push("manifest bytes differ")
        }
      }
      if (!computedBy(survivor.out()).includes(path)) problems.push(`${path} not computed by the surviving worker`)
      if (computedBy(first.w.out()).includes(path)) problems.push(`${path} finished by the killed worker`)
      const disagree = disagreeingKeys(store, refStore)
      if (disagree.length > 0) problems.push(`records differing from the reference: ${disagree.join(", ")}`)
      const v = ouroSync(["verify", "--store", store])
      if (v.code !== 0) problems.push(`verify: ${v.stdout.trim()} ${v.stderr.trim()}`)
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      console.log(
        `trial ${t}: killed ${first.w === workers[0] ? "w1" : "w2"} in ${path}; ` +
          (problems.length === 0
            ? `ok (reference manifest, verify clean) in ${seconds} s`
            : `VIOLATION: ${problems.join("; ")}`)
      )
    } finally {
      await stopAll(workers)
    }
    violations += problems.length === 0 ? 0 : 1
    if (!keep) rmSync(store, { recursive: true, force: true })
  }
} finally {
  pg.stop()
  if (!keep) rmSync(work, { recursive: true, force: true })
}
console.log(`${trials} trials, ${trials - violations} ok, ${violations} with violations`)
process.exitCode = violations === 0 ? 0 : 1
