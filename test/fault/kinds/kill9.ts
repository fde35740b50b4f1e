/**
 * kill -9: `ouro run` killed with SIGKILL at seeded random moments, again and again, on one store. After every kill
 * verify must be clean (or, killed before it made the store, say there is none and make none); every run that
 * completes must end with the reference manifest; after the last kill a resumed run must too.
 * flips: a byte flipped in a blob of a finished store (its seal broken, as any write breaks it): verify must report
 * it, and the next run repair it (same manifest, verify clean).
 */
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import {
  BIN,
  blobsOf,
  int,
  type KindContext,
  type KindResult,
  manifestOf,
  ouro,
  trial,
  verifyClean,
  verifyHere
} from "../common.ts"
import { spawn } from "node:child_process"

export const kill9 = async (ctx: KindContext): Promise<KindResult> => {
  const store = join(ctx.work, "store")
  let killed = 0
  let completed = 0
  for (let t = 0; killed < ctx.trials; t++) {
    const where = `kill -9 trial ${t}`
    await trial(ctx, where, async () => {
      const delay = int(ctx.rng, 0, Math.round(ctx.runMs * 1.1))
      const child = spawn(process.execPath, [
        BIN,
        "run",
        ctx.pipeline,
        "--quiet",
        "--store",
        store,
        "--jobs",
        String(1 + (t % 2))
      ], { cwd: ctx.project, stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      child.stdout.on("data", (d) => (stdout += d))
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), delay)
        child.on("close", (code, signal) => (clearTimeout(timer), done({ code, signal })))
      })
      if (exit.signal === "SIGKILL") killed++
      else {
        ctx.violations.check(exit.code === 0, where, () => `run exited ${exit.code}`)
        ctx.violations.check(
          manifestOf(stdout) === ctx.expected,
          where,
          () => `completed run manifest ${manifestOf(stdout)} differs from ${ctx.expected}`
        )
        completed++
      }
      await verifyClean(ctx, store, `${where} (killed after ${delay} ms)`, existsSync(store))
      // Start again from an empty store once a run got through, so later kills land mid-computation too.
      if (exit.signal !== "SIGKILL") rmSync(store, { recursive: true, force: true })
    })
  }
  const final = await ouro(ctx.project, "run", ctx.pipeline, "--quiet", "--store", store)
  const same = manifestOf(final.stdout) === ctx.expected
  ctx.violations.check(
    same,
    "kill -9 final run",
    () => `final resumed run manifest ${manifestOf(final.stdout)} differs from ${ctx.expected}`
  )
  return {
    trials: killed,
    line:
      `kill -9: ${killed} kills, ${completed} runs completed between them (all with the reference manifest), final resumed run ${
        same ? "identical" : "DIFFERENT"
      }`
  }
}

export const flips = async (ctx: KindContext): Promise<KindResult> => {
  const store = join(ctx.work, "store")
  const first = await ouro(ctx.project, "run", ctx.pipeline, "--quiet", "--store", store)
  if (manifestOf(first.stdout) !== ctx.expected) throw new Error(`flips: the first run failed: ${first.stderr}`)
  let flipped = 0
  let caught = 0
  let repaired = 0
  const blobs = blobsOf(store).filter(([, p]) => statSync(p).size > 0)
  const start = int(ctx.rng, 0, blobs.length - 1)
  // Infinity: each blob once.
  const n = Number.isFinite(ctx.trials) ? ctx.trials : blobs.length
  for (let t = 0; t < n; t++) {
    const [hash, blob] = blobs[(start + t) % blobs.length]
    const where = `flips trial ${t}`
    await trial(ctx, where, async () => {
      const bytes = readFileSync(blob)
      const at = int(ctx.rng, 0, bytes.length - 1)
      bytes[at] ^= 1 << int(ctx.rng, 0, 7)
      chmodSync(blob, 0o644)
      writeFileSync(blob, bytes)
      flipped++
      const verify = await verifyHere(store)
      if (verify.code === 1 && verify.stdout.includes(`corrupt blob ${hash}`)) caught++
      else {ctx.violations.check(false, where, () =>
          `flip at byte ${at} of ${blob}: verify did not report it (${verify.stdout.trim()})`)}
      const rerun = await ouro(ctx.project, "run", ctx.pipeline, "--quiet", "--store", store)
      const ran = ctx.violations.check(
        rerun.code === 0 && manifestOf(rerun.stdout) === ctx.expected,
        where,
        () =>
          `flip in ${blob}: the next run: exit ${rerun.code}, manifest ${
            manifestOf(rerun.stdout)
          }: ${rerun.stderr.trim()}`
      )
      if (await verifyClean(ctx, store, `${where}: flip in ${blob}, after the next run`, true) && ran) repaired++
    })
  }
  return {
    trials: flipped,
    line:
      `flipped bytes: ${flipped} blobs flipped, ${caught} caught by verify, ${repaired} repaired by the next run (same manifest, verify clean)`
  }
}
