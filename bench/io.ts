/**
 * I/O benchmark: sha256 throughput and the Corpus Parquet codec on a synthetic 1e6-document corpus.
 * Goals (from the issue): hashing >= 1 GB/s, Parquet write <= 1 s, Parquet read (into Arrow) <= 0.3 s.
 * Baseline measured in the same run: Arrow IPC write/read of the same table.
 *
 *   node --import tsx bench/io.ts
 */
import { createHash } from "node:crypto"
import { pathToFileURL } from "node:url"
import { tableFromIPC, tableToIPC } from "apache-arrow"
import {
  type Corpus,
  corpusDocuments,
  corpusFromDocuments,
  decodeCorpus,
  encodeCorpus
} from "../src/artifact/corpus.ts"
import { median } from "./support/median.ts"

const HASH_BYTES = 256 * 1024 * 1024
const DOCUMENTS = 1_000_000
const REPEATS = 5

const WORDS = [
  "the",
  "model",
  "collapse",
  "of",
  "data",
  "generation",
  "token",
  "corpus",
  "learns",
  "tails",
  "vanish",
  "over",
  "time",
  "naïve",
  "über",
  "distribution",
  "sample",
  "entropy",
  "and",
  "a"
] as const

/**
 * Deterministic synthetic corpus of short documents (~20 bytes of text, as in NOTES' measurements):
 * `doc ${i}` + 1..3 words picked by a 32-bit LCG (Numerical Recipes constants).
 */
export const syntheticDocuments = (n: number): Array<{ id: string; text: string }> => {
  let state = 0x2545f491
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0)
  const docs = new Array<{ id: string; text: string }>(n)
  for (let i = 0; i < n; i++) {
    let text = `doc ${i}`
    const words = 1 + (next() % 3)
    for (let w = 0; w < words; w++) text += ` ${WORDS[next() % WORDS.length]}`
    docs[i] = { id: `d${String(i).padStart(7, "0")}`, text }
  }
  return docs
}

/** Median seconds over `repeats` runs after one warm-up run. */
const timeIt = <A>(repeats: number, f: () => A): { seconds: number; result: A } => {
  let result = f()
  const times: number[] = []
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now()
    result = f()
    times.push((performance.now() - t0) / 1000)
  }
  return { seconds: median(times), result }
}

export interface BenchRow {
  name: string
  value: number
  unit: string
  goal?: { op: ">=" | "<="; value: number }
  baseline?: { name: string; ratio: number }
}

const buildCorpus = () => {
  const docs = syntheticDocuments(DOCUMENTS)
  return { build: timeIt(REPEATS, () => corpusFromDocuments(docs)), lastText: docs[DOCUMENTS - 1].text }
}

/** sha256 of a 256 MB buffer with a deterministic byte pattern; the buffer is dropped before the corpus runs. */
const hashSeconds = (): number => {
  const buf = Buffer.allocUnsafe(HASH_BYTES)
  for (let i = 0; i < HASH_BYTES; i += 4) buf.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i)
  return timeIt(3, () => createHash("sha256").update(buf).digest("hex")).seconds
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(3))

export const main = (): BenchRow[] => {
  const rows: BenchRow[] = []

  rows.push({
    name: "sha256 256 MB",
    value: HASH_BYTES / 1e9 / hashSeconds(),
    unit: "GB/s",
    goal: { op: ">=", value: 1 }
  })

  // The documents are dropped after building, so that the timings below do not pay for collecting them.
  const { build, lastText } = buildCorpus()
  const corpus: Corpus = build.result
  const rawBytes = corpus.getChild("id")!.data[0].values.length + corpus.getChild("text")!.data[0].values.length
  rows.push({ name: "corpusFromDocuments 1e6", value: build.seconds, unit: "s" })

  const ipcWrite = timeIt(REPEATS, () => tableToIPC(corpus, "stream"))
  const ipcRead = timeIt(REPEATS, () => tableFromIPC(ipcWrite.result))
  const write = timeIt(REPEATS, () => encodeCorpus(corpus))
  const read = timeIt(REPEATS, () => decodeCorpus(write.result))
  const documents = timeIt(REPEATS, () => corpusDocuments(read.result))
  if (documents.result.texts[DOCUMENTS - 1] !== lastText) throw new Error("bench: round trip mismatch")

  rows.push({ name: "arrow IPC write (baseline)", value: ipcWrite.seconds, unit: "s" })
  // IPC read is zero-copy (no baseline ratio for Parquet read); shown for scale.
  rows.push({ name: "arrow IPC read (zero-copy)", value: ipcRead.seconds, unit: "s" })
  rows.push({
    name: "parquet zstd write 1e6",
    value: write.seconds,
    unit: "s",
    goal: { op: "<=", value: 1 },
    baseline: { name: "IPC write", ratio: write.seconds / ipcWrite.seconds }
  })
  rows.push({
    name: "parquet zstd read 1e6",
    value: read.seconds,
    unit: "s",
    goal: { op: "<=", value: 0.3 }
  })
  rows.push({ name: "corpusDocuments 1e6", value: documents.seconds, unit: "s" })
  rows.push({ name: "raw UTF-8 (id + text)", value: rawBytes / 1e6, unit: "MB" })
  rows.push({ name: "parquet write throughput", value: rawBytes / 1e6 / write.seconds, unit: "MB/s" })
  rows.push({ name: "parquet read throughput", value: rawBytes / 1e6 / read.seconds, unit: "MB/s" })
  rows.push({ name: "parquet file size", value: write.result.length / 1e6, unit: "MB" })
  rows.push({ name: "arrow IPC size", value: ipcWrite.result.length / 1e6, unit: "MB" })

  console.log(
    `bench/io  node ${process.version}  ${DOCUMENTS} documents, median of ${REPEATS} (sha256: 3) after a warm-up`
  )
  const header = ["measure", "value", "unit", "goal", "status", "vs baseline"]
  const table = rows.map((r) => {
    const pass = r.goal === undefined
      ? ""
      : (r.goal.op === ">=" ? r.value >= r.goal.value : r.value <= r.goal.value)
      ? "PASS"
      : "MISS"
    return [
      r.name,
      fmt(r.value),
      r.unit,
      r.goal === undefined ? "" : `${r.goal.op} ${r.goal.value}`,
      pass,
      r.baseline === undefined ? "" : `${r.baseline.ratio.toFixed(1)}x ${r.baseline.name}`
    ]
  })
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)))
  for (const row of [header, ...table]) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd())
  return rows
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main()
