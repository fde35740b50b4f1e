/**
 * Opening a store from what a user types (`--store`, OURO_STORE): a directory path or `file://` URL (the local
 * store), `http(s)://host/prefix` (an HTTP remote cache) or `s3://bucket/prefix` (S3), in one of the modes the CLI
 * uses. A remote one is opened behind a local cache (`.ouroboros`, or --cache DIR / OURO_CACHE): see cached.ts.
 * The one function every process that needs the store calls: the CLI, stage worker threads, cluster runners.
 *
 * Modes: "read": the store must exist (a marker there), opened read-only (a remote one: nothing is written to it;
 * the cache still fills); "peek": read-only, and a store not made yet reads as empty (plan); "update": it must exist,
 * and is writable (gc --apply, pin); "write": it is made on the first write (run).
 * A remote store is asked for its marker before anything is opened or created here: an unreachable server, a
 * refused password or a prefix that holds no store fails first, with nothing written anywhere.
 */
import { fileURLToPath } from "node:url"
import { Effect, Layer, type Scope } from "effect"
import { type NotAStore, StoreError, StoreNotFound } from "../errors/index.ts"
import { ArtifactStore, type ArtifactStoreShape } from "./ArtifactStore.ts"
import { makeCachedStore } from "./cached.ts"
import { httpLocation, type HttpTarget, makeHttpTransport, parseHttpUrl } from "./http.ts"
import { makeLocalStore, recognise } from "./local.ts"
import { makeRemoteStore, probeRemote, type RemoteStoreShape, type RemoteTransport } from "./remote.ts"
import { makeS3Transport, parseS3Url, s3Location, type S3Target } from "./s3.ts"

export type StoreMode = "read" | "peek" | "update" | "write"

export type StoreSpec =
  | { readonly _tag: "local"; readonly root: string }
  | { readonly _tag: "http"; readonly target: HttpTarget; readonly location: string }
  | { readonly _tag: "s3"; readonly target: S3Target; readonly location: string }

export interface OpenOptions {
  /** The local cache in front of a remote store (default: OURO_CACHE, else `.ouroboros`). */
  readonly cache?: string | undefined
}

/** The default store, and the default cache in front of a remote one. */
export const DEFAULT_STORE = ".ouroboros"

/** The store a command uses: its --store flag, else OURO_STORE, else `.ouroboros`. */
export const storeSpecOf = (flag: string | undefined): string => flag ?? (process.env.OURO_STORE || DEFAULT_STORE)

/** The cache in front of a remote store: --cache, else OURO_CACHE, else `.ouroboros`. */
export const cacheRootOf = (flag: string | undefined): string => flag ?? (process.env.OURO_CACHE || DEFAULT_STORE)

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

/** A spec as it may be shown: any `user:password@` taken out. */
export const redactSpec = (spec: string): string => spec.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@]*@/, "$1")

/** Is this a remote store's spec (a cache in front, no local leases across machines)? */
export const isRemoteSpec = (spec: string): boolean => /^(https?|s3):\/\//i.test(spec)

export const parseStoreSpec = (spec: string): Effect.Effect<StoreSpec, StoreError> =>
  Effect.suspend(() => {
    const scheme = SCHEME.exec(spec)?.[1]?.toLowerCase()
    const bad = (detail: string) => Effect.fail(new StoreError({ path: redactSpec(spec), detail }))
    if (scheme === undefined) return Effect.succeed<StoreSpec>({ _tag: "local", root: spec })
    if (scheme === "file") {
      try {
        return Effect.succeed<StoreSpec>({ _tag: "local", root: fileURLToPath(spec) })
      } catch (e) {
        return bad(`not a file URL of a directory: ${e instanceof Error ? e.message : String(e)}`)
      }
    }
    if (scheme === "http" || scheme === "https") {
      const target = parseHttpUrl(spec)
      return typeof target === "string"
        ? bad(target)
        : Effect.succeed<StoreSpec>({ _tag: "http", target, location: httpLocation(target.base) })
    }
    if (scheme === "s3") {
      const target = parseS3Url(spec)
      return typeof target === "string"
        ? bad(target)
        : Effect.succeed<StoreSpec>({ _tag: "s3", target, location: s3Location(target) })
    }
    return bad(
      `unknown store scheme ${scheme}:// (a store is a directory, a file:// URL, http(s)://host/prefix or s3://bucket/prefix)`
    )
  })

/** The transport of a remote spec. */
const transportOf = (spec: StoreSpec & { readonly _tag: "http" | "s3" }) =>
  spec._tag === "http" ? Effect.succeed(makeHttpTransport(spec.target)) : makeS3Transport(spec.target)

/**
 * A remote store by itself, without a cache (what push and pull copy to and from, and the store contract tests).
 * "read"/"update" require a store there; "read"/"peek" open it read-only.
 */
export const openRemote = (
  spec: StoreSpec & { readonly _tag: "http" | "s3" },
  mode: StoreMode
): Effect.Effect<RemoteStoreShape, StoreError | StoreNotFound, Scope.Scope> =>
  Effect.gen(function*() {
    const transport: RemoteTransport = yield* transportOf(spec)
    const probed = yield* probeRemote(transport)
    if (probed === "empty" && (mode === "read" || mode === "update")) {
      return yield* new StoreNotFound({ path: transport.location })
    }
    return yield* makeRemoteStore(transport, { readOnly: mode === "read" || mode === "peek", probed })
  })

/** A local store in `mode` ("read"/"update": it must be there; "read"/"peek": read-only). */
export const openLocal = (root: string, mode: StoreMode) =>
  Effect.gen(function*() {
    if (mode === "read" || mode === "update") {
      // Checked before opening: opening a local store creates its folders, and a mistyped --store must not
      // become a new, empty store called clean.
      if ((yield* recognise(root)) !== "store") return yield* new StoreNotFound({ path: root })
    }
    return yield* makeLocalStore(root, { readOnly: mode === "read" || mode === "peek" })
  })

/** Opens the store `spec` names, in `mode`; a remote one behind its local cache. */
export const openStore = (
  spec: string,
  mode: StoreMode,
  options: OpenOptions = {}
): Effect.Effect<ArtifactStoreShape, StoreError | NotAStore | StoreNotFound, Scope.Scope> =>
  Effect.gen(function*() {
    const parsed = yield* parseStoreSpec(spec)
    if (parsed._tag === "local") return yield* openLocal(parsed.root, mode)
    const remote = yield* openRemote(parsed, mode)
    // The cache is a cache: written whatever the mode (a reading command fills it too), made if need be.
    const local = yield* makeLocalStore(cacheRootOf(options.cache))
    return makeCachedStore(local, remote, { readOnly: mode === "read" || mode === "peek" })
  })

export const layerStore = (
  spec: string,
  mode: StoreMode,
  options: OpenOptions = {}
): Layer.Layer<ArtifactStore, StoreError | NotAStore | StoreNotFound> =>
  Layer.effect(ArtifactStore, openStore(spec, mode, options))
