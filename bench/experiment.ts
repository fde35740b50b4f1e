/**
 * bench/experiment: a main job from an empty store, as a user runs it, with its wall time and peak memory against
 * its goal; then the fully cached rerun.
 *   story   pipelines/story.ts (`npm start`: five regimes x 8 generations x 3 seeds of a Kneser-Ney trigram);
 *           goal <= 10 minutes and <= 2 GB peak RSS on 2 cores
 *   neural  pipelines/neural-collapse.ts (`npm run start:neural`: replace vs accumulate, 5 generations of a
 *           character GPT); goal <= 10 minutes and <= 2 GB peak RSS on 2 cores
 *   ngram   pipelines/ngram-collapse.ts (3 arms x 10 generations x 3 seeds of a Kneser-Ney trigram); goal < 2 minutes;
 *           baseline in the same run: the same pipeline on one thread (--jobs 1)
 *   node --import tsx bench/experiment.ts [story] [neural] [ngram]     (default: story)
 * Each run prints the load average before and after, and the CPU time (user + sys) it took: on a machine shared
 * with other work, CPU time / cores is the wall time a quiet machine would take, at best.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"

const ROOT = resolve(import.meta.dirname, "..")

interface Job {
  readonly file: string
  readonly what: string
  readonly goalSeconds: number
  readonly goalRssMb?: number
  /** Also run it on one thread, as the baseline of the default --jobs. */
  readonly serialBaseline: boolean
}

const JOBS: Record<string, Job> = {
  story: {
    file: "pipelines/story.ts",
    what: "replace, accumulate, accumulate-subsample, real-fraction, quality x 8 generations x 3 seeds",
    goalSeconds: 600,
    goalRssMb: 2048,
    serialBaseline: false
  },
  neural: {
    file: "pipelines/neural-collapse.ts",
    what: "replace vs accumulate, 5 generations of a character GPT on SOTU",
    goalSeconds: 600,
    goalRssMb: 2048,
    serialBaseline: false
  },
  ngram: {
    file: "pipelines/ngram-collapse.ts",
    what: "3 arms x 10 generations x 3 seeds",
    goalSeconds: 120,
    serialBaseline: true
  }
}

const timed = (job: Job, store: string, jobs?: number) => {
  const t = process.hrtime.bigint()
  const stderr = join(store, "..", `time-${jobs ?? "default"}.txt`)
  const flags = jobs === undefined ? [] : ["--jobs", String(jobs)]
  execFileSync("/usr/bin/time", [
    "-v",
    "-o",
    stderr,
    process.execPath,
    join(ROOT, "bin/ouro.js"),
    "run",
    "--quiet",
    ...flags,
    "--store",
    store,
    join(ROOT, job.file)
  ], { stdio: "ignore" })
  const seconds = Number(process.hrtime.bigint() - t) / 1e9
  const report = readFileSync(stderr, "utf8")
  const field = (re: RegExp) => Number(re.exec(report)?.[1] ?? NaN)
  const rss = field(/Maximum resident set size \(kbytes\): (\d+)/) / 1024
  const cpu = field(/User time \(seconds\): ([\d.]+)/) + field(/System time \(seconds\): ([\d.]+)/)
  return { seconds, rssMb: rss, cpu }
}

const verdict = (ok: boolean) => (ok ? "PASS" : "MISS")

export const main = (names: ReadonlyArray<string> = Object.keys(JOBS)) => {
  for (const name of names) {
    const job = JOBS[name]
    if (job === undefined) {
      throw new Error(`bench/experiment: unknown job ${name} (have: ${Object.keys(JOBS).join(", ")})`)
    }
    const dir = mkdtempSync(join(tmpdir(), "bench-experiment-"))
    try {
      console.log(`bench/experiment  ${job.file} (${job.what}) from an empty store; load ${loadavg()[0].toFixed(2)}`)
      const run = timed(job, join(dir, "store"))
      const cached = timed(job, join(dir, "store"))
      const rssGoal = job.goalRssMb === undefined
        ? ""
        : `, <= ${job.goalRssMb} MB: ${verdict(run.rssMb <= job.goalRssMb)}`
      console.log(
        `  default --jobs      ${run.seconds.toFixed(1)} s, peak RSS ${
          run.rssMb.toFixed(0)
        } MB   goal <= ${job.goalSeconds} s: ${verdict(run.seconds <= job.goalSeconds)}${rssGoal}`
      )
      console.log(
        `                      CPU ${run.cpu.toFixed(0)} s (user + sys): ${
          (run.cpu / cpus().length).toFixed(0)
        } s of wall on ${cpus().length} idle cores at best; load now ${loadavg()[0].toFixed(2)}`
      )
      console.log(`  cached rerun        ${cached.seconds.toFixed(2)} s`)
      if (job.serialBaseline) {
        const serial = timed(job, join(dir, "store-1"), 1)
        console.log(
          `  --jobs 1 (baseline) ${serial.seconds.toFixed(1)} s, peak RSS ${serial.rssMb.toFixed(0)} MB   speed-up ${
            (serial.seconds / run.seconds).toFixed(2)
          }x`
        )
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["story"])
}
