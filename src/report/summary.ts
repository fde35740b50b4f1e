/** Aggregation over seeds (mean and 95% t-interval of the mean) and by arm, shared by the metrics table and the report. */
import { studentTQuantile } from "../theory/statistics.ts"
import type { SeedSummary } from "./data.ts"

export const summarize = (values: ReadonlyArray<number>): SeedSummary => {
  const n = values.length
  const mean = values.reduce((a, b) => a + b, 0) / n
  if (n < 2) return { mean, lo: mean, hi: mean, values }
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1))
  const half = studentTQuantile(0.975, n - 1) * sd / Math.sqrt(n)
  return { mean, lo: mean - half, hi: mean + half, values }
}

export { armOf } from "../pipeline/tags.ts"
