/**
 * The default store: a directory (`.ouroboros/` at the project root).
 *   blobs/ab/<sha256>        immutable, read-only once written
 *   records/ab/<key>.json    stage records
 *   refs/<name>              named pointers (a hash or a key), one line
 *   tmp/                     staging for atomic writes (temp file, fsync, rename)
 * File calls are synchronous: they are small and, on a cached rerun, many in a row; a synchronous call costs a
 * fraction of a round trip through libuv's thread pool.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer, Option, Schema } from "effect"
import { ArtifactCorrupt, ArtifactMissing, StoreError } from "../errors/index.ts"
import { isSha256, sha256 } from "../hash/index.ts"
import { ArtifactStore, type ArtifactStoreShape, type BlobInfo } from "./ArtifactStore.ts"
import { StageRecord } from "./record.ts"

const decodeRecord = Schema.decodeUnknownExit(Schema.fromJsonString(StageRecord))

const REF_NAME = /^[A-Za-z0-9._=+-]+(?:\/[A-Za-z0-9._=+-]+)*$/

const fail = (p: string, cause: unknown): StoreError =>
  new StoreError({ path: p, detail: cause instanceof Error ? cause.message : String(cause) })

const isNotFound = (e: unknown): boolean =>
  typeof e === "object" && e !== null && "code" in e && (e as { code: unknown }).code === "ENOENT"

/** Writes `data` to `target` so that readers see the old file or the whole new one, never a part. */
const writeAtomic = (tmpDir: string, target: string, data: Uint8Array | string, mode: number): void => {
  const tmp = path.join(tmpDir, `${process.pid}-${randomBytes(8).toString("hex")}.tmp`)
  const fd = fs.openSync(tmp, "wx", mode)
  try {
    fs.writeFileSync(fd, data)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.renameSync(tmp, target)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw e
  }
}

/** The file's contents, or undefined when there is no such file. */
const readIfExists = <A>(read: () => A): A | undefined => {
  try {
    return read()
  } catch (e) {
    if (isNotFound(e)) return undefined
    throw e
  }
}

