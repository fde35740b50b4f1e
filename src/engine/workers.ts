/**
 * A StageRunner on worker threads, so independent stages use every core. Each worker imports the same pipeline
 * file, finds the node by its path, runs it with the in-process runner against the same store, and answers with
 * the output hashes; the main thread keeps planning, deduplication and records.
 */
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { Effect, Layer } from "effect"
import { ArtifactCorrupt, ArtifactMissing, StageFailed, StoreError } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import type { OutputEntry } from "../store/record.ts"
import { Progress, type ProgressEvent } from "./Progress.ts"
import { type RunError, StageRunner } from "./StageRunner.ts"

export interface WorkerTask {
  readonly id: number
  readonly path: string
  readonly inputs: Readonly<Record<string, Sha256>>
}

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly outputs: Readonly<Record<string, OutputEntry>> }
  | { readonly id: number; readonly ok: false; readonly error: { readonly _tag: string } & Record<string, unknown> }
  | { readonly id: number; readonly ok: false; readonly defect: string }

export interface WorkerConfig {
  readonly pipelineFile: string
  readonly storeRoot: string
}

/** Rebuilds a tagged error sent across the thread boundary (structured clone keeps fields, not classes). */
const revive = (e: { readonly _tag: string } & Record<string, unknown>): RunError => {
  const s = (k: string) => String(e[k] ?? "")
  switch (e._tag) {
    case "StageFailed":
      return new StageFailed({ node: s("node"), kind: s("kind"), detail: s("detail") })
    case "ArtifactCorrupt":
      return new ArtifactCorrupt({ hash: s("hash"), path: s("path"), detail: s("detail") })
    case "ArtifactMissing":
      return new ArtifactMissing({ hash: s("hash"), ...(e.detail === undefined ? {} : { detail: s("detail") }) })
    default:
      return new StoreError({ path: s("path"), detail: `${e._tag}: ${s("detail") || s("message")}` })
  }
}

export const defaultWorkers = (): number => Math.max(1, availableParallelism())

export const layerWorkers = (config: WorkerConfig, workers = defaultWorkers()): Layer.Layer<StageRunner, never, Progress> =>
  Layer.effect(
    StageRunner,
    Effect.gen(function*() {
      const progress = yield* Progress
      // Workers start on first use: a fully cached run never pays for them.
      const pool: Worker[] = []
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(pool.map((w) => w.terminate()))))
      const idle: Worker[] = []
      const waiting: Array<(w: Worker) => void> = []
      const acquire = () =>
        new Promise<Worker>((resolve) => {
          if (idle.length > 0) return resolve(idle.pop()!)
          if (pool.length < workers) {
            const w = new Worker(new URL("./worker-entry.mjs", import.meta.url), { workerData: config })
            pool.push(w)
            return resolve(w)
          }
          waiting.push(resolve)
        })
      const release = (w: Worker) => (waiting.length > 0 ? waiting.shift()!(w) : idle.push(w))
      let nextId = 0

      const send = (worker: Worker, task: WorkerTask) =>
        new Promise<WorkerReply>((resolve, reject) => {
          const onMessage = (reply: WorkerReply | { readonly progress: ProgressEvent }) => {
            if ("progress" in reply) return Effect.runSync(progress.emit(reply.progress))
            if (reply.id !== task.id) return
            cleanup()
            resolve(reply)
          }
          const onError = (e: Error) => (cleanup(), reject(e))
          const onExit = (code: number) => (cleanup(), reject(new Error(`stage worker exited with code ${code}`)))
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
            Effect.promise(acquire),
            (worker) =>
              Effect.promise(() => send(worker, { id: nextId++, path: node.path, inputs })).pipe(
                Effect.flatMap((reply) =>
                  reply.ok
                    ? Effect.succeed(reply.outputs)
                    : "error" in reply
                    ? Effect.fail(revive(reply.error))
                    : Effect.die(new Error(`stage ${node.path} crashed in a worker: ${reply.defect}`))
                )
              ),
            (worker) => Effect.sync(() => release(worker))
          )
      }
    })
  )
