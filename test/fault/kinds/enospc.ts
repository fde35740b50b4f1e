/**
 * ENOSPC: a run from an empty store on a tmpfs of a seeded random size (8 KiB to 1 MiB; the finished store takes
 * about 1 MiB there), so the disk fills at a different write each trial, in a private mount namespace
 * (`unshare -m`; the mount vanishes with it). The run must fail with exactly one `ouro:` line naming the full disk
 * (no stack trace), or complete with the reference manifest if it fitted; it must leave no temp, lease or
 * active-run file; verify on the full disk must be clean. Then the tmpfs is remounted bigger (space freed) and the
 * next run must complete with the reference manifest, and verify be clean.
 * Needs root and unshare: otherwise the kind is skipped, and says why.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { BIN, int, type KindContext, type KindResult, manifestOf, stackFree, trial } from "../common.ts"

/** Why this machine cannot run the kind, or undefined when it can. */
export const enospcUnavailable = (): string | undefined => {
  if (process.platform !== "linux") return "not Linux"
  if (process.getuid?.() !== 0) return "not root (a tmpfs mount needs it)"
  const r = spawnSync("unshare", ["-m", "true"], { encoding: "utf8" })
  if (r.error !== undefined) return `no unshare (${r.error.message})`
  if (r.status !== 0) return `unshare -m fails: ${r.stderr.trim()}`
  return undefined
}

export const enospc = async (ctx: KindContext): Promise<KindResult> => {
  const disk = join(ctx.work, "disk")
  const out = join(ctx.work, "out")
  let failed = 0
  let fitted = 0
  let resumed = 0
  const sizes: number[] = []
  for (let t = 0; t < ctx.trials; t++) {
    const where = `enospc trial ${t}`
    const kib = int(ctx.rng, 8, 1024)
    const jobs = int(ctx.rng, 1, 2)
    sizes.push(kib)
    await trial(ctx, `${where} (tmpfs of ${kib} KiB, --jobs ${jobs})`, async () => {
      rmSync(out, { recursive: true, force: true })
      mkdirSync(out, { recursive: true })
      mkdirSync(disk, { recursive: true })
      const store = `${disk}/store`
      const ouroCmd = `${process.execPath} ${BIN}`
      const script = `
        set -u
        mount -t tmpfs -o size=${kib}k none ${disk} || exit 99
        ${ouroCmd} run ${ctx.pipeline} --quiet --jobs ${jobs} --store ${store} >${out}/run1.out 2>${out}/run1.err; echo $? >${out}/run1.rc
        find ${store}/tmp ${store}/leases ${store}/active -mindepth 1 2>/dev/null | wc -l >${out}/left
        ${ouroCmd} verify --store ${store} >${out}/verify1.out 2>&1; echo $? >${out}/verify1.rc
        mount -o remount,size=64m ${disk} || exit 98
        ${ouroCmd} run ${ctx.pipeline} --quiet --jobs ${jobs} --store ${store} >${out}/run2.out 2>${out}/run2.err; echo $? >${out}/run2.rc
        ${ouroCmd} verify --store ${store} >${out}/verify2.out 2>&1; echo $? >${out}/verify2.rc
      `
      const { OURO_STORE: _ignored, ...env } = process.env
      const ns = await new Promise<{ code: number | null; stderr: string }>((done) => {
        const child = spawn("unshare", ["-m", "bash", "-c", script], {
          cwd: ctx.project,
          env,
          stdio: ["ignore", "ignore", "pipe"]
        })
        let stderr = ""
        child.stderr.on("data", (d) => (stderr += d))
        child.on("close", (code) => done({ code, stderr }))
      })
      if (
        !ctx.violations.check(ns.code === 0, where, () => `the namespace script failed (exit ${ns.code}): ${ns.stderr}`)
      ) return
      const read = (f: string) => readFileSync(join(out, f), "utf8")
      const rc1 = Number(read("run1.rc").trim())
      const err1 = read("run1.err")
      if (rc1 === 0) {
        fitted++
        ctx.violations.check(
          manifestOf(read("run1.out")) === ctx.expected,
          where,
          () => `the run that fitted ended with manifest ${manifestOf(read("run1.out"))}`
        )
      } else {
        failed++
        const lines = err1.trim().split("\n")
        ctx.violations.check(
          rc1 === 1 && lines.length === 1 && stackFree(err1) && /ENOSPC|no space/i.test(err1),
          where,
          () => `the run on the full disk: exit ${rc1}, stderr ${JSON.stringify(err1.slice(0, 2000))}`
        )
      }
      ctx.violations.check(
        read("left").trim() === "0",
        where,
        () => `the failed run left ${read("left").trim()} files in tmp/, leases/, active/`
      )
      // A run that failed before it made its store's marker (the first write) may leave folders only: verify
      // must then say clean or 'no store' (never a corrupt store).
      const v1 = read("verify1.out")
      ctx.violations.check(
        read("verify1.rc").trim() === "0" || /^ouro: no store at/.test(v1),
        where,
        () => `verify on the full disk: ${v1.trim()}`
      )
      const ok = ctx.violations.check(
        read("run2.rc").trim() === "0" && manifestOf(read("run2.out")) === ctx.expected,
        where,
        () =>
          `the run after freeing space: exit ${read("run2.rc").trim()}, manifest ${manifestOf(read("run2.out"))}: ${
            read("run2.err").trim()
          }`
      )
      const v2ok = ctx.violations.check(
        read("verify2.rc").trim() === "0",
        where,
        () => `verify after freeing space: ${read("verify2.out").trim()}`
      )
      if (ok && v2ok) resumed++
    })
  }
  rmSync(out, { recursive: true, force: true })
  return {
    trials: ctx.trials,
    line: `ENOSPC: ${ctx.trials} trials on tmpfs of ${Math.min(...sizes)}-${
      Math.max(...sizes)
    } KiB: ${failed} runs failed with one ouro: line, ${fitted} fitted; ${resumed} resumed after freeing space with the reference manifest, verify clean`
  }
}
