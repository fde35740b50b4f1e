/**
 * Exact theory for recursive maximum-likelihood re-estimation of a unigram model (Wang et al. 2024, "Why language
 * models collapse when trained on recursively generated text", arXiv 2412.14872).
 *
 * With counts c (Σ c_i = N), the ML model is p = c/N; drawing N tokens from it and re-estimating gives
 * c' ~ Multinomial(N, c/N): the neutral Wright-Fisher model (Ewens, "Mathematical Population Genetics", 2004, §1.2,
 * §3.3). Each coordinate alone is a Markov chain, c_i' | c ~ Binomial(N, c_i/N), which depends on c only through c_i
 * (a multinomial's marginal is binomial), so type i's count is the chain on {0..N} with
 * P[j][k] = C(N,k) (j/N)^k (1-j/N)^(N-k), absorbed at 0 (lost) and at N (fixed).
 *
 * Entropies are in bits throughout.
 */

import { uniformInt } from "pure-rand/distribution/uniformInt"
import { seededGenerator } from "./random.ts"
import { entropyBits, plogp } from "./statistics.ts"

// ---------------------------------------------------------------------------------------------------------------
// Binomial pmf, computed in log space with Loader's saddle-point form ("Fast and accurate computation of binomial
// probabilities", C. Loader 2000; R's dbinom_raw). Writing log C(n,k) as differences of log-factorials loses
// ~|log n!|·ε absolute (2e-11 at n = 2e4); Loader's form keeps the large terms cancelled analytically:
//   b(k; n, p) = sqrt(n / (2π k (n-k))) · exp(δ(n) - δ(k) - δ(n-k) - D(k, np) - D(n-k, nq))
// with δ(n) = log n! - log(sqrt(2πn) (n/e)^n) the Stirling error and D(x, m) = x log(x/m) + m - x the deviance.
// Relative error ~1e-15 per entry.
// ---------------------------------------------------------------------------------------------------------------

/** δ(n) for n = 0..15 (index n), from R's nmath/stirlerr.c (δ(0) is unused: placeholder). */
const STIRLERR_SMALL = [
  0,
  0.0810614667953272582196702,
  0.0413406959554092940938221,
  0.02767792568499833914878929,
  0.02079067210376509311152277,
  0.01664469118982119216319487,
  0.01387612882307074799874573,
  0.01189670994589177009505572,
  0.010411265261972096497478567,
  0.009255462182712732917728637,
  0.008330563433362871256469318,
  0.007573675487951840794972024,
  0.006942840107209529865664152,
  0.006408994188004207068439631,
  0.005951370112758847735624416,
  0.00555473355196280137103869
]

/** Stirling error δ(n) for integer n >= 1: table, then the asymptotic series 1/12n - 1/360n³ + 1/1260n⁵ - ... */
const stirlerr = (n: number): number => {
  if (n <= 15) return STIRLERR_SMALL[n]
  const S0 = 1 / 12
  const S1 = 1 / 360
  const S2 = 1 / 1260
  const S3 = 1 / 1680
  const S4 = 1 / 1188
  const nn = n * n
  // Fewer terms as n grows, as in R: each cut-off keeps the truncation error below double precision.
  if (n > 500) return (S0 - S1 / nn) / n
  if (n > 80) return (S0 - (S1 - S2 / nn) / nn) / n
  if (n > 35) return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n
  return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n
}

/** Deviance D(x, m) = x log(x/m) + m - x, by its series in v = (x-m)/(x+m) when x ≈ m (avoids cancellation). */
const bd0 = (x: number, m: number): number => {
  if (Math.abs(x - m) < 0.1 * (x + m)) {
    let v = (x - m) / (x + m)
    let s = (x - m) * v
    let ej = 2 * x * v
    v *= v
    for (let j = 1; j < 1000; j++) {
      ej *= v
      const s1 = s + ej / (2 * j + 1)
      if (s1 === s) return s1
      s = s1
    }
    return s
  }
  return x * Math.log(x / m) + m - x
}

const LOG_2PI = Math.log(2 * Math.PI)

/** Binomial(n, p) probability of k, with q = 1 - p passed separately so that p = j/n gives q = (n-j)/n exactly. */
const dbinomRaw = (k: number, n: number, p: number, q: number): number => {
  if (p === 0) return k === 0 ? 1 : 0
  if (q === 0) return k === n ? 1 : 0
  if (k === 0) {
    if (n === 0) return 1
    return Math.exp(p < 0.1 ? -bd0(n, n * q) - n * p : n * Math.log(q))
  }
  if (k === n) return Math.exp(q < 0.1 ? -bd0(n, n * p) - n * q : n * Math.log(p))
  if (k < 0 || k > n) return 0
  const lc = stirlerr(n) - stirlerr(k) - stirlerr(n - k) - bd0(k, n * p) - bd0(n - k, n * q)
  // log(2π k (n-k)/n) from exact integers; R's log1p(-k/n) loses ~ε/(1-k/n) relative when k ≈ n.
  const lf = LOG_2PI + Math.log(k) + Math.log(n - k) - Math.log(n)
  return Math.exp(lc - 0.5 * lf)
}

