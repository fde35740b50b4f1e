/**
 * A cluster worker: an Effect cluster runner that executes `StageRun` workflows. Each one's Activity checks that
 * this worker may compute the task (same ouroboros, same computing env, the same key from its own copy of the
 * pipeline), looks the key up in the store (delivery is at-least-once: a stage already computed is not computed
 * again), holds the store's lease on the key while computing, computes on a worker thread (so the runner's shard
 * locks are renewed while a stage runs), writes the outputs and the record, and answers with the output hashes.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Activity } from "effect/workflow"
import { externalInputs, jsonDiff, keyOf, stageRecord } from "../engine/key.ts"
import { usableRecord } from "../engine/plan.ts"
import { Progress } from "../engine/Progress.ts"
import { type RunError, StageRunner, type StageRunnerShape } from "../engine/StageRunner.ts"
import { layerWorkers } from "../engine/workers.ts"
import { describe, StageFailed } from "../errors/index.ts"
import { sha256 } from "../hash/index.ts"
import { loadPipeline } from "../pipeline/load.ts"
import type { Pipeline } from "../pipeline/pipeline.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { materialiseCode } from "./code.ts"
import { layerClusterLeases } from "./leases.ts"
import { type ClusterTiming, layerRunnerEngine } from "./postgres.ts"
import { PROGRESS_CHANNEL, type ProgressNote, StageDone, StageRun, type StageTask } from "./protocol.ts"
import { RunError as RunErrorSchema } from "../engine/StageRunner.ts"
import { openSharedStore, storeSpecOf } from "./store.ts"
import { ouroborosVersion } from "./version.ts"

export interface WorkerOptions {
  readonly cluster: string
  readonly store: string
  /** The local cache in front of a remote store (`--cache`, OURO_CACHE). */
  readonly storeCache?: string | undefined
  /** How this worker names itself in logs and progress notes. */
  readonly name: string
  /** Where the other runners and submitters reach it. */
  readonly listen: { readonly host: string; readonly port: number }
  /** Stages computed at once (worker threads). */
  readonly jobs: number
  /** Where code artifacts are materialised, one directory per hash. */
  readonly cacheDir: string
  readonly timing: ClusterTiming
  /** Its own log lines (stdout by default). */
  readonly log: (line: string) => void
}

