/**
 * The ArtifactStore service: immutable blobs by content hash, stage records by key, and named refs.
 * Every store access goes through this interface so that other stores (HTTP CAS, S3) can stand in later.
 */
import { Context, type Effect, type Option } from "effect"
import type { ArtifactCorrupt, ArtifactMissing, StoreError } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import type { StageRecord } from "./record.ts"

export interface BlobInfo {
  readonly hash: Sha256
  readonly bytes: number
}

export interface ArtifactStoreShape {
  /** Where the store lives, for messages. */
  readonly location: string
  /** Atomic and idempotent: the blob is visible whole or not at all. */
  readonly putBlob: (bytes: Uint8Array) => Effect.Effect<BlobInfo, StoreError>
  /** Checks the hash of what it read; bad bytes are an ArtifactCorrupt error, never a value. */
  readonly getBlob: (hash: Sha256) => Effect.Effect<Uint8Array, ArtifactMissing | ArtifactCorrupt | StoreError>
  readonly hasBlob: (hash: Sha256) => Effect.Effect<boolean, StoreError>
  readonly listBlobs: Effect.Effect<ReadonlyArray<BlobInfo>, StoreError>
  readonly putRecord: (record: StageRecord) => Effect.Effect<void, StoreError>
  readonly getRecord: (key: Sha256) => Effect.Effect<Option.Option<StageRecord>, ArtifactCorrupt | StoreError>
  readonly listRecordKeys: Effect.Effect<ReadonlyArray<Sha256>, StoreError>
  readonly setRef: (name: string, value: string) => Effect.Effect<void, StoreError>
  readonly getRef: (name: string) => Effect.Effect<Option.Option<string>, StoreError>
  /** Refs whose name starts with `prefix`, sorted by name. */
  readonly listRefs: (prefix: string) => Effect.Effect<ReadonlyArray<{ readonly name: string; readonly value: string }>, StoreError>
}

export class ArtifactStore extends Context.Service<ArtifactStore, ArtifactStoreShape>()("ouroboros/ArtifactStore") {}
