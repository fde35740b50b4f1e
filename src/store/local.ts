/**
 * The default store: a directory (`.ouroboros/` at the project root).
 *   OUROBOROS-STORE          the marker, `{"format":1}`: what makes a directory a store (written by the first write)
 *   blobs/ab/<sha256>        immutable, read-only once written
 *   records/ab/<key>.json    stage records
 *   refs/<name>              named pointers (a hash or a key), one line
 *   tmp/                     staging for atomic writes (temp file, fsync, rename)
 *   leases/<key>             a stage being computed by a live process (see `lease`)
 *   active/<pid>-<id>.json   runs in flight (gc spares what they write)
 *   quarantine/<id>          corrupt blobs and records, moved out of the way
 *   gc.lock                  held by gc for its sweep: no run registers meanwhile
 * A directory that is neither empty, nor marked, nor laid out as a store made before the marker (blobs/ records/
 * refs/) is refused untouched. Opened read-only, the store creates, cleans and repairs nothing. Nothing in it is
 * reached through a symbolic link: files are opened with O_NOFOLLOW, and a link where a blob should be is corrupt.
 * Blobs are sealed when written: read-only, and their modification time set to 0, so any later write to one shows
 * in a cheap stat and only then costs a re-hash.
 * File calls are synchronous: they are small and, on a cached rerun, many in a row; a synchronous call costs a
 * fraction of a round trip through libuv's thread pool.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { hostname } from "node:os"
import { Duration, Effect, Layer, Option, Schedule, Schema, type Scope } from "effect"
import { ArtifactCorrupt, ArtifactMissing, describe, NotAStore, StoreError } from "../errors/index.ts"
import { isSha256, sha256 } from "../hash/index.ts"
import {
  type ActiveRun,
  ArtifactStore,
  type ArtifactStoreShape,
  type BlobInfo,
  type BlobState,
  type Holder,
  type StrayEntry,
  type WaitOptions
} from "./ArtifactStore.ts"
import { decodeRecordText, StageRecord } from "./record.ts"
import { isRefName } from "./refName.ts"

export interface LocalStoreOptions {
  /** Read only: nothing is created, cleaned or repaired, and every write fails (what reading commands use). */
  readonly readOnly?: boolean
}

/** The marker file that makes a directory a store, and the layout version it names. */
export const STORE_MARKER = "OUROBOROS-STORE"
export const STORE_FORMAT = 1
const Marker = Schema.Struct({ format: Schema.Int })
const decodeMarker = Schema.decodeUnknownOption(Schema.fromJsonString(Marker))

/** The store's own temp files, `<pid>-<16 hex>.tmp`: the only files in tmp/ it ever removes. */
const TEMP_FILE = /^([0-9]+)-[0-9a-f]{16}\.tmp$/

const fail = (p: string, cause: unknown): StoreError => new StoreError({ path: p, detail: describe(cause), cause })

const codeOf = (e: unknown): unknown => (typeof e === "object" && e !== null && "code" in e ? e.code : undefined)
const isNotFound = (e: unknown): boolean => codeOf(e) === "ENOENT"

/** A temp file in `tmpDir` holding `data`, written and fsynced; the caller renames or links it into place. */
const writeTemp = (tmpDir: string, data: Uint8Array | string, mode: number, seal = false): string => {
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
  } catch (e) {
    // A write that failed (a full disk) leaves no file behind, empty or partial.
    fs.rmSync(tmp, { force: true })
    throw e
  }
  return tmp
}

