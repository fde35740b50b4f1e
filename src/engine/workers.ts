/**
 * A StageRunner on worker threads, so independent stages use every core. Each worker imports the same pipeline
 * file, finds the node by its path, runs it with the in-process runner against the same store, and answers with
 * the output hashes; the main thread keeps planning, deduplication and records.
 */
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { Cause, Effect, Exit, Layer, Schema } from "effect"
import { knownProbes, type ProbeResult } from "../command/probe.ts"
import { describe, StageFailed } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import type { OutputEntry } from "../store/record.ts"
import { Progress, type ProgressEvent } from "./Progress.ts"
import { RunError, StageRunner } from "./StageRunner.ts"
import { workerUrl } from "../thread/worker-url.ts"

export interface WorkerTask {
  readonly id: number
  readonly path: string
  readonly inputs: Readonly<Record<string, Sha256>>
}

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly outputs: Readonly<Record<string, OutputEntry>> }
  | { readonly id: number; readonly ok: false; readonly error: typeof RunError.Encoded }
  | { readonly id: number; readonly ok: false; readonly defect: string }

export interface WorkerConfig {
  readonly pipelineFile: string
  /** The store as the user named it (a directory, file://, http(s)://, s3://): each worker opens it (store/open.ts). */
  readonly store: string
  /** The local cache in front of a remote store. */
  readonly cache?: string | undefined
  /** What the pipeline's relative paths are relative to, when not `pipelineFile` (see loadPipeline). */
  readonly definedAt?: string
  /** The results of the env probes the starting thread ran (command/probe.ts), set when a worker starts. */
  readonly probes?: ReadonlyArray<readonly [string, ProbeResult]>
}

/** A stage's error as the worker encoded it; decoding it gives back the same class, cause and all. */
const decodeRunError = Schema.decodeUnknownSync(RunError)

/** A worker thread loads as this thread did: the bundle's worker, or the TypeScript one through tsx. */
const workerEntry = (): URL => workerUrl("engine/worker", new URL("./worker-entry.mjs", import.meta.url))

export const defaultWorkers = (): number => Math.max(1, availableParallelism())

export const layerWorkers = (
  config: WorkerConfig,
  workers = defaultWorkers()
): Layer.Layer<StageRunner, never, Progress> =>
  Layer.effect(
    StageRunner,
    Effect.gen(function*() {
      const progress = yield* Progress
      // Workers start on first use: a fully cached run never pays for them.
      const pool: Worker[] = []
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(pool.map((w) => w.terminate()))))
      const idle: Worker[] = []
      const waiting: Array<(w: Worker) => void> = []
      const spawn = () => {
        // The probes this thread ran when it loaded the pipeline go with it: the thread plans the same keys.
        const w = new Worker(workerEntry(), { workerData: { ...config, probes: knownProbes() } })
        pool.push(w)
        return w
      }
      const acquire = Effect.callback<Worker>((resume) => {
        if (idle.length > 0) return resume(Effect.succeed(idle.pop()!))
        if (pool.length < workers) return resume(Effect.succeed(spawn()))
        const take = (w: Worker) => resume(Effect.succeed(w))
        waiting.push(take)
        // Interrupted while waiting: no longer in line, so no worker is handed to a fiber that is gone.
        return Effect.sync(() => {
          const i = waiting.indexOf(take)
          if (i >= 0) waiting.splice(i, 1)
        })
      })
      const release = (w: Worker) => (waiting.length > 0 ? waiting.shift()!(w) : idle.push(w))
      /**
       * A worker whose stage was interrupted is still computing it (a synchronous loop cannot be stopped from
       * outside), and one that crashed is gone: either way it leaves the pool and is terminated, which stops its
       * thread wherever it is. Its half-written temp file, if any, is a dead writer's and goes when the store opens.
       */
      const retire = (w: Worker) =>
        Effect.promise(() => {
          const i = pool.indexOf(w)
          if (i >= 0) pool.splice(i, 1)
          // Its place goes to a fresh worker for the first stage in line, if any: waiting stages are woken only by a
          // worker handed to them, and none would come while every worker they wait for is retired.
          if (waiting.length > 0 && pool.length < workers) waiting.shift()!(spawn())
          return w.terminate()
        }).pipe(Effect.asVoid)
      const gone = new WeakSet<Worker>()
      let nextId = 0

      const send = (worker: Worker, task: WorkerTask) =>
        new Promise<WorkerReply>((resolve, reject) => {
          const onMessage = (reply: WorkerReply | { readonly progress: ProgressEvent }) => {
            if ("progress" in reply) return Effect.runSync(progress.emit(reply.progress))
            if (reply.id !== task.id) return
            cleanup()
            resolve(reply)
          }
          const onError = (e: Error) => (gone.add(worker), cleanup(), reject(e))
          const onExit = (
            code: number
          ) => (gone.add(worker), cleanup(), reject(new Error(`its worker thread exited with code ${code}`)))
          const cleanup = () => {
            worker.off("message", onMessage)
            worker.off("error", onError)
            worker.off("exit", onExit)
          }
          worker.on("message", onMessage)
          worker.on("error", onError)
          worker.on("exit", onExit)
          worker.postMessage(task)
        })

      return {
        parallelism: workers,
        run: (node, inputs) =>
          Effect.acquireUseRelease(
            acquire,
            (worker) =>
              Effect.tryPromise({
                try: () => send(worker, { id: nextId++, path: node.path, inputs }),
                // The thread died under the stage (out of memory, process.exit in a stage): the stage failed.
                catch: (e) => new StageFailed({ node: node.path, kind: node.stage.kind, detail: describe(e), cause: e })
              }).pipe(
                Effect.flatMap((reply) =>
                  reply.ok
                    ? Effect.succeed(reply.outputs)
                    : "error" in reply
                    ? Effect.fail(decodeRunError(reply.error))
                    : Effect.die(new Error(`stage ${node.path} crashed in a worker: ${reply.defect}`))
                )
              ),
            (worker, exit) =>
              gone.has(worker) || (Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause))
                ? retire(worker)
                : Effect.sync(() => release(worker))
          )
      }
    })
  )
