/**
 * `ouro metrics`: every metrics artifact of a computed pipeline as one flat table, one row per metrics node (arm ×
 * seed × generation), read from the store and nothing recomputed but counts:
 *   - the node's tags (`arm`, `seed`, `generation`, any other) and the model `family` (the kind of the stage that
 *     trained the evaluated model: "ngram", "transformer", "lstm");
 *   - every metric key of the node (perplexity, baseline_perplexity, repetition measures, ...);
 *   - the confounds: the evaluated model's training corpus in documents, words and tokens (its own tokenizer),
 *     how many of those are real (a document of a corpus a seed/* stage made) and synthetic, and for each filter
 *     stage in the node's scope how many documents it dropped.
 * Formats: csv (RFC 4180), json (an array of objects), table (aligned text), parquet (needs a file).
 */
import { Effect } from "effect"
import { Corpus, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { arrow, parquet } from "../artifact/libs.ts"
import { type Corpus as CorpusTable, corpusDocuments } from "../artifact/corpus.ts"
import { encode, type TokenizerSpec } from "../lm/tokenizer.ts"
import type { Pipeline, PipelineNode } from "../pipeline/pipeline.ts"
import { wordCount } from "../stages/util.ts"
import { readArtifact } from "../store/read.ts"
import type { StageRecord } from "../store/record.ts"
import { computedRecords } from "./gather.ts"
import { alignTable } from "./table.ts"

export type Cell = string | number
export type ExportRow = Readonly<Record<string, Cell>>

export const EXPORT_FORMATS = ["csv", "json", "table", "parquet"] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** Columns first in this order when present; then the other tags, the metrics, and the confounds, each sorted. */
const LEADING = ["arm", "family", "seed", "generation", "perplexity", "baseline_perplexity"]

const CONFOUNDS = [
  "train_documents",
  "train_words",
  "train_tokens",
  "train_real_documents",
  "train_real_tokens",
  "train_synthetic_documents",
  "train_synthetic_tokens",
  "train_real_token_share"
]

const columnName = (s: string) => s.replace(/[^A-Za-z0-9_]+/g, "_")

/** The last segment of a node's path: its name in its scope. */
const nameOf = (n: PipelineNode) => n.path.slice(n.path.lastIndexOf("/") + 1)

const sameTags = (a: PipelineNode["tags"], b: PipelineNode["tags"]) => {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k])
}

export const gatherMetricsRows = (pipeline: Pipeline) =>
  Effect.gen(function*() {
    const records = new Map<number, StageRecord>()
    for (const { node, record } of yield* computedRecords(pipeline)) records.set(node.id, record)
    const byId = new Map(pipeline.nodes.map((n) => [n.id, n]))

    // Corpora are read once each; documents are counted once per distinct text (accumulated pools share them).
    const corpora = new Map<string, CorpusTable>()
    const corpus = (hash: string) =>
      Effect.gen(function*() {
        const cached = corpora.get(hash)
        if (cached !== undefined) return cached
        const c = yield* readArtifact(Corpus, hash)
        corpora.set(hash, c)
        return c
      })
    const tokenizers = new Map<string, TokenizerSpec>()
    const tokenCounts = new Map<TokenizerSpec, Map<string, number>>()
    const tokensOf = (tok: TokenizerSpec, text: string) => {
      const counts = tokenCounts.get(tok) ?? new Map<string, number>()
      tokenCounts.set(tok, counts)
      let n = counts.get(text)
      if (n === undefined) {
        n = encode(tok, text).length
        counts.set(text, n)
      }
      return n
    }

    // Real documents: those of every corpus a seed stage made.
    const realIds = new Set<string>()
    for (const node of pipeline.nodes) {
      if (!node.stage.kind.startsWith("seed/")) continue
      for (const out of Object.values(records.get(node.id)!.outputs)) {
        if (out.artifact === "corpus") {
          for (const id of corpusDocuments(yield* corpus(out.hash)).ids) realIds.add(id)
        }
      }
    }

    const rows: Array<Record<string, Cell>> = []
    for (const node of pipeline.nodes) {
      const record = records.get(node.id)!
      const out = Object.values(record.outputs).find((o) => o.artifact === "metrics")
      if (out === undefined) continue
      const row: Record<string, Cell> = {}
      for (const [k, v] of Object.entries(node.tags)) row[columnName(k)] = v
      const model = node.inputs.model === undefined ? undefined : byId.get(node.inputs.model.node)
      if (model !== undefined && model.stage.kind.startsWith("train/")) {
        row.family = model.stage.kind.slice("train/".length)
      }
      for (const [k, v] of Object.entries((yield* readArtifact(Metrics, out.hash)).values)) row[columnName(k)] = v
      // The evaluated model's training corpus, read from its training stage's record.
      const trained = model === undefined ? undefined : records.get(model.id)
      if (trained?.inputs.corpus !== undefined) {
        const docs = corpusDocuments(yield* corpus(trained.inputs.corpus))
        const tokHash = trained.inputs.tokenizer
        let tok: TokenizerSpec | undefined
        if (tokHash !== undefined) {
          tok = tokenizers.get(tokHash) ?? (yield* readArtifact(Tokenizer, tokHash))
          tokenizers.set(tokHash, tok)
        }
        let words = 0, tokens = 0, realDocs = 0, realTokens = 0
        for (let i = 0; i < docs.ids.length; i++) {
          const n = tok === undefined ? 0 : tokensOf(tok, docs.texts[i])
          words += wordCount(docs.texts[i])
          tokens += n
          if (realIds.has(docs.ids[i])) {
            realDocs++
            realTokens += n
          }
        }
        row.train_documents = docs.ids.length
        row.train_words = words
        row.train_real_documents = realDocs
        row.train_synthetic_documents = docs.ids.length - realDocs
        if (tok !== undefined) {
          row.train_tokens = tokens
          row.train_real_tokens = realTokens
          row.train_synthetic_tokens = tokens - realTokens
          row.train_real_token_share = tokens === 0 ? 0 : realTokens / tokens
        }
      }
      // Documents dropped by each filter of this node's scope (a generation's filters share its tags).
      for (const f of pipeline.nodes) {
        if (!f.stage.kind.startsWith("filter/") || !sameTags(f.tags, node.tags)) continue
        const fr = records.get(f.id)!
        const input = fr.inputs.corpus
        const output = fr.outputs.corpus?.hash
        if (input === undefined || output === undefined) continue
        const before = (yield* corpus(input)).numRows
        const after = (yield* corpus(output)).numRows
        row[`dropped_documents_${columnName(nameOf(f))}`] = before - after
      }
      rows.push(row)
    }
    return rows as ReadonlyArray<ExportRow>
  })

