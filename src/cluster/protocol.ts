/**
 * What the submitter and the workers of a cluster run agree on: the `StageRun` workflow (one stage run, its
 * idempotency key the stage key; its handler, an Activity that computes, is the worker's: worker.ts), what it
 * answers, and the progress notes workers publish.
 * Everything here is a Schema: payloads, results and errors cross processes (and PostgreSQL) encoded.
 */
import { Schema } from "effect"
import { Workflow } from "effect/workflow"
import { RunError } from "../engine/StageRunner.ts"
import { OutputEntry } from "../store/record.ts"

/** One stage for a worker: the node (by path) of the pipeline in code artifact `code`, with its inputs' hashes. */
export const StageTask = Schema.Struct({
  /** The stage key the submitter planned: the worker computes nothing under any other. */
  key: Schema.String,
  /** 0 for the first execution of a key; a key whose execution failed is submitted again as attempt 1, 2, … */
  attempt: Schema.Int,
  path: Schema.String,
  kind: Schema.String,
  inputs: Schema.Record(Schema.String, Schema.String),
  /** The env part of the key as the submitter computed it. */
  env: Schema.Record(Schema.String, Schema.String),
  /** The ouroboros version (and source digest) of the submitter. */
  version: Schema.String,
  /** Content hash of the code artifact (the pipeline file and its local modules), a blob in the store. */
  code: Schema.String,
  /**
   * The pipeline file where the submitter loaded it (absolute): what its relative data paths are relative to on
   * every worker, as they were for the submitter.
   */
  definedAt: Schema.String,
  /** Who asked, for the worker's log. */
  submitter: Schema.String
})
export type StageTask = typeof StageTask.Type

export const StageOutputs = Schema.Record(Schema.String, OutputEntry)

/** What a worker hands back: the outputs, and whether it computed them or found them stored. */
export const StageDone = Schema.Struct({
  outputs: StageOutputs,
  worker: Schema.String,
  computed: Schema.Boolean
})
export type StageDone = typeof StageDone.Type

export const idempotencyKeyOf = (task: Pick<StageTask, "key" | "attempt">): string =>
  task.attempt === 0 ? task.key : `${task.key}/attempt-${task.attempt}`

export const StageRun = Workflow.make("ouroboros/StageRun", {
  payload: StageTask,
  success: StageDone,
  error: RunError,
  idempotencyKey: idempotencyKeyOf
})

/** A worker's progress note, published on PROGRESS_CHANNEL (PostgreSQL NOTIFY) for the submitter to show. */
export const ProgressNote = Schema.Struct({
  key: Schema.String,
  path: Schema.String,
  worker: Schema.String,
  event: Schema.Literals(["started", "computed", "found", "refused", "failed", "log"]),
  line: Schema.optional(Schema.String),
  ms: Schema.optional(Schema.Finite)
})
export type ProgressNote = typeof ProgressNote.Type
export const PROGRESS_CHANNEL = "ouro_progress"
