/**
 * Sealed bit rot: a byte of a blob flipped on disk with the seal put back (read-only, modification time 0), so
 * that a cheap stat cannot tell. The store's promise (README): a blob whose rot the seal hid is quarantined when a
 * read meets it, and recomputed. So each trial rots a blob that the next run reads, in turn:
 *   metrics   an evaluation's metrics blob, which every run reads back for its metrics table
 *   input     a blob some stage reads as input, whose record is lost (removed), so that stage runs again
 *   output    a blob whose own stage's record is lost, so that stage runs again and writes those bytes again
 * verify must report the blob corrupt (exit 1); the next run must end with the reference manifest and the blob be
 * sound again, the rotten one moved to quarantine (for 'output', where the stage writes the blob again, the rotten
 * bytes are replaced by the sound ones instead); verify must then be clean.
 * (A rotten blob no run reads is outside that promise: verify reports it on every call until a read meets it.)
 */
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { createHash } from "node:crypto"
import { join } from "node:path"
import {
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

const VARIANTS = ["metrics", "input", "output"] as const

const blobPath = (store: string, hash: string) => join(store, "blobs", hash.slice(0, 2), hash)

export const rot = async (ctx: KindContext): Promise<KindResult> => {
  const store = join(ctx.work, "store")
  const first = await ouro(ctx.project, "run", ctx.pipeline, "--quiet", "--store", store)
  if (manifestOf(first.stdout) !== ctx.expected) throw new Error(`rot: the first run failed: ${first.stderr}`)
  const counts = Object.fromEntries(VARIANTS.map((v) => [v, { rotted: 0, reported: 0, repaired: 0 }]))
  for (let t = 0; t < ctx.trials; t++) {
    const variant = VARIANTS[t % VARIANTS.length]
    const count = counts[variant]
    const records = recordsOf(store)
    let hash: string
    let lost: string | undefined
    if (variant === "metrics") {
      hash = pick(
        ctx.rng,
        records.flatMap((r) =>
          Object.values(r.outputs).filter((o) => o.artifact === "metrics" && o.bytes > 0).map((o) => o.hash)
        )
      )
    } else if (variant === "input") {
      const consumer = pick(
        ctx.rng,
        records.filter((r) => Object.keys(r.inputs).some((n) => !n.startsWith("external:")))
      )
      hash = pick(
        ctx.rng,
        Object.entries(consumer.inputs).filter(([n]) => !n.startsWith("external:")).map(([, h]) => h)
      )
      lost = consumer.path
    } else {
      const producer = pick(ctx.rng, records.filter((r) => Object.values(r.outputs).some((o) => o.bytes > 0)))
      hash = pick(ctx.rng, Object.values(producer.outputs).filter((o) => o.bytes > 0).map((o) => o.hash))
      lost = producer.path
    }
    const where = `rot trial ${t} (${variant}) blob ${hash}${
      lost === undefined ? "" : `, record ${lost.slice(-69, -5)} lost`
    }`
    await trial(ctx, where, async () => {
      const file = blobPath(store, hash)
      const bytes = readFileSync(file)
      const at = int(ctx.rng, 0, bytes.length - 1)
      bytes[at] ^= 1 << int(ctx.rng, 0, 7)
      chmodSync(file, 0o644)
      writeFileSync(file, bytes)
      chmodSync(file, 0o444)
      utimesSync(file, 0, 0)
      if (lost !== undefined) rmSync(lost)
      count.rotted++
      const before = await verifyHere(store)
      if (
        ctx.violations.check(
          before.code === 1 && before.stdout.includes(`corrupt blob ${hash}`),
          where,
          () => `verify did not report it (byte ${at}): exit ${before.code}: ${before.stdout.trim()}`
        )
      ) count.reported++
      const run = await ouro(ctx.project, "run", ctx.pipeline, "--quiet", "--store", store)
      const ran = ctx.violations.check(
        run.code === 0 && manifestOf(run.stdout) === ctx.expected,
        where,
        () => `the next run: exit ${run.code}, manifest ${manifestOf(run.stdout)}: ${run.stderr.trim()}`
      )
      const sound = existsSync(file) && createHash("sha256").update(readFileSync(file)).digest("hex") === hash
      ctx.violations.check(
        sound,
        where,
        () => `after the run the blob is ${existsSync(file) ? "still rotten (byte " + at + ")" : "gone"}`
      )
      const kept = variant === "output" || readdirSync(join(store, "quarantine")).some((q) => q.startsWith(hash))
      ctx.violations.check(kept, where, () => "the rotten blob is not in quarantine")
      if (await verifyClean(ctx, store, where, true) && ran && sound && kept) count.repaired++
      else await rebuild(ctx, store)
    })
  }
  return {
    trials: ctx.trials,
    line: `sealed bit rot: ${
      VARIANTS.map((v) =>
        `${v} ${counts[v].rotted} rotted/${counts[v].reported} reported/${counts[v].repaired} ${
          v === "output" ? "rewritten sound" : "quarantined and recomputed"
        }`
      ).join("; ")
    }`
  }
}
