/** A worker thread that computes loss and gradients of one batch shard for lm/parallel.ts. */
import { parentPort, workerData } from "node:worker_threads"
import { type BackendName, selectBackend } from "./backend.ts"
import { type Impl, lossAndGrads, type Params, type TransformerConfig } from "./transformer.ts"

interface Init {
  readonly config: TransformerConfig
  readonly impl: Impl
  readonly backend: BackendName
}

export interface ShardRequest {
  readonly params: Params
  readonly inputs: Int32Array
  readonly targets: Int32Array
  readonly batch: number
}

const port = parentPort
if (port === null) throw new Error("grad-worker: not started as a worker thread")
const init = workerData as Init
// Messages wait for the backend: a promise, not a top-level await (the bundled CLI is one CommonJS file).
const ready = selectBackend({ prefer: init.backend }).then((info) => port.postMessage({ ready: info.name }))
port.on("message", (req: ShardRequest) => {
  void ready.then(() => {
    try {
      const { loss, grads } = lossAndGrads(init.config, req.params, req.inputs, req.targets, req.batch, init.impl)
      port.postMessage({ loss, grads }, Object.values(grads).map((g) => g.buffer as ArrayBuffer))
    } catch (e) {
      port.postMessage({ error: e instanceof Error ? e.stack ?? e.message : String(e) })
    }
  })
})