/** Writes `data` to `target` so that readers see the old file or the whole new one, never a part. */
const writeAtomic = (tmpDir: string, target: string, data: Uint8Array | string, mode: number, seal = false): void => {
  const tmp = writeTemp(tmpDir, data, mode, seal)
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.renameSync(tmp, target)
  } catch (e) {
    // Whatever failed (mkdir, rename), no temp file is left behind.
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

const lstatIfExists = (p: string): fs.Stats | undefined => readIfExists(() => fs.lstatSync(p))

/** Does a link lead somewhere? (Asked only to word a message; nothing is read or written through it.) */
const existsFollowing = (p: string): boolean => readIfExists(() => fs.statSync(p)) !== undefined

/** Entries of a folder, or none when it does not exist (a store opened read-only before anything was written). */
const readdirIfExists = (dir: string): fs.Dirent[] =>
  readIfExists(() => fs.readdirSync(dir, { withFileTypes: true })) ?? []

const NO_FOLLOW = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK

/**
 * Opens a regular file for reading without following a symbolic link (nor blocking on a fifo): its descriptor,
 * undefined when there is nothing there, or what is there instead of a regular file.
 */
const openRegular = (p: string): number | undefined | "symbolic link" | "not a regular file" => {
  let fd: number
  try {
    fd = fs.openSync(p, NO_FOLLOW)
  } catch (e) {
    if (isNotFound(e)) return undefined
    if (codeOf(e) === "ELOOP") return "symbolic link"
    throw e
  }
  if (fs.fstatSync(fd).isFile()) return fd
  fs.closeSync(fd)
  return "not a regular file"
}

/** With the descriptor of a regular file at `p`; `absent` when there is none, `other` when something else is there. */
const withRegular = <A>(p: string, use: (fd: number) => A, absent: () => A, other: (what: string) => A): A => {
  const fd = openRegular(p)
  if (fd === undefined) return absent()
  if (typeof fd === "string") return other(fd)
  try {
    return use(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** What is found where a regular file should be. */
class NotRegular {
  constructor(readonly other: string) {}
}

/** The bytes of the regular file at `p` (never through a link), undefined when absent. */
const readRegular = (p: string): Buffer | undefined | NotRegular =>
  withRegular<Buffer | undefined | NotRegular>(
    p,
    (fd) => fs.readFileSync(fd),
    () => undefined,
    (other) => new NotRegular(other)
  )

/** Is process `pid` alive on this host? (EPERM: alive but not ours.) */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return codeOf(e) === "EPERM"
  }
}

const HOST = hostname()

/** A lease not renewed for this long is taken to be abandoned (its holder hung or lost its disk). */
const leaseStaleMs = (): number => Number(process.env.OURO_LEASE_STALE_MS ?? 30_000)

const HolderFile = Schema.Struct({ pid: Schema.Int, host: Schema.String, startedMs: Schema.Finite })
const decodeHolder = Schema.decodeUnknownOption(Schema.fromJsonString(HolderFile))

const DIRS = ["blobs", "records", "refs", "tmp", "leases", "active", "quarantine"] as const
/** What a store made before the marker always has. */
const LEGACY_DIRS = ["blobs", "records", "refs"] as const

/** Is `root` a store (or empty, or absent, so that the first write makes one)? Reads only. */
export const recognise = (root: string): Effect.Effect<"absent" | "empty" | "store", StoreError | NotAStore> =>
  Effect.gen(function*() {
    if (root === "") return yield* new NotAStore({ path: "''", detail: "an empty path names no directory" })
    const st = yield* Effect.try({ try: () => readIfExists(() => fs.statSync(root)), catch: (e) => fail(root, e) })
    if (st === undefined) return "absent" as const
    if (!st.isDirectory()) return yield* new StoreError({ path: root, detail: "not a directory" })
    const marker = yield* Effect.try({
      try: () => readRegular(path.join(root, STORE_MARKER)),
      catch: (e) => fail(root, e)
    })
    if (marker !== undefined) {
      if (marker instanceof NotRegular) {
        return yield* new NotAStore({ path: root, detail: `its ${STORE_MARKER} marker is a ${marker.other}` })
      }
      const decoded = decodeMarker(marker.toString("utf8"))
      if (Option.isNone(decoded)) {
        return yield* new NotAStore({ path: root, detail: `its ${STORE_MARKER} marker does not parse` })
      }
      if (decoded.value.format !== STORE_FORMAT) {
        return yield* new StoreError({
          path: root,
          detail:
            `store format ${decoded.value.format}, but this ouroboros reads format ${STORE_FORMAT}; refusing to use it`
        })
      }
      return "store" as const
    }
    const entries = yield* Effect.try({
      try: () => fs.readdirSync(root, { withFileTypes: true }),
      catch: (e) => fail(root, e)
    })
    if (entries.length === 0) return "empty" as const
    const names = new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name))
    if (LEGACY_DIRS.every((d) => names.has(d))) return "store" as const
    // A store another process is making this moment (two runs opening one new store at once): some of the store's
    // own folders and nothing else, each still empty, since the maker creates every folder before its first file.
    const making = yield* Effect.try({
      try: () =>
        entries.every((e) =>
          e.isDirectory() && (DIRS as ReadonlyArray<string>).includes(e.name) &&
          fs.readdirSync(path.join(root, e.name)).length === 0
        ),
      catch: (e) => fail(root, e)
    })
    if (making) return "empty" as const
    return yield* new NotAStore({ path: root, detail: `no ${STORE_MARKER} marker` })
  })

