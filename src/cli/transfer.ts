/**
 * `ouro push <pipeline|run>` and `ouro pull <pipeline|run>`: copy a run's whole closure between the local store
 * (--cache, else .ouroboros) and a remote store (--store http(s)://… or s3://…). The closure: the run manifest,
 * every stage record it names, every blob those records name (outputs and inputs), and the refs of that run (the
 * pipeline's last-run ref where it names this run, its run-list entry, its nodes' refs, its source file, its pins).
 * Blobs go first, then records, then refs, so the other side never holds a record whose blobs are not there yet.
 * What the other side has is not copied again: one HEAD (or a look in the local store) per blob and record first.
 * Every blob read is hash-checked on the way (a corrupt one stops the copy with its URL; it is not passed on).
 */
import { existsSync } from "node:fs"
import { Effect, Option } from "effect"
import { NotFound, type OuroError, StoreError } from "../errors/index.ts"
import { readManifest, type RunManifest } from "../engine/manifest.ts"
import { nodeRefs, pinRef, pipelineRef, runRef, sourceRef } from "../engine/refs.ts"
import { isSha256, type Sha256 } from "../hash/index.ts"
import { loadPipeline } from "../pipeline/load.ts"
import { ArtifactStore, type ArtifactStoreShape } from "../store/ArtifactStore.ts"
import { makeLocalStore } from "../store/local.ts"
import { cacheRootOf, openLocal, openRemote, type OpenOptions, parseStoreSpec, redactSpec } from "../store/open.ts"
import type { StageRecord } from "../store/record.ts"
import type { RemoteStoreShape } from "../store/remote.ts"
import { runOf } from "./inspect.ts"

/** Requests in flight at once (blobs, then records, then refs: each phase finishes before the next starts). */
const CONCURRENCY = 8

export interface TransferCounts {
  readonly run: Sha256
  readonly pipeline: string
  readonly blobsSent: number
  readonly blobsSkipped: number
  readonly bytesSent: number
  readonly recordsSent: number
  readonly recordsSkipped: number
  readonly refs: number
  /** Requests made to the remote store. */
  readonly requests: number
}

/** One side of a copy: how to ask whether it has a blob or record, and how to add one it lacks. */
interface Side {
  readonly store: ArtifactStoreShape
  readonly hasBlob: (hash: Sha256) => Effect.Effect<boolean, StoreError>
  readonly addBlob: (bytes: Uint8Array) => Effect.Effect<unknown, StoreError>
  readonly hasRecord: (key: Sha256) => Effect.Effect<boolean, OuroError>
}

const remoteSide = (store: RemoteStoreShape): Side => ({
  store,
  hasBlob: (hash) => Effect.map(store.statBlob(hash), Option.isSome),
  addBlob: store.uploadBlob,
  hasRecord: store.hasRecord
})

const localSide = (store: ArtifactStoreShape): Side => ({
  store,
  hasBlob: store.hasBlob,
  addBlob: store.putBlob,
  // A record here that does not decode is replaced by the one being copied.
  hasRecord: (key) => store.getRecord(key).pipe(Effect.map(Option.isSome), Effect.orElseSucceed(() => false))
})

/** The run a command-line name denotes on `store`: a pipeline file, a pipeline's name (its last run), a run hash. */
const resolveRun = (store: ArtifactStoreShape, target: string) =>
  Effect.gen(function*() {
    const name = existsSync(target) && target.endsWith(".ts") ? (yield* loadPipeline(target)).name : target
    const run = yield* runOf(name).pipe(Effect.provideService(ArtifactStore, store))
    if (Option.isNone(run)) {
      return yield* new NotFound({
        what: target,
        detail: `no run by that hash, and no pipeline by that name, in ${store.location}`
      })
    }
    return run.value
  })

/** The refs of one run in `store`: only those that are about this run. */
const refsOf = (store: ArtifactStoreShape, hash: Sha256, manifest: RunManifest) =>
  Effect.gen(function*() {
    const name = manifest.pipeline
    const out: Array<{ readonly name: string; readonly value: string }> = []
    const take = (ref: string, keep: (value: string) => boolean) =>
      store.getRef(ref).pipe(Effect.map((v) => {
        if (Option.isSome(v) && keep(v.value)) out.push({ name: ref, value: v.value })
      }))
    yield* take(pipelineRef(name), (v) => v === hash)
    yield* take(runRef(name, hash), () => true)
    yield* take(sourceRef(name), () => true)
    for (const node of manifest.nodes) yield* take(`${nodeRefs(name)}${node.path}`, (v) => v === node.key)
    // Pins of this run; a remote that cannot list has none to offer.
    const pins = yield* store.listRefs(pinRef("")).pipe(Effect.orElseSucceed(() => []))
    for (const p of pins) if (p.value === hash) out.push(p)
    return out
  })

