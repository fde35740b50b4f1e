/**
 * Helpers for test/bad-input.test.ts: running an Effect against a store and classifying how it ended (value, typed
 * error, or defect), checking that a store is intact, and writing malformed Parquet files.
 */
import { cpSync, existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import {
  Binary,
  type DataType,
  Field,
  Int32,
  makeData,
  type Data,
  RecordBatch,
  Schema as ArrowSchema,
  Struct,
  Table,
  tableToIPC,
  Utf8
} from "apache-arrow"
import { Compression, Table as WasmTable, writeParquet, WriterPropertiesBuilder } from "parquet-wasm"
import { Cause, Effect, Exit, Option } from "effect"
import { type VerifyReport, verify } from "../../src/audit/verify.ts"
import { localInProcess } from "../../src/engine/layers.ts"
import type { Progress } from "../../src/engine/Progress.ts"
import type { StageRunner } from "../../src/engine/StageRunner.ts"
import type { ArtifactStore } from "../../src/store/ArtifactStore.ts"

/** How an Effect ended: its value, a typed (expected) error, or a defect (a thrown exception: a bug). */
export type Outcome<A> =
  | { readonly _tag: "ok"; readonly value: A }
  | { readonly _tag: "error"; readonly error: { readonly _tag: string; readonly message: string } }
  | { readonly _tag: "defect"; readonly defect: unknown }

const tagged = (e: unknown): { readonly _tag: string; readonly message: string } => {
  if (typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string") {
    return { _tag: e._tag, message: e instanceof Error ? e.message : String(e) }
  }
  return { _tag: "untagged", message: String(e) }
}

export const runIn = async <A, E>(
  root: string,
  eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>
): Promise<Outcome<A>> => {
  const exit = await Effect.runPromiseExit(eff.pipe(Effect.provide(localInProcess(root))))
  if (Exit.isSuccess(exit)) return { _tag: "ok", value: exit.value }
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error)) return { _tag: "error", error: tagged(error.value) }
  return { _tag: "defect", defect: Cause.squash(exit.cause) }
}

/** One line for assertion messages. */
export const describeOutcome = <A>(o: Outcome<A>): string =>
  o._tag === "ok"
    ? "succeeded"
    : o._tag === "error"
    ? `${o.error._tag}: ${o.error.message}`
    : `defect: ${o.defect instanceof Error ? o.defect.stack ?? o.defect.message : String(o.defect)}`

export interface StoreHealth {
  readonly report: VerifyReport
  /** Files left in tmp/ (half-written files). */
  readonly staged: ReadonlyArray<string>
}

export const storeHealth = async (root: string): Promise<StoreHealth> => {
  const outcome = await runIn(root, verify)
  if (outcome._tag !== "ok") throw new Error(`verify could not read the store: ${describeOutcome(outcome)}`)
  const tmp = join(root, "tmp")
  return { report: outcome.value, staged: existsSync(tmp) ? readdirSync(tmp) : [] }
}

/** Every problem verify reports, one line each ("corrupt blob <hash>: ..." / "missing <hash>: ..."). */
export const problems = (r: VerifyReport): string[] => [
  ...r.corrupt.map((c) => `corrupt ${c.what} ${c.id}: ${c.detail}`),
  ...r.missing.map((m) => `missing ${m.hash}: ${m.role} of ${m.referrer}`)
]

/** Record files (relative paths) under a store: what a failed run must not add to. */
export const recordFiles = (root: string): string[] =>
  existsSync(join(root, "records"))
    ? readdirSync(join(root, "records"), { recursive: true, encoding: "utf8" }).sort()
    : []

