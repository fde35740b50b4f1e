/**
 * A store in this process's memory: the same contract as the local directory store (test/store-contract.ts runs
 * one suite against both), for unit tests and for scripts that need no disk. Blobs are copied in and out, so a
 * caller cannot change stored bytes through a buffer it still holds; reads re-hash, as every store's must.
 * Leases and the store-wide gate coordinate fibers of this process only.
 */
import { Effect, Layer, Option, Schema, Semaphore } from "effect"
import { ArtifactCorrupt, ArtifactMissing, StoreError } from "../errors/index.ts"
import { isSha256, sha256, type Sha256 } from "../hash/index.ts"
import {
  type ActiveRun,
  ArtifactStore,
  type ArtifactStoreShape,
  type BlobInfo,
  type BlobState,
  type Holder,
  type WaitOptions
} from "./ArtifactStore.ts"
import { decodeRecordText, StageRecord } from "./record.ts"
import { isRefName } from "./refName.ts"

/** What a memory store holds; a test may reach in (to flip a byte, say) as it would edit a file of the local store. */
export interface MemoryState {
  readonly blobs: Map<string, { readonly bytes: Uint8Array; readonly addedMs: number }>
  /** Records as their JSON text, decoded on every read like the local store's files. */
  readonly records: Map<string, string>
  readonly refs: Map<string, string>
  readonly quarantined: Map<string, Uint8Array | string>
}

export const emptyMemoryState = (): MemoryState => ({
  blobs: new Map(),
  records: new Map(),
  refs: new Map(),
  quarantined: new Map()
})

const encodeRecord = Schema.encodeSync(Schema.fromJsonString(StageRecord))

const LOCATION = "memory:"

/** Takes one permit of `semaphore` for the scope, telling `options.onWait` first when it has to wait. */
export const holdPermit = (semaphore: Semaphore.Semaphore, holder: Holder, options: WaitOptions | undefined) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const now = yield* semaphore.withPermitsIfAvailable(1)(Effect.void).pipe(Effect.map(Option.isSome))
      // withPermitsIfAvailable released the permit it got; take it for good (a race here only means no message).
      if (!now && options?.onWait !== undefined) yield* options.onWait(holder)
      yield* semaphore.take(1)
    }),
    () => semaphore.release(1)
  )

/**
 * Leases, run registration and the store-wide gate of a store whose locks hold across this process's fibers only
 * (the memory store; a remote store without a cluster): `host` names the store for waiting messages.
 */
export const makeProcessLocks = (host: string) =>
  Effect.gen(function*() {
    const gate = yield* Semaphore.make(1)
    const leases = new Map<string, Semaphore.Semaphore>()
    const active = new Map<number, ActiveRun>()
    let nextRun = 1
    const self: Holder = { pid: process.pid, host, startedMs: Date.now() }
    const lease = (key: Sha256, options?: WaitOptions) =>
      Effect.gen(function*() {
        let semaphore = leases.get(key)
        if (semaphore === undefined) {
          semaphore = yield* Semaphore.make(1)
          leases.set(key, semaphore)
        }
        yield* holdPermit(semaphore, self, options)
      })
    const registerRun = (options?: WaitOptions) =>
      Effect.acquireRelease(
        // The gate is held only for the moment of registering: runs never block each other, only `exclusive`.
        Effect.scoped(Effect.gen(function*() {
          yield* holdPermit(gate, self, options)
          const id = nextRun++
          active.set(id, { pid: process.pid, startedMs: Date.now() })
          return id
        })),
        (id) => Effect.sync(() => active.delete(id))
      ).pipe(Effect.asVoid)
    return {
      lease,
      registerRun,
      exclusive: holdPermit(gate, self, undefined),
      activeRuns: Effect.sync(() => [...active.values()])
    }
  })

