/**
 * Tagged errors shared by the engine, the store and the CLI. Each one's `message` is the single line a user
 * sees: it names the thing that is wrong and where. Each is a Schema class, so it crosses a thread or process
 * boundary by one encode and one decode (`OuroError` below), with its `cause` when it has one.
 */
import { Schema } from "effect"

/** What led to an error, kept for whoever debugs it (never part of the one-line message). */
const cause = Schema.optional(Schema.Defect())

/** A pipeline could not be defined: bad params, a missing or mistyped input, a cycle, a duplicate name. */
export class PipelineInvalid extends Schema.TaggedError<PipelineInvalid>()("PipelineInvalid", {
  pipeline: Schema.String,
  node: Schema.optional(Schema.String),
  detail: Schema.String,
  cause
}) {
  override get message(): string {
    const where = this.node === undefined
      ? `pipeline ${this.pipeline}`
      : `pipeline ${this.pipeline}, stage ${this.node}`
    return `${where}: ${this.detail}`
  }
}

/** A pipeline file could not be loaded (missing, does not compile, exports no pipeline). */
export class PipelineLoadError extends Schema.TaggedError<PipelineLoadError>()("PipelineLoadError", {
  file: Schema.String,
  detail: Schema.String,
  cause
}) {
  override get message(): string {
    return `${this.file}: ${this.detail}`
  }
}

export class ArtifactMissing extends Schema.TaggedError<ArtifactMissing>()("ArtifactMissing", {
  hash: Schema.String,
  detail: Schema.optional(Schema.String),
  cause
}) {
  override get message(): string {
    return `artifact ${this.hash} is not in the store${this.detail === undefined ? "" : ` (${this.detail})`}`
  }
}

/** Stored bytes no longer match their content hash, or a stored file cannot be parsed. */
export class ArtifactCorrupt extends Schema.TaggedError<ArtifactCorrupt>()("ArtifactCorrupt", {
  hash: Schema.String,
  path: Schema.String,
  detail: Schema.String,
  cause
}) {
  override get message(): string {
    return `corrupt artifact ${this.hash} at ${this.path}: ${this.detail}`
  }
}

/** The store's directory could not be read or written. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  path: Schema.String,
  detail: Schema.String,
  cause
}) {
  override get message(): string {
    return `store: ${this.path}: ${this.detail}`
  }
}

/** A directory given as the store is not one (nor empty, nor a store made before the marker): it is left alone. */
export class NotAStore extends Schema.TaggedError<NotAStore>()("NotAStore", {
  path: Schema.String,
  detail: Schema.String,
  cause
}) {
  override get message(): string {
    return `${this.path} is not an ouroboros store (${this.detail}); refusing to use it`
  }
}

/** A command that reads a store was pointed at a directory that holds none (a mistyped --store). */
export class StoreNotFound extends Schema.TaggedError<StoreNotFound>()("StoreNotFound", {
  path: Schema.String,
  cause
}) {
  override get message(): string {
    return `no store at ${this.path}`
  }
}

/** A file the user asked for (a report) cannot be written where they said. */
export class OutputUnwritable extends Schema.TaggedError<OutputUnwritable>()("OutputUnwritable", {
  /** What was to be written: "report". */
  what: Schema.String,
  path: Schema.String,
  detail: Schema.String,
  cause
}) {
  override get message(): string {
    return `cannot write ${this.what} to ${this.path}: ${this.detail}`
  }
}

/** A stage's own computation failed (bad data, not a bug in the engine). */
export class StageFailed extends Schema.TaggedError<StageFailed>()("StageFailed", {
  node: Schema.String,
  kind: Schema.String,
  detail: Schema.String,
  cause
}) {
  override get message(): string {
    return `stage ${this.node} (${this.kind}) failed: ${this.detail}`
  }
}

/** A name given on the command line matches nothing (or more than one thing) in the store. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  what: Schema.String,
  detail: Schema.String,
  cause
}) {
  override get message(): string {
    return `${this.what}: ${this.detail}`
  }
}

/** The cluster's PostgreSQL cannot be used: unreachable, a login refused, a database missing. */
export class ClusterUnavailable extends Schema.TaggedError<ClusterUnavailable>()("ClusterUnavailable", {
  /** The cluster URL without its password. */
  url: Schema.String,
  detail: Schema.String,
  cause
}) {
  override get message(): string {
    return `cluster ${this.url}: ${this.detail}`
  }
}

/** Every error a user can cause, as one Schema: what a worker thread encodes and its parent decodes. */
export const OuroError = Schema.Union([
  PipelineInvalid,
  PipelineLoadError,
  ArtifactMissing,
  ArtifactCorrupt,
  StoreError,
  NotAStore,
  StoreNotFound,
  OutputUnwritable,
  StageFailed,
  NotFound,
  ClusterUnavailable
])
export type OuroError = typeof OuroError.Type

/**
 * The message of anything thrown: an Error's own, else a `message` it carries (an error from another thread can
 * arrive as a plain object with no prototype), else its string form.
 */
export const describe = (e: unknown): string => {
  if (e instanceof Error) return e.message
  if (typeof e === "object" && e !== null && "message" in e && typeof e.message === "string") return e.message
  try {
    return String(e)
  } catch {
    return Object.prototype.toString.call(e)
  }
}
