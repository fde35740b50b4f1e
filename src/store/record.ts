/** The stage record: what a stage run produced, stored under its key. Decoded with a Schema on every read. */
import { Schema } from "effect"

export const OutputEntry = Schema.Struct({
  hash: Schema.String,
  artifact: Schema.String,
  bytes: Schema.Int
})
export type OutputEntry = typeof OutputEntry.Type

export const StageRecord = Schema.Struct({
  key: Schema.String,
  kind: Schema.String,
  version: Schema.Int,
  params: Schema.Json,
  inputs: Schema.Record(Schema.String, Schema.String),
  outputs: Schema.Record(Schema.String, OutputEntry),
  env: Schema.Record(Schema.String, Schema.String),
  /** The pipeline node that first computed it: for people, not for the key. */
  node: Schema.String,
  timings: Schema.Struct({ startedAt: Schema.String, ms: Schema.Finite })
})
export type StageRecord = typeof StageRecord.Type
