/**
 * Leases held in the cluster's PostgreSQL (src/cluster/leases.ts), on a private PostgreSQL on loopback: two
 * processes' worth of stores (two memory stores, whose own leases share nothing, each with its own pool: two
 * machines as far as the leases can tell) never hold one key at once; the waiter is told who holds it; a holder
 * killed with -9 frees its lease.
 */
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { hostname } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { layerClusterLeases, lockOf } from "../src/cluster/leases.ts"
import { layerPg } from "../src/cluster/postgres.ts"
import { sha256 } from "../src/hash/index.ts"
import { ArtifactStore, type Holder } from "../src/store/ArtifactStore.ts"
import { layerMemory } from "../src/store/memory.ts"
import { type PgServer, startPostgres } from "./support/postgres.ts"
import { ROOT } from "./support/cluster.ts"

let pg: PgServer

before(async () => {
  pg = await startPostgres()
})

after(() => pg?.stop())

/** A store like one machine's: a memory store (leases of its own) with leases in PostgreSQL, its own pool. */
const machine = (url: string) => layerClusterLeases.pipe(Layer.provide([layerMemory(), layerPg(url)]))

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

describe("cluster leases in PostgreSQL", { timeout: 120_000 }, () => {
  it("maps a key to the one-bigint advisory lock pg_locks shows", () => {
    const key = sha256("a stage")
    const { id, classid, objid } = lockOf(key)
    const n = BigInt.asUintN(64, BigInt(id))
    assert.equal(Number(n >> 32n), classid)
    assert.equal(Number(n & 0xffffffffn), objid)
  })

  it("two machines never hold one key at once; the waiter is told the holder; other keys do not wait", async () => {
    const url = pg.database("leases_two")
    const key = sha256("stage one")
    const other = sha256("stage two")
    const events: string[] = []
    const waitedFor: Holder[] = []
    await run(Effect.scoped(Effect.gen(function*() {
      const storeA = Context.get(yield* Layer.build(machine(url)), ArtifactStore)
      const storeB = Context.get(yield* Layer.build(machine(url)), ArtifactStore)

      const heldByA = yield* Scope.make()
      yield* storeA.lease(key).pipe(Scope.provide(heldByA))
      events.push("a holds")

      const bWaiting = yield* Deferred.make<void>()
      const bFiber = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        yield* storeB.lease(key, {
          onWait: (holder) =>
            Effect.andThen(Effect.sync(() => waitedFor.push(holder)), Deferred.succeed(bWaiting, void 0))
        })
        events.push("b holds")
      })))
      yield* Deferred.await(bWaiting)
      // Another key is free while the first is held.
      yield* Effect.scoped(storeB.lease(other)).pipe(Effect.timeout("5 seconds"))
      events.push("b held the other key")
      yield* Effect.sleep("1 second")
      events.push("a releases")
      yield* Scope.close(heldByA, Exit.void)
      yield* Fiber.join(bFiber).pipe(Effect.timeout("5 seconds"))
    })))
    assert.deepEqual(events, ["a holds", "b held the other key", "a releases", "b holds"])
    assert.equal(waitedFor.length, 1)
    assert.equal(waitedFor[0].pid, process.pid)
    assert.equal(waitedFor[0].host, hostname())
  })

  it("a process waiting for a lease can be stopped, and then holds nothing", async () => {
    const url = pg.database("leases_interrupt")
    const key = sha256("a stage waited for")
    await run(Effect.scoped(Effect.gen(function*() {
      const storeA = Context.get(yield* Layer.build(machine(url)), ArtifactStore)
      const storeB = Context.get(yield* Layer.build(machine(url)), ArtifactStore)
      const heldByA = yield* Scope.make()
      yield* storeA.lease(key).pipe(Scope.provide(heldByA))
      const waiting = yield* Deferred.make<void>()
      const b = yield* Effect.forkChild(
        Effect.scoped(storeB.lease(key, { onWait: () => Deferred.succeed(waiting, void 0).pipe(Effect.asVoid) }))
      )
      yield* Deferred.await(waiting)
      // Stopped while it waits: it ends at once.
      yield* Fiber.interrupt(b).pipe(Effect.timeout("2 seconds"))
      yield* Scope.close(heldByA, Exit.void)
      // B took nothing on its way out: A's machine gets the key straight back.
      yield* Effect.scoped(storeA.lease(key)).pipe(Effect.timeout("2 seconds"))
    })))
  })

  it("a holder killed with -9 frees its lease", async () => {
    const url = pg.database("leases_kill")
    const key = sha256("a stage whose holder dies")
    const child = spawn(process.execPath, [
      "--import",
      "tsx",
      join(ROOT, "test/fixtures/cluster/hold-lease.ts"),
      url,
      key
    ], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let err = ""
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d))
    const ended = new Promise<void>((resolve) => child.on("close", () => resolve()))
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (d: string) => d.includes("held") && resolve())
      child.on("close", () => reject(new Error(`the holder ended first: ${err}`)))
    })
    const waitedFor: Holder[] = []
    let killedAt = 0
    await run(Effect.scoped(Effect.gen(function*() {
      const store = Context.get(yield* Layer.build(machine(url)), ArtifactStore)
      yield* Effect.scoped(store.lease(key, {
        onWait: (holder) =>
          Effect.sync(() => {
            waitedFor.push(holder)
            killedAt = Date.now()
            child.kill("SIGKILL")
          })
      })).pipe(Effect.timeout("30 seconds"))
    })))
    await ended
    assert.equal(waitedFor.length, 1)
    assert.equal(waitedFor[0].pid, child.pid, "the waiter names the holder's pid")
    assert.ok(Date.now() - killedAt < 10_000, "the lease came free soon after the kill")
  })
})
