/**
 * The ArtifactStore service: immutable blobs by content hash, stage records by key, and named refs.
 * Every store access goes through this interface so that other stores (HTTP CAS, S3) can stand in later.
 */
import { Context, type Effect, type Option, type Scope } from "effect"
import type { ArtifactCorrupt, ArtifactMissing, StoreError } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import type { StageRecord } from "./record.ts"

export interface BlobInfo {
  readonly hash: Sha256
  readonly bytes: number
  /** When the blob entered the store (its inode change time), in ms; gc spares what runs still in flight wrote. */
  readonly addedMs?: number
}

/**
 * An entry in the store's folders that is no blob or record where one belongs (a stray file, a symbolic link to
 * nothing, an unreadable folder): the listings skip it, so one bad entry does not stop an audit, and report it here.
 */
export interface StrayEntry {
  /** Relative to the store's location. */
  readonly path: string
  readonly detail: string
}

/** What a store holds, from one listing: listBlobs', listRecordKeys' and listStrays' results together. */
export interface StoreInventory {
  readonly blobs: ReadonlyArray<BlobInfo>
  readonly records: ReadonlyArray<Sha256>
  readonly strays: ReadonlyArray<StrayEntry>
}

/** What a cheap check of a stored blob found ("mismatch": intact, but not what the record says). */
export type BlobState = "ok" | "missing" | "corrupt" | "mismatch"

export interface ActiveRun {
  readonly pid: number
  readonly startedMs: number
}

/** Who holds a lease or the store (a process on a host). */
export interface Holder {
  readonly pid: number
  readonly host: string
  readonly startedMs: number
}

export interface WaitOptions {
  /** Called when the caller starts waiting for `holder`, and again if the holder changes. */
  readonly onWait?: (holder: Holder) => Effect.Effect<void>
}

export interface ArtifactStoreShape {
  /** Where the store lives, for messages. */
  readonly location: string
  /** Atomic and idempotent: the blob is visible whole or not at all. */
  readonly putBlob: (bytes: Uint8Array) => Effect.Effect<BlobInfo, StoreError>
  /**
   * Checks the hash of what it read; bad bytes are an ArtifactCorrupt error, never a value. A writable store also
   * moves the bad blob to quarantine, whatever its seal says, so the stage that made it runs again.
   */
  readonly getBlob: (hash: Sha256) => Effect.Effect<Uint8Array, ArtifactMissing | ArtifactCorrupt | StoreError>
  readonly hasBlob: (hash: Sha256) => Effect.Effect<boolean, StoreError>
  readonly listBlobs: Effect.Effect<ReadonlyArray<BlobInfo>, StoreError>
  readonly putRecord: (record: StageRecord) => Effect.Effect<void, StoreError>
  readonly getRecord: (key: Sha256) => Effect.Effect<Option.Option<StageRecord>, ArtifactCorrupt | StoreError>
  readonly listRecordKeys: Effect.Effect<ReadonlyArray<Sha256>, StoreError>
  /** What listBlobs and listRecordKeys skipped: entries that are neither, each with what is wrong with it. */
  readonly listStrays: Effect.Effect<ReadonlyArray<StrayEntry>, StoreError>
  /** The three lists above from one listing of the store (they list it once each, listStrays twice). */
  readonly inventory: Effect.Effect<StoreInventory, StoreError>
  readonly setRef: (name: string, value: string) => Effect.Effect<void, StoreError>
  readonly getRef: (name: string) => Effect.Effect<Option.Option<string>, StoreError>
  /** Removes a ref (nothing if there is none by that name). */
  readonly removeRef: (name: string) => Effect.Effect<void, StoreError>
  /** Refs whose name starts with `prefix`, sorted by name. */
  readonly listRefs: (
    prefix: string
  ) => Effect.Effect<ReadonlyArray<{ readonly name: string; readonly value: string }>, StoreError>
  /**
   * Is the blob there and intact? Cheap for an untouched blob (its seal is intact); re-hashes one that looks touched.
   * A corrupt blob is moved to quarantine, so the stage that made it can run again.
   */
  readonly checkBlob: (hash: Sha256, bytes: number) => Effect.Effect<BlobState, StoreError>
  /** Moves a corrupt blob or record (by hash or key) out of the way, keeping it for inspection. */
  readonly quarantine: (id: Sha256) => Effect.Effect<void, StoreError>
  /**
   * Holds the lease on a stage key for the scope: a second process wanting the same key waits until the holder
   * finishes, dies or stops renewing it, so each stage is computed once however many runs share the store.
   */
  readonly lease: (key: Sha256, options?: WaitOptions) => Effect.Effect<void, StoreError, Scope.Scope>
  /** Marks a run in flight for the scope (for gc); waits first while gc holds the store (see `exclusive`). */
  readonly registerRun: (options?: WaitOptions) => Effect.Effect<void, StoreError, Scope.Scope>
  /**
   * Holds the whole store for the scope (gc's sweep): no run registers while it is held. The holder then checks
   * `activeRuns`: a run that registered first is seen there, a later one waits for the scope to end.
   */
  readonly exclusive: Effect.Effect<void, StoreError, Scope.Scope>
  readonly activeRuns: Effect.Effect<ReadonlyArray<ActiveRun>, StoreError>
  readonly removeBlob: (hash: Sha256) => Effect.Effect<void, StoreError>
  readonly removeRecord: (key: Sha256) => Effect.Effect<void, StoreError>
}

export class ArtifactStore extends Context.Service<ArtifactStore, ArtifactStoreShape>()("ouroboros/ArtifactStore") {}
