import { strict as assert } from "node:assert"
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { describe, it } from "node:test"
import { fileURLToPath } from "node:url"
import {
  Field,
  Int32,
  LargeUtf8,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromArrays,
  tableToIPC,
  Utf8,
  vectorFromArray
} from "apache-arrow"
import fc from "fast-check"
import { parquetMetadata, parquetReadObjects } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { Compression, Table as WasmTable, writeParquet, WriterPropertiesBuilder } from "parquet-wasm"
import {
  type Corpus,
  CorpusInvalid,
  corpusDocuments,
  corpusFromDocuments,
  decodeCorpus,
  encodeCorpus
} from "../src/artifact/corpus.ts"

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const corpusModule = fileURLToPath(new URL("../src/artifact/corpus.ts", import.meta.url))

const UNICODE_DOCS = [
  { id: "ascii", text: "The quick brown fox." },
  { id: "empty", text: "" },
  { id: "", text: "empty id" },
  { id: "latin1", text: "naïve café über Ærø" },
  { id: "cjk", text: "模型崩溃 — モデル崩壊 — 모델 붕괴" },
  { id: "emoji", text: "🐍🔁 👩‍👩‍👧 🇫🇷" },
  { id: "combining", text: "e\u0301 a\u0300 \u05e9\u05c1\u05b8" },
  { id: "rtl", text: "مرحبا بالعالم" },
  { id: "\ufeffbom-id", text: "\ufeffstarts with a BOM" },
  { id: "controls", text: "nul\u0000tab\tcr\rlf\n\u001f\u007f" },
  { id: "astral", text: "\u{10ffff}\u{1d11e}\u{20000}" }
]

/** Encodes an Arrow table straight with parquet-wasm, to make files the codec did not write. */
const rawParquet = (t: Table): Uint8Array =>
  writeParquet(
    WasmTable.fromIPCStream(tableToIPC(t, "stream")),
    new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build()
  )

const assertInvalid = (bytes: Uint8Array, pattern: RegExp) =>
  assert.throws(
    () => decodeCorpus(bytes),
    (e: unknown) => {
      assert.ok(e instanceof CorpusInvalid, `expected CorpusInvalid, got ${String(e)}`)
      assert.match(e.message, pattern)
      return true
    }
  )

const roundTrip = (docs: ReadonlyArray<{ id: string; text: string }>) => {
  const back = corpusDocuments(decodeCorpus(encodeCorpus(corpusFromDocuments(docs))))
  assert.deepEqual(back.ids, docs.map((d) => d.id))
  assert.deepEqual(back.texts, docs.map((d) => d.text))
}

describe("corpus in memory", () => {
  it("has exactly two non-null Utf8 columns, id and text, in one batch", () => {
    const c = corpusFromDocuments(UNICODE_DOCS)
    assert.deepEqual(
      c.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
      [
        ["id", "Utf8", false],
        ["text", "Utf8", false]
      ]
    )
    assert.equal(c.numRows, UNICODE_DOCS.length)
    assert.equal(c.batches.length, 1)
    assert.equal(c.getChild("text")?.get(4), UNICODE_DOCS[4].text)
  })

  it("corpusDocuments gives back the documents exactly", () => {
    const { ids, texts } = corpusDocuments(corpusFromDocuments(UNICODE_DOCS))
    assert.deepEqual(ids, UNICODE_DOCS.map((d) => d.id))
    assert.deepEqual(texts, UNICODE_DOCS.map((d) => d.text))
  })

  it("agrees with Arrow's own Utf8 builder byte for byte", () => {
    const c = corpusFromDocuments(UNICODE_DOCS)
    const reference = vectorFromArray(UNICODE_DOCS.map((d) => d.text), new Utf8())
    const mine = c.getChild("text")!.data[0]
    const theirs = reference.data[0]
    // Arrow's builder over-allocates its buffers; compare the used part.
    assert.deepEqual([...mine.valueOffsets.subarray(0, mine.length + 1)], [
      ...theirs.valueOffsets.subarray(0, theirs.length + 1)
    ])
    assert.deepEqual(
      Buffer.from(mine.values.subarray(0, mine.valueOffsets[mine.length])),
      Buffer.from(theirs.values.subarray(0, theirs.valueOffsets[theirs.length]))
    )
  })

  it("rejects unpaired surrogates, which UTF-8 cannot hold", () => {
    assert.throws(
      () => corpusFromDocuments([{ id: "ok", text: "fine" }, { id: "bad", text: "x\ud800y" }]),
      /corpus: document 1 \(id "bad"\): field "text" contains an unpaired UTF-16 surrogate/
    )
    // Two halves split across documents must not pair up when the column is joined.
    assert.throws(
      () => corpusFromDocuments([{ id: "a", text: "\ud83d" }, { id: "b", text: "\ude00" }]),
      CorpusInvalid
    )
  })

  it("rejects documents whose fields are not strings", () => {
    const docs = [{ id: "a", text: "ok" }, { id: "b", text: null }] as unknown as Array<{ id: string; text: string }>
    assert.throws(
      () => corpusFromDocuments(docs),
      /^CorpusInvalid: corpus: document 1: field "text" is null, expected a string$/
    )
  })

  it("reads multi-chunk tables built elsewhere", () => {
    const a = corpusFromDocuments(UNICODE_DOCS.slice(0, 4))
    const b = corpusFromDocuments(UNICODE_DOCS.slice(4))
    const joined: Corpus = a.concat(b)
    assert.equal(joined.batches.length, 2)
    assert.deepEqual(corpusDocuments(joined).texts, UNICODE_DOCS.map((d) => d.text))
  })
})

