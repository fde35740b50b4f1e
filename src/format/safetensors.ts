/**
 * Minimal safetensors writer/reader (https://github.com/huggingface/safetensors):
 * 8-byte little-endian u64 header length N, N bytes of JSON header (space-padded to a multiple of 8), then the
 * tensors' little-endian bytes back to back. Deterministic: tensors sorted by name, "__metadata__" first with
 * sorted keys, no whitespace in the JSON.
 */
import { describe } from "../errors/index.ts"

export type SafetensorsDtype = "U8" | "I32" | "I64" | "F32" | "F64"

export type TensorData = Uint8Array | Int32Array | BigInt64Array | Float32Array | Float64Array

export interface Tensor {
  readonly dtype: SafetensorsDtype
  readonly shape: ReadonlyArray<number>
  readonly data: TensorData
}

export interface Safetensors {
  readonly tensors: ReadonlyMap<string, Tensor>
  readonly metadata: Readonly<Record<string, string>>
}

const DTYPE_SIZE: Record<SafetensorsDtype, number> = { U8: 1, I32: 4, I64: 8, F32: 4, F64: 8 }

const isDtype = (s: unknown): s is SafetensorsDtype => typeof s === "string" && Object.hasOwn(DTYPE_SIZE, s)

const dtypeOf = (data: TensorData): SafetensorsDtype => {
  if (data instanceof Uint8Array) return "U8"
  if (data instanceof Int32Array) return "I32"
  if (data instanceof BigInt64Array) return "I64"
  if (data instanceof Float32Array) return "F32"
  return "F64"
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Raw bytes of a typed array in little-endian order (a copy with swapped bytes on big-endian hosts). */
const leBytes = (data: TensorData): Uint8Array => {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return LITTLE_ENDIAN ? bytes : swapped(bytes, data.BYTES_PER_ELEMENT)
}

const swapped = (bytes: Uint8Array, size: number): Uint8Array => {
  const out = new Uint8Array(bytes.length)
  for (let i = 0; i < bytes.length; i += size) for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j]
  return out
}

const product = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

const fail = (message: string): never => {
  throw new Error(`safetensors: ${message}`)
}

export const writeSafetensors = (
  tensors: Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>> = {}
): Uint8Array => {
  const names = Object.keys(tensors).sort()
  const header: Record<string, unknown> = {}
  if (Object.keys(metadata).length > 0) {
    const sortedMeta: Record<string, string> = {}
    for (const k of Object.keys(metadata).sort()) sortedMeta[k] = metadata[k]
    header["__metadata__"] = sortedMeta
  }
  let offset = 0
  for (const name of names) {
    if (name === "__metadata__") fail(`"__metadata__" is not a valid tensor name`)
    const t = tensors[name]
    if (dtypeOf(t.data) !== t.dtype) fail(`tensor "${name}" has dtype ${t.dtype} but holds ${dtypeOf(t.data)} data`)
    if (product(t.shape) !== t.data.length) {
      fail(`tensor "${name}" has shape [${t.shape.join(", ")}] but ${t.data.length} elements`)
    }
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] }
    offset += t.data.byteLength
  }
  let json = JSON.stringify(header)
  const rawLength = new TextEncoder().encode(json).length
  json += " ".repeat((8 - (rawLength % 8)) % 8)
  const headerBytes = new TextEncoder().encode(json)
  const out = new Uint8Array(8 + headerBytes.length + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true)
  out.set(headerBytes, 8)
  let at = 8 + headerBytes.length
  for (const name of names) {
    const bytes = leBytes(tensors[name].data)
    out.set(bytes, at)
    at += bytes.length
  }
  return out
}

// Header sizes beyond this are refused (the reference implementation uses 100 MB).
const MAX_HEADER = 100_000_000

const isIndex = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0

