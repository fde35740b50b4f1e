/**
 * A store on a remote server, laid out as Bazel's remote cache (the HTTP cache that bazel-remote and nginx WebDAV
 * serve), under the store's prefix:
 *   OUROBOROS-STORE     the marker, `{"format":1}`, written by the first write: what makes a prefix a store
 *   cas/<sha256>        blobs (content-addressed storage)
 *   ac/<stage key>      stage records, as JSON (the "action cache")
 *   refs/<name>         named pointers, one line each (a name's slashes are folders)
 *   quarantine/<id>     corrupt blobs and records, moved out of the way
 * The protocol (HTTP, S3) is a `RemoteTransport`; everything else is here, once.
 *
 * What a remote store guarantees, and what it does not:
 * - Blobs and records are immutable by name: a blob's name is the hash of its bytes, a record's is its stage key,
 *   so two writers of one name write equal bytes (a record's timings aside) and any order of writes is right.
 *   Every read is hash-checked (a record is Schema-decoded and must name its key): the server is never trusted.
 * - Refs are last writer wins: two machines moving one ref at once leave one of the two values, with no error.
 * - Leases, registerRun and exclusive hold across the fibers of this process only: nothing here locks across
 *   machines, and nothing pretends to. Two machines sharing a remote store may compute the same stage at once; both
 *   write the same outputs (a stage is a pure function of its key) and one record survives. Across processes on one
 *   machine the local cache in front (cached.ts) holds the leases; across machines, the cluster's PostgreSQL does.
 */
import { Effect, Option, Schema } from "effect"
import { ArtifactCorrupt, ArtifactMissing, StoreError } from "../errors/index.ts"
import { isSha256, sha256, type Sha256 } from "../hash/index.ts"
import type { ArtifactStoreShape, BlobInfo, BlobState, StrayEntry } from "./ArtifactStore.ts"
import { STORE_FORMAT, STORE_MARKER } from "./local.ts"
import { makeProcessLocks } from "./memory.ts"
import { decodeRecordText, StageRecord } from "./record.ts"
import { isRefName } from "./refName.ts"

/** A file under the store's prefix, as a listing gives it. */
export interface RemoteEntry {
  /** Relative to the folder listed, `/`-separated. */
  readonly path: string
  readonly bytes: number
  readonly modifiedMs: number | undefined
}

/** What a transport counts, for benchmarks and for `ouro push`/`pull` (requests per blob). */
export interface TransportStats {
  requests: number
  bytesSent: number
  bytesReceived: number
}

/**
 * One protocol's access to the files under a store's prefix. Paths are relative to the prefix. Every failure is
 * a StoreError whose message names the URL without credentials, and never carries them in its cause.
 */
export interface RemoteTransport {
  /** The store's address without credentials: what messages and `location` show. */
  readonly location: string
  /** The credential-free URL of a path, for messages. */
  readonly urlOf: (path: string) => string
  /** The bytes at `path`, or undefined when there is nothing there. */
  readonly get: (path: string) => Effect.Effect<Uint8Array | undefined, StoreError>
  /** The size of what is at `path`, or undefined when there is nothing there. */
  readonly head: (path: string) => Effect.Effect<number | undefined, StoreError>
  readonly put: (path: string, bytes: Uint8Array) => Effect.Effect<void, StoreError>
  /** Removes `path`; nothing there is no error. */
  readonly remove: (path: string) => Effect.Effect<void, StoreError>
  /** Every file under the folder `dir` (ending in `/`), at any depth; none when there is no such folder. */
  readonly listAll: (dir: string) => Effect.Effect<ReadonlyArray<RemoteEntry>, StoreError>
  readonly stats: TransportStats
}

export interface RemoteStoreOptions {
  /** Writes fail, and nothing is quarantined (what reading commands use). */
  readonly readOnly?: boolean
  /** What `probeRemote` found, when the caller has asked already (saves one request). */
  readonly probed?: "store" | "empty"
}

/** A remote store: the ArtifactStore contract, plus what copying between stores uses to skip what is there. */
export interface RemoteStoreShape extends ArtifactStoreShape {
  /** The size of a blob on the remote (one HEAD), or none: no download, no hash check. */
  readonly statBlob: (hash: Sha256) => Effect.Effect<Option.Option<number>, StoreError>
  /** Is there a record under this key (one HEAD)? */
  readonly hasRecord: (key: Sha256) => Effect.Effect<boolean, StoreError>
  /** Uploads a blob without asking first whether it is there (the caller has asked). */
  readonly uploadBlob: (bytes: Uint8Array) => Effect.Effect<BlobInfo, StoreError>
  readonly transport: RemoteTransport
}

/** As the local store writes it: the record is plain JSON already (its params are JSON by its Schema). */
const encodeRecord = (record: StageRecord): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(record, null, 2) + "\n")
const decodeMarker = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({ format: Schema.Int })))
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

