import { strict as assert } from "node:assert"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { tableFromArrays, tableToIPC } from "apache-arrow"
import { Table as WasmTable, writeParquet } from "parquet-wasm"
import { corpusFromDocuments, encodeCorpus } from "../src/artifact/corpus.ts"
import { firstInvalidUtf8, loadParquetFile, loadSotu, loadTextFile, SourceError } from "../src/stages/sources.ts"

const dir = mkdtempSync(join(tmpdir(), "ouro-sources-"))
after(() => rmSync(dir, { recursive: true, force: true }))

const write = (name: string, content: string | Uint8Array): string => {
  const file = join(dir, name)
  writeFileSync(file, content)
  return file
}

const rejectsWith = (p: Promise<unknown>, file: string, pattern: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SourceError, `expected SourceError, got ${String(e)}`)
    assert.equal(e.file, file)
    assert.ok(e.message.startsWith(`${file}: `), e.message)
    assert.match(e.message, pattern)
    return true
  })

describe("loadSotu", () => {
  it("loads every State of the Union address, sorted by id", async () => {
    const docs = await loadSotu()
    assert.equal(docs.length, 233)
    assert.equal(docs[0].id, "1790_george_washington_n")
    assert.ok(
      docs[0].text.startsWith("Fellow-Citizens of the Senate and House of Representatives:"),
      docs[0].text.slice(0, 80)
    )
    assert.equal(docs.at(-1)?.id, "2021_joseph_r_biden_d")
    const ids = docs.map((d) => d.id)
    assert.deepEqual(ids, [...ids].sort())
    assert.equal(new Set(ids).size, ids.length)
    for (const d of docs) {
      assert.match(d.id, /^\d{4}_[a-z_]+$/)
      assert.equal(d.text, d.text.trim())
      assert.ok(d.text.length > 1000, `${d.id} is short: ${d.text.length}`)
    }
  })

  it("is deterministic", async () => {
    assert.deepEqual(await loadSotu(), await loadSotu())
  })
})

describe("loadTextFile", () => {
  const sample =
    "  First paragraph,\nsecond line.\n\n\n  Second paragraph.  \n \t \nThird\r\nwith CRLF.\r\n\r\nFourth.\n"

  it("splits paragraphs on blank lines (LF, CRLF, whitespace-only lines), trimmed", async () => {
    const file = write("book.txt", sample)
    assert.deepEqual(await loadTextFile(file, { split: "paragraph" }), [
      { id: "book:000000", text: "First paragraph,\nsecond line." },
      { id: "book:000001", text: "Second paragraph." },
      { id: "book:000002", text: "Third\nwith CRLF." },
      { id: "book:000003", text: "Fourth." }
    ])
    // Paragraphs are the default.
    assert.deepEqual(await loadTextFile(file), await loadTextFile(file, { split: "paragraph" }))
  })

  it("splits lines, dropping blank ones", async () => {
    const file = write("lines.md", "a\r\n\r\n  b  \nc\rd\n\n")
    assert.deepEqual(await loadTextFile(file, { split: "line" }), [
      { id: "lines:000000", text: "a" },
      { id: "lines:000001", text: "b" },
      { id: "lines:000002", text: "c" },
      { id: "lines:000003", text: "d" }
    ])
  })

  it("keeps a whole file as one document", async () => {
    const file = write("whole.txt", "\ufeff\r\nTitle\r\n\r\nBody é 😀\r\n")
    assert.deepEqual(await loadTextFile(file, { split: "file" }), [{ id: "whole:000000", text: "Title\n\nBody é 😀" }])
  })

  it("pads ids so they sort in file order", async () => {
    const file = write("many.txt", Array.from({ length: 1_000_001 }, (_, i) => `l${i}`).join("\n"))
    const docs = await loadTextFile(file, { split: "line" })
    assert.equal(docs.length, 1_000_001)
    assert.equal(docs[0].id, "many:0000000")
    assert.equal(docs.at(-1)?.id, "many:1000000")
    assert.ok(docs[9].id < docs[10].id)
  })

  it("reports invalid UTF-8 with the file, the byte offset and the line", async () => {
    // "ok line\n" is 8 bytes, "second é line " 15: the bad byte is at 23.
    const bytes = Buffer.concat([
      Buffer.from("ok line\nsecond é line "),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(" end")
    ])
    const file = write("bad.txt", bytes)
    await rejectsWith(loadTextFile(file), file, /invalid UTF-8 at byte offset 23, line 2 \(byte 0xc3\)/)
  })

  it("reports an empty or blank file", async () => {
    const empty = write("empty.txt", "")
    await rejectsWith(loadTextFile(empty), empty, /no documents/)
    const blank = write("blank.txt", " \n\r\n\t\n")
    await rejectsWith(loadTextFile(blank, { split: "line" }), blank, /no documents .*split: line/)
  })

  it("reports a missing file", async () => {
    const file = join(dir, "nope.txt")
    await rejectsWith(loadTextFile(file), file, /cannot read file \(ENOENT/)
  })
})

describe("firstInvalidUtf8", () => {
  const at = (...bytes: number[]) => firstInvalidUtf8(Uint8Array.from(bytes))
  it("finds the first invalid sequence and accepts valid text", () => {
    assert.equal(firstInvalidUtf8(new TextEncoder().encode("aé€😀\u{10ffff}")), -1)
    assert.equal(at(0x61, 0x80), 1) // stray continuation byte
    assert.equal(at(0xc0, 0xaf), 0) // overlong "/"
    assert.equal(at(0xe0, 0x80, 0xaf), 0) // overlong 3-byte
    assert.equal(at(0xed, 0xa0, 0x80), 0) // UTF-16 surrogate D800
    assert.equal(at(0xf4, 0x90, 0x80, 0x80), 0) // above U+10FFFF
    assert.equal(at(0x61, 0x62, 0xe2, 0x82), 2) // truncated at the end
    assert.equal(at(0xff), 0)
  })
})

describe("loadParquetFile", () => {
  it("loads a corpus file in file order", async () => {
    const docs = [
      { id: "z", text: "last id first" },
      { id: "a", text: "ünïcödé 😀" }
    ]
    const file = write("corpus.parquet", encodeCorpus(corpusFromDocuments(docs)))
    assert.deepEqual(await loadParquetFile(file), docs)
  })

  it("names the file when the corpus is invalid", async () => {
    const notParquet = write("not.parquet", "hello")
    await rejectsWith(loadParquetFile(notParquet), notParquet, /corpus: not a Parquet file/)
    const t = tableFromArrays({ title: ["x"], body: ["y"] })
    const wrong = write("wrong.parquet", writeParquet(WasmTable.fromIPCStream(tableToIPC(t, "stream"))))
    // Without an id column a file's ids are its row numbers (#11.15): the text column is what it must have.
    await rejectsWith(loadParquetFile(wrong), wrong, /corpus: column "text" missing \(found: title, body\)/)
    await rejectsWith(
      loadParquetFile(wrong, { text: "body", id: "key" }),
      wrong,
      /corpus: column "key" missing \(found: title, body\)/
    )
  })

  it("reports an empty corpus and a missing file", async () => {
    const empty = write("empty.parquet", encodeCorpus(corpusFromDocuments([])))
    await rejectsWith(loadParquetFile(empty), empty, /no documents/)
    const missing = join(dir, "missing.parquet")
    await rejectsWith(loadParquetFile(missing), missing, /cannot read file \(ENOENT/)
  })
})