export const readSafetensors = (bytes: Uint8Array): Safetensors => {
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length`)
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true)
  if (n > BigInt(bytes.length - 8)) fail(`header length ${n} exceeds file size ${bytes.length}`)
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} exceeds the limit of ${MAX_HEADER} bytes`)
  const headerLength = Number(n)
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)))
  } catch (e) {
    return fail(`header is not valid UTF-8 JSON (${describe(e)})`)
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) fail("header is not a JSON object")
  const header = parsed as Record<string, unknown>
  const dataStart = 8 + headerLength
  const dataLength = bytes.length - dataStart
  const metadata: Record<string, string> = {}
  const entries: Array<{ name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }> = []
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) fail("__metadata__ is not an object")
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} is not a string`)
        metadata[k] = v as string
      }
      continue
    }
    if (typeof value !== "object" || value === null) fail(`tensor "${name}" has no description object`)
    const { dtype, shape, data_offsets } = value as Record<string, unknown>
    if (!isDtype(dtype)) fail(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`)
    if (!Array.isArray(shape) || !shape.every(isIndex)) fail(`tensor "${name}" has an invalid shape`)
    if (!Array.isArray(data_offsets) || data_offsets.length !== 2 || !data_offsets.every(isIndex)) {
      fail(`tensor "${name}" has invalid data_offsets`)
    }
    const [begin, end] = data_offsets as [number, number]
    if (begin > end || end > dataLength) {
      fail(`tensor "${name}" data_offsets [${begin}, ${end}] out of range (data is ${dataLength} bytes)`)
    }
    const d = dtype as SafetensorsDtype
    const expected = product(shape as number[]) * DTYPE_SIZE[d]
    if (end - begin !== expected) {
      fail(
        `tensor "${name}" spans ${end - begin} bytes but shape [${
          (shape as number[]).join(", ")
        }] ${d} needs ${expected}`
      )
    }
    entries.push({ name, dtype: d, shape: shape as number[], begin, end })
  }
  // Like the reference reader: tensors must tile the data section exactly, no gaps, overlaps or trailing bytes.
  const byBegin = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)
  let expectedBegin = 0
  for (const e of byBegin) {
    if (e.begin !== expectedBegin) {
      fail(`tensor "${e.name}" starts at ${e.begin}, expected ${expectedBegin} (gap or overlap)`)
    }
    expectedBegin = e.end
  }
  if (expectedBegin !== dataLength) fail(`data section is ${dataLength} bytes but tensors cover ${expectedBegin}`)
  const tensors = new Map<string, Tensor>()
  for (const e of entries) {
    // slice() copies into a fresh, aligned buffer (offsets inside the file need not be aligned); Uint8Array's own
    // slice, since a Node Buffer's slice() is a view of the whole file's buffer
    const slice = Uint8Array.prototype.slice.call(bytes, dataStart + e.begin, dataStart + e.end)
    const raw = LITTLE_ENDIAN ? slice : swapped(slice, DTYPE_SIZE[e.dtype])
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: view(e.dtype, raw.buffer) })
  }
  return { tensors, metadata }
}

const view = (dtype: SafetensorsDtype, buffer: ArrayBufferLike): TensorData => {
  switch (dtype) {
    case "U8":
      return new Uint8Array(buffer)
    case "I32":
      return new Int32Array(buffer)
    case "I64":
      return new BigInt64Array(buffer)
    case "F32":
      return new Float32Array(buffer)
    case "F64":
      return new Float64Array(buffer)
  }
}

interface DtypeData {
  U8: Uint8Array
  I32: Int32Array
  I64: BigInt64Array
  F32: Float32Array
  F64: Float64Array
}

/** The named tensor's data, checked for presence, dtype and rank (a clear error otherwise). */
export const expectTensor = <D extends SafetensorsDtype>(
  file: Safetensors,
  name: string,
  dtype: D,
  rank = 1
): DtypeData[D] => {
  const t = file.tensors.get(name)
  if (t === undefined) return fail(`missing tensor "${name}"`)
  if (t.dtype !== dtype) fail(`tensor "${name}" has dtype ${t.dtype}, expected ${dtype}`)
  if (t.shape.length !== rank) fail(`tensor "${name}" has rank ${t.shape.length}, expected ${rank}`)
  return t.data as DtypeData[D]
}
