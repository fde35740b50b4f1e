/**
 * Planted entries, on a finished store, one per trial, in turn:
 *   blob-link    a blob replaced by a symbolic link to a sentinel file outside the store holding the same bytes
 *   record-link  a stage record replaced the same way
 *   blob-stray   a foreign file in a shard of blobs/ (a name that is no blob there: a stranger's file, or a hash
 *                 misplaced in another shard)
 *   record-stray the same in records/
 * Verify must report it (exit 1, naming it). Then a run must end with the reference manifest: for a link, it
 * quarantines the link (never following it) and recomputes, and verify is then clean; the sentinel file the link
 * pointed at keeps its bytes, mode and modification time (the sentinel tree's hash).
 * A foreign file is not the store's to remove (the run leaves it, as it leaves a user's file in tmp/), so verify
 * keeps reporting it as a stray entry: for those trials, verify after the run must report that one entry and
 * nothing else; then the harness removes the file it planted, and verify must be clean.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { basename, join, relative } from "node:path"
import {
  blobsOf,
  int,
  type KindContext,
  type KindResult,
  manifestOf,
  ouro,
  pick,
  rebuild,
  recordsOf,
  trial,
  verifyClean,
  verifyHere
} from "../common.ts"

const VARIANTS = ["blob-link", "record-link", "blob-stray", "record-stray"] as const

export const plant = async (ctx: KindContext): Promise<KindResult> => {
  const store = join(ctx.work, "store")
  const first = await ouro(ctx.project, "run", ctx.pipeline, "--quiet", "--store", store)
  if (manifestOf(first.stdout) !== ctx.expected) throw new Error(`plant: the first run failed: ${first.stderr}`)
  const counts = Object.fromEntries(VARIANTS.map((v) => [v, { planted: 0, reported: 0, repaired: 0 }]))
  for (let t = 0; t < ctx.trials; t++) {
    const variant = VARIANTS[t % VARIANTS.length]
    const count = counts[variant]
    let where = `plant trial ${t} (${variant})`
    // The target of a link is made before the sentinel is hashed: the trial must leave it as it found it.
    let planted: { path: string; expect: RegExp; link: boolean } | undefined
    if (variant === "blob-link") {
      const [hash, path] = pick(ctx.rng, blobsOf(store))
      const target = ctx.sentinel.target(`blob-${t}`, readFileSync(path))
      planted = { path, expect: new RegExp(`^corrupt blob ${hash}: .*symbolic link`, "m"), link: true }
      where += ` ${hash}`
      await trial(ctx, where, async () => {
        rmSync(path)
        symlinkSync(target, path)
        await check()
      })
    } else if (variant === "record-link") {
      const record = pick(ctx.rng, recordsOf(store))
      const target = ctx.sentinel.target(`record-${t}`, readFileSync(record.path))
      planted = {
        path: record.path,
        expect: new RegExp(
          `^corrupt (record ${record.key}: .*symbolic link|entry ${relative(store, record.path)}: )`,
          "m"
        ),
        link: true
      }
      where += ` ${record.key}`
      await trial(ctx, where, async () => {
        rmSync(record.path)
        symlinkSync(target, record.path)
        await check()
      })
    } else {
      const top = join(store, variant === "blob-stray" ? "blobs" : "records")
      const shards = readdirSync(top).sort()
      const shard = pick(ctx.rng, shards)
      const other = pick(ctx.rng, shards.filter((s) => s !== shard))
      // A stranger's file, or an entry of another shard misplaced in this one.
      const misplaced = int(ctx.rng, 0, 1) === 0 ? readdirSync(join(top, other)).sort()[0] : undefined
      const name = misplaced ?? pick(ctx.rng, ["notes.txt", "README", ".DS_Store", `${shard}${"0".repeat(62)}.bak`])
      const path = join(top, shard, name)
      const rel = relative(store, path).replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&")
      planted = { path, expect: new RegExp(`^corrupt entry ${rel}: `, "m"), link: false }
      where += ` ${relative(store, path)}`
      await trial(ctx, where, async () => {
        writeFileSync(path, misplaced !== undefined ? readFileSync(join(top, other, misplaced)) : "not the store's\n")
        await check()
      })
    }

    async function check() {
      const p = planted!
      count.planted++
      const before = await verifyHere(store)
      if (
        ctx.violations.check(
          before.code === 1 && p.expect.test(before.stdout),
          where,
          () => `verify did not report it: exit ${before.code}: ${before.stdout.trim()}`
        )
      ) count.reported++
      const run = await ouro(ctx.project, "run", ctx.pipeline, "--quiet", "--store", store)
      const ran = ctx.violations.check(
        run.code === 0 && manifestOf(run.stdout) === ctx.expected,
        where,
        () => `the run after it: exit ${run.code}, manifest ${manifestOf(run.stdout)}: ${run.stderr.trim()}`
      )
      if (p.link) {
        const st = lstatSync(p.path, { throwIfNoEntry: false })
        const replaced = ctx.violations.check(
          st?.isFile() === true,
          where,
          () => `after the run, ${p.path} is ${st === undefined ? "gone" : "not a regular file"}`
        )
        const quarantined = readdirSync(join(store, "quarantine")).some((q) =>
          q.startsWith(basename(p.path)) && lstatSync(join(store, "quarantine", q)).isSymbolicLink() &&
          readlinkSync(join(store, "quarantine", q)).startsWith(ctx.sentinel.dir)
        )
        ctx.violations.check(quarantined, where, () => "the link itself is not in quarantine")
        if (await verifyClean(ctx, store, where, true) && ran && replaced && quarantined) count.repaired++
        else await rebuild(ctx, store)
      } else {
        const after = await verifyHere(store)
        const problems = after.stdout.split("\n").filter((l) => /^(corrupt|missing) /.test(l))
        const only = ctx.violations.check(
          after.code === 1 && problems.length === 1 && p.expect.test(problems[0]),
          where,
          () =>
            `verify after the run should report the planted file and nothing else: exit ${after.code}: ${after.stdout.trim()}`
        )
        rmSync(p.path)
        if (await verifyClean(ctx, store, `${where}, once removed`, true) && ran && only) count.repaired++
        else await rebuild(ctx, store)
      }
    }
  }
  return {
    trials: ctx.trials,
    line: `planted entries: ${
      VARIANTS.map((v) =>
        `${v} ${counts[v].planted} planted/${counts[v].reported} reported/${counts[v].repaired} ${
          v.endsWith("link") ? "repaired" : "left alone, removed by the harness, then clean"
        }`
      ).join("; ")
    }`
  }
}