const blobPath = (hash: string) => `cas/${hash}`
const recordPath = (key: string) => `ac/${key}`
const refPath = (name: string) => `refs/${name}`

/**
 * Is there a store at the transport's prefix? "store" (its marker is there), or "empty" (no marker: the first write
 * makes one). A server that cannot be reached or refuses the credentials fails here, before anything is written.
 */
export const probeRemote = (transport: RemoteTransport): Effect.Effect<"store" | "empty", StoreError> =>
  Effect.gen(function*() {
    const marker = yield* transport.get(STORE_MARKER)
    if (marker === undefined) return "empty" as const
    const decoded = decodeMarker(text(marker))
    if (Option.isNone(decoded)) {
      return yield* new StoreError({
        path: transport.urlOf(STORE_MARKER),
        detail: `its ${STORE_MARKER} marker does not parse; refusing to use it`
      })
    }
    if (decoded.value.format !== STORE_FORMAT) {
      return yield* new StoreError({
        path: transport.location,
        detail:
          `store format ${decoded.value.format}, but this ouroboros reads format ${STORE_FORMAT}; refusing to use it`
      })
    }
    return "store" as const
  })

export const makeRemoteStore = (
  transport: RemoteTransport,
  options: RemoteStoreOptions = {}
): Effect.Effect<RemoteStoreShape, StoreError> =>
  Effect.gen(function*() {
    const readOnly = options.readOnly === true
    let marked = (options.probed ?? (yield* probeRemote(transport))) === "store"

    /** Every write goes through here: a read-only store refuses, and the first write marks the store. */
    const writable = (what: string): Effect.Effect<void, StoreError> =>
      readOnly
        ? Effect.fail(
          new StoreError({ path: transport.location, detail: `the store is open read-only; cannot ${what}` })
        )
        : marked
        ? Effect.void
        : transport.put(STORE_MARKER, new TextEncoder().encode(JSON.stringify({ format: STORE_FORMAT }) + "\n")).pipe(
          Effect.tap(() => Effect.sync(() => void (marked = true)))
        )

    /** Moves what is at `from` to quarantine/<name> (a copy, then a delete: no protocol here renames reliably). */
    const moveToQuarantine = (from: string, name: string, bytes?: Uint8Array) =>
      Effect.gen(function*() {
        if (readOnly) return
        const held = bytes ?? (yield* transport.get(from))
        if (held === undefined) return
        yield* transport.put(`quarantine/${name}`, held)
        yield* transport.remove(from)
      })

    const uploadBlob = (bytes: Uint8Array) =>
      Effect.gen(function*() {
        const hash = sha256(bytes)
        yield* writable("write a blob")
        yield* transport.put(blobPath(hash), bytes)
        return { hash, bytes: bytes.byteLength } satisfies BlobInfo
      })

    const statBlob = (hash: Sha256) =>
      isSha256(hash)
        ? transport.head(blobPath(hash)).pipe(Effect.map(Option.fromNullishOr))
        : Effect.succeed(Option.none<number>())

    /**
     * Idempotent: a blob of the right size already there is kept (one HEAD, no upload). The server's bytes are not
     * compared (that would be a download): a same-size rot is found by the next read, which checks the hash.
     */
    const putBlob = (bytes: Uint8Array): Effect.Effect<BlobInfo, StoreError> =>
      Effect.gen(function*() {
        const hash = sha256(bytes)
        const there = yield* statBlob(hash)
        if (Option.isSome(there) && there.value === bytes.byteLength) return { hash, bytes: bytes.byteLength }
        return yield* uploadBlob(bytes)
      })

    const getBlob = (hash: Sha256) =>
      Effect.gen(function*() {
        if (!isSha256(hash)) return yield* new ArtifactMissing({ hash, detail: "not a sha256 hash" })
        const bytes = yield* transport.get(blobPath(hash))
        if (bytes === undefined) return yield* new ArtifactMissing({ hash })
        const actual = sha256(bytes)
        if (actual !== hash) {
          yield* moveToQuarantine(blobPath(hash), hash, bytes)
          return yield* new ArtifactCorrupt({
            hash,
            path: transport.urlOf(blobPath(hash)),
            detail: `its bytes hash to ${actual}`
          })
        }
        return bytes
      })

    /** A listing of `dir`, split into what `entry` recognises and the strays beside it. */
    const scan = <A>(dir: string, entry: (e: RemoteEntry) => A | undefined, what: string) =>
      transport.listAll(dir).pipe(Effect.map((entries) => {
        const found: A[] = []
        const strays: StrayEntry[] = []
        for (const e of entries) {
          const value = entry(e)
          if (value !== undefined) found.push(value)
          else strays.push({ path: `${dir}${e.path}`, detail: `not one of the ${what} (misnamed or misplaced)` })
        }
        return { found, strays }
      }))
    const scanBlobs = scan(
      "cas/",
      (e): BlobInfo | undefined =>
        isSha256(e.path)
          ? { hash: e.path, bytes: e.bytes, ...(e.modifiedMs === undefined ? {} : { addedMs: e.modifiedMs }) }
          : undefined,
      "blobs"
    )
    const scanRecords = scan("ac/", (e) => (isSha256(e.path) ? e.path : undefined), "stage records")
    const inventory = Effect.map(
      Effect.all([scanBlobs, scanRecords]),
      ([b, r]) => ({ blobs: b.found, records: r.found, strays: [...b.strays, ...r.strays] })
    )

    const putRecord = (record: StageRecord) =>
      writable("write a stage record").pipe(Effect.andThen(transport.put(recordPath(record.key), encodeRecord(record))))

    const getRecord = (key: Sha256) =>
      Effect.gen(function*() {
        if (!isSha256(key)) return Option.none<StageRecord>()
        const bytes = yield* transport.get(recordPath(key))
        if (bytes === undefined) return Option.none<StageRecord>()
        const decoded = decodeRecordText(text(bytes))
        const url = transport.urlOf(recordPath(key))
        if (decoded === undefined) {
          return yield* new ArtifactCorrupt({ hash: key, path: url, detail: "stage record does not parse" })
        }
        if (decoded.key !== key) {
          return yield* new ArtifactCorrupt({ hash: key, path: url, detail: `record names key ${decoded.key}` })
        }
        return Option.some(decoded)
      })

    const refName = (name: string): Effect.Effect<string, StoreError> =>
      isRefName(name)
        ? Effect.succeed(name)
        : Effect.fail(
          new StoreError({ path: transport.urlOf("refs/"), detail: `invalid ref name ${JSON.stringify(name)}` })
        )

    /** Refs whose name starts with `prefix`: one listing of the deepest folder the prefix names, then each value. */
    const listRefs = (prefix: string) =>
      Effect.gen(function*() {
        const dir = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/") + 1) : ""
        if (dir !== "" && !isRefName(dir.slice(0, -1))) return []
        const names = (yield* transport.listAll(refPath(dir)))
          .map((e) => `${dir}${e.path}`)
          .filter((name) => name.startsWith(prefix) && isRefName(name))
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        const values = yield* Effect.forEach(names, (name) => transport.get(refPath(name)), { concurrency: 8 })
        return names.flatMap((name, i) => {
          const v = values[i]
          return v === undefined ? [] : [{ name, value: text(v).trim() }]
        })
      })

    const checkBlob = (hash: Sha256, size: number): Effect.Effect<BlobState, StoreError> =>
      getBlob(hash).pipe(
        Effect.map((bytes): BlobState => (bytes.byteLength === size ? "ok" : "mismatch")),
        Effect.catchTag("ArtifactMissing", () => Effect.succeed<BlobState>("missing")),
        Effect.catchTag("ArtifactCorrupt", () => Effect.succeed<BlobState>("corrupt"))
      )

    const quarantine = (id: Sha256) =>
      writable("quarantine").pipe(
        Effect.andThen(moveToQuarantine(blobPath(id), id)),
        Effect.andThen(moveToQuarantine(recordPath(id), `${id}.json`))
      )

    // Leases and the store-wide gate: this process's fibers only (see the module comment).
    const locks = yield* makeProcessLocks(transport.location)

    return {
      location: transport.location,
      transport,
      statBlob,
      uploadBlob,
      hasRecord: (key) =>
        isSha256(key)
          ? transport.head(recordPath(key)).pipe(Effect.map((n) => n !== undefined))
          : Effect.succeed(false),
      putBlob,
      getBlob,
      hasBlob: (hash) => Effect.map(statBlob(hash), Option.isSome),
      listBlobs: Effect.map(scanBlobs, (s) => s.found),
      putRecord,
      getRecord,
      listRecordKeys: Effect.map(scanRecords, (s) => s.found),
      listStrays: Effect.map(inventory, (i) => i.strays),
      inventory,
      setRef: (name, value) =>
        refName(name).pipe(
          Effect.tap(() => writable("write a ref")),
          Effect.flatMap((n) => transport.put(refPath(n), new TextEncoder().encode(value + "\n")))
        ),
      getRef: (name) =>
        refName(name).pipe(
          Effect.flatMap((n) => transport.get(refPath(n))),
          Effect.map((v) => (v === undefined ? Option.none() : Option.some(text(v).trim())))
        ),
      removeRef: (name) =>
        refName(name).pipe(
          Effect.tap(() => writable("remove a ref")),
          Effect.flatMap((n) => transport.remove(refPath(n)))
        ),
      listRefs,
      checkBlob,
      quarantine,
      ...locks,
      removeBlob: (hash) => writable("remove a blob").pipe(Effect.andThen(transport.remove(blobPath(hash)))),
      removeRecord: (key) => writable("remove a record").pipe(Effect.andThen(transport.remove(recordPath(key))))
    } satisfies RemoteStoreShape
  })
