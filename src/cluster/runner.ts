/**
 * The submitter's StageRunner for a cluster: each stage that is not cached becomes a `StageRun` workflow whose
 * idempotency key is the stage key, executed by whichever worker holds its shard. Planning, deduplication and
 * records stay with the executor, as with the other runners. A key whose execution failed (a refusal, a stage's
 * error) is submitted again as the next attempt, so a failure stored in the cluster does not stay the answer for
 * ever; one that is in flight or done is joined, so a restarted submitter computes nothing twice.
 */
import { hostname } from "node:os"
import { resolve } from "node:path"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Layer, Option, Queue, Schedule, Schema } from "effect"
import { keyOf } from "../engine/key.ts"
import { Progress } from "../engine/Progress.ts"
import { StageRunner, type StageRunnerShape } from "../engine/StageRunner.ts"
import { ClusterUnavailable, describe, StageFailed } from "../errors/index.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { packCode } from "./code.ts"
import { layerClusterLeases } from "./leases.ts"
import { type ClusterTiming, layerClientEngine, redactUrl } from "./postgres.ts"
import { PROGRESS_CHANNEL, ProgressNote, type StageDone, StageRun, type StageTask } from "./protocol.ts"
import { ouroborosVersion } from "./version.ts"

export interface ClusterRunnerOptions {
  readonly cluster: string
  readonly pipelineFile: string
  /** The store as the user wrote it (for messages). */
  readonly store: string
  readonly timing?: ClusterTiming
  /** Stages in flight at once (default 256: the workers' threads are the real bound). */
  readonly parallelism?: number
}

const decodeNote = Schema.decodeUnknownOption(Schema.fromJsonString(ProgressNote))

/** How many failed attempts of one key are looked past before submitting: a bound, not a policy. */
const MAX_ATTEMPTS = 1000

const noteLine = (note: ProgressNote): string => {
  switch (note.event) {
    case "started":
      return `worker ${note.worker} started it`
    case "computed":
      return `worker ${note.worker} finished it in ${((note.ms ?? 0) / 1000).toFixed(2)} s`
    case "found":
      return `worker ${note.worker} found it in the store (computed before)`
    case "refused":
      return `worker ${note.worker} refused it: ${note.line ?? ""}`
    case "failed":
      return `worker ${note.worker} failed it: ${note.line ?? ""}`
    case "log":
      return `[${note.worker}] ${note.line ?? ""}`
  }
}

