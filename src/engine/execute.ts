/**
 * The executor: runs a pipeline as one Effect. Each node waits for its inputs, computes its key from their
 * content hashes, and either reuses the stored record or runs its stage (bounded by a semaphore), writes the
 * outputs as blobs and then the record. Because keys use content hashes, a rerun upstream stage that produces
 * identical bytes leaves everything below it cached (early cutoff). Nodes with the same key run once.
 */
import { Deferred, Effect, Option, Semaphore } from "effect"
import { ArtifactCorrupt, type ArtifactMissing, type StageFailed, type StoreError } from "../errors/index.ts"
import { canonicalJson, type Sha256 } from "../hash/index.ts"
import type { Pipeline, PipelineNode } from "../pipeline/pipeline.ts"
import { ArtifactStore, type ArtifactStoreShape } from "../store/ArtifactStore.ts"
import type { OutputEntry, StageRecord } from "../store/record.ts"
import { externalInputs, keyMaterial, keyOf } from "./key.ts"
import { usableRecord } from "./plan.ts"
import { Progress } from "./Progress.ts"
import { nodeRef, pipelineRef } from "./refs.ts"

export type RunError = StoreError | ArtifactMissing | ArtifactCorrupt | StageFailed

export interface NodeResult {
  readonly node: PipelineNode
  readonly key: Sha256
  /** `ran`: computed now; `cached`: found in the store; `shared`: another node of this run has the same key. */
  readonly status: "ran" | "cached" | "shared"
  readonly outputs: Readonly<Record<string, OutputEntry>>
  readonly ms: number
}

export interface RunResult {
  readonly pipeline: Pipeline
  readonly nodes: ReadonlyArray<NodeResult>
  /** Content hash of the run's manifest blob (node paths, keys and output hashes; no timings). */
  readonly manifest: Sha256
}

export interface ExecuteOptions {
  /** How many stages may compute at once. */
  readonly concurrency?: number
}

/** Decoded artifacts by content hash, so a corpus read by ten stages is parsed once. Small LRU. */
const makeDecodedCache = (capacity: number) => {
  const entries = new Map<string, unknown>()
  return {
    get: (key: string): unknown => {
      const v = entries.get(key)
      if (v !== undefined) {
        entries.delete(key)
        entries.set(key, v)
      }
      return v
    },
    set: (key: string, value: unknown) => {
      entries.set(key, value)
      if (entries.size > capacity) entries.delete(entries.keys().next().value as string)
    }
  }
}

export const execute = (
  pipeline: Pipeline,
  options: ExecuteOptions = {}
): Effect.Effect<RunResult, RunError, ArtifactStore | Progress> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const progress = yield* Progress
    const semaphore = yield* Semaphore.make(Math.max(1, options.concurrency ?? 1))
    const decoded = makeDecodedCache(32)
    const done = new Map<number, Deferred.Deferred<NodeResult, RunError>>()
    const byKey = new Map<Sha256, Deferred.Deferred<NodeResult, RunError>>()
    for (const node of pipeline.nodes) done.set(node.id, yield* Deferred.make<NodeResult, RunError>())

    const loadInput = (hash: Sha256, node: PipelineNode, input: string) =>
      Effect.gen(function*() {
        const type = node.stage.inputs[input]
        const key = `${type.name}:${hash}`
        const hit = decoded.get(key)
        if (hit !== undefined) return hit
        const bytes = yield* store.getBlob(hash)
        const value = yield* Effect.try({
          try: () => type.decode(bytes),
          catch: (e) => corrupt(store, hash, e)
        })
        decoded.set(key, value)
        return value
      })

    const compute = (node: PipelineNode, key: Sha256, inputs: Readonly<Record<string, Sha256>>) =>
      Effect.gen(function*() {
        yield* progress.emit({ _tag: "Started", path: node.path, kind: node.stage.kind })
        const startedAt = new Date()
        const values: Record<string, unknown> = {}
        for (const input of Object.keys(node.inputs)) values[input] = yield* loadInput(inputs[input], node, input)
        const produced = yield* node.stage.run(values, {
          node: node.path,
          log: (line) => progress.emit({ _tag: "Log", path: node.path, line })
        })
        const outputs: Record<string, OutputEntry> = {}
        for (const [name, type] of Object.entries(node.stage.outputs)) {
          const blob = yield* store.putBlob(type.encode(produced[name]))
          outputs[name] = { hash: blob.hash, artifact: type.name, bytes: blob.bytes }
          decoded.set(`${type.name}:${blob.hash}`, produced[name])
        }
        const material = keyMaterial(node.stage, inputs)
        const record: StageRecord = {
          key,
          kind: material.kind,
          version: material.version,
          params: material.params as StageRecord["params"],
          inputs: material.inputs,
          outputs,
          env: material.env,
          node: node.path,
          timings: { startedAt: startedAt.toISOString(), ms: Date.now() - startedAt.getTime() }
        }
        // The record is written after its blobs: a record in the store always points at complete outputs.
        yield* store.putRecord(record)
        return record
      })

    const runNode = (node: PipelineNode): Effect.Effect<NodeResult, RunError> =>
      Effect.gen(function*() {
        const inputs: Record<string, Sha256> = { ...(yield* externalInputs(node.stage)) }
        for (const [name, source] of Object.entries(node.inputs)) {
          const upstream = yield* Deferred.await(done.get(source.node)!)
          inputs[name] = upstream.outputs[source.output].hash
        }
        const key = keyOf(node.stage, inputs)
        const twin = byKey.get(key)
        if (twin !== undefined) {
          const first = yield* Deferred.await(twin)
          return { node, key, status: "shared", outputs: first.outputs, ms: 0 } satisfies NodeResult
        }
        const mine = done.get(node.id)!
        byKey.set(key, mine)
        const started = Date.now()
        const cached = yield* usableRecord(store, key)
        const record = Option.isSome(cached) ? cached.value : yield* Semaphore.withPermit(semaphore)(compute(node, key, inputs))
        yield* store.setRef(nodeRef(pipeline, node), key)
        const result: NodeResult = {
          node,
          key,
          status: Option.isSome(cached) ? "cached" : "ran",
          outputs: record.outputs,
          ms: Date.now() - started
        }
        yield* progress.emit({ _tag: "Finished", path: node.path, kind: node.stage.kind, status: result.status === "ran" ? "ran" : "cached", ms: result.ms })
        return result
      })

    const results = yield* Effect.forEach(
      pipeline.nodes,
      (node) =>
        Effect.exit(runNode(node)).pipe(
          Effect.tap((exit) => Deferred.done(done.get(node.id)!, exit)),
          Effect.flatten
        ),
      { concurrency: "unbounded" }
    )
    const manifest = yield* store.putBlob(new TextEncoder().encode(canonicalJson({
      artifact: "run",
      pipeline: pipeline.name,
      nodes: results.map((r) => ({
        path: r.node.path,
        kind: r.node.stage.kind,
        tags: r.node.tags,
        key: r.key,
        outputs: Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.hash]))
      }))
    })))
    yield* store.setRef(pipelineRef(pipeline.name), manifest.hash)
    return { pipeline, nodes: results, manifest: manifest.hash }
  })

/** Bytes that hash correctly but do not decode as their artifact type: reported as corrupt, never used. */
const corrupt = (store: ArtifactStoreShape, hash: Sha256, e: unknown) =>
  new ArtifactCorrupt({ hash, path: store.location, detail: e instanceof Error ? e.message : String(e) })
