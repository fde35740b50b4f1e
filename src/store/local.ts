/**
 * The default store: a directory (`.ouroboros/` at the project root).
 *   blobs/ab/<sha256>        immutable, read-only once written
 *   records/ab/<key>.json    stage records
 *   refs/<name>              named pointers (a hash or a key), one line
 *   tmp/                     staging for atomic writes (temp file, fsync, rename)
 *   leases/<key>             a stage being computed by a live process (see `lease`)
 *   active/<pid>-<id>.json   runs in flight (gc spares what they write)
 *   quarantine/<id>          corrupt blobs and records, moved out of the way
 * Blobs are sealed when written: read-only, and their modification time set to 0, so any later write to one shows
 * in a cheap stat and only then costs a re-hash.
 * File calls are synchronous: they are small and, on a cached rerun, many in a row; a synchronous call costs a
 * fraction of a round trip through libuv's thread pool.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { hostname } from "node:os"
import { Duration, Effect, Layer, Option, Schedule, Schema } from "effect"
import { ArtifactCorrupt, ArtifactMissing, StoreError } from "../errors/index.ts"
import { isSha256, sha256 } from "../hash/index.ts"
import { type ActiveRun, ArtifactStore, type ArtifactStoreShape, type BlobInfo, type BlobState, type StrayEntry } from "./ArtifactStore.ts"
import { StageRecord } from "./record.ts"

const decodeRecord = Schema.decodeUnknownExit(Schema.fromJsonString(StageRecord))

const REF_NAME = /^[A-Za-z0-9._=+-]+(?:\/[A-Za-z0-9._=+-]+)*$/

const fail = (p: string, cause: unknown): StoreError =>
  new StoreError({ path: p, detail: cause instanceof Error ? cause.message : String(cause) })

const isNotFound = (e: unknown): boolean =>
  typeof e === "object" && e !== null && "code" in e && (e as { code: unknown }).code === "ENOENT"

/** Writes `data` to `target` so that readers see the old file or the whole new one, never a part. */
const writeAtomic = (tmpDir: string, target: string, data: Uint8Array | string, mode: number, seal = false): void => {
  const tmp = path.join(tmpDir, `${process.pid}-${randomBytes(8).toString("hex")}.tmp`)
  const fd = fs.openSync(tmp, "wx", mode)
  try {
    try {
      fs.writeFileSync(fd, data)
      if (seal) fs.futimesSync(fd, 0, 0)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.renameSync(tmp, target)
  } catch (e) {
    // Whatever failed (write, fsync, rename), no temp file is left behind.
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

/** Is process `pid` alive on this host? (EPERM: alive but not ours.) */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return typeof e === "object" && e !== null && "code" in e && e.code === "EPERM"
  }
}

const HOST = hostname()

/** A lease not renewed for this long is taken to be abandoned (its holder hung or lost its disk). */
const leaseStaleMs = (): number => Number(process.env.OURO_LEASE_STALE_MS ?? 30_000)

const LeaseFile = Schema.Struct({ pid: Schema.Int, host: Schema.String, startedMs: Schema.Finite })
const decodeLease = Schema.decodeUnknownOption(Schema.fromJsonString(LeaseFile))

export const makeLocalStore = (root: string): Effect.Effect<ArtifactStoreShape, StoreError> =>
  Effect.gen(function*() {
    const dirs = {
      blobs: path.join(root, "blobs"),
      records: path.join(root, "records"),
      refs: path.join(root, "refs"),
      tmp: path.join(root, "tmp"),
      leases: path.join(root, "leases"),
      active: path.join(root, "active"),
      quarantine: path.join(root, "quarantine")
    }
    yield* Effect.try({
      try: () => {
        Object.values(dirs).forEach((d) => fs.mkdirSync(d, { recursive: true }))
        // Temp files of processes that died mid-write (kill -9) are garbage: nothing refers to them.
        for (const name of fs.readdirSync(dirs.tmp)) {
          const pid = Number(name.split("-")[0])
          if (Number.isInteger(pid) && !isAlive(pid)) fs.rmSync(path.join(dirs.tmp, name), { force: true })
        }
      },
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
          const found = readIfExists(() => fs.statSync(target))
          if (found !== undefined && !found.isFile()) fs.renameSync(target, path.join(dirs.quarantine, hash))
          const st = found?.isFile() ? found : undefined
          // An intact existing blob is reused, its change time refreshed so gc's grace period spares it; one that
          // was tampered with is replaced by the bytes in hand.
          const intact = st !== undefined && st.size === bytes.byteLength &&
            (st.mtimeMs === 0 || sha256(fs.readFileSync(target)) === hash)
          if (intact) fs.chmodSync(target, 0o444)
          else writeAtomic(dirs.tmp, target, bytes, 0o444, true)
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
            if (readIfExists(() => fs.statSync(p))?.isFile() === false) return "not a file" as const
            const b = readIfExists(() => fs.readFileSync(p))
            return b === undefined ? undefined : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
          },
          catch: (e) => fail(p, e)
        })
        if (bytes === undefined) return yield* new ArtifactMissing({ hash })
        if (bytes === "not a file") return yield* new ArtifactCorrupt({ hash, path: p, detail: "not a regular file" })
        const actual = sha256(bytes)
        if (actual !== hash) {
          return yield* new ArtifactCorrupt({ hash, path: p, detail: `its bytes hash to ${actual}` })
        }
        return bytes
      })

    /**
     * Walks blobs/ or records/ (two-letter shards of entries): `entry` names what a well-placed entry is, or says
     * undefined; every other entry, and one that cannot be read, is a stray. Only an unreadable folder itself fails.
     */
    const scanShards = <A>(dir: string, entry: (shard: string, name: string, st: fs.Stats) => A | undefined, what: string) => {
      const found: A[] = []
      const strays: StrayEntry[] = []
      const stray = (p: string, detail: string) => strays.push({ path: path.relative(root, p), detail })
      const stat = (p: string): fs.Stats | string => {
        try {
          return fs.statSync(p)
        } catch (e) {
          return isNotFound(e) && readIfExists(() => fs.lstatSync(p))?.isSymbolicLink() === true
            ? "a symbolic link to nothing"
            : `cannot be read: ${e instanceof Error ? e.message : String(e)}`
        }
      }
      for (const shard of fs.readdirSync(dir).sort()) {
        const shardPath = path.join(dir, shard)
        const st = stat(shardPath)
        if (typeof st === "string") stray(shardPath, st)
        else if (!/^[0-9a-f]{2}$/.test(shard) || !st.isDirectory()) stray(shardPath, `not a shard folder of ${what}`)
        else {
          let names: string[]
          try {
            names = fs.readdirSync(shardPath).sort()
          } catch (e) {
            stray(shardPath, `cannot be read: ${e instanceof Error ? e.message : String(e)}`)
            continue
          }
          for (const name of names) {
            const p = path.join(shardPath, name)
            const est = stat(p)
            const value = typeof est === "string" ? undefined : entry(shard, name, est)
            if (value !== undefined) found.push(value)
            else stray(p, typeof est === "string" ? est : `not one of the ${what} (misnamed or misplaced)`)
          }
        }
      }
      return { found, strays }
    }
    const scanBlobs = () =>
      scanShards(dirs.blobs, (shard, name, st): BlobInfo | undefined =>
        isSha256(name) && name.startsWith(shard) ? { hash: name, bytes: st.size, addedMs: st.ctimeMs } : undefined, "blobs")
    const scanRecords = () =>
      scanShards(dirs.records, (shard, name, st) => {
        const key = name.slice(0, -5)
        return name.endsWith(".json") && isSha256(key) && key.startsWith(shard) && st.isFile() ? key : undefined
      }, "stage records")

    const listBlobs = Effect.try({ try: () => scanBlobs().found, catch: (e) => fail(dirs.blobs, e) })

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

    const listRecordKeys = Effect.try({ try: () => scanRecords().found, catch: (e) => fail(dirs.records, e) })

    const listStrays = Effect.try({
      try: () => [...scanBlobs().strays, ...scanRecords().strays],
      catch: (e) => fail(root, e)
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

    const quarantine = (id: string) =>
      Effect.try({
        try: () => {
          for (const from of [blobPath(id), recordPath(id)]) {
            if (readIfExists(() => fs.statSync(from)) === undefined) continue
            fs.renameSync(from, path.join(dirs.quarantine, path.basename(from)))
          }
        },
        catch: (e) => fail(path.join(dirs.quarantine, id), e)
      })

    const checkBlob = (hash: string, bytes: number): Effect.Effect<BlobState, StoreError> =>
      Effect.try({
        try: (): BlobState | "quarantine" => {
          const p = blobPath(hash)
          const st = readIfExists(() => fs.statSync(p))
          if (st === undefined) return "missing"
          if (!st.isFile()) return "quarantine"
          if (st.mtimeMs !== 0 || st.size !== bytes) {
            // Touched since it was sealed, or not the size its record says: only its hash can tell which is wrong.
            if (sha256(fs.readFileSync(p)) !== hash) return "quarantine"
            fs.utimesSync(p, 0, 0)
          }
          // An intact blob of another size: the record describing it is wrong, and its stage must run again.
          return st.size === bytes ? "ok" : "mismatch"
        },
        catch: (e) => fail(blobPath(hash), e)
      }).pipe(Effect.flatMap((state) => (state === "quarantine" ? Effect.as(quarantine(hash), "corrupt" as const) : Effect.succeed(state))))

    const lease = (key: string) => {
      const file = path.join(dirs.leases, key)
      const mine = JSON.stringify({ pid: process.pid, host: HOST, startedMs: Date.now() })
      /** true: acquired; false: held by a live holder; a stale lease is broken and the next try may take it. */
      const tryAcquire = (): boolean => {
        try {
          fs.writeFileSync(file, mine, { flag: "wx" })
          return true
        } catch (e) {
          if (!(typeof e === "object" && e !== null && "code" in e && e.code === "EEXIST")) throw e
        }
        const st = readIfExists(() => fs.statSync(file))
        if (st === undefined) return false
        const holder = Option.getOrUndefined(decodeLease(readIfExists(() => fs.readFileSync(file, "utf8")) ?? ""))
        const dead = holder !== undefined && holder.host === HOST && holder.pid !== process.pid && !isAlive(holder.pid)
        const silent = Date.now() - st.mtimeMs > leaseStaleMs()
        if (dead || silent) {
          // Break it only if it is still the lease we judged: another waiter may have broken and retaken it.
          const again = readIfExists(() => fs.statSync(file))
          if (again !== undefined && again.mtimeMs === st.mtimeMs && again.ino === st.ino) fs.rmSync(file, { force: true })
        }
        return false
      }
      const acquire = Effect.try({ try: tryAcquire, catch: (e) => fail(file, e) }).pipe(
        Effect.repeat({ until: (acquired) => acquired, schedule: Schedule.spaced(Duration.millis(25)) })
      )
      const renew = Effect.try({ try: () => fs.utimesSync(file, new Date(), new Date()), catch: (e) => fail(file, e) }).pipe(
        Effect.ignore,
        Effect.repeat(Schedule.spaced(Duration.millis(Math.max(10, leaseStaleMs() / 4))))
      )
      const release = Effect.sync(() => {
        if (readIfExists(() => fs.readFileSync(file, "utf8")) === mine) fs.rmSync(file, { force: true })
      })
      return Effect.acquireRelease(acquire, () => release).pipe(Effect.andThen(Effect.forkScoped(renew)), Effect.asVoid)
    }

    const registerRun = Effect.acquireRelease(
      Effect.try({
        try: () => {
          const file = path.join(dirs.active, `${process.pid}-${randomBytes(6).toString("hex")}.json`)
          fs.writeFileSync(file, JSON.stringify({ pid: process.pid, host: HOST, startedMs: Date.now() }))
          return file
        },
        catch: (e) => fail(dirs.active, e)
      }),
      (file) => Effect.sync(() => fs.rmSync(file, { force: true }))
    ).pipe(Effect.asVoid)

    const activeRuns = Effect.try({
      try: () => {
        const out: ActiveRun[] = []
        for (const name of fs.readdirSync(dirs.active)) {
          const full = path.join(dirs.active, name)
          const run = Option.getOrUndefined(decodeLease(readIfExists(() => fs.readFileSync(full, "utf8")) ?? ""))
          if (run === undefined) continue
          if (run.host === HOST && !isAlive(run.pid)) fs.rmSync(full, { force: true })
          else out.push({ pid: run.pid, startedMs: run.startedMs })
        }
        return out
      },
      catch: (e) => fail(dirs.active, e)
    })

    const removeBlob = (hash: string) =>
      Effect.try({ try: () => fs.rmSync(blobPath(hash), { force: true }), catch: (e) => fail(blobPath(hash), e) })
    const removeRecord = (key: string) =>
      Effect.try({ try: () => fs.rmSync(recordPath(key), { force: true }), catch: (e) => fail(recordPath(key), e) })

    return {
      location: root,
      checkBlob,
      quarantine,
      lease,
      registerRun,
      activeRuns,
      removeBlob,
      removeRecord,
      putBlob,
      getBlob,
      hasBlob,
      listBlobs,
      putRecord,
      getRecord,
      listRecordKeys,
      listStrays,
      setRef,
      getRef,
      listRefs
    } satisfies ArtifactStoreShape
  })

export const layerLocal = (root: string): Layer.Layer<ArtifactStore, StoreError> =>
  Layer.effect(ArtifactStore, makeLocalStore(root))