describe("corpus Parquet round trip", () => {
  it("is exact for unicode, empty strings and control characters", () => roundTrip(UNICODE_DOCS))

  it("is exact for an empty corpus (0 documents encode to a valid Parquet file)", () => {
    const bytes = encodeCorpus(corpusFromDocuments([]))
    const back = decodeCorpus(bytes)
    assert.equal(back.numRows, 0)
    assert.deepEqual(corpusDocuments(back), { ids: [], texts: [] })
  })

  it("is exact for arbitrary code points (property)", () => {
    const doc = fc.record({
      id: fc.string({ unit: "binary", maxLength: 12 }),
      text: fc.string({ unit: "binary", maxLength: 60 })
    })
    fc.assert(
      fc.property(fc.array(doc, { maxLength: 20 }), (docs) => roundTrip(docs)),
      { numRuns: 60, seed: 20240601 }
    )
  })

  it("is exact for graphemes (property)", () => {
    const doc = fc.record({ id: fc.string({ maxLength: 8 }), text: fc.string({ unit: "grapheme", maxLength: 40 }) })
    fc.assert(fc.property(fc.array(doc, { maxLength: 20 }), (docs) => roundTrip(docs)), { numRuns: 40, seed: 7 })
  })

  it("survives documents larger than a Parquet page and a column built from several joined pieces", () => {
    // 3 x 6M chars > the 16M-char join piece, and each spans many pages.
    const big = "0123456789abcdef".repeat(375_000)
    roundTrip([
      { id: "small", text: "x" },
      { id: "big1", text: big },
      { id: "big2", text: `é${big}😀` },
      { id: "big3", text: big },
      { id: "after", text: "é" }
    ])
  })

  it("writes ZSTD-compressed columns", () => {
    const meta = parquetMetadata(toArrayBuffer(encodeCorpus(corpusFromDocuments(UNICODE_DOCS))))
    const codecs = meta.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec))
    assert.deepEqual(codecs, ["ZSTD", "ZSTD"])
  })
})

describe("corpus encoding is deterministic", () => {
  const docs = Array.from(
    { length: 500 },
    (_, i) => ({ id: `d${String(i).padStart(4, "0")}`, text: `document ${i} ${"é".repeat(i % 7)} 😀` })
  )

  it("gives identical bytes on repeated encodes in one process", () => {
    const c = corpusFromDocuments(docs)
    assert.equal(sha256(encodeCorpus(c)), sha256(encodeCorpus(c)))
    assert.equal(sha256(encodeCorpus(c)), sha256(encodeCorpus(corpusFromDocuments(docs))))
  })

  it("depends only on the documents, not on the table's chunking or its decode history", () => {
    const expected = sha256(encodeCorpus(corpusFromDocuments(docs)))
    const chunked = corpusFromDocuments(docs.slice(0, 123)).concat(corpusFromDocuments(docs.slice(123)))
    assert.equal(chunked.batches.length, 2)
    assert.equal(sha256(encodeCorpus(chunked)), expected)
    const decoded = decodeCorpus(encodeCorpus(corpusFromDocuments(docs)))
    assert.equal(sha256(encodeCorpus(decoded)), expected)
  })

  it("gives identical bytes in a separate process", () => {
    const here = sha256(encodeCorpus(corpusFromDocuments(docs)))
    const script = `
      import { createHash } from "node:crypto"
      import { corpusFromDocuments, encodeCorpus } from ${JSON.stringify(corpusModule)}
      const docs = Array.from({ length: 500 }, (_, i) => ({ id: \`d\${String(i).padStart(4, "0")}\`, text: \`document \${i} \${"é".repeat(i % 7)} 😀\` }))
      process.stdout.write(createHash("sha256").update(encodeCorpus(corpusFromDocuments(docs))).digest("hex"))
    `
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8"
    })
    assert.equal(child.status, 0, child.stderr)
    assert.equal(child.stdout, here)
  })

  it("records parquet-rs as created_by and the Arrow schema in the footer (both fixed per parquet-wasm version)", () => {
    const meta = parquetMetadata(toArrayBuffer(encodeCorpus(corpusFromDocuments(docs))))
    assert.match(meta.created_by ?? "", /^parquet-rs version \d+\.\d+\.\d+$/)
    assert.deepEqual(meta.key_value_metadata?.map((kv) => kv.key), ["ARROW:schema"])
  })

  it("matches the golden hash for parquet-wasm 0.8.0 (update it only when parquet-wasm changes)", () => {
    const bytes = encodeCorpus(corpusFromDocuments([{ id: "a", text: "b" }]))
    assert.equal(sha256(bytes), GOLDEN_A_B)
  })
})

