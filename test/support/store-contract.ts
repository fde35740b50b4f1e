/**
 * The contract every `ArtifactStore` keeps, as one suite run against each implementation (in the style of Effect's
 * own KeyValueStore tests): test/store-contract.test.ts runs it for the local directory store and the memory store,
 * and a remote store joins by adding one line there.
 */
import { strict as assert } from "node:assert"
import { afterEach, beforeEach, describe, it } from "node:test"
import { Deferred, Effect, Fiber, Option } from "effect"
import { sha256, type Sha256 } from "../../src/hash/index.ts"
import type { ArtifactStoreShape } from "../../src/store/ArtifactStore.ts"
import type { StageRecord } from "../../src/store/record.ts"

export interface StoreUnderTest {
  readonly store: ArtifactStoreShape
  /**
   * Changes one byte of a stored blob behind the store's back, keeping its size (bit rot). `sealKept`: whatever the
   * store keeps to make its cheap check cheap (the local store's mode and mtime) is put back too.
   */
  readonly rot: (hash: Sha256, sealKept: boolean) => void
  readonly close: () => void
}

const run = <A, E>(eff: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(eff)
const failure = <A, E>(eff: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(eff))
const bytes = (s: string) => new TextEncoder().encode(s)

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

export const storeContract = (name: string, open: () => Promise<StoreUnderTest>): void => {
  describe(`ArtifactStore contract: ${name}`, () => {
    let subject: StoreUnderTest
    let store: ArtifactStoreShape
    beforeEach(async () => {
      subject = await open()
      store = subject.store
    })
    afterEach(() => subject.close())

    it("putBlob is content-addressed and idempotent; getBlob returns the same bytes", async () => {
      const data = bytes("hello, store")
      const info = await run(store.putBlob(data))
      assert.equal(info.hash, sha256(data))
      assert.equal(info.bytes, data.byteLength)
      const again = await run(store.putBlob(data))
      assert.equal(again.hash, info.hash)
      assert.deepEqual(await run(store.getBlob(info.hash)), data)
      assert.equal(await run(store.hasBlob(info.hash)), true)
      assert.deepEqual((await run(store.listBlobs)).map((b) => [b.hash, b.bytes]), [[info.hash, data.byteLength]])
    })

    it("a caller cannot change stored bytes through a buffer it holds", async () => {
      const data = bytes("mutable")
      const { hash } = await run(store.putBlob(data))
      data[0] = 0
      const read = await run(store.getBlob(hash))
      read[1] = 0
      assert.deepEqual(await run(store.getBlob(hash)), bytes("mutable"))
    })

    it("a missing blob, or a name that is no hash, is ArtifactMissing", async () => {
      assert.equal(await run(store.hasBlob(sha256("absent"))), false)
      assert.equal((await failure(store.getBlob(sha256("absent"))))._tag, "ArtifactMissing")
      assert.equal((await failure(store.getBlob("not-a-hash")))._tag, "ArtifactMissing")
    })

    it("bit rot is ArtifactCorrupt, never a value; the bad blob is moved aside, and a new put restores it", async () => {
      const data = bytes("precious bytes")
      const { hash } = await run(store.putBlob(data))
      subject.rot(hash, true)
      const e = await failure(store.getBlob(hash))
      assert.equal(e._tag, "ArtifactCorrupt")
      assert.ok(e.message.includes(hash), e.message)
      assert.equal(await run(store.hasBlob(hash)), false, "the corrupt blob is quarantined")
      await run(store.putBlob(data))
      assert.deepEqual(await run(store.getBlob(hash)), data)
    })

    // checkBlob may trust a store's seal (that is what makes it cheap): a sealed rot is found by getBlob, above.
    it("checkBlob: ok, missing, mismatch (another size than the record says), corrupt once touched", async () => {
      const { hash, bytes: size } = await run(store.putBlob(bytes("checked")))
      assert.equal(await run(store.checkBlob(hash, size)), "ok")
      assert.equal(await run(store.checkBlob(hash, size + 1)), "mismatch")
      assert.equal(await run(store.checkBlob(sha256("absent"), 1)), "missing")
      subject.rot(hash, false)
      assert.equal(await run(store.checkBlob(hash, size)), "corrupt")
      assert.equal(await run(store.checkBlob(hash, size)), "missing", "quarantined by the first check")
    })

    it("records round-trip exactly; a missing one is none; keys are listed", async () => {
      const key = sha256("key-1")
      assert.deepEqual(await run(store.getRecord(key)), Option.none())
      const r = record(key)
      await run(store.putRecord(r))
      assert.deepEqual(await run(store.getRecord(key)), Option.some(r))
      await run(store.putRecord(record(sha256("key-2"))))
      assert.deepEqual([...(await run(store.listRecordKeys))].sort(), [key, sha256("key-2")].sort())
    })

    it("inventory lists what listBlobs, listRecordKeys and listStrays list, from one listing", async () => {
      const empty = await run(store.inventory)
      assert.deepEqual(empty, { blobs: [], records: [], strays: [] })
      for (const text of ["one", "two", "three"]) await run(store.putBlob(new TextEncoder().encode(text)))
      for (const k of ["k1", "k2"]) await run(store.putRecord(record(sha256(k))))
      const inventory = await run(store.inventory)
      const byHash = (a: { readonly hash: string }, b: { readonly hash: string }) => (a.hash < b.hash ? -1 : 1)
      assert.equal(inventory.blobs.length, 3)
      assert.deepEqual([...inventory.blobs].sort(byHash), [...(await run(store.listBlobs))].sort(byHash))
      assert.deepEqual([...inventory.records].sort(), [...(await run(store.listRecordKeys))].sort())
      assert.deepEqual([...inventory.records].sort(), [sha256("k1"), sha256("k2")].sort())
      assert.deepEqual(inventory.strays, await run(store.listStrays))
    })

    it("refs: set, get, overwrite, list by prefix in name order; a bad name is a StoreError", async () => {
      await run(store.setRef("pipelines/b", "2"))
      await run(store.setRef("pipelines/a", "1"))
      await run(store.setRef("nodes/x/g1", "3"))
      await run(store.setRef("pipelines/a", "1b"))
      assert.deepEqual(await run(store.getRef("pipelines/a")), Option.some("1b"))
      assert.deepEqual(await run(store.getRef("pipelines/none")), Option.none())
      assert.deepEqual(await run(store.listRefs("pipelines/")), [{ name: "pipelines/a", value: "1b" }, {
        name: "pipelines/b",
        value: "2"
      }])
      for (const bad of ["../escape", "a/../b", "", "a b", "/abs"]) {
        assert.equal((await failure(store.setRef(bad, "x")))._tag, "StoreError", bad)
      }
    })

    it("removeBlob and removeRecord remove exactly what they name", async () => {
      const a = await run(store.putBlob(bytes("a")))
      const b = await run(store.putBlob(bytes("b")))
      await run(store.putRecord(record(sha256("k"))))
      await run(store.removeBlob(a.hash))
      await run(store.removeRecord(sha256("k")))
      assert.equal(await run(store.hasBlob(a.hash)), false)
      assert.equal(await run(store.hasBlob(b.hash)), true)
      assert.deepEqual(await run(store.getRecord(sha256("k"))), Option.none())
    })

    it("a lease on a key is held by one holder at a time; the second waits, and is told whom it waits for", async () => {
      const key = sha256("leased")
      const order: string[] = []
      await run(Effect.gen(function*() {
        const held = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const first = yield* Effect.scoped(Effect.gen(function*() {
          yield* store.lease(key)
          order.push("first in")
          yield* Deferred.succeed(held, undefined)
          yield* Deferred.await(release)
          order.push("first out")
        })).pipe(Effect.forkChild)
        yield* Deferred.await(held)
        const waited: number[] = []
        const second = yield* Effect.scoped(Effect.gen(function*() {
          yield* store.lease(key, { onWait: (h) => Effect.sync(() => void waited.push(h.pid)) })
          order.push("second in")
        })).pipe(Effect.forkChild)
        yield* Effect.sleep("50 millis")
        assert.deepEqual(order, ["first in"], "the second holder got in while the first held the lease")
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(first)
        yield* Fiber.join(second)
        assert.deepEqual(order, ["first in", "first out", "second in"])
        assert.ok(waited.length >= 1, "onWait was not called")
      }))
    })

    it("a run registers for its scope; while the store is held exclusively, a run waits to register", async () => {
      await run(Effect.gen(function*() {
        assert.equal((yield* store.activeRuns).length, 0)
        yield* Effect.scoped(Effect.gen(function*() {
          yield* store.registerRun()
          assert.equal((yield* store.activeRuns).length, 1)
        }))
        assert.equal((yield* store.activeRuns).length, 0)

        const release = yield* Deferred.make<void>()
        const held = yield* Deferred.make<void>()
        const sweep = yield* Effect.scoped(Effect.gen(function*() {
          yield* store.exclusive
          yield* Deferred.succeed(held, undefined)
          yield* Deferred.await(release)
        })).pipe(Effect.forkChild)
        yield* Deferred.await(held)
        const registered = yield* Deferred.make<void>()
        const runner = yield* Effect.scoped(Effect.gen(function*() {
          yield* store.registerRun()
          yield* Deferred.succeed(registered, undefined)
        })).pipe(Effect.forkChild)
        yield* Effect.sleep("50 millis")
        assert.equal(yield* Deferred.isDone(registered), false, "a run registered while the store was held")
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(sweep)
        yield* Fiber.join(runner)
        assert.equal(yield* Deferred.isDone(registered), true)
      }))
    })
  })
}
