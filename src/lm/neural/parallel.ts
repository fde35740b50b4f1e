/**
 * Data-parallel training over worker threads: the batch is cut into `shards` row ranges; shard 0 runs on the calling
 * thread, the others on workers (one wasm instance each, so each uses its own core). Gradients are combined in shard
 * order with weights rows/batch, then AdamW runs once in JS: the result is bit-deterministic for a given shard count
 * (but differs in the last bits from another shard count, so the count belongs in a stage's params).
 */
import { Worker } from "node:worker_threads"
import { type AdamWConfig, adamwStep, type OptimizerState } from "./adamw.ts"
import type { BackendName } from "./backend-plan.ts"
import {
  FAST,
  type Impl,
  lossAndGrads,
  type LossAndGrads,
  type Params,
  paramShapes,
  type TransformerConfig
} from "./transformer.ts"
import { workerUrl } from "../../thread/worker-url.ts"

export interface ParallelOptions {
  /** Batch shards, one thread each (1 = no workers). */
  readonly shards: number
  readonly backend: BackendName
  readonly impl?: Impl
}

export interface ParallelTrainer {
  readonly state: OptimizerState
  /** Forward, backward and AdamW on one batch; resolves to the mean loss before the update. */
  step(inputs: Int32Array, targets: Int32Array, batch: number, adamw: AdamWConfig): Promise<number>
  close(): Promise<void>
}

interface Reply {
  readonly ready?: string
  readonly loss?: number
  readonly grads?: Params
  readonly error?: string
}

/** A gradient worker loads as this thread did: the bundle's worker, or the TypeScript one through tsx. */
const ENTRY = workerUrl("lm/neural/grad-worker", new URL("./grad-worker-entry.mjs", import.meta.url))

/** A worker wrapped as request → promise (one request in flight at a time). */
const startWorker = async (config: TransformerConfig, impl: Impl, backend: BackendName) => {
  const worker = new Worker(ENTRY, { workerData: { config, impl, backend } })
  let pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined
  worker.on("message", (r: Reply) => {
    const p = pending
    pending = undefined
    if (p === undefined) return
    if (r.error !== undefined) p.reject(new Error(`gradient worker: ${r.error}`))
    else p.resolve(r)
  })
  worker.on("error", (e) => pending?.reject(e))
  const request = (msg?: unknown): Promise<Reply> =>
    new Promise((resolve, reject) => {
      pending = { resolve, reject }
      if (msg !== undefined) worker.postMessage(msg)
    })
  await request() // the "ready" message
  return { worker, request }
}

export const createParallelTrainer = async (
  config: TransformerConfig,
  state: OptimizerState,
  options: ParallelOptions
): Promise<ParallelTrainer> => {
  const impl = options.impl ?? FAST
  if (!Number.isSafeInteger(options.shards) || options.shards < 1) {
    throw new Error(`parallel: shards must be >= 1, got ${options.shards}`)
  }
  const workers = await Promise.all(
    Array.from({ length: options.shards - 1 }, () => startWorker(config, impl, options.backend))
  )
  const shapes = paramShapes(config)
  const names = shapes.map(([n]) => n)
  return {
    state,
    async step(inputs, targets, batch, adamw) {
      const t = inputs.length / batch
      const k = Math.min(options.shards, batch)
      const bounds = Array.from({ length: k + 1 }, (_, i) => Math.round((i * batch) / k))
      const rows = (i: number) => bounds[i + 1] - bounds[i]
      const slice = (a: Int32Array, i: number) => a.slice(bounds[i] * t, bounds[i + 1] * t)
      const remote = workers.slice(0, k - 1).map((w, j) =>
        w.request({
          params: state.params,
          inputs: slice(inputs, j + 1),
          targets: slice(targets, j + 1),
          batch: rows(j + 1)
        })
      )
      const local = lossAndGrads(config, state.params, slice(inputs, 0), slice(targets, 0), rows(0), impl)
      const parts: LossAndGrads[] = [local]
      for (const r of await Promise.all(remote)) parts.push({ loss: r.loss ?? NaN, grads: r.grads ?? {} })
      let loss = 0
      const grads: Params = {}
      for (const n of names) grads[n] = new Float32Array(state.params[n].length)
      // Fixed order (shard 0, 1, ...): the same sums every run.
      parts.forEach((p, i) => {
        const wgt = rows(i) / batch
        loss += wgt * p.loss
        for (const n of names) {
          const g = grads[n], s = p.grads[n]
          for (let j = 0; j < g.length; j++) g[j] += wgt * s[j]
        }
      })
      adamwStep(state, shapes, grads, adamw)
      return loss
    },
    async close() {
      await Promise.all(workers.map((w) => w.worker.terminate()))
    }
  }
}