const encodeNote = Schema.encodeSync(Schema.fromJsonString(Schema.Unknown))

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`

/** The worker's handler layer: needs the workflow engine, the store and the PostgreSQL client. */
const layerHandler = (options: WorkerOptions) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const store = yield* ArtifactStore
    const pg = yield* PgClient.PgClient
    const scope = yield* Effect.scope
    const version = ouroborosVersion()
    const pipelines = new Map<string, { readonly pipeline: Pipeline; readonly file: string }>()
    const runners = new Map<string, StageRunnerShape>()

    const notify = (task: StageTask, event: ProgressNote["event"], extra: { line?: string; ms?: number } = {}) => {
      const note: ProgressNote = { key: task.key, path: task.path, worker: options.name, event, ...extra }
      // Progress is for people: a note that cannot be sent costs nothing but the note.
      return pg.notify(PROGRESS_CHANNEL, encodeNote(note)).pipe(Effect.timeout("2 seconds"), Effect.ignore)
    }

    const refuse = (task: StageTask, why: string) =>
      Effect.gen(function*() {
        options.log(`refused ${task.path} (${task.key.slice(0, 12)}) from ${task.submitter}: ${why}`)
        yield* notify(task, "refused", { line: why })
        return yield* new StageFailed({
          node: task.path,
          kind: task.kind,
          detail: `worker ${options.name} refused it: ${why}`
        })
      })

    /** The pipeline of code artifact `code`, loaded once from its materialised copy. */
    const pipelineOf = (task: StageTask) =>
      Effect.gen(function*() {
        const hit = pipelines.get(task.code)
        if (hit !== undefined) return hit
        const file = yield* materialiseCode(task.code, options.cacheDir)
        const pipeline = yield* loadPipeline(file, { definedAt: task.definedAt }).pipe(
          Effect.mapError((e) =>
            new StageFailed({
              node: task.path,
              kind: task.kind,
              detail: `cannot load its pipeline: ${e.message}`,
              cause: e
            })
          )
        )
        const loaded = { pipeline, file }
        pipelines.set(task.code, loaded)
        return loaded
      })

    /** Worker threads that load the code artifact's pipeline file, started on first use, kept for the worker's life. */
    const runnerOf = (task: StageTask, file: string) =>
      Effect.gen(function*() {
        const hit = runners.get(task.code)
        if (hit !== undefined) return hit
        const forward = Layer.succeed(Progress, {
          emit: (event) =>
            event._tag === "Log"
              ? Effect.andThen(
                Effect.sync(() => options.log(`${event.path}: ${event.line}`)),
                notify(task, "log", { line: event.line })
              )
              : Effect.void
        })
        const context = yield* Layer.buildWithScope(
          layerWorkers(
            {
              pipelineFile: file,
              store: storeSpecOf(options.store),
              cache: options.storeCache,
              definedAt: task.definedAt
            },
            options.jobs
          ).pipe(
            Layer.provide(forward)
          ),
          scope
        )
        const runner = Context.get(context, StageRunner)
        runners.set(task.code, runner)
        return runner
      })

    const compute = (task: StageTask): Effect.Effect<StageDone, RunError> =>
      Effect.gen(function*() {
        if (task.version !== version) {
          return yield* refuse(task, `it runs ouroboros ${version}, the submitter ${task.version}`)
        }
        const { pipeline, file } = yield* pipelineOf(task)
        const node = pipeline.nodes.find((n) => n.path === task.path)
        if (node === undefined) {
          return yield* refuse(task, `its copy of pipeline ${pipeline.name} has no stage ${task.path}`)
        }
        const envDiff = jsonDiff(node.stage.env, task.env)
        if (envDiff.length > 0) {
          return yield* refuse(task, `its computing env differs from the submitter's: ${envDiff.join(", ")}`)
        }
        const external = yield* externalInputs(node)
        for (const [name, hash] of Object.entries(external)) {
          if (task.inputs[name] !== hash) {
            return yield* refuse(
              task,
              `its ${name.replace(/^external:/, "")} (${hash.slice(0, 12)}) is not the submitter's (${
                (task.inputs[name] ?? "none").slice(0, 12)
              })`
            )
          }
        }
        const key = keyOf(node.stage, task.inputs)
        if (key !== task.key) {
          return yield* refuse(task, `its copy of the stage has key ${key}, not ${task.key}`)
        }
        return yield* Effect.scoped(Effect.gen(function*() {
          // The store's lease, held in PostgreSQL too: two deliveries of one key never compute at once, on one
          // machine or two (a lease of its own, apart from the submitter's, which holds the key's own lease while it
          // waits for this answer).
          yield* store.lease(sha256(`cluster-worker:${key}`))
          const stored = yield* usableRecord(store, key, "intact")
          if (Option.isSome(stored)) {
            options.log(`found ${task.path} (${key.slice(0, 12)}) in the store: not computed again`)
            yield* notify(task, "found")
            return { outputs: stored.value.outputs, worker: options.name, computed: false }
          }
          options.log(`computing ${task.path} (${key.slice(0, 12)}) for ${task.submitter}`)
          yield* notify(task, "started")
          const startedAt = new Date()
          // Not interrupted once begun (a shard moving to another runner interrupts its workflows): the stage is
          // finished and recorded here, and the runner that replays it finds it by its key instead of computing again.
          return yield* Effect.uninterruptible(Effect.gen(function*() {
            const runner = yield* runnerOf(task, file)
            const outputs = yield* runner.run(node, task.inputs).pipe(
              Effect.tapError((e) =>
                Effect.andThen(
                  Effect.sync(() => options.log(`failed ${task.path}: ${e.message}`)),
                  notify(task, "failed", { line: e.message })
                )
              )
            )
            const record = stageRecord(node, key, task.inputs, outputs, startedAt)
            // After its blobs, as the executor does: a record always points at complete outputs.
            yield* store.putRecord(record)
            const ms = record.timings.ms
            options.log(`computed ${task.path} (${key.slice(0, 12)}) in ${seconds(ms)}`)
            yield* notify(task, "computed", { ms })
            return { outputs, worker: options.name, computed: true }
          }))
        }))
      }).pipe(
        Effect.catchDefect((defect) =>
          Effect.fail(
            new StageFailed({
              node: task.path,
              kind: task.kind,
              detail: `worker ${options.name}: ${describe(defect)}`,
              cause: defect
            })
          )
        )
      ) as Effect.Effect<StageDone, RunError>

    yield* Layer.buildWithScope(
      StageRun.toLayer((task) =>
        Activity.make({ name: "compute", success: StageDone, error: RunErrorSchema, execute: compute(task) })
      ),
      scope
    )
  }))

/** Runs a worker until it is interrupted (SIGINT, SIGTERM); says "ready" once it is a runner of the cluster. */
export const runWorker = (options: WorkerOptions) =>
  Effect.scoped(Effect.gen(function*() {
    // One engine (and PostgreSQL pool) for the handler and the store's leases: layers are built once per build.
    const engine = layerRunnerEngine(options.cluster, options.listen, options.timing)
    const store = layerClusterLeases.pipe(
      Layer.provide([openSharedStore(options.store, { cache: options.storeCache }), engine])
    )
    yield* Layer.build(layerHandler(options).pipe(Layer.provide([store, engine])))
    options.log("ready")
    return yield* Effect.never
  }))
