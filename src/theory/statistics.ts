/**
 * Statistics of the theory's processes: the entropy of counts (bits), and summaries over seeded runs per generation
 * with Student's t-interval of the mean (its quantile computed exactly) and the percentile band of single runs.
 */

/** -x log2 x for x = k/N (0 at k = 0): one type's contribution to the unigram entropy. */
export const plogp = (k: number, N: number): number => (k === 0 ? 0 : -(k / N) * Math.log2(k / N))

/** Entropy in bits of the ML distribution of counts: -Σ (c/N) log2(c/N). */
export const entropyBits = (counts: ArrayLike<number>): number => {
  let N = 0
  for (let i = 0; i < counts.length; i++) N += counts[i]
  let h = 0
  for (let i = 0; i < counts.length; i++) h += plogp(counts[i], N)
  return h
}

/**
 * P(|T| <= t) for Student's t with integer ν degrees of freedom, by the closed finite series of Abramowitz & Stegun
 * 26.7.3 (ν odd) and 26.7.4 (ν even), θ = atan(t/√ν). Exact up to rounding; O(ν) terms.
 */
const studentAbsCdf = (t: number, nu: number): number => {
  const theta = Math.atan(t / Math.sqrt(nu))
  const c2 = Math.cos(theta) ** 2
  let term = 1
  let sum = 1
  if (nu % 2 === 1) {
    if (nu === 1) return (2 / Math.PI) * theta
    for (let k = 2; k <= nu - 3; k += 2) {
      term *= (k / (k + 1)) * c2
      sum += term
    }
    return (2 / Math.PI) * (theta + Math.sin(theta) * Math.cos(theta) * sum)
  }
  for (let k = 1; k <= nu - 3; k += 2) {
    term *= (k / (k + 1)) * c2
    sum += term
  }
  return Math.sin(theta) * sum
}

/** Quantile t_{p, ν} of Student's t (integer ν >= 1), by bisection on the exact CDF. */
export const studentTQuantile = (p: number, nu: number): number => {
  if (!(p > 0 && p < 1)) throw new Error(`studentTQuantile: p must be in (0, 1), got ${p}`)
  if (!Number.isSafeInteger(nu) || nu < 1) throw new Error(`studentTQuantile: ν must be an integer >= 1, got ${nu}`)
  if (p < 0.5) return -studentTQuantile(1 - p, nu)
  if (p === 0.5) return 0
  const target = 2 * p - 1
  let lo = 0
  let hi = 1
  while (studentAbsCdf(hi, nu) < target) {
    lo = hi
    hi *= 2
  }
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = (lo + hi) / 2
    if (studentAbsCdf(mid, nu) < target) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

/** Sample quantile, linear interpolation between order statistics (Hyndman & Fan type 7, R's default). */
const quantile7 = (sorted: ReadonlyArray<number>, q: number): number => {
  const h = (sorted.length - 1) * q
  const i = Math.floor(h)
  return i + 1 < sorted.length ? sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]) : sorted[i]
}

export interface RunSummary {
  readonly generation: number
  readonly runs: number
  readonly mean: number
  /** Sample standard deviation over runs (n - 1 denominator); NaN for one run. */
  readonly sd: number
  /**
   * THE BAND: t-interval of the mean over runs, mean ± t_{(1+level)/2, n-1} · sd/√n. It covers the process's true
   * expectation with probability `level` per generation, so it is what an exact expected-value prediction is checked
   * against. Collapses to [mean, mean] when all runs agree; NaN for one run.
   */
  readonly lo: number
  readonly hi: number
  /** Spread of single runs: the empirical (1-level)/2 and (1+level)/2 quantiles (type 7), e.g. 2.5% and 97.5%. */
  readonly percentileLo: number
  readonly percentileHi: number
}

/**
 * Per-generation summary of runs[seed][generation] (every run the same length): mean, the t-interval of the mean
 * (lo, hi — "the band") and the percentile band of single runs. level defaults to 0.95. Note that the band covers
 * the truth with probability `level` at each generation separately; over G correlated generations the chance that
 * all are covered is lower (Bonferroni: use level = 1 - 0.05/G for a family-wise 95%).
 */
export const summarizeRuns = (runs: ReadonlyArray<ReadonlyArray<number>>, level = 0.95): RunSummary[] => {
  if (runs.length === 0) throw new Error("summarizeRuns: no runs")
  if (!(level > 0 && level < 1)) throw new Error(`summarizeRuns: level must be in (0, 1), got ${level}`)
  const G = runs[0].length
  for (const r of runs) if (r.length !== G) throw new Error("summarizeRuns: runs differ in length")
  const n = runs.length
  const t = n > 1 ? studentTQuantile((1 + level) / 2, n - 1) : Number.NaN
  return Array.from({ length: G }, (_, g) => {
    const xs = runs.map((r) => r[g])
    const mean = xs.reduce((a, b) => a + b, 0) / n
    const sd = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : Number.NaN
    const half = sd === 0 ? 0 : (t * sd) / Math.sqrt(n)
    const sorted = [...xs].sort((a, b) => a - b)
    return {
      generation: g,
      runs: n,
      mean,
      sd,
      lo: mean - half,
      hi: mean + half,
      percentileLo: quantile7(sorted, (1 - level) / 2),
      percentileHi: quantile7(sorted, (1 + level) / 2)
    }
  })
}
