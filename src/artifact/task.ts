/**
 * The Task artifact: a labelled text-classification task for downstream probes, with its fixed train/test split.
 * Canonical JSON: `{ artifact: "task", name, classes, train: [{ id, text, label }], test: [...] }`, `label` an index
 * into `classes`. Encoding and decoding both check it is usable: at least two classes, both splits non-empty, every
 * label a class, every text non-empty, ids unique.
 */
import { Schema } from "effect"
import { encodeJsonArtifact, jsonArtifactDecoder } from "../format/json.ts"
import type { ArtifactType } from "./type.ts"

export interface TaskExample {
  readonly id: string
  readonly text: string
  readonly label: number
}

export interface TaskValue {
  /** Names the task's metrics (`<name>_<probe>_accuracy`). */
  readonly name: string
  readonly classes: ReadonlyArray<string>
  readonly train: ReadonlyArray<TaskExample>
  readonly test: ReadonlyArray<TaskExample>
}

const Example = Schema.Struct({ id: Schema.String, text: Schema.String, label: Schema.Int })
const TaskJson = Schema.Struct({
  artifact: Schema.Literal("task"),
  name: Schema.String,
  classes: Schema.Array(Schema.String),
  train: Schema.Array(Example),
  test: Schema.Array(Example)
})
const decodeTask = jsonArtifactDecoder("task", TaskJson)

/** Throws an Error saying what makes `t` unusable as a task. */
export const checkTask = (t: TaskValue): void => {
  if (!/^[A-Za-z0-9_]+$/.test(t.name)) throw new Error(`task: name ${JSON.stringify(t.name)} must match [A-Za-z0-9_]+`)
  if (t.classes.length < 2) {
    throw new Error(
      `task ${t.name}: ${t.classes.length} class(es) (${t.classes.join(", ") || "none"}); a classifier needs at least 2`
    )
  }
  if (new Set(t.classes).size !== t.classes.length) throw new Error(`task ${t.name}: class names repeat`)
  const ids = new Set<string>()
  for (const [split, examples] of [["train", t.train], ["test", t.test]] as const) {
    if (examples.length === 0) throw new Error(`task ${t.name}: the ${split} split is empty`)
    for (const e of examples) {
      if (!Number.isInteger(e.label) || e.label < 0 || e.label >= t.classes.length) {
        throw new Error(
          `task ${t.name}: example ${e.id} has label ${e.label}, not a class (0..${t.classes.length - 1})`
        )
      }
      if (e.text.length === 0) throw new Error(`task ${t.name}: example ${e.id} has no text`)
      if (ids.has(e.id)) throw new Error(`task ${t.name}: example id ${e.id} appears twice`)
      ids.add(e.id)
    }
  }
  const inTrain = new Set(t.train.map((e) => e.label))
  if (inTrain.size < 2) {
    throw new Error(`task ${t.name}: the train split has one class only (${t.classes[t.train[0].label]})`)
  }
}

export const Task: ArtifactType<TaskValue> = {
  name: "task",
  env: {},
  encode: (t) => {
    checkTask(t)
    return encodeJsonArtifact({ artifact: "task", name: t.name, classes: t.classes, train: t.train, test: t.test })
  },
  decode: (bytes) => {
    const { name, classes, train, test } = decodeTask(bytes)
    const t = { name, classes, train, test }
    checkTask(t)
    return t
  }
}

/** The examples of each class, by label. */
export const byClass = (examples: ReadonlyArray<TaskExample>, classes: number): TaskExample[][] => {
  const out: TaskExample[][] = Array.from({ length: classes }, () => [])
  for (const e of examples) out[e.label].push(e)
  return out
}
