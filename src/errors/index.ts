/**
 * Tagged errors shared by the engine, the store and the CLI. Each one's `message` is the single line a user
 * sees: it names the thing that is wrong and where.
 */
import { Data } from "effect"

/** A pipeline could not be defined: bad params, a missing or mistyped input, a cycle, a duplicate name. */
export class PipelineInvalid extends Data.TaggedError("PipelineInvalid")<{
  readonly pipeline: string
  readonly node?: string
  readonly detail: string
}> {
  override get message(): string {
    const where = this.node === undefined ? `pipeline ${this.pipeline}` : `pipeline ${this.pipeline}, stage ${this.node}`
    return `${where}: ${this.detail}`
  }
}

/** A pipeline file could not be loaded (missing, does not compile, exports no pipeline). */
export class PipelineLoadError extends Data.TaggedError("PipelineLoadError")<{
  readonly file: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.file}: ${this.detail}`
  }
}

export class ArtifactMissing extends Data.TaggedError("ArtifactMissing")<{
  readonly hash: string
  readonly detail?: string
}> {
  override get message(): string {
    return `artifact ${this.hash} is not in the store${this.detail === undefined ? "" : ` (${this.detail})`}`
  }
}

/** Stored bytes no longer match their content hash, or a stored file cannot be parsed. */
export class ArtifactCorrupt extends Data.TaggedError("ArtifactCorrupt")<{
  readonly hash: string
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `corrupt artifact ${this.hash} at ${this.path}: ${this.detail}`
  }
}

/** The store's directory could not be read or written. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `store: ${this.path}: ${this.detail}`
  }
}

/** A directory given as the store is not one (nor empty, nor a store made before the marker): it is left alone. */
export class NotAStore extends Data.TaggedError("NotAStore")<{
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.path} is not an ouroboros store (${this.detail}); refusing to use it`
  }
}

/** A command that reads a store was pointed at a directory that holds none (a mistyped --store). */
export class StoreNotFound extends Data.TaggedError("StoreNotFound")<{
  readonly path: string
}> {
  override get message(): string {
    return `no store at ${this.path}`
  }
}

/** A file the user asked for (a report) cannot be written where they said. */
export class OutputUnwritable extends Data.TaggedError("OutputUnwritable")<{
  /** What was to be written: "report". */
  readonly what: string
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot write ${this.what} to ${this.path}: ${this.detail}`
  }
}

/** A stage's own computation failed (bad data, not a bug in the engine). */
export class StageFailed extends Data.TaggedError("StageFailed")<{
  readonly node: string
  readonly kind: string
  readonly detail: string
}> {
  override get message(): string {
    return `stage ${this.node} (${this.kind}) failed: ${this.detail}`
  }
}

/** A name given on the command line matches nothing (or more than one thing) in the store. */
export class NotFound extends Data.TaggedError("NotFound")<{
  readonly what: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.what}: ${this.detail}`
  }
}

export type OuroError =
  | PipelineInvalid
  | PipelineLoadError
  | ArtifactMissing
  | ArtifactCorrupt
  | StoreError
  | NotAStore
  | StoreNotFound
  | OutputUnwritable
  | StageFailed
  | NotFound