const checkPopulation = (N: number, fn: string): void => {
  if (!Number.isSafeInteger(N) || N < 1 || N > 94_906_265) {
    // N² must stay an exact double: the row recurrence multiplies integer products of that size.
    throw new Error(`${fn}: N must be an integer in [1, 94906265], got ${N}`)
  }
}

/** P(K = k) for K ~ Binomial(n, p), relative error ~1e-15 (Loader 2000). */
export const binomialPmf = (k: number, n: number, p: number): number => {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`binomialPmf: n must be an integer >= 0, got ${n}`)
  if (!(p >= 0 && p <= 1)) throw new Error(`binomialPmf: p must be in [0, 1], got ${p}`)
  if (!Number.isInteger(k) || k < 0 || k > n) return 0
  return dbinomRaw(k, n, p, 1 - p)
}

/** Default truncation: entries below it are dropped. Smaller than any probability that changes a double-precision sum. */
export const DEFAULT_CUTOFF = 1e-300

/** One row of the transition matrix, truncated: values[i] = P[j][lo + i]; entries outside are < cutoff. */
export interface BinomialRow {
  readonly lo: number
  readonly values: Float64Array
}

/**
 * Writes row j of the Wright-Fisher matrix of population N into buf[lo..hi] and returns [lo, hi]. The mode entry is
 * computed with Loader's formula, the rest by the exact ratio b(k+1)/b(k) = (N-k) j / ((k+1)(N-j)) walked outward
 * (one rounding per step, integer products exact for N² < 2^53); the walk stops at the first entry below cutoff, which
 * is valid because the binomial pmf is log-concave, hence monotone on each side of its mode.
 * Cost O(width) = O(sqrt(j (N-j)/N · log(1/cutoff))).
 */
const fillRow = (N: number, j: number, cutoff: number, buf: Float64Array): [number, number] => {
  if (j === 0 || j === N) {
    buf[j] = 1
    return [j, j]
  }
  const mode = Math.min(N, Math.floor(((N + 1) * j) / N))
  const m = dbinomRaw(mode, N, j / N, (N - j) / N)
  buf[mode] = m
  let hi = mode
  let v = m
  while (hi < N) {
    v *= ((N - hi) * j) / ((hi + 1) * (N - j))
    if (v < cutoff) break
    buf[++hi] = v
  }
  let lo = mode
  v = m
  while (lo > 0) {
    v *= (lo * (N - j)) / ((N - lo + 1) * j)
    if (v < cutoff) break
    buf[--lo] = v
  }
  return [lo, hi]
}

/** Row j of the Wright-Fisher transition matrix of population N (Binomial(N, j/N)), entries < cutoff dropped. */
export const binomialRow = (N: number, j: number, cutoff: number = DEFAULT_CUTOFF): BinomialRow => {
  checkPopulation(N, "binomialRow")
  if (!Number.isInteger(j) || j < 0 || j > N) {
    throw new Error(`binomialRow: j must be an integer in [0, ${N}], got ${j}`)
  }
  const buf = new Float64Array(N + 1)
  const [lo, hi] = fillRow(N, j, cutoff, buf)
  return { lo, values: buf.slice(lo, hi + 1) }
}

/**
 * Largest N binomialTransition accepts. The banded matrix holds Σ_j width_j ≈ 2·sqrt(2 ln(1/cutoff))·(π/8)·N^1.5
 * doubles (≈ 29·N^1.5 at cutoff 1e-300: 230 MB at N = 10^4), against (N+1)² for the dense matrix (800 MB at 10^4).
 * Past this size propagate distributions with stepCountDistribution, which builds each row on the fly.
 */
export const MAX_TRANSITION_N = 10_000

/**
 * The (N+1)×(N+1) Wright-Fisher transition matrix P[j][k] = C(N,k) (j/N)^k (1-j/N)^(N-k), banded: row j keeps the
 * contiguous run of entries >= cutoff around its mode (cutoff 0 keeps every representable entry). Rows sum to 1
 * within ~1e-13.
 */
export const binomialTransition = (N: number, cutoff: number = DEFAULT_CUTOFF): BinomialRow[] => {
  checkPopulation(N, "binomialTransition")
  if (N > MAX_TRANSITION_N) {
    throw new Error(`binomialTransition: N = ${N} > ${MAX_TRANSITION_N}; use stepCountDistribution (rows on the fly)`)
  }
  const buf = new Float64Array(N + 1)
  const rows: BinomialRow[] = []
  for (let j = 0; j <= N; j++) {
    const [lo, hi] = fillRow(N, j, cutoff, buf)
    rows.push({ lo, values: buf.slice(lo, hi + 1) })
  }
  return rows
}

