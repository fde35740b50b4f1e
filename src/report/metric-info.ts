/** The metrics a report knows by name: the label and colour each is shown with, and the order they are listed in. */
import type { ArmReport } from "./data.ts"

export interface MetricInfo {
  readonly key: string
  readonly label: string
  readonly color: string
}

const METRICS: ReadonlyArray<MetricInfo> = [
  { key: "perplexity", label: "perplexity", color: "#4c78a8" },
  { key: "baseline_perplexity", label: "baseline perplexity", color: "#8c8c8c" },
  { key: "distinct_1", label: "distinct-1", color: "#4c78a8" },
  { key: "distinct_2", label: "distinct-2", color: "#f58518" },
  { key: "rep_4", label: "rep-4", color: "#e45756" },
  { key: "word_rep_4", label: "word rep-4", color: "#ff9da6" },
  { key: "repeated_3gram_share", label: "repeated word 3-grams (share)", color: "#9467bd" },
  { key: "compression_ratio", label: "compression ratio (deflate)", color: "#bcbd22" },
  { key: "self_bleu", label: "self-BLEU", color: "#54a24b" },
  { key: "unigram_entropy", label: "unigram entropy (bits)", color: "#b279a2" },
  { key: "vocab_coverage", label: "vocabulary coverage", color: "#9d755d" }
]

/** A known metric's label and colour; an unknown one is shown by its key, in a colour no known metric uses. */
export const metricInfo = (key: string): MetricInfo => METRICS.find((m) => m.key === key) ?? { key, label: key, color: "#72b7b2" }

/** The metric keys an arm reports, known ones first in a fixed order, then the rest sorted: a stable column order. */
export const metricKeys = (arm: ArmReport): ReadonlyArray<string> => {
  const present = new Set(arm.generations.flatMap((g) => Object.keys(g.metrics)))
  const known = METRICS.map((m) => m.key).filter((k) => present.has(k))
  return [...known, ...[...present].filter((k) => !known.includes(k)).sort()]
}
