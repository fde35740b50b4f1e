/**
 * bench/experiment: the n-gram collapse experiment (pipelines/ngram-collapse.ts: 3 arms x 10 generations x 3 seeds)
 * from an empty store, as a user runs it, with its wall time and peak memory (goal: under 2 minutes on 2 cores);
 * then the fully cached rerun. The baseline in the same run is the same pipeline on one thread (--jobs 1).
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const ROOT = resolve(import.meta.dirname, "..")

const timed = (store: string, jobs: number) => {
  const t = process.hrtime.bigint()
  const stderr = join(store, "..", `time-${jobs}.txt`)
  execFileSync("/usr/bin/time", ["-v", "-o", stderr, process.execPath, join(ROOT, "bin/ouro.js"), "run", "--quiet", "--jobs", String(jobs), "--store", store, join(ROOT, "pipelines/ngram-collapse.ts")], { stdio: "ignore" })
  const seconds = Number(process.hrtime.bigint() - t) / 1e9
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(stderr, "utf8"))?.[1] ?? NaN) / 1024
  return { seconds, rssMb: rss }
}

export const main = (options: { readonly withBaseline?: boolean } = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "bench-experiment-"))
  try {
    console.log("bench/experiment  pipelines/ngram-collapse.ts (3 arms x 10 generations x 3 seeds) from an empty store")
    const parallel = timed(join(dir, "store-2"), 2)
    const cached = timed(join(dir, "store-2"), 2)
    console.log(`  --jobs 2 (default)  ${parallel.seconds.toFixed(1)} s, peak RSS ${parallel.rssMb.toFixed(0)} MB   goal < 120 s: ${parallel.seconds < 120 ? "PASS" : "MISS"}`)
    console.log(`  cached rerun        ${cached.seconds.toFixed(2)} s`)
    if (options.withBaseline ?? true) {
      const serial = timed(join(dir, "store-1"), 1)
      console.log(`  --jobs 1 (baseline) ${serial.seconds.toFixed(1)} s, peak RSS ${serial.rssMb.toFixed(0)} MB   speed-up ${(serial.seconds / parallel.seconds).toFixed(2)}x`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main()
