/**
 * Remote stores: the ArtifactStore contract against an HTTP store (a private nginx with WebDAV on loopback) and an
 * S3 store (s3rver on loopback), and the cache in front of them: every download hash-checked, a corrupt or
 * substituted remote blob an ArtifactCorrupt naming its URL that never enters the cache, records Schema-decoded.
 */
import { strict as assert } from "node:assert"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { Effect, Exit, Option, Scope } from "effect"
import type { StoreError } from "../src/errors/index.ts"
import { sha256 } from "../src/hash/index.ts"
import type { ArtifactStoreShape } from "../src/store/ArtifactStore.ts"
import { makeCachedStore } from "../src/store/cached.ts"
import { makeLocalStore } from "../src/store/local.ts"
import { openRemote, openStore, parseStoreSpec, type StoreMode } from "../src/store/open.ts"
import type { RemoteStoreShape } from "../src/store/remote.ts"
import { type Nginx, nginxMissing, startNginx } from "./support/nginx.ts"
import { type S3Server, startS3, useEnv } from "./support/s3.ts"
import { storeContract } from "./support/store-contract.ts"

const run = <A, E>(eff: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(eff)
const failure = <A, E>(eff: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(eff))
const bytes = (s: string) => new TextEncoder().encode(s)

/** Opens a scoped effect with a scope that `close` ends (the S3 client is destroyed then). */
const openScoped = async <A, E>(eff: Effect.Effect<A, E, Scope.Scope>) => {
  const scope = await run(Scope.make())
  const value = await run(Scope.provide(scope)(eff))
  return { value, close: () => void Effect.runFork(Scope.close(scope, Exit.void)) }
}

const remoteOf = async (spec: string, mode: StoreMode = "write") =>
  openScoped(Effect.gen(function*() {
    const parsed = yield* parseStoreSpec(spec)
    if (parsed._tag === "local") throw new Error("not remote")
    return yield* openRemote(parsed, mode)
  }))

const flipFile = (file: string) => {
  const data = fs.readFileSync(file)
  data[0] ^= 0xff
  fs.writeFileSync(file, data)
}

let prefixes = 0
const nextPrefix = () => `t${process.pid}-${++prefixes}`

let nginx: Nginx | undefined
let s3: S3Server | undefined
before(async () => {
  if (nginxMissing === undefined) nginx = await startNginx()
  s3 = await startS3()
  useEnv(s3.env)
})
after(async () => {
  await nginx?.stop()
  await s3?.stop()
})

if (nginxMissing !== undefined) {
  it("HTTP store contract", { skip: nginxMissing }, () => {})
} else {
  storeContract("HTTP store (nginx WebDAV)", async () => {
    const prefix = nextPrefix()
    const { value: store, close } = await remoteOf(`${nginx!.origin}/${prefix}`)
    return {
      store,
      // nginx keeps no seal: a touched file is found by the hash check of the next read.
      rot: (hash) => flipFile(join(nginx!.data, prefix, "cas", hash)),
      close
    }
  })
}

storeContract("S3 store (s3rver)", async () => {
  const prefix = nextPrefix()
  const { value: store, close } = await remoteOf(`s3://${s3!.bucket}/${prefix}`)
  return {
    store,
    rot: (hash) => flipFile(join(s3!.directory, s3!.bucket, prefix, "cas", `${hash}._S3rver_object`)),
    close
  }
})

/** A cache (a fresh local store) in front of a fresh prefix of `origin` given with credentials in its URL. */
const cachedOver = async (spec: string) => {
  const dir = fs.mkdtempSync(join(tmpdir(), "ouro-cache-"))
  const { value: remote, close } = await remoteOf(spec)
  const local = await run(makeLocalStore(dir))
  return {
    dir,
    remote,
    local,
    store: makeCachedStore(local, remote),
    close: () => (close(), fs.rmSync(dir, { recursive: true, force: true }))
  }
}

const record = (key: string, outputHash: string, size: number) => ({
  key,
  kind: "toy/source",
  version: 1,
  params: { text: "a" },
  inputs: {},
  outputs: { out: { hash: outputHash, artifact: "text", bytes: size } },
  env: {},
  node: "toy",
  timings: { startedAt: "2024-01-01T00:00:00.000Z", ms: 1 }
})

describe("a local cache in front of a remote store", { skip: nginxMissing }, () => {
  const SECRET = "pa55-do-not-show"
  const specOf = (prefix: string) => nginx!.origin.replace("http://", `http://ann:${SECRET}@`) + `/${prefix}`

  it("a blob is written through, then read through into an empty cache; location carries no credentials", async () => {
    const prefix = nextPrefix()
    const a = await cachedOver(specOf(prefix))
    const b = await cachedOver(specOf(prefix))
    try {
      assert.equal(a.store.location, `${nginx!.origin}/${prefix}`)
      const { hash } = await run(a.store.putBlob(bytes("shared bytes")))
      assert.ok(fs.existsSync(join(nginx!.data, prefix, "cas", hash)), "written through to the remote")
      assert.equal(await run(b.local.hasBlob(hash)), false)
      assert.deepEqual(await run(b.store.getBlob(hash)), bytes("shared bytes"))
      assert.equal(await run(b.local.hasBlob(hash)), true, "read through into the cache")
    } finally {
      a.close()
      b.close()
    }
  })

  for (const how of ["corrupt (a flipped byte)", "substituted (other bytes, other size)"] as const) {
    it(`a ${how} remote blob is ArtifactCorrupt naming its URL, and never enters the cache`, async () => {
      const prefix = nextPrefix()
      const c = await cachedOver(specOf(prefix))
      try {
        const { hash } = await run(c.remote.putBlob(bytes("the real bytes")))
        const file = join(nginx!.data, prefix, "cas", hash)
        if (how.startsWith("corrupt")) flipFile(file)
        else fs.writeFileSync(file, "something else entirely")
        const e = await failure(c.store.getBlob(hash))
        assert.equal(e._tag, "ArtifactCorrupt")
        assert.ok(e.message.includes(`${nginx!.origin}/${prefix}/cas/${hash}`), e.message)
        assert.ok(!e.message.includes(SECRET) && !JSON.stringify(e).includes(SECRET), "no credentials in the error")
        assert.equal(await run(c.local.hasBlob(hash)), false, "the bad bytes are not in the cache")
        assert.deepEqual(await run(c.local.listBlobs), [])
        assert.equal(await run(c.remote.hasBlob(hash)), false, "the remote's bad copy is moved to quarantine")
      } finally {
        c.close()
      }
    })
  }

  it("a remote record is Schema-decoded: junk, or a record of another key, is ArtifactCorrupt naming its URL", async () => {
    const prefix = nextPrefix()
    const c = await cachedOver(specOf(prefix))
    try {
      const { hash } = await run(c.store.putBlob(bytes("out")))
      const key = sha256("a key")
      await run(c.remote.putRecord(record(key, hash, 3)))
      const file = join(nginx!.data, prefix, "ac", key)
      fs.writeFileSync(file, JSON.stringify({ key, kind: 3 }))
      const junk = await failure(c.store.getRecord(key))
      assert.equal(junk._tag, "ArtifactCorrupt")
      assert.ok(junk.message.includes(`${nginx!.origin}/${prefix}/ac/${key}`), junk.message)
      fs.writeFileSync(file, JSON.stringify(record(sha256("another key"), hash, 3)))
      const other = await failure(c.store.getRecord(key))
      assert.ok(other.message.includes("record names key"), other.message)
      assert.deepEqual(await run(c.local.listRecordKeys), [], "nothing entered the cache")
    } finally {
      c.close()
    }
  })

  it("a record only the cache has is published to the remote, its blob first", async () => {
    const prefix = nextPrefix()
    const c = await cachedOver(specOf(prefix))
    try {
      const { hash } = await run(c.local.putBlob(bytes("made before the remote")))
      const key = sha256("local only")
      await run(c.local.putRecord(record(key, hash, 22)))
      assert.equal(await run(c.remote.hasRecord(key)), false)
      assert.ok(Option.isSome(await run(c.store.getRecord(key))))
      assert.equal(await run(c.remote.hasRecord(key)), true)
      assert.equal(await run(c.remote.hasBlob(hash)), true)
    } finally {
      c.close()
    }
  })

  it("checkBlob of a blob only the remote has asks its size (no download)", async () => {
    const prefix = nextPrefix()
    const c = await cachedOver(specOf(prefix))
    try {
      const { hash, bytes: size } = await run(c.remote.putBlob(bytes("remote only")))
      assert.equal(await run(c.store.checkBlob(hash, size)), "ok")
      assert.equal(await run(c.store.checkBlob(hash, size + 1)), "mismatch")
      assert.equal(await run(c.store.checkBlob(sha256("absent"), 1)), "missing")
      assert.equal(await run(c.local.hasBlob(hash)), false)
    } finally {
      c.close()
    }
  })
})

describe("opening a store", () => {
  it("an unknown scheme is one clear line, credentials left out", async () => {
    const e = await failure(parseStoreSpec("ftp://ann:pw@example.org/x"))
    assert.equal(
      e.message,
      "store: ftp://example.org/x: unknown store scheme ftp:// (a store is a directory, a file:// URL, http(s)://host/prefix or s3://bucket/prefix)"
    )
  })

  it("a remote store opened to read must be there: a prefix with no marker is StoreNotFound, nothing written", {
    skip: nginxMissing
  }, async () => {
    const prefix = nextPrefix()
    const cache = join(tmpdir(), `ouro-never-${process.pid}`)
    const e = await failure(Effect.scoped(openStore(`${nginx!.origin}/${prefix}`, "read", { cache })))
    assert.equal(e._tag, "StoreNotFound")
    assert.equal(fs.existsSync(cache), false)
    assert.equal(fs.existsSync(join(nginx!.data, prefix)), false)
  })

  it("an s3:// store with wrong keys is access denied, the keys never shown", async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY }
    process.env.AWS_ACCESS_KEY_ID = "WRONGKEYID"
    process.env.AWS_SECRET_ACCESS_KEY = "wrong-secret-value"
    try {
      const e = await failure(
        Effect.scoped(openStore(`s3://${s3!.bucket}/x`, "write", { cache: "/nonexistent/never" }))
      )
      assert.equal(e._tag, "StoreError")
      assert.match(e.message, /access denied/)
      assert.ok(!e.message.includes("WRONGKEYID") && !e.message.includes("wrong-secret-value"), e.message)
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret
    }
  })
})

