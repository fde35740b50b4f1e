/** The metrics a report knows by name: the label and colour each is shown with, and the order they are listed in. */
import type { ArmReport, SeedSummary } from "./data.ts"

export interface MetricInfo {
  readonly key: string
  readonly label: string
  readonly color: string
  /** The values the metric can take, where bounded (a fraction): its 95% band is clipped to them. */
  readonly range?: readonly [number, number]
}

const UNIT = [0, 1] as const

const METRICS: ReadonlyArray<MetricInfo> = [
  { key: "perplexity", label: "perplexity", color: "#4c78a8" },
  { key: "baseline_perplexity", label: "baseline perplexity", color: "#8c8c8c" },
  { key: "distinct_1", label: "distinct-1", color: "#4c78a8", range: UNIT },
  { key: "distinct_2", label: "distinct-2", color: "#f58518", range: UNIT },
  { key: "rep_4", label: "rep-4", color: "#e45756", range: UNIT },
  { key: "word_rep_4", label: "word rep-4", color: "#ff9da6", range: UNIT },
  { key: "repeated_3gram_share", label: "repeated word 3-grams (share)", color: "#9467bd", range: UNIT },
  { key: "compression_ratio", label: "compression ratio (deflate)", color: "#bcbd22" },
  { key: "self_bleu", label: "self-BLEU", color: "#54a24b", range: UNIT },
  { key: "unigram_entropy", label: "unigram entropy (bits)", color: "#b279a2" },
  { key: "vocab_coverage", label: "vocabulary coverage", color: "#9d755d", range: UNIT }
]

/** Evaluate.downstream's keys: `[baseline_]<task>_<probe>_<score>` (probe linear or finetune). */
const DOWNSTREAM =
  /^(baseline_)?([A-Za-z0-9_]+?)_(linear|finetune)_(accuracy|accuracy_lo|accuracy_hi|macro_f1|majority|test_examples|train_examples|l2|cv_loss|cv_accuracy|init_l2|minus_baseline|minus_baseline_lo|minus_baseline_hi|mcnemar_p|better|worse)$/

export interface DownstreamKey {
  readonly baseline: boolean
  readonly task: string
  readonly probe: "linear" | "finetune"
  readonly score: string
}

/** What a downstream probe's metric key names, or undefined for any other key. */
export const downstreamKey = (key: string): DownstreamKey | undefined => {
  const m = DOWNSTREAM.exec(key)
  return m === null
    ? undefined
    : { baseline: m[1] !== undefined, task: m[2], probe: m[3] as "linear" | "finetune", score: m[4] }
}

const SCORE_LABELS: Readonly<Record<string, string>> = {
  accuracy: "accuracy",
  accuracy_lo: "accuracy, 95% low",
  accuracy_hi: "accuracy, 95% high",
  macro_f1: "macro-F1",
  majority: "majority-class share",
  test_examples: "test examples",
  train_examples: "training examples",
  l2: "L2",
  cv_loss: "cross-validated loss (nats)",
  cv_accuracy: "cross-validated accuracy",
  init_l2: "initial head's L2",
  minus_baseline: "accuracy minus the untrained model's (paired)",
  minus_baseline_lo: "accuracy minus the untrained model's, 95% low",
  minus_baseline_hi: "accuracy minus the untrained model's, 95% high",
  mcnemar_p: "McNemar's exact p against the untrained model",
  better: "test examples right where the untrained model is wrong",
  worse: "test examples wrong where the untrained model is right"
}

/** The downstream scores that are not fractions (no [0, 1] range for their bands). */
const UNBOUNDED = new Set([
  "test_examples",
  "train_examples",
  "l2",
  "cv_loss",
  "init_l2",
  "minus_baseline",
  "minus_baseline_lo",
  "minus_baseline_hi",
  "better",
  "worse"
])

const downstreamInfo = (key: string): MetricInfo | undefined => {
  const d = downstreamKey(key)
  if (d === undefined) return undefined
  const probe = d.probe === "linear" ? "linear probe" : "fine-tune"
  return {
    key,
    label: `${d.baseline ? "untrained: " : ""}${d.task}, ${probe}: ${SCORE_LABELS[d.score]}`,
    color: d.baseline ? "#8c8c8c" : d.probe === "linear" ? "#4c78a8" : "#f58518",
    ...(UNBOUNDED.has(d.score) ? {} : { range: UNIT })
  }
}

/** A known metric's label and colour; an unknown one is shown by its key, in a colour no known metric uses. */
export const metricInfo = (key: string): MetricInfo =>
  METRICS.find((m) => m.key === key) ?? downstreamInfo(key) ?? { key, label: key, color: "#72b7b2" }

/** A summary's interval clipped to the metric's range (a t-interval of a fraction near 0 or 1 reaches past it). */
export const clipSummary = (key: string, s: SeedSummary): SeedSummary & { readonly clipped: boolean } => {
  const range = metricInfo(key).range
  if (range === undefined || (s.lo >= range[0] && s.hi <= range[1])) return { ...s, clipped: false }
  return { ...s, lo: Math.max(range[0], s.lo), hi: Math.min(range[1], s.hi), clipped: true }
}

/** How a caption says a band was clipped: "band clipped to [0, 1]". */
export const clippedNote = (key: string): string => {
  const range = metricInfo(key).range ?? UNIT
  return `band clipped to [${range[0]}, ${range[1]}]`
}

/** The metric keys an arm reports, known ones first in a fixed order, then the rest sorted: a stable column order. */
export const metricKeys = (arm: ArmReport): ReadonlyArray<string> =>
  orderMetricKeys(arm.generations.flatMap((g) => Object.keys(g.metrics)))

/** Keys in the report's order: known ones first in a fixed order, then the rest sorted (each once). */
export const orderMetricKeys = (keys: Iterable<string>): ReadonlyArray<string> => {
  const present = new Set(keys)
  const known = METRICS.map((m) => m.key).filter((k) => present.has(k))
  return [...known, ...[...present].filter((k) => !known.includes(k)).sort()]
}
