/**
 * SIGINT (Ctrl-C) at seeded random moments, --jobs 1 and --jobs 2 in turn, each trial from an empty store. The
 * run must exit 130 (or 0 with the reference manifest if it finished first) with no stack trace, every stderr line
 * an `ouro:` line; verify must be clean (or, interrupted before it made the store, say there is none and make
 * none); the next run must complete with the reference manifest.
 * Node itself dies of the signal if it comes before ouro's handler is installed (the first few hundred ms, while
 * modules load): a shell reports that as 130 too, and it is counted apart.
 */
import { existsSync, rmSync } from "node:fs"
import { join } from "node:path"
import {
  int,
  type KindContext,
  type KindResult,
  manifestOf,
  ouro,
  ouroAsync,
  stackFree,
  trial,
  verifyClean
} from "../common.ts"

export const sigint = async (ctx: KindContext): Promise<KindResult> => {
  const store = join(ctx.work, "store")
  const byJobs = { 1: 0, 2: 0 }
  let interrupted = 0
  let early = 0
  let finished = 0
  let resumed = 0
  for (let t = 0; t < ctx.trials; t++) {
    const jobs = (1 + (t % 2)) as 1 | 2
    const delay = int(ctx.rng, 0, Math.round(ctx.runMs * 1.1))
    const where = `sigint trial ${t} (--jobs ${jobs}, after ${delay} ms)`
    await trial(ctx, where, async () => {
      rmSync(store, { recursive: true, force: true })
      const run = ouroAsync(ctx.project, ["run", ctx.pipeline, "--quiet", "--store", store, "--jobs", String(jobs)])
      const timer = setTimeout(() => run.kill("SIGINT"), delay)
      const exit = await run.done
      clearTimeout(timer)
      byJobs[jobs]++
      if (exit.code === 130) interrupted++
      else if (exit.signal === "SIGINT") early++
      else if (exit.code === 0) {
        finished++
        ctx.violations.check(
          manifestOf(exit.stdout) === ctx.expected,
          where,
          () => `finished first, with manifest ${manifestOf(exit.stdout)}`
        )
      } else {ctx.violations.check(false, where, () =>
          `exit ${exit.code} (signal ${exit.signal}): ${exit.stderr.trim()}`)}
      ctx.violations.check(stackFree(exit.stderr), where, () => `stderr: ${JSON.stringify(exit.stderr.slice(0, 2000))}`)
      await verifyClean(ctx, store, where, existsSync(store))
      const next = await ouro(ctx.project, "run", ctx.pipeline, "--quiet", "--store", store, "--jobs", String(jobs))
      if (
        ctx.violations.check(
          next.code === 0 && manifestOf(next.stdout) === ctx.expected,
          where,
          () => `the next run: exit ${next.code}, manifest ${manifestOf(next.stdout)}: ${next.stderr.trim()}`
        )
      ) resumed++
    })
  }
  return {
    trials: ctx.trials,
    line: `SIGINT: ${ctx.trials} trials (${byJobs[1]} with --jobs 1, ${
      byJobs[2]
    } with --jobs 2): ${interrupted} exited 130, ${early} died of the signal before ouro's handler was installed, ${finished} finished first; ${resumed} next runs completed with the reference manifest`
  }
}
