/**
 * `verify`: an audit of the whole store. Every blob is re-hashed, every stage record decoded, and every reference
 * (a record's inputs and outputs, the engine's node and pipeline refs) checked to point at something that exists.
 * Problems are collected, not raised: one bad blob or stray entry must not hide the next. Only an unreadable store
 * fails.
 */
import { Effect, Option } from "effect"
import type { StoreError } from "../errors/index.ts"
import { pipelineRef } from "../engine/refs.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import type { StageRecord } from "../store/record.ts"

export interface VerifyProblemCorrupt {
  /** `entry`: something in the store's folders that is no blob or record (its id is its path in the store). */
  readonly what: "blob" | "record" | "entry"
  readonly id: string
  readonly detail: string
}

export interface VerifyProblemMissing {
  /** `record <key>` or `ref <name>`. */
  readonly referrer: string
  readonly hash: string
  /** `input <name>`, `output <name>`, `node ref` or `pipeline ref`. */
  readonly role: string
}

export interface VerifyReport {
  readonly blobs: number
  readonly records: number
  readonly refs: number
  readonly corrupt: Array<VerifyProblemCorrupt>
  readonly missing: Array<VerifyProblemMissing>
}

/** Node refs: `nodes/<pipeline>/<path>` → a stage key (see engine/refs.ts). */
const NODE_REFS = "nodes/"

const isExternal = (input: string) => input.startsWith("external:")

type Outcome<A> = { readonly _tag: "ok"; readonly value: A } | { readonly _tag: "bad"; readonly detail: string }

export const verify: Effect.Effect<VerifyReport, StoreError, ArtifactStore> = Effect.gen(function*() {
  const store = yield* ArtifactStore
  const corrupt: VerifyProblemCorrupt[] = []
  const missing: VerifyProblemMissing[] = []

  const blobs = yield* store.listBlobs
  // A corrupt blob still exists: references to it are not "missing", the blob itself is reported as corrupt.
  const blobSet = new Set(blobs.map((b) => b.hash))
  for (const blob of blobs) {
    const outcome = yield* store.getBlob(blob.hash).pipe(
      Effect.as<Outcome<null>>({ _tag: "ok", value: null }),
      Effect.catchTag("ArtifactCorrupt", (e) => Effect.succeed<Outcome<null>>({ _tag: "bad", detail: e.detail })),
      // Listed but not where its hash says it lives (a misplaced file): not a usable blob.
      Effect.catchTag("ArtifactMissing", (e) => Effect.succeed<Outcome<null>>({ _tag: "bad", detail: `listed but cannot be read: ${e.message}` }))
    )
    if (outcome._tag === "bad") corrupt.push({ what: "blob", id: blob.hash, detail: outcome.detail })
  }

  // Entries the listings skipped (a stray file, a symbolic link to nothing): each one reported, none stopping the rest.
  for (const stray of yield* store.listStrays) corrupt.push({ what: "entry", id: stray.path, detail: stray.detail })

  const keys = yield* store.listRecordKeys
  const keySet = new Set(keys)
  const records: StageRecord[] = []
  for (const key of keys) {
    const outcome = yield* store.getRecord(key).pipe(
      Effect.map((r): Outcome<StageRecord> =>
        Option.isSome(r) ? { _tag: "ok", value: r.value } : { _tag: "bad", detail: "listed but cannot be read at its path" }
      ),
      Effect.catchTag("ArtifactCorrupt", (e) => Effect.succeed<Outcome<StageRecord>>({ _tag: "bad", detail: e.detail }))
    )
    if (outcome._tag === "bad") corrupt.push({ what: "record", id: key, detail: outcome.detail })
    else records.push(outcome.value)
  }

  for (const record of records) {
    const referrer = `record ${record.key}`
    for (const [name, out] of Object.entries(record.outputs).sort(byName)) {
      if (!blobSet.has(out.hash)) missing.push({ referrer, hash: out.hash, role: `output ${name}` })
    }
    for (const [name, hash] of Object.entries(record.inputs).sort(byName)) {
      // External inputs are fingerprints of files outside the store, not blobs.
      if (!isExternal(name) && !blobSet.has(hash)) missing.push({ referrer, hash, role: `input ${name}` })
    }
  }

  const nodeRefs = yield* store.listRefs(NODE_REFS)
  for (const ref of nodeRefs) {
    if (!keySet.has(ref.value)) missing.push({ referrer: `ref ${ref.name}`, hash: ref.value, role: "node ref" })
  }
  const runRefs = yield* store.listRefs(pipelineRef(""))
  for (const ref of runRefs) {
    if (!blobSet.has(ref.value)) missing.push({ referrer: `ref ${ref.name}`, hash: ref.value, role: "pipeline ref" })
  }

  return {
    blobs: blobs.length,
    records: keys.length,
    refs: nodeRefs.length + runRefs.length,
    corrupt,
    missing
  } satisfies VerifyReport
})

const byName = <A>(a: readonly [string, A], b: readonly [string, A]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)

export const isClean = (r: VerifyReport): boolean => r.corrupt.length === 0 && r.missing.length === 0

/** One line per problem, then a summary line. */
export const formatVerifyReport = (r: VerifyReport): string =>
  [
    ...r.corrupt.map((c) => `corrupt ${c.what} ${c.id}: ${c.detail}`),
    ...r.missing.map((m) => `missing ${m.hash}: ${m.role} of ${m.referrer}`),
    `verified ${r.blobs} blobs, ${r.records} records, ${r.refs} refs: ${r.corrupt.length} corrupt, ${r.missing.length} missing`
  ].join("\n")
