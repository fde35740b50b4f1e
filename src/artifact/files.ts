/**
 * The Files artifact: a directory tree (a Hugging Face model folder, a config set) stored as one blob, a
 * deterministic POSIX tar (ustar, with a PAX `path` record for a path longer than ustar holds). Deterministic: files
 * sorted by path (code-unit order), regular files only (no directories, links or devices), mode 0644 or 0755 (the
 * owner's execute bit decides), owner 0:0 with no names, mtime 0. The same tree gives the same bytes on any machine,
 * and any tar tool reads them. An empty folder is not a file: it is not kept.
 *
 * `decode` accepts exactly this form (it re-encodes and compares), so a stored Files blob is canonical.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { ArtifactType } from "./type.ts"

export interface FileEntry {
  /** Relative, "/"-separated, no "." or ".." segments. */
  readonly path: string
  /** 0o644 or 0o755. */
  readonly mode: number
  readonly bytes: Uint8Array
}

export type FileTree = ReadonlyArray<FileEntry>

const BLOCK = 512
const enc = new TextEncoder()
const dec = new TextDecoder("utf-8", { fatal: true })

const fail = (message: string): never => {
  throw new Error(`files: ${message}`)
}

const checkPath = (p: string): void => {
  if (p === "" || p.startsWith("/") || p.includes("\\") || p.includes("\0")) fail(`bad path ${JSON.stringify(p)}`)
  for (const seg of p.split("/")) if (seg === "" || seg === "." || seg === "..") fail(`bad path ${JSON.stringify(p)}`)
}

