/**
 * The planner: for each node in topological order, compute its key if every input hash is known, look the key up,
 * and say `cached`, `run` (with why) or `pending` (an input will be recomputed first; with early cutoff it may
 * still turn out cached).
 */
import { Effect, Option } from "effect"
import type { ArtifactCorrupt, StageFailed, StoreError } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import type { Pipeline, PipelineNode } from "../pipeline/pipeline.ts"
import { ArtifactStore, type ArtifactStoreShape } from "../store/ArtifactStore.ts"
import type { StageRecord } from "../store/record.ts"
import { explain, externalInputs, keyMaterial, keyOf } from "./key.ts"
import { nodeRef } from "./refs.ts"

export type PlanStatus = "cached" | "run" | "pending"

export interface PlanEntry {
  readonly node: PipelineNode
  readonly status: PlanStatus
  readonly key: Sha256 | undefined
  readonly reasons: ReadonlyArray<string>
}

/**
 * A record whose outputs are all in the store, or none. `check: "exists"` only looks (what plan does);
 * `check: "intact"` also checks each output's seal and quarantines a corrupt one, so its stage runs again.
 */
export const usableRecord = (store: ArtifactStoreShape, key: Sha256, check: "exists" | "intact" = "exists") =>
  Effect.gen(function*() {
    const record = yield* store.getRecord(key)
    if (Option.isNone(record)) return Option.none<StageRecord>()
    for (const out of Object.values(record.value.outputs)) {
      const ok = check === "exists" ? yield* store.hasBlob(out.hash) : (yield* store.checkBlob(out.hash, out.bytes)) === "ok"
      if (!ok) return Option.none<StageRecord>()
    }
    return record
  })

/** The record this node had last time, if it can still be read. */
export const previousRecord = (store: ArtifactStoreShape, pipeline: Pipeline, node: PipelineNode) =>
  Effect.gen(function*() {
    const key = yield* store.getRef(nodeRef(pipeline, node))
    if (Option.isNone(key)) return undefined
    const record = yield* store.getRecord(key.value).pipe(Effect.orElseSucceed(() => Option.none<StageRecord>()))
    return Option.getOrUndefined(record)
  })

export const plan = (pipeline: Pipeline): Effect.Effect<ReadonlyArray<PlanEntry>, StoreError | ArtifactCorrupt | StageFailed, ArtifactStore> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const known = new Map<number, Readonly<Record<string, Sha256>>>()
    const scheduled = new Map<Sha256, string>()
    const byId = new Map(pipeline.nodes.map((n) => [n.id, n]))
    const entries: PlanEntry[] = []
    for (const node of pipeline.nodes) {
      const inputs: Record<string, Sha256> = { ...(yield* externalInputs(node)) }
      const pending: Record<string, string> = {}
      for (const [name, source] of Object.entries(node.inputs)) {
        const hashes = known.get(source.node)
        if (hashes === undefined) pending[name] = byId.get(source.node)!.path
        else inputs[name] = hashes[source.output]
      }
      const previous = yield* previousRecord(store, pipeline, node)
      if (Object.keys(pending).length > 0) {
        const material = { ...keyMaterial(node.stage, {}), inputs }
        entries.push({ node, status: "pending", key: undefined, reasons: explain(material, previous, pending) })
        continue
      }
      const key = keyOf(node.stage, inputs)
      const record = yield* usableRecord(store, key).pipe(
        Effect.catchTag("ArtifactCorrupt", () => Effect.succeed(Option.none<StageRecord>()))
      )
      if (Option.isSome(record)) {
        known.set(node.id, Object.fromEntries(Object.entries(record.value.outputs).map(([k, v]) => [k, v.hash])))
        entries.push({ node, status: "cached", key, reasons: [] })
        continue
      }
      const twin = scheduled.get(key)
      if (twin !== undefined) {
        entries.push({ node, status: "pending", key, reasons: [`same stage and inputs as ${twin}: computed once`] })
        continue
      }
      scheduled.set(key, node.path)
      const why = explain(keyMaterial(node.stage, inputs), previous, {})
      const stored = yield* store.getRecord(key).pipe(
        Effect.map((r) => (Option.isSome(r) ? "an output is missing from the store" : "no record for this key in the store")),
        Effect.catchTag("ArtifactCorrupt", () => Effect.succeed("its stored record is corrupt (the run quarantines it)"))
      )
      const reasons = why.length > 0 ? why : [stored]
      entries.push({ node, status: "run", key, reasons })
    }
    return entries
  })