/** Every column of the rows, in a stable order (see LEADING). */
export const exportColumns = (rows: ReadonlyArray<ExportRow>): ReadonlyArray<string> => {
  const present = new Set(rows.flatMap((r) => Object.keys(r)))
  const lead = LEADING.filter((k) => present.has(k))
  const confounds = [
    ...CONFOUNDS.filter((k) => present.has(k)),
    ...[...present].filter((k) => k.startsWith("dropped_documents_")).sort()
  ]
  const numericOnly = (k: string) => rows.every((r) => r[k] === undefined || typeof r[k] === "number")
  const rest = [...present].filter((k) => !lead.includes(k) && !confounds.includes(k))
  const tags = rest.filter((k) => !numericOnly(k)).sort()
  const metrics = rest.filter((k) => numericOnly(k)).sort()
  return [...lead, ...tags, ...metrics, ...confounds]
}

/** Numbers as JavaScript prints them (shortest round-trip form): a reader gets back the stored double. */
const text = (c: Cell | undefined): string => (c === undefined ? "" : String(c))

const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, "\"\"")}"` : s)

export const toCsv = (rows: ReadonlyArray<ExportRow>): string => {
  const columns = exportColumns(rows)
  return [columns.map(csvField).join(","), ...rows.map((r) => columns.map((c) => csvField(text(r[c]))).join(","))].join(
    "\n"
  ) + "\n"
}

/** Objects with every column (null where a row has none), in column order. */
export const toJson = (rows: ReadonlyArray<ExportRow>): string => {
  const columns = exportColumns(rows)
  return JSON.stringify(rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))), null, 2) + "\n"
}

const short = (c: Cell | undefined): string =>
  c === undefined
    ? "-"
    : typeof c === "string" || Number.isInteger(c)
    ? String(c)
    : Math.abs(c) >= 100
    ? c.toFixed(1)
    : c.toPrecision(4)

export const toTable = (rows: ReadonlyArray<ExportRow>): string => {
  const columns = exportColumns(rows)
  return alignTable(columns, rows.map((r) => columns.map((c) => short(r[c]))))
}

/** Parquet (ZSTD): string columns for tags, float64 for numbers (null where a row has none). */
export const toParquet = (rows: ReadonlyArray<ExportRow>): Uint8Array => {
  const columns = exportColumns(rows)
  const arrays: Record<string, Array<string | null> | Float64Array> = {}
  for (const c of columns) {
    const numeric = rows.every((r) => r[c] === undefined || typeof r[c] === "number")
    arrays[c] = numeric
      ? Float64Array.from(rows, (r) => (r[c] === undefined ? NaN : Number(r[c])))
      : rows.map((r) => (r[c] === undefined ? null : String(r[c])))
  }
  const table = arrow.tableFromArrays(arrays)
  const props = new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.ZSTD).build()
  return parquet.writeParquet(parquet.Table.fromIPCStream(arrow.tableToIPC(table, "stream")), props)
}
