/** Plain-text tables: the per-generation metrics table and a generic aligned table. */
import { maxOf } from "./extent.ts"
import { armOf, summarize } from "./summary.ts"

export const alignTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => maxOf(rows.map((r) => (r[i] ?? "").length), h.length))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

export interface MetricsRow {
  readonly tags: Readonly<Record<string, string | number>>
  readonly values: Readonly<Record<string, number>>
}

const COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ["perplexity", "ppl"],
  ["baseline_perplexity", "baseline"],
  ["distinct_1", "distinct-1"],
  ["distinct_2", "distinct-2"],
  ["rep_4", "rep-4"],
  ["word_rep_4", "word-rep-4"],
  ["repeated_3gram_share", "rep-3gram"],
  ["compression_ratio", "deflate"],
  ["self_bleu", "self-BLEU"],
  ["unigram_entropy", "entropy"],
  ["vocab_coverage", "coverage"]
]

const fmt = (x: number): string =>
  Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 10 ? x.toFixed(2) : x.toFixed(3)

/** "mean±h" with h the half-width of the 95% t-interval of the mean over seeds. */
const meanInterval = (xs: ReadonlyArray<number>): string => {
  const s = summarize(xs)
  return xs.length < 2 ? fmt(s.mean) : `${fmt(s.mean)}±${fmt(s.hi - s.mean)}`
}

/**
 * One table per arm (the tags other than `seed` and `generation`), one row per generation, each cell the mean
 * over seeds (± the half-width of its 95% t-interval when there are several).
 */
export const metricsTables = (rows: ReadonlyArray<MetricsRow>): string => {
  const arms = new Map<string, Map<number, MetricsRow[]>>()
  for (const row of rows) {
    const arm = armOf(row.tags)
    const generation = Number(row.tags.generation ?? 0)
    const byGen = arms.get(arm) ?? new Map<number, MetricsRow[]>()
    arms.set(arm, byGen)
    byGen.set(generation, [...(byGen.get(generation) ?? []), row])
  }
  const out: string[] = []
  for (const [arm, byGen] of arms) {
    const seeds = maxOf([...byGen.values()].map((r) => r.length))
    const columns = COLUMNS.filter(([k]) => [...byGen.values()].some((rs) => rs.some((r) => k in r.values)))
    const body = [...byGen.entries()].sort(([a], [b]) => a - b).map(([g, rs]) => [
      String(g),
      ...columns.map(([k]) => {
        const xs = rs.map((r) => r.values[k]).filter((v) => v !== undefined)
        return xs.length === 0 ? "-" : meanInterval(xs) // e.g. the untrained baseline has a perplexity and no sample
      })
    ])
    out.push(`${arm} (${seeds} seed${seeds === 1 ? "" : "s"}; mean${seeds > 1 ? " ± 95% interval of the mean" : ""})\n${alignTable(["gen", ...columns.map(([, h]) => h)], body)}`)
  }
  return out.join("\n\n")
}