export const makeLocalStore = (
  root: string,
  options: LocalStoreOptions = {}
): Effect.Effect<ArtifactStoreShape, StoreError | NotAStore> =>
  Effect.gen(function*() {
    const readOnly = options.readOnly === true
    const dirs = {
      blobs: path.join(root, "blobs"),
      records: path.join(root, "records"),
      refs: path.join(root, "refs"),
      tmp: path.join(root, "tmp"),
      leases: path.join(root, "leases"),
      active: path.join(root, "active"),
      quarantine: path.join(root, "quarantine")
    }
    const markerPath = path.join(root, STORE_MARKER)
    const gcLockPath = path.join(root, "gc.lock")
    yield* recognise(root)
    if (!readOnly) {
      yield* Effect.try({
        try: () => {
          DIRS.forEach((d) => fs.mkdirSync(path.join(root, d), { recursive: true }))
          // Temp files of processes that died mid-write (kill -9) are garbage: nothing refers to them. Only the
          // store's own temp files are touched, never another name someone put there.
          for (const entry of fs.readdirSync(dirs.tmp, { withFileTypes: true })) {
            const pid = TEMP_FILE.exec(entry.name)?.[1]
            if (pid === undefined || !(entry.isFile() || entry.isSymbolicLink()) || isAlive(Number(pid))) continue
            fs.rmSync(path.join(dirs.tmp, entry.name), { force: true })
          }
        },
        catch: (e) => fail(root, e)
      })
    }

    /** Every write goes through here: a read-only store refuses, and the first write of a process marks the store. */
    let marked = false
    const writable = (what: string): void => {
      if (readOnly) throw new Error(`the store is open read-only; cannot ${what}`)
      if (marked) return
      if (lstatIfExists(markerPath) === undefined) {
        writeAtomic(dirs.tmp, markerPath, JSON.stringify({ format: STORE_FORMAT }) + "\n", 0o444)
      }
      marked = true
    }

    const blobPath = (hash: string) => path.join(dirs.blobs, hash.slice(0, 2), hash)
    const recordPath = (key: string) => path.join(dirs.records, key.slice(0, 2), `${key}.json`)
    const refPath = (name: string) => {
      if (!isRefName(name)) {
        throw new Error(`invalid ref name ${JSON.stringify(name)}`)
      }
      return path.join(dirs.refs, name)
    }

    /** Refuses to write through a symbolic link in the folders between `top` and `file`. */
    const noLinkBetween = (top: string, file: string) => {
      for (let d = path.dirname(file); d.length > top.length && d.startsWith(top); d = path.dirname(d)) {
        if (lstatIfExists(d)?.isSymbolicLink() === true) {
          throw new Error(`${d} is a symbolic link; the store never writes through one`)
        }
      }
    }

    /** Moves whatever is at `from` (a file, a link itself, a folder) into quarantine under a name not yet taken. */
    const moveToQuarantine = (from: string) => {
      const base = path.join(dirs.quarantine, path.basename(from))
      let to = base
      for (let n = 1; lstatIfExists(to) !== undefined; n++) to = `${base}.${n}`
      fs.renameSync(from, to)
    }

    const hasBlob = (hash: string) =>
      Effect.try({
        try: () => lstatIfExists(blobPath(hash))?.isFile() === true,
        catch: (e) => fail(blobPath(hash), e)
      })

    const putBlob = (bytes: Uint8Array): Effect.Effect<BlobInfo, StoreError> => {
      const hash = sha256(bytes)
      const target = blobPath(hash)
      return Effect.try({
        try: () => {
          writable("write a blob")
          noLinkBetween(dirs.blobs, target)
          // An intact existing blob is reused, its change time refreshed so gc's grace period spares it; one that
          // was tampered with is replaced by the bytes in hand, and a link or folder in its place is quarantined.
          // Its bytes are compared, whatever its seal says: rot the seal hid must not outlive a write of the same
          // blob (reading them costs less than the write it saves).
          const intact = withRegular(
            target,
            (fd) => {
              const st = fs.fstatSync(fd)
              const ok = st.size === bytes.byteLength && fs.readFileSync(fd).equals(bytes)
              if (ok) fs.fchmodSync(fd, 0o444)
              return ok
            },
            () => false,
            () => (moveToQuarantine(target), false)
          )
          if (!intact) writeAtomic(dirs.tmp, target, bytes, 0o444, true)
          return { hash, bytes: bytes.byteLength }
        },
        catch: (e) => fail(target, e)
      })
    }

    const getBlob = (hash: string) =>
      Effect.gen(function*() {
        if (!isSha256(hash)) return yield* new ArtifactMissing({ hash, detail: "not a sha256 hash" })
        const p = blobPath(hash)
        const read = yield* Effect.try({ try: () => readRegular(p), catch: (e) => fail(p, e) })
        if (read === undefined) return yield* new ArtifactMissing({ hash })
        const actual = read instanceof NotRegular ? undefined : sha256(read)
        if (read instanceof NotRegular || actual !== hash) {
          // Met anywhere, whatever its seal says: out of the way, so that the stage that made it runs again.
          if (!readOnly) yield* Effect.try({ try: () => moveToQuarantine(p), catch: (e) => fail(p, e) })
          const detail = read instanceof NotRegular
            ? `a ${read.other}, not a regular file`
            : `its bytes hash to ${actual}`
          return yield* new ArtifactCorrupt({ hash, path: p, detail })
        }
        return new Uint8Array(read.buffer, read.byteOffset, read.byteLength)
      })

    /**
     * Walks blobs/ or records/ (two-letter shards of entries) without following a link: `entry` names what a
     * well-placed entry is, or says undefined; every other entry (a link among them: what a record names through
     * one, getBlob calls corrupt and quarantine moves), and one that cannot be read, is a stray. A folder that is
     * not there (a read-only store before any write) is empty.
     */
    const scanShards = <A>(
      dir: string,
      entry: (shard: string, name: string, st: fs.Stats) => A | undefined,
      what: string
    ) => {
      const found: A[] = []
      const strays: StrayEntry[] = []
      const stray = (p: string, detail: string) => strays.push({ path: path.relative(root, p), detail })
      const stat = (p: string): fs.Stats | string => {
        try {
          return fs.lstatSync(p)
        } catch (e) {
          return `cannot be read: ${describe(e)}`
        }
      }
      for (const shard of readdirIfExists(dir).map((d) => d.name).sort()) {
        const shardPath = path.join(dir, shard)
        const st = stat(shardPath)
        if (typeof st === "string") stray(shardPath, st)
        else if (!/^[0-9a-f]{2}$/.test(shard) || !st.isDirectory()) {
          stray(
            shardPath,
            st.isSymbolicLink() ? `a symbolic link, not a shard folder of ${what}` : `not a shard folder of ${what}`
          )
        } else {
          let names: string[]
          try {
            names = fs.readdirSync(shardPath).sort()
          } catch (e) {
            stray(shardPath, `cannot be read: ${describe(e)}`)
            continue
          }
          for (const name of names) {
            const p = path.join(shardPath, name)
            const est = stat(p)
            const value = typeof est === "string" ? undefined : entry(shard, name, est)
            if (value !== undefined) found.push(value)
            else if (typeof est === "string") stray(p, est)
            else if (est.isSymbolicLink()) {
              stray(p, existsFollowing(p) ? "a symbolic link, not a regular file" : "a symbolic link to nothing")
            } else stray(p, `not one of the ${what} (misnamed or misplaced)`)
          }
        }
      }
      return { found, strays }
    }
    const scanBlobs = () =>
      scanShards(dirs.blobs, (shard, name, st): BlobInfo | undefined =>
        // A link that leads somewhere is listed, as what its name says it is: getBlob and verify call it a corrupt
        // blob (never reading through it), and a writable store moves the link itself to quarantine.
        isSha256(name) && name.startsWith(shard) &&
          (st.isFile() || (st.isSymbolicLink() && existsFollowing(path.join(dirs.blobs, shard, name))))
          ? { hash: name, bytes: st.size, addedMs: st.ctimeMs }
          : undefined, "blobs")
    const scanRecords = () =>
      scanShards(dirs.records, (shard, name, st) => {
        const key = name.slice(0, -5)
        return name.endsWith(".json") && isSha256(key) && key.startsWith(shard) && st.isFile() ? key : undefined
      }, "stage records")

    const listBlobs = Effect.try({
      try: () => scanBlobs().found,
      catch: (e) => fail(dirs.blobs, e)
    })

    const putRecord = (record: StageRecord) =>
      Effect.try({
        try: () => {
          writable("write a stage record")
          noLinkBetween(dirs.records, recordPath(record.key))
          writeAtomic(dirs.tmp, recordPath(record.key), JSON.stringify(record, null, 2) + "\n", 0o444)
        },
        catch: (e) => fail(recordPath(record.key), e)
      })

    const getRecord = (key: string) =>
      Effect.gen(function*() {
        const p = recordPath(key)
        const read = yield* Effect.try({ try: () => readRegular(p), catch: (e) => fail(p, e) })
        if (read === undefined) return Option.none<StageRecord>()
        if (read instanceof NotRegular) {
          return yield* new ArtifactCorrupt({ hash: key, path: p, detail: `a ${read.other}, not a regular file` })
        }
        const decoded = decodeRecordText(read.toString("utf8"))
        if (decoded === undefined) {
          return yield* new ArtifactCorrupt({ hash: key, path: p, detail: "stage record does not parse" })
        }
        if (decoded.key !== key) {
          return yield* new ArtifactCorrupt({ hash: key, path: p, detail: `record names key ${decoded.key}` })
        }
        return Option.some(decoded)
      })

    const listRecordKeys = Effect.try({ try: () => scanRecords().found, catch: (e) => fail(dirs.records, e) })

    const inventory = Effect.try({
      try: () => {
        const blobs = scanBlobs(), records = scanRecords()
        return { blobs: blobs.found, records: records.found, strays: [...blobs.strays, ...records.strays] }
      },
      catch: (e) => fail(root, e)
    })

    const listStrays = Effect.map(inventory, (i) => i.strays)

    const setRef = (name: string, value: string) =>
      Effect.try({
        try: () => {
          const p = refPath(name)
          writable("write a ref")
          noLinkBetween(dirs.refs, p)
          writeAtomic(dirs.tmp, p, value + "\n", 0o644)
        },
        catch: (e) => fail(path.join(dirs.refs, name), e)
      })

    const removeRef = (name: string) =>
      Effect.try({
        try: () => {
          const p = refPath(name)
          writable("remove a ref")
          noLinkBetween(dirs.refs, p)
          fs.rmSync(p, { force: true })
        },
        catch: (e) => fail(path.join(dirs.refs, name), e)
      })

    /** A ref's value; none for a folder of refs ("pipelines" itself) or a link, which name no single value. */
    const readRef = (p: string): Option.Option<string> => {
      const read = readRegular(p)
      return read instanceof Buffer ? Option.some(read.toString("utf8").trim()) : Option.none()
    }

    const getRef = (name: string) =>
      Effect.try({
        try: () => readRef(refPath(name)),
        catch: (e) => fail(path.join(dirs.refs, name), e)
      })

    const listRefs = (prefix: string) =>
      Effect.try({
        try: () => {
          const entries = readIfExists(() => fs.readdirSync(dirs.refs, { recursive: true, withFileTypes: true })) ?? []
          const out: Array<{ name: string; value: string }> = []
          for (const e of entries) {
            if (!e.isFile()) continue
            const full = path.join(e.parentPath, e.name)
            const name = path.relative(dirs.refs, full).split(path.sep).join("/")
            if (!name.startsWith(prefix)) continue
            const value = readRef(full)
            if (Option.isSome(value)) out.push({ name, value: value.value })
          }
          return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        },
        catch: (e) => fail(dirs.refs, e)
      })

    const quarantine = (id: string) =>
      Effect.try({
        try: () => {
          writable("quarantine")
          for (const from of [blobPath(id), recordPath(id)]) {
            if (lstatIfExists(from) !== undefined) moveToQuarantine(from)
          }
        },
        catch: (e) => fail(path.join(dirs.quarantine, id), e)
      })

    const checkBlob = (hash: string, bytes: number): Effect.Effect<BlobState, StoreError> =>
      Effect.try({
        try: (): BlobState | "quarantine" =>
          withRegular<BlobState | "quarantine">(
            blobPath(hash),
            (fd) => {
              const st = fs.fstatSync(fd)
              if (st.mtimeMs !== 0 || st.size !== bytes) {
                // Touched since it was sealed, or not the size its record says: only its hash can tell which is wrong.
                if (sha256(fs.readFileSync(fd)) !== hash) return "quarantine"
                if (!readOnly) fs.futimesSync(fd, 0, 0)
              }
              // An intact blob of another size: the record describing it is wrong, and its stage must run again.
              return st.size === bytes ? "ok" : "mismatch"
            },
            () => "missing",
            () => "quarantine"
          ),
        catch: (e) => fail(blobPath(hash), e)
      }).pipe(Effect.flatMap((state) =>
        state !== "quarantine"
          ? Effect.succeed(state)
          : readOnly
          ? Effect.succeed("corrupt" as const)
          : Effect.as(quarantine(hash), "corrupt" as const)
      ))

    /** The holder named in a lease or lock file; undefined when the file is gone; "junk" when it names nobody. */
    const holderOf = (file: string): Holder | undefined | "junk" => {
      const read = readRegular(file)
      if (read === undefined) return lstatIfExists(file) === undefined ? undefined : "junk"
      if (read instanceof NotRegular) return "junk"
      return Option.getOrElse(decodeHolder(read.toString("utf8")), () => "junk" as const)
    }

    /**
     * Is the lease or lock at `file` abandoned? Yes if it names nobody (written whole, as it always is, an empty or
     * undecodable one is never a holder mid-write), if its holder on this host is dead, or, if `silence` allows,
     * when it has not been renewed for `leaseStaleMs`. A stale one is removed, if it is still the one judged.
     * Returns the live holder, or undefined when there is none now.
     */
    const liveHolder = (file: string, silence: "any holder" | "other hosts"): Holder | undefined => {
      const st = lstatIfExists(file)
      if (st === undefined) return undefined
      const holder = holderOf(file)
      if (holder === undefined) return undefined
      if (holder !== "junk") {
        const dead = holder.host === HOST && holder.pid !== process.pid && !isAlive(holder.pid)
        const silent = Date.now() - st.mtimeMs > leaseStaleMs() && (silence === "any holder" || holder.host !== HOST)
        if (!dead && !silent) return holder
      }
      // Break it only if it is still the lease we judged: another waiter may have broken and retaken it.
      const again = lstatIfExists(file)
      if (again !== undefined && again.mtimeMs === st.mtimeMs && again.ino === st.ino) {
        fs.rmSync(file, {
          force: true,
          recursive: true
        })
      }
      return undefined
    }

    /**
     * Holds `file` for the scope: it is published whole (a temp file, fsynced, hard-linked into place, which fails
     * if it exists), renewed while held, removed at the end. Waits while a live process holds it.
     */
    const hold = (file: string, silence: "any holder" | "other hosts", options: WaitOptions = {}) => {
      const mine = JSON.stringify({ pid: process.pid, host: HOST, startedMs: Date.now() })
      let waitingFor: string | undefined
      const acquire = Effect.acquireRelease(
        Effect.try({
          try: () => (writable("take a lease"), writeTemp(dirs.tmp, mine, 0o644)),
          catch: (e) => fail(file, e)
        }),
        (tmp) => Effect.sync(() => fs.rmSync(tmp, { force: true }))
      ).pipe(
        Effect.flatMap((tmp) => {
          /** The live holder, or undefined once the file is ours. */
          const tryAcquire = (): Holder | "retry" | undefined => {
            try {
              fs.linkSync(tmp, file)
              return undefined
            } catch (e) {
              if (codeOf(e) !== "EEXIST") throw e
            }
            return liveHolder(file, silence) ?? "retry"
          }
          const attempt: Effect.Effect<boolean, StoreError> = Effect.try({
            try: tryAcquire,
            catch: (e) => fail(file, e)
          }).pipe(
            Effect.flatMap((holder) => {
              if (holder === undefined) return Effect.succeed(true)
              if (holder === "retry" || options.onWait === undefined) return Effect.succeed(false)
              const who = JSON.stringify(holder)
              if (who === waitingFor) return Effect.succeed(false)
              waitingFor = who
              return Effect.as(options.onWait(holder), false)
            })
          )
          return attempt.pipe(
            Effect.repeat({ until: (acquired) => acquired, schedule: Schedule.spaced(Duration.millis(25)) })
          )
        }),
        Effect.scoped
      )
      const renew = Effect.try({ try: () => fs.utimesSync(file, new Date(), new Date()), catch: (e) => fail(file, e) })
        .pipe(
          Effect.ignore,
          Effect.repeat(Schedule.spaced(Duration.millis(Math.max(10, leaseStaleMs() / 4))))
        )
      const release = Effect.sync(() => {
        const read = readRegular(file)
        if (read instanceof Buffer && read.toString("utf8") === mine) fs.rmSync(file, { force: true })
      })
      return Effect.acquireRelease(acquire, () => release).pipe(Effect.andThen(Effect.forkScoped(renew)), Effect.asVoid)
    }

    const lease = (key: string, options?: WaitOptions) => hold(path.join(dirs.leases, key), "any holder", options)

    // A paused gc (stopped, or swapped out) must never be taken for a dead one while its process lives.
    const exclusive = hold(gcLockPath, "other hosts")

    const registerRun = (options: WaitOptions = {}): Effect.Effect<void, StoreError, Scope.Scope> => {
      let waitingFor: string | undefined
      /** Registers, then looks for gc: if it holds the store, withdraws and waits (gc looks for runs after locking). */
      const tryRegister = (): string | Holder => {
        writable("register a run")
        const file = path.join(dirs.active, `${process.pid}-${randomBytes(6).toString("hex")}.json`)
        writeAtomic(dirs.tmp, file, JSON.stringify({ pid: process.pid, host: HOST, startedMs: Date.now() }), 0o644)
        const gc = liveHolder(gcLockPath, "other hosts")
        if (gc === undefined) return file
        fs.rmSync(file, { force: true })
        return gc
      }
      const attempt: Effect.Effect<string | undefined, StoreError> = Effect.try({
        try: tryRegister,
        catch: (e) => fail(dirs.active, e)
      }).pipe(
        Effect.flatMap((r) => {
          if (typeof r === "string") return Effect.succeed(r)
          const who = JSON.stringify(r)
          if (options.onWait === undefined || who === waitingFor) return Effect.succeed(undefined)
          waitingFor = who
          return Effect.as(options.onWait(r), undefined)
        })
      )
      return Effect.acquireRelease(
        attempt.pipe(
          Effect.repeat({ until: (file) => file !== undefined, schedule: Schedule.spaced(Duration.millis(50)) }),
          Effect.map((file) => file!)
        ),
        (file) => Effect.sync(() => fs.rmSync(file, { force: true }))
      ).pipe(Effect.asVoid)
    }

    const activeRuns = Effect.try({
      try: () => {
        const out: ActiveRun[] = []
        for (const entry of readdirIfExists(dirs.active)) {
          const full = path.join(dirs.active, entry.name)
          const run = holderOf(full)
          if (run === undefined) continue
          // Written whole, an active-run file that names nobody, or a dead process, is left over: not a run.
          if (run !== "junk" && (run.host !== HOST || isAlive(run.pid))) {
            out.push({ pid: run.pid, startedMs: run.startedMs })
          } else if (!readOnly) {
            fs.rmSync(full, { force: true, recursive: true })
          }
        }
        return out
      },
      catch: (e) => fail(dirs.active, e)
    })

    const removeBlob = (hash: string) =>
      Effect.try({
        try: () => (writable("remove a blob"), fs.rmSync(blobPath(hash), { force: true })),
        catch: (e) => fail(blobPath(hash), e)
      })
    const removeRecord = (key: string) =>
      Effect.try({
        try: () => (writable("remove a record"), fs.rmSync(recordPath(key), { force: true })),
        catch: (e) => fail(recordPath(key), e)
      })

    return {
      location: root,
      checkBlob,
      quarantine,
      lease,
      registerRun,
      exclusive,
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
      inventory,
      setRef,
      getRef,
      removeRef,
      listRefs
    } satisfies ArtifactStoreShape
  })

export const layerLocal = (
  root: string,
  options: LocalStoreOptions = {}
): Layer.Layer<ArtifactStore, StoreError | NotAStore> => Layer.effect(ArtifactStore, makeLocalStore(root, options))