export const makeLocalStore = (root: string): Effect.Effect<ArtifactStoreShape, StoreError> =>
  Effect.gen(function*() {
    const dirs = {
      blobs: path.join(root, "blobs"),
      records: path.join(root, "records"),
      refs: path.join(root, "refs"),
      tmp: path.join(root, "tmp")
    }
    yield* Effect.try({
      try: () => Object.values(dirs).forEach((d) => fs.mkdirSync(d, { recursive: true })),
      catch: (e) => fail(root, e)
    })
    const blobPath = (hash: string) => path.join(dirs.blobs, hash.slice(0, 2), hash)
    const recordPath = (key: string) => path.join(dirs.records, key.slice(0, 2), `${key}.json`)
    const refPath = (name: string) => {
      if (!REF_NAME.test(name) || name.split("/").some((s) => s === "." || s === "..")) {
        throw new Error(`invalid ref name ${JSON.stringify(name)}`)
      }
      return path.join(dirs.refs, name)
    }

    const hasBlob = (hash: string) =>
      Effect.try({
        try: () => readIfExists(() => fs.statSync(blobPath(hash))) !== undefined,
        catch: (e) => fail(blobPath(hash), e)
      })

    const putBlob = (bytes: Uint8Array): Effect.Effect<BlobInfo, StoreError> => {
      const hash = sha256(bytes)
      const target = blobPath(hash)
      return Effect.try({
        try: () => {
          if (readIfExists(() => fs.statSync(target)) === undefined) writeAtomic(dirs.tmp, target, bytes, 0o444)
          return { hash, bytes: bytes.byteLength }
        },
        catch: (e) => fail(target, e)
      })
    }

    const getBlob = (hash: string) =>
      Effect.gen(function*() {
        if (!isSha256(hash)) return yield* new ArtifactMissing({ hash, detail: "not a sha256 hash" })
        const p = blobPath(hash)
        const bytes = yield* Effect.try({
          try: () => {
            const b = readIfExists(() => fs.readFileSync(p))
            return b === undefined ? undefined : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
          },
          catch: (e) => fail(p, e)
        })
        if (bytes === undefined) return yield* new ArtifactMissing({ hash })
        const actual = sha256(bytes)
        if (actual !== hash) {
          return yield* new ArtifactCorrupt({ hash, path: p, detail: `its bytes hash to ${actual}` })
        }
        return bytes
      })

    const listBlobs = Effect.try({
      try: () => {
        const out: BlobInfo[] = []
        for (const shard of fs.readdirSync(dirs.blobs).sort()) {
          for (const name of fs.readdirSync(path.join(dirs.blobs, shard)).sort()) {
            if (!isSha256(name)) continue
            const st = fs.statSync(path.join(dirs.blobs, shard, name))
            out.push({ hash: name, bytes: st.size })
          }
        }
        return out
      },
      catch: (e) => fail(dirs.blobs, e)
    })

    const putRecord = (record: StageRecord) =>
      Effect.try({
        try: () => writeAtomic(dirs.tmp, recordPath(record.key), JSON.stringify(record, null, 2) + "\n", 0o444),
        catch: (e) => fail(recordPath(record.key), e)
      })

    const getRecord = (key: string) =>
      Effect.gen(function*() {
        const p = recordPath(key)
        const text = yield* Effect.try({
          try: () => readIfExists(() => fs.readFileSync(p, "utf8")),
          catch: (e) => fail(p, e)
        })
        if (text === undefined) return Option.none<StageRecord>()
        const decoded = decodeRecord(text)
        if (decoded._tag === "Failure") {
          return yield* new ArtifactCorrupt({ hash: key, path: p, detail: "stage record does not parse" })
        }
        if (decoded.value.key !== key) {
          return yield* new ArtifactCorrupt({ hash: key, path: p, detail: `record names key ${decoded.value.key}` })
        }
        return Option.some(decoded.value)
      })

    const listRecordKeys = Effect.try({
      try: () => {
        const out: string[] = []
        for (const shard of fs.readdirSync(dirs.records).sort()) {
          for (const name of fs.readdirSync(path.join(dirs.records, shard)).sort()) {
            if (name.endsWith(".json")) out.push(name.slice(0, -5))
          }
        }
        return out
      },
      catch: (e) => fail(dirs.records, e)
    })

    const setRef = (name: string, value: string) =>
      Effect.try({
        try: () => writeAtomic(dirs.tmp, refPath(name), value + "\n", 0o644),
        catch: (e) => fail(path.join(dirs.refs, name), e)
      })

    const getRef = (name: string) =>
      Effect.try({
        try: () => {
          // A ref name that is a folder of refs ("pipelines" itself) names no single value.
          const st = readIfExists(() => fs.statSync(refPath(name)))
          return st === undefined || !st.isFile() ? Option.none<string>() : Option.some(fs.readFileSync(refPath(name), "utf8").trim())
        },
        catch: (e) => fail(path.join(dirs.refs, name), e)
      })

    const listRefs = (prefix: string) =>
      Effect.try({
        try: () => {
          const entries = fs.readdirSync(dirs.refs, { recursive: true, withFileTypes: true })
          const out: Array<{ name: string; value: string }> = []
          for (const e of entries) {
            if (!e.isFile()) continue
            const full = path.join(e.parentPath, e.name)
            const name = path.relative(dirs.refs, full).split(path.sep).join("/")
            if (!name.startsWith(prefix)) continue
            out.push({ name, value: fs.readFileSync(full, "utf8").trim() })
          }
          return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        },
        catch: (e) => fail(dirs.refs, e)
      })

    return {
      location: root,
      putBlob,
      getBlob,
      hasBlob,
      listBlobs,
      putRecord,
      getRecord,
      listRecordKeys,
      setRef,
      getRef,
      listRefs
    } satisfies ArtifactStoreShape
  })

export const layerLocal = (root: string): Layer.Layer<ArtifactStore, StoreError> =>
  Layer.effect(ArtifactStore, makeLocalStore(root))
