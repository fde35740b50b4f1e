/**
 * gc paused mid-sweep: the store holds two runs of pipelines of one name (the pipeline and its variant), so what
 * only the earlier one made is unreachable. `gc --apply --grace-minutes 0` stops itself (SIGSTOP, the
 * OURO_TEST_PAUSE_GC_AFTER_CHECK hook) after it has looked for runs in flight and planned, before it removes
 * anything; then a run of the earlier pipeline starts (--jobs 1 or 2): it must say it waits for gc (and not
 * finish), and a seeded random while (0 to 1.5 s) after that gc is continued (SIGCONT). gc must finish (exit 0),
 * the run must complete with that pipeline's reference manifest (it waited for the sweep, then recomputed what gc
 * removed), and verify must be clean. Trials alternate the two pipelines.
 */
import { join } from "node:path"
import {
  int,
  type KindContext,
  type KindResult,
  manifestOf,
  ouro,
  ouroAsync,
  processState,
  sleep,
  trial,
  verifyClean,
  waitFor
} from "../common.ts"

export const gcPaused = async (ctx: KindContext): Promise<KindResult> => {
  const store = join(ctx.work, "store")
  for (const p of [ctx.variant, ctx.pipeline]) {
    const r = await ouro(ctx.project, "run", p, "--quiet", "--store", store)
    if (r.code !== 0) throw new Error(`gc: setting up failed: ${r.stderr}`)
  }
  let done = 0
  let waited = 0
  let removedSomething = 0
  for (let t = 0; t < ctx.trials; t++) {
    const where = `gc-paused trial ${t}`
    // The store's last run is the other pipeline: this one's own stages are unreachable, gc plans to remove them.
    const [pipeline, expected] = t % 2 === 0 ? [ctx.variant, ctx.expectedVariant] : [ctx.pipeline, ctx.expected]
    await trial(ctx, where, async () => {
      const gc = ouroAsync(ctx.project, ["gc", "--apply", "--grace-minutes", "0", "--store", store], {
        OURO_TEST_PAUSE_GC_AFTER_CHECK: "1"
      })
      let run: ReturnType<typeof ouroAsync> | undefined
      try {
        if (
          !ctx.violations.check(
            await waitFor(() => processState(gc.pid) === "T", 30_000),
            where,
            () => `gc never paused: ${gc.stderr()}`
          )
        ) return
        const jobs = int(ctx.rng, 1, 2)
        const pause = int(ctx.rng, 0, 1500)
        run = ouroAsync(ctx.project, ["run", pipeline, "--store", store, "--jobs", String(jobs)])
        // gc holds the store: the run must say it waits (not finish) while gc is stopped; gc goes on a seeded
        // random while after that.
        let finished = false
        void run.done.then(() => (finished = true))
        const said = await waitFor(() => finished || /waiting for gc/.test(run!.stderr()), 60_000)
        ctx.violations.check(
          said && !finished,
          where,
          () =>
            finished
              ? `the run finished while gc held the store: ${run!.stderr().trim()}`
              : "the run never said it waits for gc"
        )
        await sleep(pause)
        gc.kill("SIGCONT")
        const g = await gc.done
        const r = await run.done
        ctx.violations.check(g.code === 0, where, () => `gc exit ${g.code}: ${g.stderr.trim()}`)
        if (/^removed [1-9]/.test(g.stdout) || /and [1-9]\d* stage records/.test(g.stdout)) removedSomething++
        const ok = ctx.violations.check(
          r.code === 0 && manifestOf(r.stdout) === expected,
          where,
          () =>
            `run (jobs ${jobs}, gc continued after ${pause} ms) exit ${r.code}, manifest ${
              manifestOf(r.stdout)
            } (expected ${expected}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`
        )
        if (/waiting for gc/.test(r.stderr)) waited++
        if (await verifyClean(ctx, store, where, true) && ok) done++
      } finally {
        gc.kill("SIGCONT")
        await gc.done
        await run?.done
      }
    })
  }
  return {
    trials: ctx.trials,
    line:
      `gc paused mid-sweep: ${ctx.trials} trials, ${done} runs completed with the reference manifest and verify clean; ${waited} said they waited for gc, ${removedSomething} sweeps removed something`
  }
}