/** Copies the run `target` names in `from` to the side `open` opens (only once the run is found: a bad name writes nothing). */
const copyRun = <E>(from: Side, open: Effect.Effect<Side, E>, target: string, remote: RemoteStoreShape) =>
  Effect.gen(function*() {
    const before = remote.transport.stats.requests
    const { hash, manifest } = yield* resolveRun(from.store, target)
    const records: StageRecord[] = []
    const blobs = new Set<Sha256>([hash])
    const seen = new Set<Sha256>()
    for (const node of manifest.nodes) {
      if (seen.has(node.key)) continue
      seen.add(node.key)
      const record = yield* from.store.getRecord(node.key)
      if (Option.isNone(record)) {
        return yield* new NotFound({
          what: target,
          detail: `the record of ${node.path} (key ${node.key}) is not in ${from.store.location}: the run is incomplete`
        })
      }
      records.push(record.value)

      for (const out of Object.values(record.value.outputs)) blobs.add(out.hash)
      for (const [input, h] of Object.entries(record.value.inputs)) {
        if (!input.startsWith("external:") && isSha256(h)) blobs.add(h)
      }
    }
    const to = yield* open
    let blobsSent = 0
    let bytesSent = 0
    yield* Effect.forEach([...blobs], (blob) =>
      Effect.gen(function*() {
        if (yield* to.hasBlob(blob)) return
        const bytes = yield* from.store.getBlob(blob)
        yield* to.addBlob(bytes)
        blobsSent++
        bytesSent += bytes.byteLength
      }), { concurrency: CONCURRENCY, discard: true })
    let recordsSent = 0
    yield* Effect.forEach(records, (record) =>
      Effect.gen(function*() {
        if (yield* to.hasRecord(record.key)) return
        yield* to.store.putRecord(record)
        recordsSent++
      }), { concurrency: CONCURRENCY, discard: true })
    const refs = yield* refsOf(from.store, hash, manifest)
    yield* Effect.forEach(refs, (ref) =>
      Effect.gen(function*() {
        // The run list keeps the time the run first completed wherever it was: an entry already there stays.
        if (ref.name === runRef(manifest.pipeline, hash) && Option.isSome(yield* to.store.getRef(ref.name))) return
        yield* to.store.setRef(ref.name, ref.value)
      }), { concurrency: CONCURRENCY, discard: true })
    return {
      run: hash,
      pipeline: manifest.pipeline,
      blobsSent,
      blobsSkipped: blobs.size - blobsSent,
      bytesSent,
      recordsSent,
      recordsSkipped: records.length - recordsSent,
      refs: refs.length,
      requests: remote.transport.stats.requests - before
    } satisfies TransferCounts
  })

/** The remote a push or pull copies to or from: --store must name one. */
const remoteOf = (spec: string, mode: "read" | "write") =>
  Effect.gen(function*() {
    const parsed = yield* parseStoreSpec(spec)
    if (parsed._tag === "local") {
      return yield* new StoreError({
        path: redactSpec(spec),
        detail: "push and pull copy between the local store (--cache, else .ouroboros) and a remote --store " +
          "(http(s)://host/prefix or s3://bucket/prefix); this is a directory"
      })
    }
    return yield* openRemote(parsed, mode)
  })

export const push = (spec: string, target: string, options: OpenOptions) =>
  Effect.scoped(Effect.gen(function*() {
    // The remote first: an unreachable or refused one fails before anything else is opened.
    const remote = yield* remoteOf(spec, "write")
    const root = cacheRootOf(options.cache)
    // Pushing from a mistyped --cache is "no store at DIR", not an empty push.
    const local = yield* openLocal(root, "read")
    return yield* copyRun(localSide(local), Effect.succeed(remoteSide(remote)), target, remote)
  }))

export const pull = (spec: string, target: string, options: OpenOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const remote = yield* remoteOf(spec, "read")
    const local = makeLocalStore(cacheRootOf(options.cache)).pipe(Effect.map(localSide))
    return yield* copyRun(remoteSide(remote), local, target, remote)
  }))

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`

export const formatTransfer = (verb: "pushed" | "pulled", where: string, c: TransferCounts): string => {
  const blobs = c.blobsSent + c.blobsSkipped
  return [
    `${verb} run ${c.run} of pipeline ${c.pipeline} ${verb === "pushed" ? "to" : "from"} ${where}`,
    `  blobs: ${c.blobsSent} sent, ${c.blobsSkipped} already there (${mb(c.bytesSent)})`,
    `  records: ${c.recordsSent} sent, ${c.recordsSkipped} already there; refs: ${c.refs}`,
    `  requests: ${c.requests} (${blobs === 0 ? "0" : (c.requests / blobs).toFixed(2)} per blob)`
  ].join("\n")
}
