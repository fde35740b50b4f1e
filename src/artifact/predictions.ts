/**
 * The Predictions artifact: a classifier's label for each held-out example of a task, by example id, so that two
 * models scored on the same examples can be compared pair by pair (McNemar's test) rather than by two intervals.
 * Canonical JSON: `{ artifact: "predictions", task, ids, truth, predicted }`, the three arrays in the task's test
 * order. Encoding and decoding both check it: arrays of one length, ids unique, labels non-negative integers.
 */
import { Schema } from "effect"
import { encodeJsonArtifact, jsonArtifactDecoder } from "../format/json.ts"
import type { ArtifactType } from "./type.ts"

export interface PredictionsValue {
  /** The task's name. */
  readonly task: string
  /** The test examples' ids, in the task's order. */
  readonly ids: ReadonlyArray<string>
  readonly truth: ReadonlyArray<number>
  readonly predicted: ReadonlyArray<number>
}

const PredictionsJson = Schema.Struct({
  artifact: Schema.Literal("predictions"),
  task: Schema.String,
  ids: Schema.Array(Schema.String),
  truth: Schema.Array(Schema.Int),
  predicted: Schema.Array(Schema.Int)
})
const decodePredictions = jsonArtifactDecoder("predictions", PredictionsJson)

/** Throws an Error saying what makes `p` unusable. */
const checkPredictions = (p: PredictionsValue): void => {
  if (p.truth.length !== p.ids.length || p.predicted.length !== p.ids.length) {
    throw new Error(
      `predictions of ${p.task}: ${p.ids.length} ids, ${p.truth.length} labels, ${p.predicted.length} predictions`
    )
  }
  if (new Set(p.ids).size !== p.ids.length) throw new Error(`predictions of ${p.task}: an example id appears twice`)
  for (const label of [...p.truth, ...p.predicted]) {
    if (!Number.isInteger(label) || label < 0) throw new Error(`predictions of ${p.task}: label ${label} is no class`)
  }
}

export const Predictions: ArtifactType<PredictionsValue> = {
  name: "predictions",
  env: {},
  encode: (p) => {
    checkPredictions(p)
    return encodeJsonArtifact({
      artifact: "predictions",
      task: p.task,
      ids: p.ids,
      truth: p.truth,
      predicted: p.predicted
    })
  },
  decode: (bytes) => {
    const { task, ids, truth, predicted } = decodePredictions(bytes)
    const p = { task, ids, truth, predicted }
    checkPredictions(p)
    return p
  }
}
