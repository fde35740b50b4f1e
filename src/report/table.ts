/** Plain-text tables: the per-generation metrics table and a generic aligned table. */
import { maxOf } from "./extent.ts"
import { clipSummary, orderMetricKeys } from "./metric-info.ts"
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

/** The CLI's short headers of the built-in metrics; a metric of a user's stage is headed by its key. */
const HEADERS: Readonly<Record<string, string>> = {
  perplexity: "ppl",
  baseline_perplexity: "baseline",
  distinct_1: "distinct-1",
  distinct_2: "distinct-2",
  rep_4: "rep-4",
  word_rep_4: "word-rep-4",
  repeated_3gram_share: "rep-3gram",
  compression_ratio: "deflate",
  self_bleu: "self-BLEU",
  unigram_entropy: "entropy",
  vocab_coverage: "coverage"
}

/** The number of seeds behind rows: the distinct values of their `seed` tag (rows without one are one seed). */
export const seedCount = (tags: ReadonlyArray<Readonly<Record<string, string | number>>>): number =>
  new Set(tags.map((t) => (t.seed === undefined ? "" : String(t.seed)))).size

const fmt = (x: number): string => Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 10 ? x.toFixed(2) : x.toFixed(3)

/**
 * "mean±h" with h the half-width of the 95% t-interval of the mean over seeds; for a bounded metric (a fraction)
 * whose interval reaches past its range, "mean [lo, hi]" with the interval clipped to it.
 */
const meanInterval = (key: string, xs: ReadonlyArray<number>): { readonly text: string; readonly clipped: boolean } => {
  const s = clipSummary(key, summarize(xs))
  if (xs.length < 2) return { text: fmt(s.mean), clipped: false }
  return s.clipped
    ? { text: `${fmt(s.mean)} [${fmt(s.lo)}, ${fmt(s.hi)}]`, clipped: true }
    : { text: `${fmt(s.mean)}±${fmt(s.hi - s.mean)}`, clipped: false }
}

/**
 * One table per arm (the tags other than `seed` and `generation`), one row per generation, each cell the mean
 * over seeds (± the half-width of its 95% t-interval when there are several). Every metric key is a column: the
 * built-in ones first, in the report's order, then the rest (a user's stage's) sorted. A generation may have several
 * metric stages: the seeds are counted from the `seed` tag, not from the rows.
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
    const seeds = maxOf([...byGen.values()].map((rs) => seedCount(rs.map((r) => r.tags))))
    const columns = orderMetricKeys([...byGen.values()].flatMap((rs) => rs.flatMap((r) => Object.keys(r.values))))
    let clipped = false
    const body = [...byGen.entries()].sort(([a], [b]) => a - b).map(([g, rs]) => [
      String(g),
      ...columns.map((k) => {
        const xs = rs.map((r) => r.values[k]).filter((v) => v !== undefined)
        if (xs.length === 0) return "-" // e.g. the untrained baseline has a perplexity and no sample
        const cell = meanInterval(k, xs)
        clipped ||= cell.clipped
        return cell.text
      })
    ])
    const note = clipped ? "\n[lo, hi]: an interval clipped to [0, 1], the metric's range" : ""
    out.push(
      `${arm} (${seeds} seed${seeds === 1 ? "" : "s"}; mean${seeds > 1 ? " ± 95% interval of the mean" : ""})\n${
        alignTable(["gen", ...columns.map((k) => HEADERS[k] ?? k)], body)
      }${note}`
    )
  }
  return out.join("\n\n")
}