/** Copies a store directory, keeping file times (blobs carry a seal in their mtime). */
export const copyStore = (from: string, to: string): string => {
  cpSync(from, to, { recursive: true, preserveTimestamps: true })
  return to
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed Parquet files. parquet-wasm (arrow-rs) writes whatever schema it is given, so a file with the wrong
// columns or types is an ordinary Parquet file, not a corrupt one.

const encoder = new TextEncoder()

const utf8Data = (values: ReadonlyArray<Uint8Array | null>): Data<Utf8> => {
  const offsets = new Int32Array(values.length + 1)
  let total = 0
  values.forEach((v, i) => {
    total += v?.length ?? 0
    offsets[i + 1] = total
  })
  const data = new Uint8Array(total)
  let at = 0
  for (const v of values) {
    if (v !== null) data.set(v, at)
    at += v?.length ?? 0
  }
  const nulls = values.filter((v) => v === null).length
  const nullBitmap = new Uint8Array(Math.ceil(values.length / 8))
  values.forEach((v, i) => {
    if (v !== null) nullBitmap[i >> 3] |= 1 << (i & 7)
  })
  return makeData({
    type: new Utf8(),
    length: values.length,
    nullCount: nulls,
    valueOffsets: offsets,
    data,
    ...(nulls > 0 ? { nullBitmap } : {})
  })
}

const strings = (xs: ReadonlyArray<string | null>): Data<Utf8> =>
  utf8Data(xs.map((x) => (x === null ? null : encoder.encode(x))))

const tableOf = (
  columns: ReadonlyArray<{ readonly name: string; readonly data: Data<DataType>; readonly nullable?: boolean }>
): Table => {
  const schema = new ArrowSchema(columns.map((c) => new Field(c.name, c.data.type, c.nullable ?? false)))
  const struct = makeData({
    type: new Struct(schema.fields),
    length: columns[0].data.length,
    nullCount: 0,
    children: columns.map((c) => c.data)
  })
  return new Table(schema, new RecordBatch(schema, struct))
}

const toParquet = (t: Table, compression: Compression = Compression.ZSTD): Uint8Array =>
  writeParquet(
    WasmTable.fromIPCStream(tableToIPC(t, "stream")),
    new WriterPropertiesBuilder().setCompression(compression).setDictionaryEnabled(false).build()
  )

/** Columns `title` and `body` instead of `id` and `text`. */
export const parquetRenamedColumns = (): Uint8Array =>
  toParquet(
    tableOf([{ name: "title", data: strings(["a", "b", "c"]) }, { name: "body", data: strings(["x y", "z w", "v u"]) }])
  )

/** A `text` column but no `id` column. */
export const parquetTextOnly = (): Uint8Array =>
  toParquet(tableOf([{ name: "text", data: strings(["x y", "z w", "v u"]) }]))

/** `id` stored as 32-bit integers. */
export const parquetIntegerIds = (): Uint8Array =>
  toParquet(tableOf([
    { name: "id", data: makeData({ type: new Int32(), length: 3, nullCount: 0, data: Int32Array.of(1, 2, 3) }) },
    { name: "text", data: strings(["x y", "z w", "v u"]) }
  ]))

/** `text` stored as raw bytes (Binary), not strings. */
export const parquetBinaryText = (): Uint8Array =>
  toParquet(tableOf([
    { name: "id", data: strings(["a", "b", "c"]) },
    {
      name: "text",
      data: makeData({
        type: new Binary(),
        length: 3,
        nullCount: 0,
        valueOffsets: Int32Array.of(0, 1, 2, 3),
        data: Uint8Array.of(0x78, 0x79, 0x7a)
      })
    }
  ]))

/** A nullable `text` column with a null in row 1. */
export const parquetNullText = (): Uint8Array =>
  toParquet(
    tableOf([{ name: "id", data: strings(["a", "b", "c"]) }, {
      name: "text",
      data: strings(["x y", null, "v u"]),
      nullable: true
    }])
  )

/**
 * A Utf8 `text` column holding invalid UTF-8. arrow-rs refuses to write one, so a valid marker is written
 * uncompressed and its bytes are patched in place (pages carry no checksum).
 */
export const parquetInvalidUtf8Text = (): Uint8Array => {
  const marker = encoder.encode("\u00e9\u00e9\u00e9")
  const bytes = toParquet(
    tableOf([{ name: "id", data: strings(["a", "b", "c"]) }, {
      name: "text",
      data: strings(["fine", "x\u00e9\u00e9\u00e9y", "also fine"])
    }]),
    Compression.UNCOMPRESSED
  )
  let patched = 0
  for (let i = 0; i + marker.length <= bytes.length; i++) {
    if (marker.every((m, k) => bytes[i + k] === m)) {
      bytes.set([0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa], i)
      patched++
    }
  }
  if (patched === 0) throw new Error("parquetInvalidUtf8Text: marker not found")
  return bytes
}
