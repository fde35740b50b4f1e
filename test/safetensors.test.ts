import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { expectTensor, readSafetensors, writeSafetensors, type Tensor } from "../src/format/safetensors.ts"

const tensors: Record<string, Tensor> = {
  "b.f64": { dtype: "F64", shape: [3], data: new Float64Array([1.5, -2, Math.PI]) },
  "a.i32": { dtype: "I32", shape: [2, 2], data: new Int32Array([1, -2, 3, 2147483647]) },
  "c.u8": { dtype: "U8", shape: [3], data: new Uint8Array([0, 7, 255]) },
  "d.f32": { dtype: "F32", shape: [1], data: new Float32Array([0.25]) },
  "e.i64": { dtype: "I64", shape: [2], data: new BigInt64Array([-1n, 2n ** 62n]) },
  "f.empty": { dtype: "F64", shape: [0], data: new Float64Array(0) }
}

const headerOf = (bytes: Uint8Array): { length: number; json: string } => {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))
  return { length, json: new TextDecoder().decode(bytes.subarray(8, 8 + length)) }
}

/** A file with the given header text (padded) and data bytes, for corruption tests. */
const rawFile = (header: string, data: Uint8Array): Uint8Array => {
  const h = new TextEncoder().encode(header)
  const out = new Uint8Array(8 + h.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true)
  out.set(h, 8)
  out.set(data, 8 + h.length)
  return out
}

describe("safetensors", () => {
  it("round-trips every dtype, shape and the metadata", () => {
    const bytes = writeSafetensors(tensors, { z: "last", artifact: "test" })
    const file = readSafetensors(bytes)
    assert.deepEqual(file.metadata, { artifact: "test", z: "last" })
    assert.deepEqual([...file.tensors.keys()].sort(), Object.keys(tensors).sort())
    for (const [name, t] of Object.entries(tensors)) {
      const back = file.tensors.get(name)
      assert.ok(back)
      assert.equal(back.dtype, t.dtype)
      assert.deepEqual(back.shape, t.shape)
      assert.deepEqual(back.data, t.data)
    }
    assert.deepEqual(expectTensor(file, "a.i32", "I32", 2), tensors["a.i32"].data)
  })

  it("writes the standard layout: u64 LE length, space-padded sorted JSON header, tensors by name", () => {
    const bytes = writeSafetensors(tensors, { artifact: "test" })
    const { length, json } = headerOf(bytes)
    assert.equal(length % 8, 0)
    assert.match(
      json,
      /^\{"__metadata__":\{"artifact":"test"\},"a\.i32":\{"dtype":"I32","shape":\[2,2\],"data_offsets":\[0,16\]\}/
    )
    assert.ok(json.endsWith(" ") || json.endsWith("}"))
    const header = JSON.parse(json) as Record<string, { data_offsets: [number, number] }>
    assert.deepEqual(header["b.f64"].data_offsets, [16, 40])
    // a.i32 bytes are first in the data section, little-endian
    assert.deepEqual(Array.from(bytes.subarray(8 + length, 8 + length + 8)), [1, 0, 0, 0, 254, 255, 255, 255])
    assert.equal(bytes.length, 8 + length + 16 + 24 + 3 + 4 + 16)
  })

  it("is byte-deterministic whatever the insertion order", () => {
    const reversed = Object.fromEntries(Object.entries(tensors).reverse())
    assert.deepEqual(writeSafetensors(tensors, { a: "1", b: "2" }), writeSafetensors(reversed, { b: "2", a: "1" }))
  })

  it("reads a file whose F64 tensor is not 8-byte aligned", () => {
    const bytes = writeSafetensors({
      a: { dtype: "U8", shape: [1], data: new Uint8Array([9]) },
      b: { dtype: "F64", shape: [1], data: new Float64Array([0.1]) }
    })
    assert.deepEqual(readSafetensors(bytes).tensors.get("b")?.data, new Float64Array([0.1]))
  })

  it("rejects writing inconsistent tensors", () => {
    assert.throws(
      () => writeSafetensors({ x: { dtype: "F32", shape: [1], data: new Float64Array(1) } }),
      /dtype F32 but holds F64/
    )
    assert.throws(() => writeSafetensors({ x: { dtype: "I32", shape: [3], data: new Int32Array(2) } }), /shape \[3\]/)
  })

  it("rejects corrupt files with clear messages", () => {
    const good = writeSafetensors(tensors)
    assert.throws(() => readSafetensors(good.subarray(0, 5)), /safetensors: file is 5 bytes/)
    const huge = new Uint8Array(40)
    new DataView(huge.buffer).setBigUint64(0, 123n, true)
    assert.throws(() => readSafetensors(huge), /safetensors: header length 123 exceeds file size 40/)
    assert.throws(() => readSafetensors(good.subarray(0, good.length - 1)), /data section|out of range/)
    assert.throws(() => readSafetensors(rawFile("{not json}    ", new Uint8Array(0))), /not valid UTF-8 JSON/)
    assert.throws(() => readSafetensors(rawFile("[1,2,3] ", new Uint8Array(0))), /not a JSON object/)
    const d4 = new Uint8Array(4)
    assert.throws(
      () => readSafetensors(rawFile("{\"x\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", d4)),
      /unknown dtype "Q7"/
    )
    assert.throws(
      () => readSafetensors(rawFile("{\"x\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,8]}}", d4)),
      /data_offsets \[0, 8\] out of range/
    )
    assert.throws(
      () => readSafetensors(rawFile("{\"x\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,4]}}", d4)),
      /needs 8/
    )
    assert.throws(
      () => readSafetensors(rawFile("{\"x\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", d4)),
      /tensors cover 2/
    )
    assert.throws(
      () =>
        readSafetensors(
          rawFile(
            "{\"x\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"y\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}",
            d4
          )
        ),
      /gap or overlap/
    )
    assert.throws(() => readSafetensors(rawFile("{\"__metadata__\":{\"a\":1}}", new Uint8Array(0))), /__metadata__\.a/)
    assert.throws(() => expectTensor(readSafetensors(good), "nope", "I32"), /missing tensor "nope"/)
    assert.throws(() => expectTensor(readSafetensors(good), "b.f64", "I32"), /dtype F64, expected I32/)
  })
})
