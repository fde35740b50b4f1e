import { strict as assert } from "node:assert"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, it } from "node:test"
import { Effect, Option } from "effect"
import type { ArtifactCorrupt, ArtifactMissing, StoreError } from "../src/errors/index.ts"
import { sha256 } from "../src/hash/index.ts"
import type { ArtifactStoreShape } from "../src/store/ArtifactStore.ts"
import { makeLocalStore } from "../src/store/local.ts"
import type { StageRecord } from "../src/store/record.ts"

let root = ""
let store: ArtifactStoreShape
beforeEach(async () => {
  root = fs.mkdtempSync(join(tmpdir(), "ouro-store-"))
  store = await Effect.runPromise(makeLocalStore(root))
})
afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

const run = <A, E>(eff: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(eff)
/** The error an effect fails with (the test fails if it succeeds). */
const failure = <A, E>(eff: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(eff))

const bytes = (s: string) => new TextEncoder().encode(s)
const blobFile = (hash: string) => join(root, "blobs", hash.slice(0, 2), hash)
const recordFile = (key: string) => join(root, "records", key.slice(0, 2), `${key}.json`)
const tmpEntries = () => fs.readdirSync(join(root, "tmp"))

const record = (key: string, over: Partial<StageRecord> = {}): StageRecord => ({
  key,
  kind: "toy/source",
  version: 1,
  params: { text: "a", nested: [1, { b: null }] },
  inputs: { in: sha256("in") },
  outputs: { out: { hash: sha256("out"), artifact: "text", bytes: 3 } },
  env: { "parquet-wasm": "0.8.0" },
  node: "g1/toy-source",
  timings: { startedAt: "2024-01-01T00:00:00.000Z", ms: 12.5 },
  ...over
})

describe("local store: layout", () => {
  it("creates blobs/, records/, refs/ and tmp/ under its root and names its location", () => {
    for (const d of ["blobs", "records", "refs", "tmp"]) assert.ok(fs.statSync(join(root, d)).isDirectory(), d)
    assert.equal(store.location, root)
  })

  it("opens a store another process is making this moment (some of its folders, all empty), not anything else", async () => {
    // Two runs opening one new store at once: the second may look while the first has made only blobs/ so far.
    const making = join(root, "being-made")
    fs.mkdirSync(join(making, "blobs"), { recursive: true })
    const opened = await run(makeLocalStore(making))
    await run(opened.putBlob(bytes("x")))
    assert.ok(fs.existsSync(join(making, "OUROBOROS-STORE")))
    // A folder of one of those names holding a file is someone's: refused, untouched.
    const theirs = join(root, "theirs")
    fs.mkdirSync(join(theirs, "tmp"), { recursive: true })
    fs.writeFileSync(join(theirs, "tmp", "notes.txt"), "mine")
    const e = await failure(makeLocalStore(theirs))
    assert.equal(e._tag, "NotAStore")
    assert.deepEqual(fs.readdirSync(theirs), ["tmp"])
    // And so is a folder of another name, empty or not.
    const other = join(root, "other")
    fs.mkdirSync(join(other, "photos"), { recursive: true })
    assert.equal((await failure(makeLocalStore(other)))._tag, "NotAStore")
  })

  it("fails with StoreError when the root cannot be created", async () => {
    const file = join(root, "a-file")
    fs.writeFileSync(file, "x")
    const e = await failure(makeLocalStore(join(file, "store")))
    assert.equal(e._tag, "StoreError")
  })
})

describe("local store: blobs", () => {
  it("putBlob is content-addressed: hash = sha256 of the bytes, stored under blobs/ab/<hash>", async () => {
    const data = bytes("hello, store")
    const info = await run(store.putBlob(data))
    assert.equal(info.hash, sha256(data))
    assert.equal(info.bytes, data.byteLength)
    assert.deepEqual(new Uint8Array(fs.readFileSync(blobFile(info.hash))), data)
    assert.equal(await run(store.hasBlob(info.hash)), true)
    assert.equal(await run(store.hasBlob(sha256("not there"))), false)
  })

  it("putBlob is idempotent and leaves the blob read-only, with nothing left in tmp/", async () => {
    const data = bytes("same bytes")
    const a = await run(store.putBlob(data))
    const mtime = fs.statSync(blobFile(a.hash)).mtimeMs
    const b = await run(store.putBlob(new Uint8Array(data)))
    assert.deepEqual(b, a)
    assert.equal(fs.statSync(blobFile(a.hash)).mode & 0o777, 0o444)
    assert.equal(fs.statSync(blobFile(a.hash)).mtimeMs, mtime)
    assert.deepEqual((await run(store.listBlobs)).map(({ hash, bytes }) => ({ hash, bytes })), [{
      hash: a.hash,
      bytes: data.byteLength
    }])
    assert.deepEqual(tmpEntries(), [])
  })

  it("stores the empty blob and a subarray's own bytes only", async () => {
    const empty = await run(store.putBlob(new Uint8Array(0)))
    assert.equal(empty.hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert.equal(empty.bytes, 0)
    assert.deepEqual(await run(store.getBlob(empty.hash)), new Uint8Array(0))
    const view = bytes("xxabcxx").subarray(2, 5)
    const info = await run(store.putBlob(view))
    assert.equal(info.hash, sha256("abc"))
    assert.deepEqual(await run(store.getBlob(info.hash)), bytes("abc"))
  })

  it("getBlob returns the stored bytes", async () => {
    const data = new Uint8Array(4096).map((_, i) => (i * 31) & 0xff)
    const { hash } = await run(store.putBlob(data))
    assert.deepEqual(await run(store.getBlob(hash)), data)
  })

  it("listBlobs lists every blob sorted by hash, with sizes", async () => {
    const infos = await Promise.all(["a", "bb", "ccc", "dddd"].map((s) => run(store.putBlob(bytes(s)))))
    const sorted = [...infos].sort((x, y) => (x.hash < y.hash ? -1 : 1))
    assert.deepEqual((await run(store.listBlobs)).map(({ hash, bytes }) => ({ hash, bytes })), sorted)
  })

  it("getBlob of a blob with a flipped byte fails with ArtifactCorrupt naming the hash", async () => {
    const { hash } = await run(store.putBlob(bytes("precious bytes")))
    const file = blobFile(hash)
    fs.chmodSync(file, 0o644)
    const b = fs.readFileSync(file)
    b[3] ^= 0x01
    fs.writeFileSync(file, b)
    const e = (await failure(store.getBlob(hash))) as ArtifactCorrupt
    assert.equal(e._tag, "ArtifactCorrupt")
    assert.equal(e.hash, hash)
    assert.ok(e.message.includes(hash), e.message)
    assert.ok(e.message.includes(sha256(b)), `names what the bytes hash to: ${e.message}`)
  })

  it("getBlob of a truncated blob fails with ArtifactCorrupt", async () => {
    const { hash } = await run(store.putBlob(bytes("0123456789")))
    fs.chmodSync(blobFile(hash), 0o644)
    fs.truncateSync(blobFile(hash), 4)
    const e = await failure(store.getBlob(hash))
    assert.equal(e._tag, "ArtifactCorrupt")
  })

  it("getBlob of a missing blob fails with ArtifactMissing naming the hash", async () => {
    const hash = sha256("never stored")
    const e = (await failure(store.getBlob(hash))) as ArtifactMissing
    assert.equal(e._tag, "ArtifactMissing")
    assert.equal(e.hash, hash)
    assert.match(e.message, new RegExp(`artifact ${hash} is not in the store`))
  })

  it("getBlob of something that is not a sha256 fails with ArtifactMissing, reading nothing outside blobs/", async () => {
    for (const bad of ["../../etc/passwd", "ABC", "", sha256("x").toUpperCase()]) {
      const e = (await failure(store.getBlob(bad))) as ArtifactMissing
      assert.equal(e._tag, "ArtifactMissing", bad)
      assert.match(e.message, /not a sha256 hash/)
    }
  })
})

describe("local store: records", () => {
  it("putRecord then getRecord round-trips the record", async () => {
    const key = sha256("key-1")
    const r = record(key)
    await run(store.putRecord(r))
    assert.deepEqual(await run(store.getRecord(key)), Option.some(r))
    assert.equal(fs.statSync(recordFile(key)).mode & 0o777, 0o444)
    assert.deepEqual(tmpEntries(), [])
  })

  it("putRecord may overwrite the record under the same key", async () => {
    const key = sha256("key-over")
    await run(store.putRecord(record(key)))
    const second = record(key, { node: "g2/toy-source" })
    await run(store.putRecord(second))
    assert.deepEqual(await run(store.getRecord(key)), Option.some(second))
    assert.deepEqual(tmpEntries(), [])
  })

  it("a record file that is no JSON, or JSON but no record, is ArtifactCorrupt: the record does not parse", async () => {
    const key = sha256("key-junk")
    await run(store.putRecord(record(key)))
    const file = recordFile(key)
    for (
      const text of ["{ not json", JSON.stringify({ key, kind: 3 }), JSON.stringify({ ...record(key), version: 1.5 })]
    ) {
      fs.chmodSync(file, 0o644)
      fs.writeFileSync(file, text)
      const e = (await failure(store.getRecord(key))) as ArtifactCorrupt
      assert.equal(e._tag, "ArtifactCorrupt", text)
      assert.match(e.message, /stage record does not parse/)
    }
  })

  it("getRecord of an unknown key is None", async () => {
    assert.deepEqual(await run(store.getRecord(sha256("nope"))), Option.none())
  })

  it("listRecordKeys lists stored keys, sorted", async () => {
    const keys = ["a", "b", "c", "d", "e"].map((s) => sha256(s))
    for (const k of keys) await run(store.putRecord(record(k)))
    assert.deepEqual(await run(store.listRecordKeys), [...keys].sort())
  })

  it("a record file holding garbage fails with ArtifactCorrupt naming the key and the file", async () => {
    const key = sha256("garbage")
    fs.mkdirSync(join(root, "records", key.slice(0, 2)), { recursive: true })
    fs.writeFileSync(recordFile(key), "{ this is not json")
    const e = (await failure(store.getRecord(key))) as ArtifactCorrupt
    assert.equal(e._tag, "ArtifactCorrupt")
    assert.equal(e.hash, key)
    assert.ok(e.message.includes(key) && e.message.includes(recordFile(key)), e.message)
  })

  it("a record file with valid JSON of the wrong shape fails with ArtifactCorrupt", async () => {
    const key = sha256("shape")
    fs.mkdirSync(join(root, "records", key.slice(0, 2)), { recursive: true })
    fs.writeFileSync(recordFile(key), JSON.stringify({ ...record(key), version: "one" }))
    assert.equal((await failure(store.getRecord(key)))._tag, "ArtifactCorrupt")
  })

  it("a record stored under another key's file fails with ArtifactCorrupt", async () => {
    const key = sha256("k1")
    const other = sha256("k2")
    fs.mkdirSync(join(root, "records", key.slice(0, 2)), { recursive: true })
    fs.writeFileSync(recordFile(key), JSON.stringify(record(other)))
    const e = (await failure(store.getRecord(key))) as ArtifactCorrupt
    assert.equal(e._tag, "ArtifactCorrupt")
    assert.ok(e.message.includes(other), e.message)
  })
})

describe("local store: refs", () => {
  it("setRef/getRef with nested names; setRef overwrites", async () => {
    await run(store.setRef("pipelines/collapse/g1/train", "abc"))
    assert.deepEqual(await run(store.getRef("pipelines/collapse/g1/train")), Option.some("abc"))
    await run(store.setRef("pipelines/collapse/g1/train", "def"))
    assert.deepEqual(await run(store.getRef("pipelines/collapse/g1/train")), Option.some("def"))
    assert.equal(fs.readFileSync(join(root, "refs", "pipelines", "collapse", "g1", "train"), "utf8"), "def\n")
    assert.deepEqual(tmpEntries(), [])
  })

  it("getRef of an unknown name, or of a folder of refs, is None", async () => {
    await run(store.setRef("pipelines/a/b", "x"))
    assert.deepEqual(await run(store.getRef("pipelines/zzz")), Option.none())
    assert.deepEqual(await run(store.getRef("pipelines")), Option.none())
    assert.deepEqual(await run(store.getRef("pipelines/a")), Option.none())
  })

  it("listRefs lists refs under a prefix, sorted by name, with slash-separated names", async () => {
    await run(store.setRef("pipelines/b/z", "3"))
    await run(store.setRef("pipelines/a", "1"))
    await run(store.setRef("pipelines/b/y", "2"))
    await run(store.setRef("nodes/x", "4"))
    assert.deepEqual(await run(store.listRefs("pipelines/")), [
      { name: "pipelines/a", value: "1" },
      { name: "pipelines/b/y", value: "2" },
      { name: "pipelines/b/z", value: "3" }
    ])
    assert.deepEqual(await run(store.listRefs("pipelines/b/")), [
      { name: "pipelines/b/y", value: "2" },
      { name: "pipelines/b/z", value: "3" }
    ])
    assert.deepEqual((await run(store.listRefs(""))).map((r) => r.name), [
      "nodes/x",
      "pipelines/a",
      "pipelines/b/y",
      "pipelines/b/z"
    ])
    assert.deepEqual(await run(store.listRefs("nothing/")), [])
  })

  it("accepts the name characters pipelines use (=, +, ., -, _)", async () => {
    const name = "pipelines/collapse.v2/arm=replace/seed=+1/g_3-train"
    await run(store.setRef(name, "v"))
    assert.deepEqual(await run(store.getRef(name)), Option.some("v"))
  })

  it("refuses invalid ref names with StoreError, writing nothing", async () => {
    const bad = ["../x", "a/../../x", "", "a//b", "/a", "a/", ".", "..", "a/./b", "a b", "a\\b", "a\nb"]
    for (const name of bad) {
      const e = (await failure(store.setRef(name, "v"))) as StoreError
      assert.equal(e._tag, "StoreError", JSON.stringify(name))
      assert.match(e.message, /invalid ref name/, JSON.stringify(name))
      assert.equal((await failure(store.getRef(name)))._tag, "StoreError", JSON.stringify(name))
    }
    assert.deepEqual(fs.readdirSync(root).sort(), ["active", "blobs", "leases", "quarantine", "records", "refs", "tmp"])
    assert.deepEqual(fs.readdirSync(join(root, "refs")), [])
    assert.deepEqual(tmpEntries(), [])
  })
})

describe("local store: failed atomic writes", () => {
  it("a blob whose shard folder cannot be made fails with StoreError and leaves no temp file", async () => {
    const data = bytes("blocked blob")
    const hash = sha256(data)
    fs.writeFileSync(join(root, "blobs", hash.slice(0, 2)), "a file where the shard folder goes")
    const e = (await failure(store.putBlob(data))) as StoreError
    assert.equal(e._tag, "StoreError")
    assert.ok(e.message.includes(hash), e.message)
    assert.deepEqual(tmpEntries(), [])
    assert.equal(await run(store.hasBlob(hash)).catch(() => false), false)
  })

  it("a ref whose parent is a file fails with StoreError and leaves no temp file", async () => {
    await run(store.setRef("pipelines/a", "1"))
    const e = await failure(store.setRef("pipelines/a/b", "2"))
    assert.equal(e._tag, "StoreError")
    assert.deepEqual(tmpEntries(), [])
    assert.deepEqual(await run(store.getRef("pipelines/a")), Option.some("1"))
  })

  it("a ref over a folder of refs fails with StoreError and leaves no temp file", async () => {
    await run(store.setRef("pipelines/a/b", "1"))
    const e = await failure(store.setRef("pipelines/a", "2"))
    assert.equal(e._tag, "StoreError")
    assert.deepEqual(tmpEntries(), [])
    assert.deepEqual(await run(store.getRef("pipelines/a/b")), Option.some("1"))
  })

  it("a record whose shard folder cannot be made fails with StoreError and leaves no temp file", async () => {
    const key = sha256("blocked record")
    fs.writeFileSync(join(root, "records", key.slice(0, 2)), "x")
    assert.equal((await failure(store.putRecord(record(key))))._tag, "StoreError")
    assert.deepEqual(tmpEntries(), [])
  })

  it("a missing tmp/ folder fails with StoreError, not a crash", async () => {
    fs.rmSync(join(root, "tmp"), { recursive: true })
    assert.equal((await failure(store.putBlob(bytes("no tmp"))))._tag, "StoreError")
  })
})