const makeRunner = (options: ClusterRunnerOptions) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const progress = yield* Progress
    const pg = yield* PgClient.PgClient
    const context = yield* Effect.context<never>()
    const version = ouroborosVersion()
    const submitter = `${hostname()}:${process.pid}`
    const definedAt = resolve(options.pipelineFile)
    // Packed on first use: a fully cached run stores no code.
    const code = yield* Effect.cached(packCode(options.pipelineFile).pipe(Effect.provideService(ArtifactStore, store)))
    /** Keys this submitter waits for → their node's path (progress notes for other keys are another run's). */
    const waiting = new Map<string, string>()
    const notes = yield* pg.listen(PROGRESS_CHANNEL).pipe(
      Effect.mapError((e) =>
        new ClusterUnavailable({
          url: redactUrl(options.cluster),
          detail: `cannot listen for progress: ${e.message}`,
          cause: e
        })
      )
    )
    yield* Queue.take(notes).pipe(
      Effect.flatMap((n) => {
        const note = decodeNote(n.payload)
        if (Option.isNone(note)) return Effect.void
        const path = waiting.get(note.value.key)
        return path === undefined ? Effect.void : progress.emit({ _tag: "Log", path, line: noteLine(note.value) })
      }),
      Effect.forever,
      Effect.ignore,
      Effect.forkScoped
    )

    // Stages wait in the cluster's tables until a worker runs them, however long that takes; a submitter that
    // waits for workers there are none of says so (once each time none is left) instead of waiting in silence.
    const expirySeconds = (options.timing?.shardLockExpirationMs ?? 35_000) / 1000
    // Effect's SQL runner storage (its default table prefix, "cluster") keeps each runner's last heartbeat.
    const liveWorkers = pg`SELECT count(*)::int FROM cluster_runners
      WHERE healthy AND last_heartbeat > NOW() - make_interval(secs => ${expirySeconds})`.values.pipe(
      Effect.map((rows) => Number(rows[0]?.[0] ?? 0)),
      // No runner table yet: no worker has ever joined this cluster.
      Effect.orElseSucceed(() => 0)
    )
    let toldNoWorkers = false
    yield* Effect.gen(function*() {
      const first = waiting.entries().next()
      if (first.done === true) return
      const live = yield* liveWorkers
      if (live > 0) {
        toldNoWorkers = false
      } else if (!toldNoWorkers) {
        toldNoWorkers = true
        yield* progress.emit({
          _tag: "Log",
          path: first.value[1],
          line: `no worker of cluster ${redactUrl(options.cluster)} is running; waiting for one ` +
            `(start one with: ouro worker --cluster ${redactUrl(options.cluster)} --store ${options.store})`
        })
      }
    }).pipe(Effect.repeat(Schedule.spaced("2 seconds")), Effect.forkScoped)

    const run: StageRunnerShape["run"] = (node, inputs) =>
      Effect.gen(function*() {
        const key = keyOf(node.stage, inputs)
        const base: Omit<StageTask, "attempt"> = {
          key,
          path: node.path,
          kind: node.stage.kind,
          inputs,
          env: node.stage.env,
          version,
          code: yield* code.pipe(
            Effect.mapError((e) =>
              new StageFailed({ node: node.path, kind: node.stage.kind, detail: e.message, cause: e })
            )
          ),
          definedAt,
          submitter
        }
        /** Are a result's outputs all in this store? (The cluster may have computed the key for another store.) */
        const inStore = (outputs: StageDone["outputs"]) =>
          Effect.forEach(Object.values(outputs), (o) => store.hasBlob(o.hash)).pipe(
            Effect.map((has) => has.every(Boolean))
          )
        let attempt = 0
        for (; attempt < MAX_ATTEMPTS; attempt++) {
          const id = yield* StageRun.executionId({ ...base, attempt })
          const result = yield* StageRun.poll(id)
          if (Option.isNone(result) || result.value._tag !== "Complete") break
          const exit = result.value.exit
          // A done execution is the answer if what it made is here; a failed one is looked past (submitted anew).
          if (Exit.isSuccess(exit) && (yield* inStore(exit.value.outputs))) break
        }
        waiting.set(key, node.path)
        const done = yield* StageRun.execute({ ...base, attempt }).pipe(
          Effect.ensuring(Effect.sync(() => waiting.delete(key))),
          Effect.catchDefect((defect) =>
            Effect.fail(
              new StageFailed({
                node: node.path,
                kind: node.stage.kind,
                detail: `on the cluster: ${describe(defect)}`,
                cause: defect
              })
            )
          )
        )
        if (!(yield* inStore(done.outputs))) {
          return yield* new StageFailed({
            node: node.path,
            kind: node.stage.kind,
            detail: `worker ${done.worker} answered with outputs that are not in store ${store.location} ` +
              `(is it a worker of another store?)`
          })
        }
        // In the order the stage declares them, as a local run's record has them.
        return Object.fromEntries(
          Object.keys(node.stage.outputs).flatMap((name) => name in done.outputs ? [[name, done.outputs[name]]] : [])
        )
      }).pipe(Effect.provideContext(context)) as ReturnType<StageRunnerShape["run"]>

    return { parallelism: options.parallelism ?? 256, run } satisfies StageRunnerShape
  })

/**
 * The cluster runner and the store it runs against (`store`, with its leases held in the cluster's PostgreSQL too),
 * on one connection to the cluster (checked when the layer is built).
 */
export const layerCluster = <E>(options: ClusterRunnerOptions, store: Layer.Layer<ArtifactStore, E>) => {
  const engine = layerClientEngine(options.cluster, options.timing)
  const leased = layerClusterLeases.pipe(Layer.provide([store, engine]))
  return Layer.effect(StageRunner, makeRunner(options)).pipe(Layer.provideMerge(leased), Layer.provide(engine))
}