const byPath = (a: FileEntry, b: FileEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

/** Entries sorted, paths checked, modes normalised; throws on a duplicate or bad path. */
export const normaliseTree = (tree: FileTree): FileTree => {
  const sorted = [...tree].map((e) => ({ path: e.path, mode: e.mode & 0o100 ? 0o755 : 0o644, bytes: e.bytes })).sort(
    byPath
  )
  for (let i = 0; i < sorted.length; i++) {
    checkPath(sorted[i].path)
    if (i > 0 && sorted[i - 1].path === sorted[i].path) fail(`duplicate path ${sorted[i].path}`)
  }
  return sorted
}

const octal = (n: number, width: number): string => n.toString(8).padStart(width - 1, "0") + "\0"

const header = (name: string, prefix: string, size: number, mode: number, type: string): Uint8Array => {
  const h = new Uint8Array(BLOCK)
  const put = (s: string, at: number, max: number) => {
    const b = enc.encode(s)
    if (b.length > max) fail(`header field too long: ${s}`)
    h.set(b, at)
  }
  put(name, 0, 100)
  put(octal(mode, 8), 100, 8)
  put(octal(0, 8), 108, 8)
  put(octal(0, 8), 116, 8)
  put(octal(size, 12), 124, 12)
  put(octal(0, 12), 136, 12)
  h.fill(0x20, 148, 156) // checksum counted as spaces
  put(type, 156, 1)
  put("ustar\u000000", 257, 8)
  put(prefix, 345, 155)
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += h[i]
  put(octal(sum, 7) + " ", 148, 8)
  return h
}

/** name/prefix for ustar, or undefined when the path needs a PAX record. */
const splitUstar = (p: string): { name: string; prefix: string } | undefined => {
  const len = enc.encode(p).length
  if (len <= 100) return { name: p, prefix: "" }
  for (let i = p.indexOf("/"); i >= 0; i = p.indexOf("/", i + 1)) {
    const prefix = p.slice(0, i), name = p.slice(i + 1)
    if (enc.encode(prefix).length <= 155 && enc.encode(name).length <= 100 && name !== "") return { name, prefix }
  }
  return undefined
}

const paxRecord = (key: string, value: string): Uint8Array => {
  const body = ` ${key}=${value}\n`
  let n = enc.encode(body).length
  let len = n + String(n).length
  while (len !== n + String(len).length) len = n + String(len).length
  n = len
  return enc.encode(`${n}${body}`)
}

const padded = (b: Uint8Array): number => Math.ceil(b.length / BLOCK) * BLOCK

export const encodeFiles = (tree: FileTree): Uint8Array => {
  const parts: Uint8Array[] = []
  for (const e of normaliseTree(tree)) {
    const split = splitUstar(e.path)
    if (split === undefined) {
      const pax = paxRecord("path", e.path)
      parts.push(header("PaxHeader", "", pax.length, 0o644, "x"), pax, new Uint8Array(padded(pax) - pax.length))
    }
    const { name, prefix } = split ?? { name: "././@LongName", prefix: "" }
    parts.push(
      header(name, prefix, e.bytes.length, e.mode, "0"),
      e.bytes,
      new Uint8Array(padded(e.bytes) - e.bytes.length)
    )
  }
  parts.push(new Uint8Array(2 * BLOCK))
  const total = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const field = (h: Uint8Array, at: number, len: number): string => {
  const b = h.subarray(at, at + len)
  const end = b.indexOf(0)
  return dec.decode(end < 0 ? b : b.subarray(0, end))
}

const readOctal = (h: Uint8Array, at: number, len: number, what: string): number => {
  const s = field(h, at, len).trim()
  if (!/^[0-7]+$/.test(s)) fail(`bad ${what} field ${JSON.stringify(s)}`)
  return parseInt(s, 8)
}

export const decodeFiles = (bytes: Uint8Array): FileTree => {
  if (bytes.length % BLOCK !== 0 || bytes.length < 2 * BLOCK) fail(`not a tar archive (${bytes.length} bytes)`)
  const out: FileEntry[] = []
  let at = 0
  let paxPath: string | undefined
  for (;;) {
    if (at + BLOCK > bytes.length) fail("truncated archive (no end marker)")
    const h = bytes.subarray(at, at + BLOCK)
    if (h.every((x) => x === 0)) break
    if (field(h, 257, 6) !== "ustar") fail(`entry at byte ${at} is not a ustar header`)
    const size = readOctal(h, 124, 12, "size")
    const type = String.fromCharCode(h[156])
    const body = bytes.subarray(at + BLOCK, at + BLOCK + size)
    if (body.length !== size) fail("truncated archive")
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK
    if (type === "x") {
      const m = /^\d+ path=(.*)\n$/s.exec(dec.decode(body))
      if (m === null) fail("unsupported PAX record")
      paxPath = m![1]
      continue
    }
    if (type !== "0") fail(`entry type ${JSON.stringify(type)} is not a regular file`)
    const prefix = field(h, 345, 155)
    const name = field(h, 0, 100)
    const p = paxPath ?? (prefix === "" ? name : `${prefix}/${name}`)
    paxPath = undefined
    out.push({ path: p, mode: readOctal(h, 100, 8, "mode"), bytes: body.slice() })
  }
  const canonical = encodeFiles(out)
  if (canonical.length !== bytes.length || !canonical.every((b, i) => b === bytes[i])) {
    fail("not in the canonical form (sorted paths, modes 0644/0755, no owners or times)")
  }
  return out
}

/** A directory's files, recursively; a symbolic link or a special file is refused with its path. */
export const readTree = (root: string): FileTree => {
  const out: FileEntry[] = []
  const walk = (dir: string, rel: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, d.name)
      const r = rel === "" ? d.name : `${rel}/${d.name}`
      if (d.isDirectory()) walk(abs, r)
      else if (d.isFile()) out.push({ path: r, mode: fs.statSync(abs).mode, bytes: fs.readFileSync(abs) })
      else {fail(
          `${abs} is ${d.isSymbolicLink() ? "a symbolic link" : "not a regular file"}: only regular files are stored`
        )}
    }
  }
  const st = fs.statSync(root)
  if (!st.isDirectory()) fail(`${root} is not a directory`)
  walk(root, "")
  return normaliseTree(out)
}

/** Writes a tree under `root` (created if need be). */
export const writeTree = (root: string, tree: FileTree): void => {
  fs.mkdirSync(root, { recursive: true })
  for (const e of normaliseTree(tree)) {
    const abs = path.join(root, ...e.path.split("/"))
    fs.mkdirSync(path.dirname(abs), { recursive: true })
    fs.writeFileSync(abs, e.bytes, { mode: e.mode })
  }
}

/** A directory tree (regular files, their paths and executable bits): a canonical tar. */
export const Files: ArtifactType<FileTree> = {
  name: "files",
  env: {},
  encode: encodeFiles,
  decode: decodeFiles
}
