/**
 * Leases that hold across machines: when a cluster is in use, a stage key's lease is also a PostgreSQL advisory lock
 * in the cluster's database, so two processes on different machines (each with its own local cache in front of a
 * shared remote store) never compute one key at once. The store's own lease is taken first (it orders the fibers
 * and processes of this machine: advisory locks are re-entrant within one session, so they cannot), then the
 * advisory lock. All of a process's locks live on one reserved session: PostgreSQL ends it, and so frees every lock
 * it held, when the process dies (kill -9 closes its socket), and the pool is not drained by many stages in flight.
 * Who holds a lock is read from PostgreSQL's own views (pg_locks, pg_stat_activity's application_name).
 * A session that breaks (the server restarted) takes its locks with it, and the next statement opens a new one: a
 * lease held then stops excluding. A stage is a pure function of its key, so the cost is at worst a stage computed
 * twice, never a wrong record.
 */
import { hostname } from "node:os"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Scope, Semaphore } from "effect"
import type { SqlConnection } from "effect/sql"
import { describe, StoreError } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import { ArtifactStore, type ArtifactStoreShape, type Holder, type WaitOptions } from "../store/ArtifactStore.ts"

/** How often a waiting process asks again (a lock's release is not announced). */
const POLL = "250 millis"

/**
 * A key's advisory lock: the first 64 bits of the stage key, as PostgreSQL's one-bigint form (pg_locks shows it
 * as classid = high 32 bits, objid = low 32 bits, objsubid = 1; Effect's shard locks use the two-int form, a
 * separate space).
 */
export const lockOf = (key: Sha256) => ({
  id: BigInt.asIntN(64, BigInt(`0x${key.slice(0, 16)}`)).toString(),
  classid: Number.parseInt(key.slice(0, 8), 16),
  objid: Number.parseInt(key.slice(8, 16), 16)
})

/** What this process calls itself in pg_stat_activity (at most 63 bytes: PostgreSQL cuts longer names). */
const applicationName = (self: Holder) => `ouro-lease ${self.pid} ${self.startedMs} ${self.host}`.slice(0, 63)

const parseHolder = (name: unknown): Holder | undefined => {
  const m = typeof name === "string" ? /^ouro-lease (\d+) (\d+) (.*)$/.exec(name) : null
  return m === null ? undefined : { pid: Number(m[1]), startedMs: Number(m[2]), host: m[3] }
}

/** `store` with leases that also hold in PostgreSQL (the cluster's `client`), for the scope of the layer. */
export const withClusterLeases = (
  store: ArtifactStoreShape,
  client: PgClient.PgClient
): Effect.Effect<ArtifactStoreShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const self: Holder = { pid: process.pid, host: hostname(), startedMs: Date.now() }
    // One statement at a time on the session; the session itself is opened on first use and kept.
    const turn = yield* Semaphore.make(1)
    let session: SqlConnection.Connection | undefined

    const failure = (detail: string) => (e: unknown) =>
      new StoreError({
        path: store.location,
        detail: `${detail} in the cluster's PostgreSQL: ${describe(e)}`,
        cause: e
      })

    const open = Effect.gen(function*() {
      if (session !== undefined) return session
      const conn = yield* client.reserve.pipe(Scope.provide(scope))
      yield* conn.executeRaw("SELECT set_config('application_name', $1, false)", [applicationName(self)])
      session = conn
      return conn
    })

    /** One statement on the session; a session that failed is dropped, and the statement tried once on a new one. */
    const query = (sql: string, params: ReadonlyArray<unknown>) =>
      turn.withPermits(1)(
        Effect.flatMap(open, (conn) => conn.executeValues(sql, params)).pipe(
          Effect.tapError(() => Effect.sync(() => (session = undefined)))
        )
      ).pipe(Effect.retry({ times: 1 }))

    const holderOf = (key: Sha256) => {
      const lock = lockOf(key)
      return query(
        `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = $1 AND l.objid = $2`,
        [lock.classid, lock.objid]
      ).pipe(Effect.map((rows) => Option.fromNullishOr(parseHolder(rows[0]?.[0]))))
    }

    // A release that fails needs nothing more: the lock went with the session that failed.
    const release = (key: Sha256) =>
      query("SELECT pg_advisory_unlock($1::bigint)", [lockOf(key).id]).pipe(Effect.ignore)

    /**
     * Takes the key's lock for the scope, asking again every POLL while another process holds it. The ask and the
     * finalizer that releases a lock it got are one uninterruptible step; the waiting between asks is
     * interruptible, so a run stopped (Ctrl-C) while it waits stops at once and holds nothing.
     */
    const hold = (key: Sha256, options: WaitOptions | undefined) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const { id } = lockOf(key)
          let told: string | undefined
          while (true) {
            const rows = yield* query("SELECT pg_try_advisory_lock($1::bigint)", [id])
            if (rows[0]?.[0] === true) return yield* Effect.addFinalizer(() => release(key))
            yield* restore(Effect.gen(function*() {
              if (options?.onWait !== undefined) {
                const holder = yield* holderOf(key)
                // Told once per holder, as the local store's waiting says.
                if (Option.isSome(holder) && told !== `${holder.value.host}:${holder.value.pid}`) {
                  told = `${holder.value.host}:${holder.value.pid}`
                  yield* options.onWait(holder.value)
                }
              }
              yield* Effect.sleep(POLL)
            }))
          }
        })
      ).pipe(Effect.mapError(failure("cannot take the lease")))

    const lease = (key: Sha256, options?: WaitOptions) => Effect.andThen(store.lease(key, options), hold(key, options))

    return { ...store, lease }
  })

/** The store of the layer below, with its leases held in the cluster's PostgreSQL too. */
export const layerClusterLeases: Layer.Layer<ArtifactStore, never, ArtifactStore | PgClient.PgClient> = Layer.effect(
  ArtifactStore,
  Effect.gen(function*() {
    return yield* withClusterLeases(yield* ArtifactStore, yield* PgClient.PgClient)
  })
)
