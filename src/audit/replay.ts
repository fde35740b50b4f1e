/**
 * Replay: a pipeline recomputed from scratch in another store, compared stage by stage with what this store
 * recorded for the same keys. Bit-identical, or the first divergence (stage, output, both hashes).
 */
import { Effect, Option } from "effect"
import type { RunResult } from "../engine/execute.ts"
import type { Sha256 } from "../hash/index.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"

export type ReplayOutcome =
  | {
    readonly _tag: "Identical"
    readonly stages: number
    readonly outputs: number
    readonly unrecorded: ReadonlyArray<string>
  }
  | {
    readonly _tag: "Diverged"
    readonly stage: string
    readonly key: Sha256
    readonly output: string
    readonly recorded: Sha256
    readonly replayed: Sha256
  }

/** Compares a replayed run (from a scratch store) with the records of the store in context, in topological order. */
export const compareWithRecords = (replayed: RunResult) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    let outputs = 0
    const unrecorded: string[] = []
    for (const r of replayed.nodes) {
      const record = yield* store.getRecord(r.key)
      if (Option.isNone(record)) {
        unrecorded.push(r.node.path)
        continue
      }
      for (const [name, out] of Object.entries(r.outputs)) {
        const recorded = record.value.outputs[name]?.hash ?? "(none)"
        if (recorded !== out.hash) {
          return {
            _tag: "Diverged",
            stage: r.node.path,
            key: r.key,
            output: name,
            recorded,
            replayed: out.hash
          } satisfies ReplayOutcome
        }
        outputs++
      }
    }
    return { _tag: "Identical", stages: replayed.nodes.length, outputs, unrecorded } satisfies ReplayOutcome
  })

export const formatReplay = (o: ReplayOutcome): string =>
  o._tag === "Diverged"
    ? `diverged at stage ${o.stage} (key ${
      o.key.slice(0, 12)
    }), output ${o.output}:\n  recorded ${o.recorded}\n  replayed ${o.replayed}`
    : `bit-identical: ${o.stages} stages, ${o.outputs} outputs recomputed from scratch match the records` +
      (o.unrecorded.length > 0
        ? `\n  (${o.unrecorded.length} stages had no record here to compare with: ${
          o.unrecorded.slice(0, 5).join(", ")
        }${o.unrecorded.length > 5 ? ", ..." : ""})`
        : "")
