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
import { nodeRef, nodeRefs } from "./refs.ts"

export type PlanStatus = "cached" | "run" | "pending"

export interface PlanEntry {
  readonly node: PipelineNode
  readonly status: PlanStatus
  readonly key: Sha256 | undefined
  readonly reasons: ReadonlyArray<string>
  /** The hashes of the inputs known now (all of them unless pending), external fingerprints included. */
  readonly inputs: Readonly<Record<string, Sha256>>
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
      const ok = check === "exists"
        ? yield* store.hasBlob(out.hash)
        : (yield* store.checkBlob(out.hash, out.bytes)) === "ok"
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

/** A node path with every `key=value` segment's value left out: the paths of one stage across arms and seeds. */
export const pathShape = (path: string): string => path.split("/").map((s) => s.replace(/=.*$/, "=*")).join("/")

/**
 * The baseline for "why does this run?" of a node that has no record of its own (a new arm, or a stage that so
 * far only ran as another arm's twin): of the records the pipeline's other nodes of the same kind and path shape
 * had last, the one its key material differs from least. Undefined if there is none.
 */
const closestTwin = (
  store: ArtifactStoreShape,
  pipeline: Pipeline,
  node: PipelineNode,
  reasonsAgainst: (record: StageRecord) => ReadonlyArray<string>,
  listNodeRefs: () => Effect.Effect<ReadonlyArray<{ readonly name: string; readonly value: string }>, StoreError>
) =>
  Effect.gen(function*() {
    const prefix = nodeRefs(pipeline.name)
    const shape = pathShape(node.path)
    let best: { readonly path: string; readonly record: StageRecord; readonly reasons: number } | undefined
    for (const ref of yield* listNodeRefs()) {
      const path = ref.name.slice(prefix.length)
      if (path === node.path || pathShape(path) !== shape) continue
      const record = yield* store.getRecord(ref.value).pipe(Effect.orElseSucceed(() => Option.none<StageRecord>()))
      if (Option.isNone(record) || record.value.kind !== node.stage.kind) continue
      const reasons = reasonsAgainst(record.value).length
      if (best === undefined || reasons < best.reasons) best = { path, record: record.value, reasons }
    }
    return best
  })

export const plan = (
  pipeline: Pipeline
): Effect.Effect<ReadonlyArray<PlanEntry>, StoreError | ArtifactCorrupt | StageFailed, ArtifactStore> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const known = new Map<number, Readonly<Record<string, Sha256>>>()
    const scheduled = new Map<Sha256, string>()
    const byId = new Map(pipeline.nodes.map((n) => [n.id, n]))
    const entries: PlanEntry[] = []
    let refs: ReadonlyArray<{ readonly name: string; readonly value: string }> | undefined
    const listNodeRefs = () =>
      refs !== undefined
        ? Effect.succeed(refs)
        : store.listRefs(nodeRefs(pipeline.name)).pipe(Effect.tap((r) => Effect.sync(() => (refs = r))))
    /** Why `material` is not what this node had last time, or, if it never had anything, its closest twin. */
    const why = (
      material: Parameters<typeof explain>[0],
      previous: StageRecord | undefined,
      pending: Readonly<Record<string, string>>,
      node: PipelineNode
    ) =>
      Effect.gen(function*() {
        if (previous !== undefined) return explain(material, previous, pending)
        const twin = yield* closestTwin(store, pipeline, node, (r) => explain(material, r, {}), listNodeRefs)
        if (twin === undefined) return explain(material, undefined, pending)
        return [...explain(material, twin.record, pending), `no record of its own yet: compared with ${twin.path}`]
      })
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
        entries.push({
          node,
          status: "pending",
          key: undefined,
          reasons: yield* why(material, previous, pending, node),
          inputs
        })
        continue
      }
      const key = keyOf(node.stage, inputs)
      const record = yield* usableRecord(store, key).pipe(
        Effect.catchTag("ArtifactCorrupt", () => Effect.succeed(Option.none<StageRecord>()))
      )
      if (Option.isSome(record)) {
        known.set(node.id, Object.fromEntries(Object.entries(record.value.outputs).map(([k, v]) => [k, v.hash])))
        entries.push({ node, status: "cached", key, reasons: [], inputs })
        continue
      }
      const twin = scheduled.get(key)
      if (twin !== undefined) {
        entries.push({
          node,
          status: "pending",
          key,
          reasons: [`same stage and inputs as ${twin}: computed once`],
          inputs
        })
        continue
      }
      scheduled.set(key, node.path)
      const all = yield* why(keyMaterial(node.stage, inputs), previous, {}, node)
      const changes = all.filter((r) => !r.startsWith("no record of its own"))
      const stored = yield* store.getRecord(key).pipe(
        Effect.map((
          r
        ) => (Option.isSome(r) ? "an output is missing from the store" : "no record for this key in the store")),
        Effect.catchTag(
          "ArtifactCorrupt",
          () => Effect.succeed("its stored record is corrupt (the run quarantines it)")
        )
      )
      const reasons = changes.length > 0 ? all : [stored]
      entries.push({ node, status: "run", key, reasons, inputs })
    }
    return entries
  })
