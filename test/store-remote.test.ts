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