/** Dense (N+1)×(N+1) matrix, for small N (tests, inspection); O(N²) memory. */
export const denseBinomialTransition = (N: number): Float64Array[] => {
  checkPopulation(N, "denseBinomialTransition")
  if (N > 4096) throw new Error(`denseBinomialTransition: N = ${N} > 4096 (O(N²) memory); use binomialTransition`)
  return binomialTransition(N, 0).map((row) => {
    const dense = new Float64Array(N + 1)
    dense.set(row.values, row.lo)
    return dense
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Propagating one type's count distribution.
// ---------------------------------------------------------------------------------------------------------------

/** Distribution of one type's count: p[i] = P(count = lo + i); the states outside carry negligible mass. */
export interface CountDistribution {
  readonly lo: number
  readonly p: Float64Array
}

/** Point mass at count c. */
export const pointMass = (c: number): CountDistribution => ({ lo: c, p: Float64Array.of(1) })

/**
 * Truncation used when propagating distributions: row entries below it are dropped, and so are the outer tails of
 * the propagated distribution while their cumulative mass stays below it. A row's dropped tail is <= tol·(1 + σ/9)
 * (log-concave tail past ~9.6σ), so each step loses < ~1e-18 of mass, and G generations over V types move an
 * expected count of survivors by < G·V·1e-18: invisible in double precision. It matters for speed: a cutoff of
 * 1e-300 instead keeps rows ±37σ wide and the heavy (exponential) upper tail of a surviving rare type out to
 * ~700·g/2 states, which costs ~50x more at N = 2·10^4.
 */
export const PROPAGATION_TOLERANCE = 1e-20

/** Scratch buffers per N, reused across steps (the chain step touches only the band it writes). */
class Stepper {
  readonly row: Float64Array
  readonly acc: Float64Array
  constructor(readonly N: number, readonly tol: number) {
    this.row = new Float64Array(N + 1)
    this.acc = new Float64Array(N + 1)
  }

  /** v' = v P, rows built on the fly, then tails of cumulative mass < tol trimmed from both ends. */
  step(d: CountDistribution): CountDistribution {
    const { N, tol, row, acc } = this
    let outLo = N + 1
    let outHi = -1
    for (let i = 0; i < d.p.length; i++) {
      const w = d.p[i]
      if (w === 0) continue
      const [lo, hi] = fillRow(N, d.lo + i, tol, row)
      for (let k = lo; k <= hi; k++) acc[k] += w * row[k]
      if (lo < outLo) outLo = lo
      if (hi > outHi) outHi = hi
    }
    let lo = outLo
    let hi = outHi
    for (let m = acc[lo]; lo < hi && m < tol; m += acc[lo]) lo++
    for (let m = acc[hi]; hi > lo && m < tol; m += acc[hi]) hi--
    const p = acc.slice(lo, hi + 1)
    acc.fill(0, outLo, outHi + 1)
    return { lo, p }
  }
}

/** One generation of the count chain of population N: the distribution of c' when c ~ d and c' | c ~ Bin(N, c/N). */
export const stepCountDistribution = (
  N: number,
  d: CountDistribution,
  tol: number = PROPAGATION_TOLERANCE
): CountDistribution => {
  checkPopulation(N, "stepCountDistribution")
  if (d.lo < 0 || d.lo + d.p.length - 1 > N) throw new Error(`stepCountDistribution: states must lie in [0, ${N}]`)
  return new Stepper(N, tol).step(d)
}

/** Per generation 0..G, for a type starting at count c0 in population N: P(count > 0) and E[-(c/N) log2(c/N)]. */
export interface MarginalPath {
  readonly survival: Float64Array
  readonly entropyTerm: Float64Array
}

/** The marginal path of one type's count chain from c0 over G generations (exact up to PROPAGATION_TOLERANCE). */
export const marginalPath = (N: number, c0: number, G: number, tol: number = PROPAGATION_TOLERANCE): MarginalPath => {
  checkPopulation(N, "marginalPath")
  if (!Number.isInteger(c0) || c0 < 0 || c0 > N) throw new Error(`marginalPath: c0 must be an integer in [0, ${N}]`)
  const stepper = new Stepper(N, tol)
  const survival = new Float64Array(G + 1)
  const entropyTerm = new Float64Array(G + 1)
  let d = pointMass(c0)
  for (let g = 0; g <= G; g++) {
    let p0 = 0
    let h = 0
    for (let i = 0; i < d.p.length; i++) {
      const k = d.lo + i
      if (k === 0) p0 = d.p[i]
      else h += d.p[i] * plogp(k, N)
    }
    // 1 - P(0) rather than Σ_{k>0} P(k): the truncated tails then count as surviving mass, not lost mass.
    survival[g] = 1 - p0
    entropyTerm[g] = h
    if (g < G) d = stepper.step(d)
  }
  return { survival, entropyTerm }
}

const checkCounts = (counts: ReadonlyArray<number>, fn: string): number => {
  let N = 0
  for (const c of counts) {
    if (!Number.isSafeInteger(c) || c < 0) throw new Error(`${fn}: counts must be integers >= 0, got ${c}`)
    N += c
  }
  if (N < 1) throw new Error(`${fn}: counts must sum to at least 1`)
  return N
}

const checkGenerations = (G: number, fn: string): void => {
  if (!Number.isSafeInteger(G) || G < 0) throw new Error(`${fn}: generations must be an integer >= 0, got ${G}`)
}

/** Multiplicity of each distinct positive value: types with equal counts share one chain. */
export const groupCounts = (counts: Iterable<number>): Map<number, number> => {
  const groups = new Map<number, number>()
  for (const c of counts) if (c > 0) groups.set(c, (groups.get(c) ?? 0) + 1)
  return groups
}

export interface UnigramPrediction {
  readonly generation: number
  readonly expectedSurvivingTypes: number
  /** Bits. */
  readonly expectedEntropy: number
}

/**
 * Exact expected number of surviving types and expected ML entropy (bits) per generation 0..G of the unigram
 * Wright-Fisher process started at counts (N = Σ counts; generation 0 is the counts themselves).
 *
 * Both are sums over types of a function of that type's own count:
 *   E[#{i : c_i > 0}] = Σ_i P(c_i > 0),   E[H] = Σ_i E[-(c_i/N) log2(c_i/N)],
 * so by linearity of expectation they need only each type's marginal chain (Bin(N, c/N), see the file header). This
 * is exact although the types are dependent (their counts are multinomial, summing to N): dependence affects joint
 * laws, never sums of marginal expectations. Types sharing an initial count share one chain, propagated once.
 * Cost per group and generation: Σ over its support of the row widths, O(σ_support · σ_row · log(1/PROPAGATION_TOLERANCE)).
 */
export const exactUnigramPrediction = (counts: ReadonlyArray<number>, generations: number): UnigramPrediction[] => {
  const N = checkCounts(counts, "exactUnigramPrediction")
  checkGenerations(generations, "exactUnigramPrediction")
  const survivors = new Float64Array(generations + 1)
  const entropy = new Float64Array(generations + 1)
  for (const [c, mult] of [...groupCounts(counts)].sort((a, b) => a[0] - b[0])) {
    const path = marginalPath(N, c, generations)
    for (let g = 0; g <= generations; g++) {
      survivors[g] += mult * path.survival[g]
      entropy[g] += mult * path.entropyTerm[g]
    }
  }
  return Array.from({ length: generations + 1 }, (_, g) => ({
    generation: g,
    expectedSurvivingTypes: survivors[g],
    expectedEntropy: entropy[g]
  }))
}

// ---------------------------------------------------------------------------------------------------------------
// Simulation.
// ---------------------------------------------------------------------------------------------------------------

export interface UnigramRun {
  readonly generation: number
  readonly survivingTypes: number
  /** Bits. */
  readonly entropy: number
}

/**
 * The empirical process: each generation draws N tokens from the current ML distribution c/N and re-counts.
 * A draw is a uniform position in the current corpus (the tokens laid out by type), which is exactly categorical
 * c/N with integer arithmetic only. Randomness: seededGenerator(seed); generation 0 is the initial counts.
 */
export const simulateUnigram = (counts: ReadonlyArray<number>, generations: number, seed: number): UnigramRun[] => {
  const N = checkCounts(counts, "simulateUnigram")
  checkGenerations(generations, "simulateUnigram")
  const rng = seededGenerator(seed)
  const V = counts.length
  let cur = Int32Array.from(counts)
  const corpus = new Int32Array(N)
  const out: UnigramRun[] = []
  for (let g = 0;; g++) {
    let surviving = 0
    for (let i = 0; i < V; i++) if (cur[i] > 0) surviving++
    out.push({ generation: g, survivingTypes: surviving, entropy: entropyBits(cur) })
    if (g === generations) return out
    let t = 0
    for (let i = 0; i < V; i++) for (let k = 0; k < cur[i]; k++) corpus[t++] = i
    const next = new Int32Array(V)
    for (let s = 0; s < N; s++) next[corpus[uniformInt(rng, 0, N - 1)]]++
    cur = next
  }
}
