/**
 * Stage throughput on the cluster (issue #13): the n-gram grid of test/fixtures/cluster/grid.ts (3 arms × 3 seeds ×
 * 2 generations: many short stages) on a fresh store each time, run locally with --jobs 2, then by a submitter with
 * 1 and with 2 workers (`ouro worker`, one job each) on a private PostgreSQL on loopback. Throughput = stages
 * computed / the submitter's wall time (workers started beforehand; their start is not counted), printed with its
 * ratio to the local run measured here.
 *
 *   node --import tsx bench/cluster.ts [--grid FILE]     (test/fixtures/cluster/long.ts: six stages of ~10 s)
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { computedBy, manifestOf, ouroSync, ROOT, startOuro, startWorker, stopAll } from "../test/support/cluster.ts"
import { startPostgres } from "../test/support/postgres.ts"

const i = process.argv.indexOf("--grid")
const GRID = i >= 0 ? process.argv[i + 1] : join(ROOT, "test/fixtures/cluster/grid.ts")
const work = mkdtempSync(join(tmpdir(), "ouro-bench-cluster-"))
const ran = (stdout: string) => Number(/ (\d+) ran, /.exec(stdout)?.[1] ?? "NaN")

const loadBefore = loadavg()[0]
const pg = await startPostgres()
try {
  const rows: Array<
    { what: string; stages: number; seconds: number; manifest: string; perWorker?: Record<string, number> }
  > = []
  {
    const store = join(work, "local")
    const t = performance.now()
    const r = ouroSync(["run", GRID, "--store", store, "--jobs", "2", "--quiet"])
    if (r.code !== 0) throw new Error(r.stderr)
    rows.push({
      what: "local --jobs 2",
      stages: ran(r.stdout),
      seconds: (performance.now() - t) / 1000,
      manifest: manifestOf(r.stdout)
    })
  }
  for (const n of [1, 2]) {
    const store = join(work, `cluster-${n}`)
    mkdirSync(store)
    // A cluster (database) per run, so the second does not take the first one's stored answers.
    const cluster = pg.database(`bench_${n}`)
    const workers = await Promise.all(
      Array.from(
        { length: n },
        (_, k) => startWorker({ cluster, store, name: `w${k + 1}`, cache: join(work, "cache") })
      )
    )
    try {
      const t = performance.now()
      const r = await startOuro(["run", GRID, "--store", store, "--cluster", cluster, "--quiet"]).done
      if (r.code !== 0) throw new Error(r.stderr)
      const seconds = (performance.now() - t) / 1000
      rows.push({
        what: `cluster, ${n} worker${n === 1 ? "" : "s"}`,
        stages: ran(r.stdout),
        seconds,
        manifest: manifestOf(r.stdout),
        perWorker: Object.fromEntries(workers.map((w, k) => [`w${k + 1}`, computedBy(w.out()).length]))
      })
    } finally {
      await stopAll(workers)
    }
  }
  const base = rows[0].stages / rows[0].seconds
  console.log(
    `grid ${GRID.replace(ROOT + "/", "")}; 1-minute load average before: ${loadBefore.toFixed(2)}, after: ${
      loadavg()[0].toFixed(2)
    } (2 cores)`
  )
  for (const r of rows) {
    const rate = r.stages / r.seconds
    console.log(
      `${r.what.padEnd(20)} ${String(r.stages).padStart(3)} stages in ${r.seconds.toFixed(2).padStart(6)} s: ` +
        `${rate.toFixed(2)} stages/s, ratio ${(rate / base).toFixed(2)} to local; manifest ${r.manifest.slice(0, 12)}` +
        (r.manifest === rows[0].manifest ? " (same as local)" : " (DIFFERS from local)") +
        (r.perWorker === undefined ? "" : `; computed per worker ${JSON.stringify(r.perWorker)}`)
    )
  }
} finally {
  pg.stop()
  rmSync(work, { recursive: true, force: true })
}
