/**
 * The cluster's storage: one PostgreSQL database (its URL given by `--cluster postgres://…`) holding Effect's
 * cluster tables (runners, shard locks, messages, replies: workflow and Activity results) and carrying the
 * workers' progress notes (LISTEN/NOTIFY). Opened here, checked with one query, its failures one clear line that
 * never shows the password.
 */
import { NodeClusterSocket } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { ClusterWorkflowEngine, RunnerAddress } from "effect/cluster"
import { ClusterUnavailable, describe } from "../errors/index.ts"

/** The URL as it may be shown: without its password. */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password !== "") u.password = "***"
    return u.toString()
  } catch {
    return "(an unparsable URL)"
  }
}

const causeText = (e: unknown): string => {
  const parts: string[] = []
  let cur: unknown = e
  for (let depth = 0; cur !== undefined && cur !== null && depth < 6; depth++) {
    const text = describe(cur)
    if (text !== "" && !parts.includes(text)) parts.push(text)
    cur = typeof cur === "object" && "cause" in cur ? (cur as { cause: unknown }).cause : undefined
  }
  return parts.join(": ")
}

/** What went wrong connecting, in words (the driver's message, without the URL's password). */
const explain = (url: string, e: unknown): string => {
  // The innermost message says what happened ("connect ECONNREFUSED 127.0.0.1:1"); the wrappers only repeat it.
  const chain = causeText(e).split(": ")
  const text = chain.slice(-1)[0] ?? ""
  const password = (() => {
    try {
      return decodeURIComponent(new URL(url).password)
    } catch {
      return ""
    }
  })()
  const clean = password === "" ? text : text.split(password).join("***")
  if (/ECONNREFUSED/i.test(clean)) return `cannot reach PostgreSQL (connection refused): ${clean}`
  if (/password|authentication/i.test(clean)) return `PostgreSQL refused the login: ${clean}`
  if (/timed? ?out/i.test(clean)) return `cannot reach PostgreSQL (timed out): ${clean}`
  return `cannot use PostgreSQL: ${clean}`
}

export const checkClusterUrl = (url: string): Effect.Effect<void, ClusterUnavailable> => {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  if (parsed === undefined || (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")) {
    return Effect.fail(
      new ClusterUnavailable({
        url: redactUrl(url),
        detail: "not a PostgreSQL URL (write postgres://user[:password]@host[:port]/database)"
      })
    )
  }
  return Effect.void
}

/** Any failure building the cluster's layers, as the one error a user sees. */
const asUnavailable = (url: string) => (e: unknown): ClusterUnavailable =>
  e instanceof ClusterUnavailable
    ? e
    : new ClusterUnavailable({ url: redactUrl(url), detail: explain(url, e), cause: e })

/** A layer whose every typed failure is mapped by `f` (Layer has no mapError). */
const mapLayerError = <E, E2>(f: (e: E) => E2) => <A, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E2, R> =>
  Layer.catchCause(layer, (cause) => Layer.effectDiscard(Effect.mapError(Effect.failCause(cause), f))) as Layer.Layer<
    A,
    E2,
    R
  >

/** A PostgreSQL client for the cluster, checked with `SELECT 1` before anything uses it. */
export const layerPg = (url: string, connectTimeout: Duration.Input = "10 seconds") =>
  PgClient.layerFrom(
    Effect.gen(function*() {
      yield* checkClusterUrl(url)
      const client = yield* PgClient.make({
        url: Redacted.make(url),
        connectTimeout,
        applicationName: "ouroboros",
        maxConnections: 16
      })
      yield* client`SELECT 1`.pipe(
        Effect.timeoutOrElse({
          duration: Duration.sum(Duration.fromInputUnsafe(connectTimeout), Duration.seconds(1)),
          orElse: () => Effect.fail(new Error("timed out"))
        })
      )
      return client
    }).pipe(Effect.mapError(asUnavailable(url)))
  )

/** How fast a runner that stops (kill -9) loses its shards to the others. */
export interface ClusterTiming {
  /** Default 35 s (Effect's): a dead runner's stages move after this long. */
  readonly shardLockExpirationMs?: number
}

const shardingConfig = (timing: ClusterTiming) =>
  timing.shardLockExpirationMs === undefined ? {} : {
    shardLockExpiration: Duration.millis(timing.shardLockExpirationMs),
    shardLockRefreshInterval: Duration.millis(Math.max(250, Math.floor(timing.shardLockExpirationMs / 4))),
    refreshAssignmentsInterval: Duration.millis(Math.max(500, Math.floor(timing.shardLockExpirationMs / 3)))
  }

/** A runner (a worker): it holds shards, so workflows run here; it listens on `host:port` for the others. */
export const layerRunnerEngine = (
  url: string,
  listen: { readonly host: string; readonly port: number },
  timing: ClusterTiming
) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(NodeClusterSocket.layer({
      storage: "sql",
      shardingConfig: {
        ...shardingConfig(timing),
        runnerAddress: Option.some(RunnerAddress.make(listen.host, listen.port))
      }
    })),
    Layer.provideMerge(layerPg(url)),
    mapLayerError(asUnavailable(url))
  )

/** A client (the submitter): it sends workflows to the runners and reads their results; it runs none. */
export const layerClientEngine = (url: string, timing: ClusterTiming = {}) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      NodeClusterSocket.layer({ clientOnly: true, storage: "sql", shardingConfig: shardingConfig(timing) })
    ),
    Layer.provideMerge(layerPg(url)),
    mapLayerError(asUnavailable(url))
  )
