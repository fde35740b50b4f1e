/**
 * The executor: runs a pipeline as one Effect. Each node waits for its inputs, computes its key from their
 * content hashes, and either reuses the stored record or runs its stage (bounded by a semaphore), writes the
 * outputs as blobs and then the record. Because keys use content hashes, a rerun upstream stage that produces
 * identical bytes leaves everything below it cached (early cutoff). Nodes with the same key run once.
 */
import { Deferred, Effect, Option, Semaphore } from "effect"
import { ArtifactCorrupt, type StoreError } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import type { Pipeline, PipelineNode } from "../pipeline/pipeline.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import type { OutputEntry } from "../store/record.ts"
import { externalInputs, keyOf, stageRecord } from "./key.ts"
import { usableRecord } from "./plan.ts"
import { Progress } from "./Progress.ts"
import { encodeManifest } from "./manifest.ts"
import { nodeRef, pipelineRef, runRef } from "./refs.ts"
import { type RunError, StageRunner } from "./StageRunner.ts"

export type { RunError }

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
  /** How many stages may compute at once (default: what the StageRunner can do). */
  readonly concurrency?: number
}

/** Corrupt items met during a run are quarantined and the run retried this many times, recomputing them. */
const CORRUPTION_RETRIES = 3

/**
 * Runs `body` (something that runs pipelines and reads what they made) again after a corrupt item it met is moved
 * to quarantine, so that the stage that made it is recomputed: a blob that rots after its check, or one whose seal
 * hid the rot until it was read, costs a recomputation, not every run failing on it.
 */
export const recomputingCorrupt = <A, E, R>(
  body: Effect.Effect<A, E | ArtifactCorrupt, R>,
  retries = CORRUPTION_RETRIES
): Effect.Effect<A, E | ArtifactCorrupt | StoreError, R | ArtifactStore> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const attempt = (left: number): Effect.Effect<A, E | ArtifactCorrupt | StoreError, R> =>
      body.pipe(Effect.catch((e: E | ArtifactCorrupt) =>
        e instanceof ArtifactCorrupt && left > 0
          ? store.quarantine(e.hash).pipe(Effect.andThen(attempt(left - 1)))
          : Effect.fail(e)
      ))
    return yield* attempt(retries)
  })

export const execute = (
  pipeline: Pipeline,
  options: ExecuteOptions = {}
): Effect.Effect<RunResult, RunError, ArtifactStore | Progress | StageRunner> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const progress = yield* Progress
    // gc and a run exclude each other: while gc sweeps, the run waits here, and says so.
    const register = store.registerRun({
      onWait: (gc) =>
        progress.emit({
          _tag: "Log",
          path: pipeline.name,
          line: `waiting for gc (pid ${gc.pid} on ${gc.host}) to finish its sweep`
        })
    })
    return yield* Effect.scoped(register.pipe(Effect.andThen(recomputingCorrupt(executeOnce(pipeline, options)))))
  })

const executeOnce = (
  pipeline: Pipeline,
  options: ExecuteOptions
): Effect.Effect<RunResult, RunError, ArtifactStore | Progress | StageRunner> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const progress = yield* Progress
    const runner = yield* StageRunner
    const semaphore = yield* Semaphore.make(Math.max(1, options.concurrency ?? runner.parallelism))
    const done = new Map<number, Deferred.Deferred<NodeResult, RunError>>()
    const byKey = new Map<Sha256, Deferred.Deferred<NodeResult, RunError>>()
    for (const node of pipeline.nodes) done.set(node.id, yield* Deferred.make<NodeResult, RunError>())

    const compute = (node: PipelineNode, key: Sha256, inputs: Readonly<Record<string, Sha256>>) =>
      Effect.gen(function*() {
        yield* progress.emit({ _tag: "Started", path: node.path, kind: node.stage.kind })
        const startedAt = new Date()
        const outputs = yield* runner.run(node, inputs)
        const record = stageRecord(node, key, inputs, outputs, startedAt)
        // The record is written after its blobs: a record in the store always points at complete outputs.
        yield* store.putRecord(record)
        return record
      })

    // Refs are written only when they move: a cached rerun writes nothing but its manifest ref.
    const moveNodeRef = (node: PipelineNode, key: Sha256) =>
      Effect.gen(function*() {
        const ref = nodeRef(pipeline, node)
        const current = yield* store.getRef(ref)
        if (Option.isNone(current) || current.value !== key) yield* store.setRef(ref, key)
      })

    const runNode = (node: PipelineNode): Effect.Effect<NodeResult, RunError> =>
      Effect.gen(function*() {
        const inputs: Record<string, Sha256> = { ...(yield* externalInputs(node)) }
        for (const [name, source] of Object.entries(node.inputs)) {
          const upstream = yield* Deferred.await(done.get(source.node)!)
          inputs[name] = upstream.outputs[source.output].hash
        }
        const key = keyOf(node.stage, inputs)
        const twin = byKey.get(key)
        if (twin !== undefined) {
          const first = yield* Deferred.await(twin)
          // Its own node ref too: "why does this run?" next time compares with what this path had, not nothing.
          yield* moveNodeRef(node, key)
          return { node, key, status: "shared", outputs: first.outputs, ms: 0 } satisfies NodeResult
        }
        const mine = done.get(node.id)!
        byKey.set(key, mine)
        const started = Date.now()
        const cached = yield* usableRecord(store, key, "intact")
        const { record, ran } = Option.isSome(cached)
          ? { record: cached.value, ran: false }
          : yield* Effect.scoped(Effect.gen(function*() {
            // Another run on this store may be computing the same key: wait for its lease, then look again.
            yield* store.lease(key, {
              onWait: (holder) =>
                progress.emit({
                  _tag: "Log",
                  path: node.path,
                  line: `waiting for stage ${key}: another run computes it (pid ${holder.pid} on ${holder.host})`
                })
            })
            const meanwhile = yield* usableRecord(store, key, "intact")
            if (Option.isSome(meanwhile)) return { record: meanwhile.value, ran: false }
            return { record: yield* Semaphore.withPermit(semaphore)(compute(node, key, inputs)), ran: true }
          }))
        yield* moveNodeRef(node, key)
        const result: NodeResult = {
          node,
          key,
          status: ran ? "ran" : "cached",
          outputs: record.outputs,
          ms: Date.now() - started
        }
        // A stage that ran: its record's compute time, and apart from it the wait for a worker or a lease.
        const computeMs = ran ? record.timings.ms : result.ms
        yield* progress.emit({
          _tag: "Finished",
          path: node.path,
          kind: node.stage.kind,
          status: ran ? "ran" : "cached",
          ms: computeMs,
          waitedMs: Math.max(0, result.ms - computeMs)
        })
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
    const manifest = yield* store.putBlob(encodeManifest(
      pipeline.name,
      results.map((r) => ({
        path: r.node.path,
        kind: r.node.stage.kind,
        tags: r.node.tags,
        key: r.key,
        outputs: Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.hash]))
      }))
    ))
    const last = yield* store.getRef(pipelineRef(pipeline.name))
    if (Option.isNone(last) || last.value !== manifest.hash) {
      yield* store.setRef(pipelineRef(pipeline.name), manifest.hash)
    }
    // The run list (ouro runs): when this run first completed. A value that is no hash: the list is no gc root.
    const listed = runRef(pipeline.name, manifest.hash)
    if (Option.isNone(yield* store.getRef(listed))) {
      yield* store.setRef(listed, new Date().toISOString())
    }
    return { pipeline, nodes: results, manifest: manifest.hash }
  })