const GOLDEN_A_B = "05c5121a12f063a98741a419e984e2dc5a61822fecc15baebf14a000a36f6715"

const toArrayBuffer = (b: Uint8Array): ArrayBuffer => {
  const out = new ArrayBuffer(b.byteLength)
  new Uint8Array(out).set(b)
  return out
}

describe("independent reader (hyparquet)", () => {
  it("reads every row the codec wrote", async () => {
    const docs = [
      ...UNICODE_DOCS,
      ...Array.from({ length: 3000 }, (_, i) => ({ id: `n${i}`, text: `row ${i} ${"ü".repeat(i % 5)}` }))
    ]
    const bytes = encodeCorpus(corpusFromDocuments(docs))
    // hyparquet's default string parser drops a leading BOM; decode strictly and keep it.
    const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
    const stringFromBytes = (b: Uint8Array | undefined) => (b === undefined ? undefined : utf8.decode(b))
    const rows = await parquetReadObjects({ file: toArrayBuffer(bytes), compressors, parsers: { stringFromBytes } })
    assert.equal(rows.length, docs.length)
    for (let i = 0; i < docs.length; i++) {
      assert.deepEqual({ id: rows[i].id, text: rows[i].text }, docs[i], `row ${i}`)
    }
  })
})

describe("decodeCorpus validation", () => {
  const good = encodeCorpus(corpusFromDocuments(UNICODE_DOCS))

  it("rejects bytes that are not Parquet", () => {
    assertInvalid(new Uint8Array(0), /^corpus: not a Parquet file \(0 bytes, too short\)$/)
    assertInvalid(
      new TextEncoder().encode("id,text\na,hello world\n"),
      /not a Parquet file \(no PAR1 magic at the start\)/
    )
    assertInvalid(tableToIPC(corpusFromDocuments(UNICODE_DOCS), "file"), /no PAR1 magic at the start/)
  })

  it("rejects a truncated file", () => {
    assertInvalid(good.subarray(0, good.length - 10), /not a Parquet file or truncated \(no PAR1 magic at the end\)/)
  })

  it("rejects a corrupt footer or corrupt data", () => {
    const footer = Uint8Array.from(good)
    footer.fill(0xff, footer.length - 60, footer.length - 8)
    assertInvalid(footer, /^corpus: cannot read the Parquet (footer|data): /)
    const data = Uint8Array.from(good)
    data.fill(0x55, 4, 200)
    assertInvalid(data, /^corpus: cannot read the Parquet (footer|data): /)
    // parquet-wasm still works after reporting those errors.
    assert.deepEqual(corpusDocuments(decodeCorpus(good)).ids, UNICODE_DOCS.map((d) => d.id))
  })

  it("rejects a missing column and names the columns found", () => {
    assertInvalid(rawParquet(tableFromArrays({ a: ["x"], b: ["y"] })), /^corpus: column "id" missing \(found: a, b\)$/)
    assertInvalid(
      rawParquet(tableFromArrays({ id: ["x"], body: ["y"] })),
      /^corpus: column "text" missing \(found: id, body\)$/
    )
  })

  it("rejects a column of the wrong type", () => {
    const t = new Table({ id: vectorFromArray(["a", "b"], new Utf8()), text: vectorFromArray([1, 2], new Int32()) })
    assertInvalid(rawParquet(t), /^corpus: column "text" has type Int32, expected Utf8 \(string\)$/)
  })

  it("rejects nulls and says where the first one is", () => {
    const t = new Table({
      id: vectorFromArray(["a", "b", "c"], new Utf8()),
      text: vectorFromArray(["x", null, null], new Utf8())
    })
    assertInvalid(rawParquet(t), /^corpus: column "text" has 2 null value\(s\) \(first at row 1\)$/)
  })

  it("ignores extra columns and accepts other string layouts (dictionary, LargeUtf8)", () => {
    const dict = tableFromArrays({ year: Int32Array.from([1790, 1791]), id: ["a", "b"], text: ["first", "second"] })
    const c = decodeCorpus(rawParquet(dict))
    assert.deepEqual(c.schema.fields.map((f) => f.name), ["id", "text"])
    assert.deepEqual(corpusDocuments(c), { ids: ["a", "b"], texts: ["first", "second"] })

    const schema = new Schema([new Field("id", new LargeUtf8(), false), new Field("text", new LargeUtf8(), false)])
    const large = (xs: string[]) => vectorFromArray(xs, new LargeUtf8()).data[0]
    const struct = makeData({
      type: new Struct(schema.fields),
      length: 2,
      nullCount: 0,
      children: [large(["p", "q"]), large(["ü", "😀"])]
    })
    const c2 = decodeCorpus(rawParquet(new Table(schema, new RecordBatch(schema, struct))))
    assert.equal(String(c2.schema.fields[1].type), "Utf8")
    assert.deepEqual(corpusDocuments(c2), { ids: ["p", "q"], texts: ["ü", "😀"] })
  })
})