export const makeMemoryStore = (state: MemoryState = emptyMemoryState()): Effect.Effect<ArtifactStoreShape> =>
  Effect.gen(function*() {
    const locks = yield* makeProcessLocks(LOCATION)

    const quarantine = (id: Sha256) =>
      Effect.sync(() => {
        const blob = state.blobs.get(id)
        if (blob !== undefined) {
          state.quarantined.set(id, blob.bytes)
          state.blobs.delete(id)
        }
        const record = state.records.get(id)
        if (record !== undefined) {
          state.quarantined.set(`${id}.json`, record)
          state.records.delete(id)
        }
      })

    const putBlob = (bytes: Uint8Array): Effect.Effect<BlobInfo, StoreError> =>
      Effect.sync(() => {
        const hash = sha256(bytes)
        const found = state.blobs.get(hash)
        // An intact blob is kept (with its age); a tampered one is replaced by the bytes in hand.
        if (found === undefined || sha256(found.bytes) !== hash) {
          state.blobs.set(hash, { bytes: bytes.slice(), addedMs: Date.now() })
        }
        return { hash, bytes: bytes.byteLength }
      })

    const getBlob = (hash: Sha256) =>
      Effect.gen(function*() {
        if (!isSha256(hash)) return yield* new ArtifactMissing({ hash, detail: "not a sha256 hash" })
        const found = state.blobs.get(hash)
        if (found === undefined) return yield* new ArtifactMissing({ hash })
        if (sha256(found.bytes) !== hash) {
          yield* quarantine(hash)
          return yield* new ArtifactCorrupt({ hash, path: `${LOCATION}${hash}`, detail: "content hash mismatch" })
        }
        return found.bytes.slice()
      })

    const checkBlob = (hash: Sha256, bytes: number): Effect.Effect<BlobState, StoreError> =>
      Effect.gen(function*() {
        const found = state.blobs.get(hash)
        if (found === undefined) return "missing" as const
        if (sha256(found.bytes) !== hash) {
          yield* quarantine(hash)
          return "corrupt" as const
        }
        return found.bytes.byteLength === bytes ? "ok" as const : "mismatch" as const
      })

    const getRecord = (key: Sha256) =>
      Effect.gen(function*() {
        const text = state.records.get(key)
        if (text === undefined) return Option.none()
        const decoded = decodeRecordText(text)
        if (decoded === undefined) {
          return yield* new ArtifactCorrupt({
            hash: key,
            path: `${LOCATION}records/${key}`,
            detail: "not a stage record"
          })
        }
        if (decoded.key !== key) {
          return yield* new ArtifactCorrupt({
            hash: key,
            path: `${LOCATION}records/${key}`,
            detail: `holds the record of ${decoded.key}`
          })
        }
        return Option.some(decoded)
      })

    const refName = (name: string): Effect.Effect<string, StoreError> =>
      isRefName(name)
        ? Effect.succeed(name)
        : Effect.fail(
          new StoreError({ path: `${LOCATION}refs/${name}`, detail: `invalid ref name ${JSON.stringify(name)}` })
        )

    const listBlobs = Effect.sync(() =>
      [...state.blobs].map(([hash, b]) => ({ hash, bytes: b.bytes.byteLength, addedMs: b.addedMs }))
    )
    const listRecordKeys = Effect.sync(() => [...state.records.keys()])

    return {
      location: LOCATION,
      putBlob,
      getBlob,
      hasBlob: (hash) => Effect.sync(() => state.blobs.has(hash)),
      listBlobs,
      putRecord: (record) => Effect.sync(() => void state.records.set(record.key, encodeRecord(record))),
      getRecord,
      listRecordKeys,
      // Maps hold only well-formed entries: nothing stray can get in.
      listStrays: Effect.succeed([]),
      inventory: Effect.all({ blobs: listBlobs, records: listRecordKeys, strays: Effect.succeed([]) }),
      setRef: (name, value) => Effect.map(refName(name), (n) => void state.refs.set(n, value)),
      getRef: (name) => Effect.map(refName(name), (n) => Option.fromNullishOr(state.refs.get(n))),
      removeRef: (name) => Effect.map(refName(name), (n) => void state.refs.delete(n)),
      listRefs: (prefix) =>
        Effect.sync(() =>
          [...state.refs]
            .filter(([name]) => name.startsWith(prefix))
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([name, value]) => ({ name, value }))
        ),
      checkBlob,
      quarantine,
      ...locks,
      removeBlob: (hash) => Effect.sync(() => void state.blobs.delete(hash)),
      removeRecord: (key) => Effect.sync(() => void state.records.delete(key))
    } satisfies ArtifactStoreShape
  })

export const layerMemory = (state?: MemoryState): Layer.Layer<ArtifactStore> =>
  Layer.effect(ArtifactStore, makeMemoryStore(state))
