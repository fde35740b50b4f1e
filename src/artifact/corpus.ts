/**
 * The Corpus artifact: an Arrow table of documents in memory, Parquet (ZSTD) on disk.
 *
 * In memory a corpus has exactly two non-null Utf8 columns, `id` and `text`, in one record batch.
 * `encodeCorpus` is deterministic: the same documents give the same bytes (for the same parquet-wasm version),
 * because the table is first normalised to one batch with a fixed schema and no metadata.
 */
import type { Data, DataType, Schema, Table, Utf8, Vector } from "apache-arrow"
import { describe } from "../errors/index.ts"
import { arrow, parquet } from "./libs.ts"

export type CorpusColumns = { id: Utf8; text: Utf8 }
export type Corpus = Table<CorpusColumns>
export interface CorpusDocument {
  readonly id: string
  readonly text: string
}

/** A corpus that cannot be built, encoded or decoded; `message` says what is wrong. */
export class CorpusInvalid extends Error {
  readonly _tag = "CorpusInvalid"
  override readonly name = "CorpusInvalid"
  constructor(message: string, options?: { cause?: unknown }) {
    super(`corpus: ${message}`, options)
  }
}

const COLUMNS = ["id", "text"] as const
type ColumnName = (typeof COLUMNS)[number]

// Utf8 offsets are signed 32-bit.
const MAX_UTF8_BYTES = 0x7fffffff
// V8 strings are limited to ~2^29 chars; join documents in pieces well below that.
const JOIN_CHUNK_CHARS = 1 << 24

const corpusSchema = (): Schema<CorpusColumns> =>
  new arrow.Schema<CorpusColumns>([
    new arrow.Field("id", new arrow.Utf8(), false),
    new arrow.Field("text", new arrow.Utf8(), false)
  ])

const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

/** Builds one Utf8 column from offsets + one data buffer (10x faster than vectorFromArray). */
const utf8Column = (
  strings: ReadonlyArray<string>,
  column: string,
  idOf: (i: number) => string
): Data<Utf8> => {
  const n = strings.length
  const offsets = new Int32Array(n + 1)
  const pieces: Buffer[] = []
  let total = 0
  let start = 0
  while (start < n) {
    let end = start
    let chars = 0
    while (end < n) {
      const s = strings[end]
      if (typeof s !== "string") {
        throw new CorpusInvalid(
          `document ${end}: field "${column}" is ${s === null ? "null" : typeof s}, expected a string`
        )
      }
      // A lone surrogate would be replaced by U+FFFD in UTF-8 and not round-trip.
      if (!wellFormed(s)) {
        throw new CorpusInvalid(
          `document ${end} (id ${
            JSON.stringify(idOf(end))
          }): field "${column}" contains an unpaired UTF-16 surrogate and cannot be stored as UTF-8`
        )
      }
      if (end > start && chars + s.length > JOIN_CHUNK_CHARS) break
      chars += s.length
      end++
    }
    const bytes = Buffer.from(end - start === 1 ? strings[start] : strings.slice(start, end).join(""), "utf8")
    if (total + bytes.length > MAX_UTF8_BYTES) {
      throw new CorpusInvalid(`column "${column}" exceeds 2 GiB of UTF-8 (Arrow Utf8 offsets are 32-bit)`)
    }
    if (bytes.length === chars) {
      // ASCII only: byte length equals string length.
      for (let i = start; i < end; i++) offsets[i + 1] = offsets[i] + strings[i].length
    } else {
      for (let i = start; i < end; i++) offsets[i + 1] = offsets[i] + Buffer.byteLength(strings[i], "utf8")
    }
    total += bytes.length
    pieces.push(bytes)
    start = end
  }
  const data = pieces.length === 1
    ? new Uint8Array(pieces[0].buffer, pieces[0].byteOffset, pieces[0].length)
    : concatBytes(pieces, total)
  return arrow.makeData({ type: new arrow.Utf8(), length: n, nullCount: 0, valueOffsets: offsets, data })
}

