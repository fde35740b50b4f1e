/**
 * `verify`: an audit of the whole store. Every blob is re-hashed, every stage record decoded, and every reference
 * (a record's inputs and outputs, the engine's node and pipeline refs) checked to point at something that exists.
 * A record is also checked against what can be known without recomputing it: its key is the hash of its key
 * material (kind, version, params, inputs, env), each output is the size it says, and each output's bytes decode
 * as the artifact kind it declares (for the kinds verify knows: the built-in ones, and any passed to verifyWith).
 * Problems are collected, not raised: one bad blob or stray entry must not hide the next. Only an unreadable store
 * fails.
 */
import { Effect, Option } from "effect"
import { Corpus, Curves, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { Files } from "../artifact/files.ts"
import { Log } from "../artifact/log.ts"
import { Model } from "../artifact/model.ts"
import type { StoreError } from "../errors/index.ts"
import { describe } from "../errors/index.ts"
import { recordKey } from "../engine/key.ts"
import { pinRef, pipelineRef } from "../engine/refs.ts"
import type { Sha256 } from "../hash/index.ts"
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
  /** `input <name>`, `output <name>`, `node ref`, `pipeline ref` or `pin`. */
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

/** An artifact kind as verify needs it: its name (a record output's `artifact`) and its decoding. */
export interface VerifiableKind {
  readonly name: string
  /** Throws an Error saying what is wrong with the bytes. */
  decode(bytes: Uint8Array): unknown
}

/** The artifact kinds of ouroboros' own stages. */
export const builtinKinds: ReadonlyArray<VerifiableKind> = [Corpus, Tokenizer, Metrics, Curves, Model, Files, Log]

export interface VerifyOptions {
  /** Kinds beyond the built-in ones (a user's stages'); outputs of a kind verify does not know are not decoded. */
  readonly kinds?: ReadonlyArray<VerifiableKind>
}

export const verifyWith = (options: VerifyOptions = {}): Effect.Effect<VerifyReport, StoreError, ArtifactStore> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const kinds = new Map([...builtinKinds, ...(options.kinds ?? [])].map((k) => [k.name, k]))
    const blobProblems: VerifyProblemCorrupt[] = []
    const recordProblems: VerifyProblemCorrupt[] = []
    const missing: VerifyProblemMissing[] = []

    const keys = yield* store.listRecordKeys
    const keySet = new Set(keys)
    const records: StageRecord[] = []
    for (const key of keys) {
      const outcome = yield* store.getRecord(key).pipe(
        Effect.map((r): Outcome<StageRecord> =>
          Option.isSome(r)
            ? { _tag: "ok", value: r.value }
            : { _tag: "bad", detail: "listed but cannot be read at its path" }
        ),
        Effect.catchTag(
          "ArtifactCorrupt",
          (e) => Effect.succeed<Outcome<StageRecord>>({ _tag: "bad", detail: e.detail })
        )
      )
      if (outcome._tag === "bad") recordProblems.push({ what: "record", id: key, detail: outcome.detail })
      else records.push(outcome.value)
    }
    // The kinds each blob is declared as by some record, so that it is decoded while its bytes are in hand.
    const declared = new Map<Sha256, Set<string>>()
    for (const record of records) {
      for (const out of Object.values(record.outputs)) {
        if (!kinds.has(out.artifact)) continue
        const set = declared.get(out.hash) ?? new Set<string>()
        declared.set(out.hash, set.add(out.artifact))
      }
    }

    const blobs = yield* store.listBlobs
    // A corrupt blob still exists: references to it are not "missing", the blob itself is reported as corrupt.
    const blobSet = new Set(blobs.map((b) => b.hash))
    const sizes = new Map(blobs.map((b) => [b.hash, b.bytes]))
    /** `kind:hash` → why those bytes do not decode as that kind (absent: they do, or were not tried). */
    const undecodable = new Map<string, string>()
    /** Blobs reported corrupt: what a record says of one (its size, its kind) cannot be checked against it. */
    const bad = new Set<string>()
    for (const blob of blobs) {
      const outcome = yield* store.getBlob(blob.hash).pipe(
        Effect.map((bytes): Outcome<Uint8Array> => ({ _tag: "ok", value: bytes })),
        Effect.catchTag(
          "ArtifactCorrupt",
          (e) => Effect.succeed<Outcome<Uint8Array>>({ _tag: "bad", detail: e.detail })
        ),
        // Listed but not where its hash says it lives (a misplaced file): not a usable blob.
        Effect.catchTag(
          "ArtifactMissing",
          (e) => Effect.succeed<Outcome<Uint8Array>>({ _tag: "bad", detail: `listed but cannot be read: ${e.message}` })
        )
      )
      if (outcome._tag === "bad") {
        blobProblems.push({ what: "blob", id: blob.hash, detail: outcome.detail })
        bad.add(blob.hash)
        continue
      }
      for (const kind of declared.get(blob.hash) ?? []) {
        try {
          kinds.get(kind)!.decode(outcome.value)
        } catch (e) {
          undecodable.set(`${kind}:${blob.hash}`, describe(e))
        }
      }
    }

    // Entries the listings skipped (a stray file, a symbolic link to nothing): each one reported, none stopping the rest.
    const strays = (yield* store.listStrays).map((s): VerifyProblemCorrupt => ({
      what: "entry",
      id: s.path,
      detail: s.detail
    }))

    for (const record of records) {
      const referrer = `record ${record.key}`
      const wrong: string[] = []
      let key: string
      try {
        key = recordKey(record)
      } catch (e) {
        key = `(none: ${describe(e)})`
      }
      if (key !== record.key) wrong.push(`its contents hash to ${key}, not its key`)
      for (const [name, out] of Object.entries(record.outputs).sort(byName)) {
        if (!blobSet.has(out.hash)) {
          missing.push({ referrer, hash: out.hash, role: `output ${name}` })
          continue
        }
        if (bad.has(out.hash)) continue
        const size = sizes.get(out.hash)
        if (size !== out.bytes) {
          wrong.push(`output ${name}: the record says ${out.bytes} bytes, blob ${out.hash} has ${size}`)
        }
        const why = undecodable.get(`${out.artifact}:${out.hash}`)
        if (why !== undefined) wrong.push(`output ${name}: blob ${out.hash} does not decode as ${out.artifact}: ${why}`)
      }
      for (const detail of wrong) recordProblems.push({ what: "record", id: record.key, detail })
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
    const pinRefs = yield* store.listRefs(pinRef(""))
    for (const ref of pinRefs) {
      if (!blobSet.has(ref.value)) missing.push({ referrer: `ref ${ref.name}`, hash: ref.value, role: "pin" })
    }

    return {
      blobs: blobs.length,
      records: keys.length,
      refs: nodeRefs.length + runRefs.length + pinRefs.length,
      corrupt: [...blobProblems, ...strays, ...recordProblems],
      missing
    } satisfies VerifyReport
  })

/** verify with the built-in artifact kinds. */
export const verify: Effect.Effect<VerifyReport, StoreError, ArtifactStore> = verifyWith()

const byName = <A>(a: readonly [string, A], b: readonly [string, A]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)

export const isClean = (r: VerifyReport): boolean => r.corrupt.length === 0 && r.missing.length === 0

/** One line per problem, then a summary line. */
export const formatVerifyReport = (r: VerifyReport): string =>
  [
    ...r.corrupt.map((c) => `corrupt ${c.what} ${c.id}: ${c.detail}`),
    ...r.missing.map((m) => `missing ${m.hash}: ${m.role} of ${m.referrer}`),
    `verified ${r.blobs} blobs, ${r.records} records, ${r.refs} refs: ${r.corrupt.length} corrupt, ${r.missing.length} missing`
  ].join("\n")
