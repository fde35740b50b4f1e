/**
 * The CLI's cluster face: `ouro worker --cluster postgres://… --store S` (a runner that executes stage runs) and
 * the environment `ouro run --cluster postgres://…` runs a pipeline in (the executor here, stages on the workers).
 */
import { createServer } from "node:net"
import { homedir, hostname } from "node:os"
import { join } from "node:path"
import { Console, Effect, Layer, Option, References } from "effect"
import { Flag, GlobalFlag } from "effect/cli"
import { openSharedStore } from "../cluster/store.ts"
import { type OpenOptions, redactSpec } from "../store/open.ts"
import type { WorkerOptions } from "../cluster/worker.ts"
import { ouroborosVersion } from "../cluster/version.ts"
import { ClusterUnavailable } from "../errors/index.ts"
import { progressLayer } from "./progress.ts"

export const clusterFlag = Flag.String("cluster").pipe(
  Flag.withDescription(
    "Run the stages on the workers of this cluster: a PostgreSQL URL (postgres://user@host:port/db)"
  ),
  Flag.optional
)

/** Cluster log lines below this level are dropped unless --log-level says otherwise (they are the engine's, not ours). */
export const clusterLogLevel = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const level = yield* GlobalFlag.LogLevel
    return yield* body.pipe(
      Effect.provideService(References.MinimumLogLevel, Option.getOrElse(level, () => "Error" as const))
    )
  })

/** The environment of `ouro run --cluster`: the shared store, progress on stderr, stages on the cluster. */
export const clusterEnvironment = (
  store: string,
  options: OpenOptions,
  pipelineFile: string,
  cluster: string,
  quiet: boolean
) =>
  Layer.unwrap(Effect.map(
    // Loaded on demand, as are the other cluster modules: Effect's cluster, the PostgreSQL driver, the socket
    // transport and esbuild cost every other command's start-up.
    Effect.promise(() => import("../cluster/runner.ts")),
    ({ layerCluster }) =>
      Layer.provideMerge(
        layerCluster(
          { cluster, pipelineFile, store: redactSpec(store), timing: timingFromEnv() },
          openSharedStore(store, options)
        ),
        progressLayer({ quiet })
      )
  ))

/** One connection to the cluster's PostgreSQL and back: a bad URL fails here, before anything is written. */
export const probeCluster = (url: string) =>
  Effect.promise(() => import("../cluster/postgres.ts")).pipe(
    Effect.flatMap(({ layerPg }) => Effect.scoped(Layer.build(layerPg(url)))),
    Effect.asVoid
  )

const runWorker = (options: WorkerOptions) =>
  Effect.promise(() => import("../cluster/worker.ts")).pipe(Effect.flatMap((m) => m.runWorker(options)))

/** OURO_SHARD_LOCK_EXPIRATION_MS: how soon a dead worker's stages move (tests set it low). */
const timingFromEnv = () => {
  const ms = Number(process.env.OURO_SHARD_LOCK_EXPIRATION_MS)
  return Number.isFinite(ms) && ms > 0 ? { shardLockExpirationMs: ms } : {}
}

const freePort = (host: string) =>
  Effect.callback<number, ClusterUnavailable>((resume) => {
    const server = createServer()
    server.on("error", (e) =>
      resume(Effect.fail(new ClusterUnavailable({ url: `${host}:0`, detail: `cannot listen: ${e.message}` }))))
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() =>
        resume(Effect.succeed(port))
      )
    })
  })

const parseListen = (text: string): { host: string; port: number | undefined } | undefined => {
  const m = /^(.+?)(?::(\d+))?$/.exec(text)
  if (m === null) return undefined
  const port = m[2] === undefined ? undefined : Number(m[2])
  if (port !== undefined && (port < 0 || port > 65535)) return undefined
  return { host: m[1], port }
}

export const workerFlags = {
  cluster: Flag.String("cluster").pipe(
    Flag.withDescription("The cluster's PostgreSQL URL (postgres://user@host:port/db)")
  ),
  listen: Flag.String("listen").pipe(
    Flag.withDescription("host[:port] the other processes reach this worker at (default 127.0.0.1 and a free port)"),
    Flag.withDefault("127.0.0.1")
  ),
  name: Flag.String("name").pipe(Flag.withDescription("This worker's name in logs (default host-pid)"), Flag.optional),
  jobs: Flag.Int("jobs").pipe(
    Flag.filter((n) => n >= 1, (n) => `--jobs takes 1 or more (got ${n})`),
    Flag.withDescription("Stages computed at once, each on its own worker thread"),
    Flag.withDefault(1)
  ),
  codeCache: Flag.String("code-cache").pipe(
    Flag.withDescription("Where code artifacts are unpacked (default ~/.cache/ouroboros/code)"),
    Flag.optional
  ),
  shardLockExpiration: Flag.Int("shard-lock-expiration").pipe(
    Flag.withDescription("Seconds after which a dead worker's stages move to the others (default 35)"),
    Flag.optional
  )
}

export const runWorkerCommand = (a: {
  readonly cluster: string
  readonly store: string
  readonly listen: string
  readonly name: Option.Option<string>
  readonly jobs: number
  readonly codeCache: Option.Option<string>
  /** The local cache in front of a remote store (the global --cache). */
  readonly storeCache: string | undefined
  readonly shardLockExpiration: Option.Option<number>
}) =>
  Effect.gen(function*() {
    const listen = parseListen(a.listen)
    if (listen === undefined) {
      return yield* new ClusterUnavailable({ url: a.cluster, detail: `--listen ${a.listen}: write host[:port]` })
    }
    yield* probeCluster(a.cluster)
    const port = listen.port ?? (yield* freePort(listen.host))
    const name = Option.getOrElse(a.name, () => `${hostname()}-${process.pid}`)
    const cacheDir = Option.getOrElse(
      a.codeCache,
      () => join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "ouroboros", "code")
    )
    const seconds = Option.getOrUndefined(a.shardLockExpiration)
    const timing = seconds === undefined ? timingFromEnv() : { shardLockExpirationMs: seconds * 1000 }
    const log = (line: string) => void process.stdout.write(`[${name}] ${line}\n`)
    yield* Console.log(
      `[${name}] ouroboros ${ouroborosVersion()} worker on ${listen.host}:${port}, store ${a.store}, ${a.jobs} job(s)`
    )
    return yield* runWorker({
      cluster: a.cluster,
      store: a.store,
      storeCache: a.storeCache,
      name,
      listen: { host: listen.host, port },
      jobs: a.jobs,
      cacheDir,
      timing,
      log
    })
  })