export type { ArtifactStoreShape, RemoteStoreShape }

describe("an HTTP server that does not list (no PROPFIND)", { skip: nginxMissing }, () => {
  it("blobs, records and refs work; a listing is one StoreError saying why", async () => {
    const plain = await startNginx({ noListing: true })
    try {
      const { value: store, close } = await remoteOf(`${plain.origin}/p`)
      try {
        const { hash } = await run(store.putBlob(bytes("no listing needed")))
        assert.deepEqual(await run(store.getBlob(hash)), bytes("no listing needed"))
        await run(store.setRef("pipelines/x", hash))
        assert.deepEqual(await run(store.getRef("pipelines/x")), Option.some(hash))
        const listings: ReadonlyArray<Effect.Effect<unknown, StoreError>> = [
          store.listBlobs,
          store.listRecordKeys,
          store.listRefs("pipelines/")
        ]
        for (const listing of listings) {
          const e = await failure(listing)
          assert.equal(e._tag, "StoreError")
          assert.match(e.message, /does not list folders \(PROPFIND answered HTTP 405\)/)
        }
      } finally {
        close()
      }
    } finally {
      await plain.stop()
    }
  })
})

describe("the HTTP transport", () => {
  /** A server whose answers the test scripts: the nth request gets `answers[n]` (the last one from then on). */
  const scripted = async (answers: ReadonlyArray<number>) => {
    const { createServer } = await import("node:http")
    let n = 0
    const server = createServer((req, res) => {
      const status = answers[Math.min(n++, answers.length - 1)]
      res.writeHead(status, { "content-type": "application/octet-stream" })
      res.end(status === 200 ? JSON.stringify({ format: 1 }) : "")
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    return { origin: `http://127.0.0.1:${port}`, served: () => n, close: () => server.close() }
  }

  it("tries a 503 again, and opens once the server answers", async () => {
    const server = await scripted([503, 200])
    try {
      const { value: store, close } = await remoteOf(`${server.origin}/p`, "read")
      close()
      assert.equal(store.location, `${server.origin}/p`)
      assert.equal(server.served(), 2)
    } finally {
      server.close()
    }
  })

  it("a server that keeps answering 503 is one StoreError after three tries", async () => {
    const server = await scripted([503])
    try {
      const e = await failure(Effect.scoped(openStore(`${server.origin}/p`, "read", { cache: "/nonexistent/never" })))
      assert.equal(e._tag, "StoreError")
      assert.match(e.message, /HTTP 503 Service Unavailable to GET/)
      assert.equal(server.served(), 3)
    } finally {
      server.close()
    }
  })
})
