/**
 * The StageRunner service: computes one node's outputs from its inputs' hashes and stores them as blobs. The
 * executor decides what runs; a runner decides where. In-process here; `workers.ts` runs stages on worker threads,
 * and a remote runner (durable activities on a cluster) can stand in later, since a stage is a pure function of its key.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { ArtifactCorrupt, ArtifactMissing, describe, StageFailed, StoreError } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import type { PipelineNode } from "../pipeline/pipeline.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { decodeArtifact } from "../store/read.ts"
import type { OutputEntry } from "../store/record.ts"
import { Progress } from "./Progress.ts"

/** What a stage run can fail with; a Schema, so a worker thread sends it to the executor as it is. */
export const RunError = Schema.Union([StoreError, ArtifactMissing, ArtifactCorrupt, StageFailed])
export type RunError = typeof RunError.Type

export interface StageRunnerShape {
  /** How many stages it can compute at once. */
  readonly parallelism: number
  readonly run: (
    node: PipelineNode,
    inputs: Readonly<Record<string, Sha256>>
  ) => Effect.Effect<Readonly<Record<string, OutputEntry>>, RunError>
}

export class StageRunner extends Context.Service<StageRunner, StageRunnerShape>()("ouroboros/StageRunner") {}

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

const thrownMessage = (defect: unknown): string =>
  defect instanceof Error ? (defect.message === "" ? defect.name : defect.message) : String(defect)

export const makeInProcess = Effect.gen(function*() {
  const store = yield* ArtifactStore
  const progress = yield* Progress
  const decoded = makeDecodedCache(32)

  const loadInput = (hash: Sha256, node: PipelineNode, input: string) =>
    Effect.gen(function*() {
      const type = node.stage.inputs[input]
      const key = `${type.name}:${hash}`
      const hit = decoded.get(key)
      if (hit !== undefined) return hit
      const value = yield* decodeArtifact(type, hash, yield* store.getBlob(hash), store.location)
      decoded.set(key, value)
      return value
    })

  const run: StageRunnerShape["run"] = (node, inputs) =>
    Effect.gen(function*() {
      const values: Record<string, unknown> = {}
      for (const input of Object.keys(node.inputs)) values[input] = yield* loadInput(inputs[input], node, input)
      const produced = yield* Effect.suspend(() =>
        node.stage.run(values, {
          node: node.path,
          log: (line) => progress.emit({ _tag: "Log", path: node.path, line }),
          status: (line) => Effect.runSync(progress.emit({ _tag: "Status", path: node.path, line }))
        })
      ).pipe(
        // A stage's code that throws (a user's defineStage, or a bug in a built-in one) fails that stage, named, with
        // the thrown message: one line for the CLI, the same whichever runner or thread computed it.
        Effect.catchDefect((defect) =>
          Effect.fail(
            new StageFailed({ node: node.path, kind: node.stage.kind, detail: thrownMessage(defect), cause: defect })
          )
        )
      )
      const outputs: Record<string, OutputEntry> = {}
      for (const [name, type] of Object.entries(node.stage.outputs)) {
        const failed = (what: string) => (e: unknown) =>
          new StageFailed({
            node: node.path,
            kind: node.stage.kind,
            detail: `output ${name}${what}: ${describe(e)}`,
            cause: e
          })
        const bytes = yield* Effect.try({ try: () => type.encode(produced[name]), catch: failed("") })
        // Bytes that encode but do not decode would be stored for good and blamed on the store by every reader:
        // each output is read back through its kind's codec first, and what readers get is what is cached.
        const value = yield* Effect.try({
          try: () => type.decode(bytes),
          catch: failed(` (${type.name}) does not decode`)
        })
        const blob = yield* store.putBlob(bytes)
        outputs[name] = { hash: blob.hash, artifact: type.name, bytes: blob.bytes }
        decoded.set(`${type.name}:${blob.hash}`, value)
      }
      return outputs
    })

  return { parallelism: 1, run } satisfies StageRunnerShape
})

export const layerInProcess: Layer.Layer<StageRunner, never, ArtifactStore | Progress> = Layer.effect(
  StageRunner,
  makeInProcess
)
