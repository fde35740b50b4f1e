/**
 * Garbage collection: mark what the kept runs and refs reach, sweep the rest. Roots are every ref: a pipeline's
 * last run manifest (and through it every stage record of that run), pinned runs' manifests (`pins/`, the same),
 * node refs (records), and any ref naming a blob. The run list (`runs/`) is no root: its values are times. A record keeps its input and output blobs. Nothing added within the grace period is removed (a run in
 * flight, or one that just reused a blob), gc refuses to sweep while a run is registered on the store, and no run
 * starts while it sweeps (see `sweepGc`).
 */
import { statSync } from "node:fs"
import { join } from "node:path"
import { Effect, Option, Schema } from "effect"
import { describe, StoreError } from "../errors/index.ts"
import { isSha256, type Sha256 } from "../hash/index.ts"
import { ArtifactStore, type StrayEntry } from "../store/ArtifactStore.ts"

export interface GcPlan {
  readonly blobs: ReadonlyArray<{ readonly hash: Sha256; readonly bytes: number }>
  readonly records: ReadonlyArray<Sha256>
  readonly bytes: number
  readonly kept: { readonly blobs: number; readonly records: number }
  /** Unreachable, but too recent to remove. */
  readonly spared: number
  /** Entries that are no blob or record (see ArtifactStore.listStrays), or whose age cannot be read: left alone. */
  readonly skipped: ReadonlyArray<StrayEntry>
}

const Manifest = Schema.Struct({
  artifact: Schema.Literal("run"),
  nodes: Schema.Array(Schema.Struct({ key: Schema.String }))
})
const decodeManifest = Schema.decodeUnknownOption(Schema.fromJsonString(Manifest))

export const planGc = (options: { readonly graceMs: number; readonly nowMs: number }) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const keepBlobs = new Set<Sha256>()
    const keepRecords = new Set<Sha256>()
    const recordKeys: Sha256[] = []
    for (const ref of yield* store.listRefs("")) {
      if (!isSha256(ref.value)) continue
      recordKeys.push(ref.value)
      if (!(yield* store.hasBlob(ref.value))) continue
      keepBlobs.add(ref.value)
      const bytes = yield* store.getBlob(ref.value).pipe(Effect.option)
      if (Option.isNone(bytes) || bytes.value[0] !== 0x7b) continue
      const manifest = decodeManifest(new TextDecoder().decode(bytes.value))
      if (Option.isSome(manifest)) { for (const n of manifest.value.nodes) recordKeys.push(n.key) }
    }
    for (const key of recordKeys) {
      if (keepRecords.has(key)) continue
      const record = yield* store.getRecord(key).pipe(Effect.orElseSucceed(() => Option.none()))
      if (Option.isNone(record)) continue
      keepRecords.add(key)
      for (const out of Object.values(record.value.outputs)) keepBlobs.add(out.hash)
      for (const [name, hash] of Object.entries(record.value.inputs)) {
        if (!name.startsWith("external:")) keepBlobs.add(hash)
      }
    }
    const recent = (ms: number | undefined) => ms !== undefined && options.nowMs - ms < options.graceMs
    let spared = 0
    const blobs: Array<{ hash: Sha256; bytes: number }> = []
    for (const b of yield* store.listBlobs) {
      if (keepBlobs.has(b.hash)) continue
      if (recent(b.addedMs)) spared++
      else blobs.push({ hash: b.hash, bytes: b.bytes })
    }
    const skipped: StrayEntry[] = [...(yield* store.listStrays)]
    const records: Sha256[] = []
    for (const key of yield* store.listRecordKeys) {
      if (keepRecords.has(key)) continue
      const file = join("records", key.slice(0, 2), `${key}.json`)
      let changed: number
      try {
        changed = statSync(join(store.location, file)).ctimeMs
      } catch (e) {
        // Gone or unreadable since it was listed: not ours to remove blind.
        skipped.push({ path: file, detail: `cannot be read: ${describe(e)}` })
        continue
      }
      if (recent(changed)) spared++
      else records.push(key)
    }
    return {
      blobs,
      records,
      bytes: blobs.reduce((n, b) => n + b.bytes, 0),
      kept: { blobs: keepBlobs.size, records: keepRecords.size },
      spared,
      skipped
    } satisfies GcPlan
  })

/**
 * A test hook: with OURO_TEST_PAUSE_GC_AFTER_CHECK set, gc stops itself (SIGSTOP) once it has checked for runs in
 * flight and before it removes anything, so a test can start a run mid-sweep and then resume it (SIGCONT).
 */
const pauseForTest = () => {
  if (process.env.OURO_TEST_PAUSE_GC_AFTER_CHECK) process.kill(process.pid, "SIGSTOP")
}

/**
 * Plans and removes with the store held exclusively for the whole sweep: a run registered before gc took the
 * store makes it refuse; a run starting during the sweep waits until it ends. So no run reuses what gc removes,
 * and the plan cannot go stale between the look and the removal. Returns what it removed.
 */
export const sweepGc = (options: { readonly graceMs: number; readonly nowMs: number }) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* ArtifactStore
    yield* store.exclusive
    const active = yield* store.activeRuns
    if (active.length > 0) {
      return yield* new StoreError({
        path: store.location,
        detail: `a run is in flight (pid ${active.map((r) => r.pid).join(", ")}); gc removes nothing while one is`
      })
    }
    const plan = yield* planGc(options)
    pauseForTest()
    // Records first: a record never points at a blob that is already gone.
    for (const key of plan.records) yield* store.removeRecord(key)
    for (const b of plan.blobs) yield* store.removeBlob(b.hash)
    // A collected run leaves the run list too (its entry names the manifest; its value is a time, no gc root).
    const removed = new Set(plan.blobs.map((b) => b.hash))
    for (const ref of yield* store.listRefs("runs/")) {
      if (removed.has(ref.name.slice(ref.name.lastIndexOf("/") + 1))) yield* store.removeRef(ref.name)
    }
    return plan
  }))

export const formatGc = (plan: GcPlan, applied: boolean): string =>
  `${applied ? "removed" : "would remove"} ${plan.blobs.length} blobs (${
    (plan.bytes / 1e6).toFixed(1)
  } MB) and ${plan.records.length} stage records; ` +
  `kept ${plan.kept.blobs} blobs and ${plan.kept.records} records reachable from refs` +
  (plan.spared > 0 ? `; spared ${plan.spared} unreachable items younger than the grace period` : "") +
  plan.skipped.map((s) => `\nskipped ${s.path}: ${s.detail} (neither a blob nor a record; run ouro verify)`).join("") +
  (applied ? "" : "\n(dry run: pass --apply to remove them)")
