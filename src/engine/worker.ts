/** A stage worker thread: see workers.ts. Loads the pipeline once, then runs the nodes it is sent. */
import { parentPort, workerData } from "node:worker_threads"
import { Cause, Effect, Exit, Layer, Schema } from "effect"
import { adoptProbes } from "../command/probe.ts"
import { loadPipeline } from "../pipeline/load.ts"
import { layerStore } from "../store/open.ts"
import { Progress } from "./Progress.ts"
import { layerInProcess, RunError, StageRunner } from "./StageRunner.ts"
import type { WorkerConfig, WorkerReply, WorkerTask } from "./workers.ts"

const config = workerData as WorkerConfig
const encodeRunError = Schema.encodeUnknownSync(RunError)
const port = parentPort!
adoptProbes(config.probes ?? [])

// Progress goes to the main thread, which shows it as if the stage ran there.
const forwardProgress = Layer.succeed(Progress, {
  emit: (event) => Effect.sync(() => port.postMessage({ progress: event }))
})
const layer = layerInProcess.pipe(
  Layer.provide(Layer.mergeAll(layerStore(config.store, "write", { cache: config.cache }), forwardProgress))
)

const program = Effect.gen(function*() {
  const pipeline = yield* loadPipeline(config.pipelineFile, { definedAt: config.definedAt })
  const runner = yield* StageRunner
  const nodes = new Map(pipeline.nodes.map((n) => [n.path, n]))
  return (task: WorkerTask): Effect.Effect<WorkerReply> => {
    const node = nodes.get(task.path)
    if (node === undefined) {
      return Effect.succeed({ id: task.id, ok: false, defect: `no node ${task.path} in ${config.pipelineFile}` })
    }
    return Effect.exit(runner.run(node, task.inputs)).pipe(
      Effect.map((exit): WorkerReply =>
        Exit.isSuccess(exit)
          ? { id: task.id, ok: true, outputs: exit.value }
          : Cause.hasFails(exit.cause)
          ? { id: task.id, ok: false, error: encodeRunError(Cause.squash(exit.cause)) }
          : { id: task.id, ok: false, defect: Cause.pretty(exit.cause) }
      )
    )
  }
}).pipe(Effect.provide(layer))

// Tasks wait for the pipeline: a promise, not a top-level await (the bundled CLI is one CommonJS file). A pipeline
// that fails to load rejects it unhandled, which ends the worker with that error, as before.
const handle = Effect.runPromise(program)
port.on("message", (task: WorkerTask) => {
  void handle.then((h) => Effect.runPromise(h(task))).then((reply) => port.postMessage(reply))
})
