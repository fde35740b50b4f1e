/**
 * A local store in front of a remote one (remote.ts): what `--store http://…` and `--store s3://…` open, with the
 * local store (`.ouroboros`, or --cache DIR) as a read-through, write-through cache.
 * - Blobs: read from the local cache when there (content-addressed: a local copy whose hash checks is the blob),
 *   else downloaded, hash-checked, and only then put in the cache. A corrupt or substituted remote blob is an
 *   ArtifactCorrupt naming its URL (without credentials) and never enters the cache. Written to both.
 * - Records: looked up on the remote first (the shared answer to "has anyone computed this key?"), Schema-decoded
 *   there, and kept in the cache. A record only the cache has (a stage computed before this store was used) is
 *   published to the remote, its blobs first, so a run against a remote store leaves its whole closure there.
 * - Refs: read from the remote (they move; last writer wins there), written to both, so the cache knows them offline.
 * - Listings (status, verify, gc, runs): the remote's.
 * - Leases, registerRun, exclusive, activeRuns: the local cache's, so processes on this machine that share the
 *   cache compute each stage once and gc waits for them. Nothing holds across machines: two machines may compute
 *   one stage at once (both write the same outputs; one record survives). A cluster (PostgreSQL) is what
 *   coordinates machines.
 */
import { Effect, Option } from "effect"
import type { ArtifactCorrupt, ArtifactMissing, StoreError } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import type { ArtifactStoreShape, BlobState } from "./ArtifactStore.ts"
import type { StageRecord } from "./record.ts"
import type { RemoteStoreShape } from "./remote.ts"

export interface CachedStoreOptions {
  /** The remote is open read-only: nothing is published or quarantined there (the cache still fills). */
  readonly readOnly?: boolean
}

export const makeCachedStore = (
  local: ArtifactStoreShape,
  remote: RemoteStoreShape,
  options: CachedStoreOptions = {}
): ArtifactStoreShape => {
  const readOnly = options.readOnly === true

  /** Downloads a blob (hash-checked by the remote store) and only then puts it in the cache. */
  const fetch = (hash: Sha256): Effect.Effect<Uint8Array, ArtifactMissing | ArtifactCorrupt | StoreError> =>
    remote.getBlob(hash).pipe(Effect.tap((bytes) => local.putBlob(bytes)))

  const getBlob = (hash: Sha256) =>
    local.getBlob(hash).pipe(
      // Missing here, or corrupt here (the local store has moved it aside): the remote's copy, if it is good.
      Effect.catchTags({ ArtifactMissing: () => fetch(hash), ArtifactCorrupt: () => fetch(hash) })
    )

  const checkBlob = (hash: Sha256, bytes: number): Effect.Effect<BlobState, StoreError> =>
    local.checkBlob(hash, bytes).pipe(Effect.flatMap((state) =>
      state === "ok" || state === "mismatch"
        ? Effect.succeed(state)
        // Not here: the remote's size (one HEAD, no download). Its bytes are hash-checked when they are read.
        : remote.statBlob(hash).pipe(Effect.map(Option.match({
          onNone: (): BlobState => "missing",
          onSome: (size): BlobState => (size === bytes ? "ok" : "mismatch")
        })))
    ))

  /** Puts a record only the cache has on the remote, after its outputs; not if one of them is not here whole. */
  const publish = (record: StageRecord) =>
    Effect.gen(function*() {
      for (const out of Object.values(record.outputs)) {
        if (Option.isSome(yield* remote.statBlob(out.hash))) continue
        const bytes = yield* local.getBlob(out.hash).pipe(Effect.option)
        if (Option.isNone(bytes)) return
        yield* remote.uploadBlob(bytes.value)
      }
      yield* remote.putRecord(record)
    })

  const getRecord = (key: Sha256) =>
    Effect.gen(function*() {
      const there = yield* remote.getRecord(key)
      if (Option.isSome(there)) {
        const here = yield* local.getRecord(key).pipe(Effect.orElseSucceed(() => Option.none<StageRecord>()))
        if (Option.isNone(here)) yield* local.putRecord(there.value)
        return there
      }
      const here = yield* local.getRecord(key)
      if (Option.isSome(here) && !readOnly) yield* publish(here.value)
      return here
    })

  return {
    location: remote.location,
    putBlob: (bytes) => local.putBlob(bytes).pipe(Effect.tap(() => remote.putBlob(bytes))),
    getBlob,
    hasBlob: (hash) =>
      local.hasBlob(hash).pipe(Effect.flatMap((here) => (here ? Effect.succeed(true) : remote.hasBlob(hash)))),
    listBlobs: remote.listBlobs,
    putRecord: (record) => local.putRecord(record).pipe(Effect.andThen(remote.putRecord(record))),
    getRecord,
    listRecordKeys: remote.listRecordKeys,
    listStrays: remote.listStrays,
    inventory: remote.inventory,
    setRef: (name, value) => remote.setRef(name, value).pipe(Effect.andThen(local.setRef(name, value))),
    getRef: remote.getRef,
    removeRef: (name) => remote.removeRef(name).pipe(Effect.andThen(local.removeRef(name))),
    listRefs: remote.listRefs,
    checkBlob,
    quarantine: (id) => local.quarantine(id).pipe(Effect.andThen(readOnly ? Effect.void : remote.quarantine(id))),
    lease: local.lease,
    registerRun: local.registerRun,
    exclusive: local.exclusive,
    activeRuns: local.activeRuns,
    removeBlob: (hash) => remote.removeBlob(hash).pipe(Effect.andThen(local.removeBlob(hash))),
    removeRecord: (key) => remote.removeRecord(key).pipe(Effect.andThen(local.removeRecord(key)))
  } satisfies ArtifactStoreShape
}
