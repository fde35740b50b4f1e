/** Plain-text tables: the per-generation metrics table and a generic aligned table. */

export const alignTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
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
  ["self_bleu", "self-BLEU"],
  ["unigram_entropy", "entropy"],
  ["vocab_coverage", "coverage"]
]

const fmt = (x: number): string =>
  Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 10 ? x.toFixed(2) : x.toFixed(3)

const meanSd = (xs: ReadonlyArray<number>): string => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  if (xs.length < 2) return fmt(mean)
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1))
  return `${fmt(mean)}±${fmt(sd)}`
}

/**
 * One table per arm (the tags other than `seed` and `generation`), one row per generation, each cell the mean
 * over seeds (± sample standard deviation when there are several).
 */
export const metricsTables = (rows: ReadonlyArray<MetricsRow>): string => {
  const arms = new Map<string, Map<number, MetricsRow[]>>()
  for (const row of rows) {
    const arm = Object.entries(row.tags)
      .filter(([k]) => k !== "seed" && k !== "generation")
      .map(([k, v]) => `${k}=${v}`)
      .join(" ") || "(all)"
    const generation = Number(row.tags.generation ?? 0)
    const byGen = arms.get(arm) ?? new Map<number, MetricsRow[]>()
    arms.set(arm, byGen)
    byGen.set(generation, [...(byGen.get(generation) ?? []), row])
  }
  const out: string[] = []
  for (const [arm, byGen] of arms) {
    const seeds = Math.max(...[...byGen.values()].map((r) => r.length))
    const columns = COLUMNS.filter(([k]) => [...byGen.values()].some((rs) => rs.some((r) => k in r.values)))
    const body = [...byGen.entries()].sort(([a], [b]) => a - b).map(([g, rs]) => [
      String(g),
      ...columns.map(([k]) => meanSd(rs.map((r) => r.values[k]).filter((v) => v !== undefined)))
    ])
    out.push(`${arm} (${seeds} seed${seeds === 1 ? "" : "s"}; mean${seeds > 1 ? "±sd" : ""})\n${alignTable(["gen", ...columns.map(([, h]) => h)], body)}`)
  }
  return out.join("\n\n")
}