const concatBytes = (pieces: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  const out = new Uint8Array(total)
  let at = 0
  for (const p of pieces) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const makeCorpus = (id: Data<Utf8>, text: Data<Utf8>): Corpus => {
  const schema = corpusSchema()
  const struct = arrow.makeData({
    type: new arrow.Struct(schema.fields),
    length: id.length,
    nullCount: 0,
    children: [id, text]
  })
  return new arrow.Table(schema, new arrow.RecordBatch(schema, struct))
}

/** Builds a corpus from documents, in the given order. Throws CorpusInvalid for non-strings or lone surrogates. */
export const corpusFromDocuments = (docs: ReadonlyArray<CorpusDocument>): Corpus => {
  const ids = docs.map((d) => d.id)
  const texts = docs.map((d) => d.text)
  const idOf = (i: number) => String(ids[i])
  return makeCorpus(utf8Column(ids, "id", idOf), utf8Column(texts, "text", idOf))
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** Decodes a Utf8 chunk with one TextDecoder call, then slices the result per value. */
const decodeUtf8 = (d: Data<Utf8>, column: string, out: string[]): void => {
  const offsets = d.valueOffsets
  const values = d.values
  const n = d.length
  if (n === 0) return
  const start = offsets[0]
  const end = offsets[n]
  let all: string
  try {
    all = fatalUtf8.decode(values.subarray(start, end))
  } catch (cause) {
    throw new CorpusInvalid(`column "${column}" holds invalid UTF-8`, { cause })
  }
  if (all.length === end - start) {
    // ASCII only: char index equals byte index.
    for (let i = 0; i < n; i++) out.push(all.slice(offsets[i] - start, offsets[i + 1] - start))
    return
  }
  // Walk the bytes once, counting UTF-16 units: 1 per lead byte, 2 for 4-byte sequences (surrogate pairs).
  let b = start
  let c = 0
  for (let i = 0; i < n; i++) {
    const e = offsets[i + 1]
    const c0 = c
    for (; b < e; b++) {
      const x = values[b]
      if ((x & 0xc0) !== 0x80) c += x >= 0xf0 ? 2 : 1
    }
    out.push(all.slice(c0, c))
  }
}

const columnData = (c: Corpus, name: ColumnName): ReadonlyArray<Data<Utf8>> => {
  const v = c.getChild(name)
  if (v === null) throw new CorpusInvalid(`column "${name}" missing (found: ${fieldNames(c.schema)})`)
  return v.data
}

/** The documents of a corpus as two parallel arrays, in table order. */
export const corpusDocuments = (c: Corpus): { ids: string[]; texts: string[] } => {
  const ids: string[] = []
  const texts: string[] = []
  for (const d of columnData(c, "id")) decodeUtf8(d, "id", ids)
  for (const d of columnData(c, "text")) decodeUtf8(d, "text", texts)
  return { ids, texts }
}

const fieldNames = (s: Schema): string => s.fields.map((f) => f.name).join(", ") || "none"

const isUtf8Data = (d: Data<DataType>): d is Data<Utf8> => d.typeId === arrow.Type.Utf8

/** One Utf8 chunk, offsets starting at 0: the canonical layout, so equal content gives equal IPC and Parquet bytes. */
const canonicalUtf8 = (chunks: ReadonlyArray<Data<DataType>>, column: string): Data<Utf8> => {
  let length = 0
  let bytes = 0
  for (const d of chunks) {
    if (!isUtf8Data(d)) throw new CorpusInvalid(`column "${column}" has type ${String(d.type)}, expected Utf8`)
    if (d.nullCount > 0) throw new CorpusInvalid(`column "${column}" has ${d.nullCount} null value(s)`)
    length += d.length
    bytes += d.valueOffsets[d.length] - d.valueOffsets[0]
  }
  if (chunks.length === 1) {
    const d = chunks[0] as Data<Utf8>
    if (d.valueOffsets[0] === 0 && d.nullBitmap === undefined) return d
  }
  if (bytes > MAX_UTF8_BYTES) throw new CorpusInvalid(`column "${column}" exceeds 2 GiB of UTF-8`)
  const offsets = new Int32Array(length + 1)
  const data = new Uint8Array(bytes)
  let row = 0
  let at = 0
  for (const chunk of chunks) {
    const d = chunk as Data<Utf8>
    const o = d.valueOffsets
    const base = o[0]
    data.set(d.values.subarray(base, o[d.length]), at)
    for (let i = 1; i <= d.length; i++) offsets[row + i] = at + (o[i] - base)
    row += d.length
    at += o[d.length] - base
  }
  return arrow.makeData({ type: new arrow.Utf8(), length, nullCount: 0, valueOffsets: offsets, data })
}

/** Normalises any table with Utf8 `id` and `text` columns to the canonical corpus layout. */
const canonicalCorpus = (t: Table): Corpus => {
  const columns = COLUMNS.map((name) => {
    const v = t.getChild(name)
    if (v === null) throw new CorpusInvalid(`column "${name}" missing (found: ${fieldNames(t.schema)})`)
    return canonicalUtf8(v.data, name)
  })
  return makeCorpus(columns[0], columns[1])
}

// Dictionary encoding is off: ids and texts are nearly all distinct, so dictionaries only cost time and bytes.
const writerProperties = () =>
  new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.ZSTD).setDictionaryEnabled(false).build()

/**
 * Encodes a corpus as Parquet with ZSTD. Deterministic: the output depends only on the documents (ids, texts, order)
 * and the parquet-wasm version, whose `created_by` ("parquet-rs version X") and Arrow schema are in the footer.
 * An empty corpus (0 documents) is encodable.
 */
export const encodeCorpus = (c: Corpus): Uint8Array => {
  const canonical = canonicalCorpus(c)
  return parquet.writeParquet(parquet.Table.fromIPCStream(arrow.tableToIPC(canonical, "stream")), writerProperties())
}

// parquet-rs clamps the batch size to the file's row count, so this asks for one batch without over-allocating;
// the default (1024 rows) would give ~1000 chunks per million documents to concatenate.
const READ_BATCH_ROWS = 0x7fffffff

const MAGIC = [0x50, 0x41, 0x52, 0x31] // "PAR1"
const hasMagicAt = (b: Uint8Array, at: number) => MAGIC.every((m, i) => b[at + i] === m)

const isStringType = (t: DataType): boolean =>
  t.typeId === arrow.Type.Utf8 ||
  t.typeId === arrow.Type.LargeUtf8 ||
  t.typeId === arrow.Type.Utf8View ||
  (arrow.DataType.isDictionary(t) && isStringType(t.dictionary))

const firstNull = (v: Vector): number => {
  for (let i = 0; i < v.length; i++) if (!v.isValid(i)) return i
  return -1
}

/**
 * String columns of Parquet bytes, by name, each as one canonical Utf8 chunk. A name in `optional` may be missing
 * (it is then absent from the result); any other missing name, a column that is not a string, or a null is refused.
 */
const readStringColumns = (
  bytes: Uint8Array,
  names: ReadonlyArray<string>,
  optional: ReadonlyArray<string> = []
): Map<string, Data<Utf8>> => {
  if (bytes.length < 12) throw new CorpusInvalid(`not a Parquet file (${bytes.length} bytes, too short)`)
  if (!hasMagicAt(bytes, 0)) throw new CorpusInvalid("not a Parquet file (no PAR1 magic at the start)")
  if (!hasMagicAt(bytes, bytes.length - 4)) {
    throw new CorpusInvalid("not a Parquet file or truncated (no PAR1 magic at the end)")
  }
  let schema: Schema
  try {
    schema = arrow.tableFromIPC(parquet.readSchema(bytes).intoIPCStream()).schema
  } catch (cause) {
    throw new CorpusInvalid(`cannot read the Parquet footer: ${describe(cause)}`, { cause })
  }
  const present: string[] = []
  for (const name of names) {
    const field = schema.fields.find((f) => f.name === name)
    if (field === undefined) {
      if (optional.includes(name)) continue
      throw new CorpusInvalid(`column "${name}" missing (found: ${fieldNames(schema)})`)
    }
    if (!isStringType(field.type)) {
      throw new CorpusInvalid(`column "${name}" has type ${String(field.type)}, expected Utf8 (string)`)
    }
    present.push(name)
  }
  let table: Table
  try {
    table = arrow.tableFromIPC(
      parquet.readParquet(bytes, { columns: present, batchSize: READ_BATCH_ROWS }).intoIPCStream()
    )
  } catch (cause) {
    throw new CorpusInvalid(`cannot read the Parquet data: ${describe(cause)}`, { cause })
  }
  const out = new Map<string, Data<Utf8>>()
  for (const name of present) {
    const v = table.getChild(name)
    if (v === null) throw new CorpusInvalid(`column "${name}" missing (found: ${fieldNames(table.schema)})`)
    if (v.nullCount > 0) {
      throw new CorpusInvalid(`column "${name}" has ${v.nullCount} null value(s) (first at row ${firstNull(v)})`)
    }
    if (v.data.every(isUtf8Data)) {
      out.set(name, canonicalUtf8(v.data, name))
      continue
    }
    // Other string layouts: materialise the strings and rebuild (rare; files from other writers).
    const strings: string[] = []
    for (const s of v) strings.push(String(s))
    out.set(name, utf8Column(strings, name, (i) => String(i)))
  }
  return out
}

/**
 * Decodes Parquet bytes into a corpus. Columns other than `id` and `text` are ignored. String columns stored as
 * LargeUtf8, Utf8View or dictionary-encoded strings are accepted and converted to Utf8.
 */
export const decodeCorpus = (bytes: Uint8Array): Corpus => {
  const columns = readStringColumns(bytes, COLUMNS)
  return makeCorpus(columns.get("id")!, columns.get("text")!)
}

/**
 * The documents of any Parquet file: its `text` column's strings, and its `id` column's, or none where the id
 * column is missing and `idRequired` is false (a Hugging Face dataset's `text` alone). Other columns are ignored.
 */
export const decodeDocumentColumns = (
  bytes: Uint8Array,
  columns: { readonly text: string; readonly id: string; readonly idRequired: boolean }
): { readonly ids: ReadonlyArray<string> | undefined; readonly texts: ReadonlyArray<string> } => {
  const found = readStringColumns(
    bytes,
    [columns.id, columns.text].filter((c, i, all) => all.indexOf(c) === i),
    columns.idRequired ? [] : [columns.id]
  )
  const strings = (d: Data<Utf8>, name: string) => {
    const out: string[] = []
    decodeUtf8(d, name, out)
    return out
  }
  const id = found.get(columns.id)
  return {
    ids: id === undefined ? undefined : strings(id, columns.id),
    texts: strings(found.get(columns.text)!, columns.text)
  }
}
