/**
 * Recursive ML re-estimation of a bigram model: the process, and tractable predictions from Wright-Fisher theory
 * (see wright-fisher.ts; Wang et al. 2024, arXiv 2412.14872).
 *
 * The process (simulateBigram). Tokens x_0..x_N give N transitions; generation 0's counts n_ab are those of the input
 * sequence. The ML model is T(a, b) = n_ab / n_a, with n_a = Σ_b n_ab the count of a as a context. Generation g+1
 * walks the chain T_g from the fixed start token s = x_0 until N transitions are recorded, and its counts are those
 * N transitions. A context with no observed successor (n_a = 0; only ever the previous sample's last token, when it
 * occurred nowhere else) has no ML row: reaching it ends the document — the walk jumps back to s and records
 * nothing. Hence a bigram can appear only if it had count > 0 the generation before: the set of surviving bigram
 * types shrinks pathwise, as in the unigram case.
 *
 * Measured per generation: surviving bigram types #{(a, b) : n_ab > 0}, and the entropy rate of the ML model
 * weighted by the sample's context frequencies, H = -Σ_ab (n_ab/N) log2(n_ab/n_a) (bits per token), i.e. the plug-in
 * conditional entropy H(B | A) of the sampled transitions.
 */

import { uniformInt } from "pure-rand/distribution/uniformInt"
import type { RandomGenerator } from "pure-rand/types/RandomGenerator"
import { seededGenerator } from "./random.ts"
import { groupCounts, marginalPath } from "./wright-fisher.ts"

/** Bigram counts of a sample of N transitions over token ids 0..V-1; pair (a, b) is keyed a·V + b. */
export interface BigramCounts {
  readonly V: number
  readonly N: number
  readonly pairs: ReadonlyMap<number, number>
  /** n_a = Σ_b n_ab, for contexts with n_a > 0. */
  readonly contexts: ReadonlyMap<number, number>
}

const checkTokens = (tokens: ReadonlyArray<number>, fn: string): number => {
  if (tokens.length < 2) throw new Error(`${fn}: need at least 2 tokens (1 transition), got ${tokens.length}`)
  let max = 0
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0) throw new Error(`${fn}: token ids must be integers >= 0, got ${t}`)
    if (t > max) max = t
  }
  // a·V + b must stay an exact double.
  if (max >= 2 ** 26) throw new Error(`${fn}: token ids must be < 2^26, got ${max}`)
  return max + 1
}

const checkGenerations = (G: number, fn: string): void => {
  if (!Number.isSafeInteger(G) || G < 0) throw new Error(`${fn}: generations must be an integer >= 0, got ${G}`)
}

const countsOf = (pairs: Map<number, number>, V: number, N: number): BigramCounts => {
  const contexts = new Map<number, number>()
  for (const [key, n] of pairs) {
    const a = Math.floor(key / V)
    contexts.set(a, (contexts.get(a) ?? 0) + n)
  }
  return { V, N, pairs, contexts }
}

/** Bigram counts of a token sequence (N = tokens.length - 1 transitions); V = max id + 1. */
export const bigramCounts = (tokens: ReadonlyArray<number>): BigramCounts => {
  const V = checkTokens(tokens, "bigramCounts")
  const pairs = new Map<number, number>()
  for (let t = 0; t + 1 < tokens.length; t++) {
    const key = tokens[t] * V + tokens[t + 1]
    pairs.set(key, (pairs.get(key) ?? 0) + 1)
  }
  return countsOf(pairs, V, tokens.length - 1)
}

/** Plug-in entropy rate H(B | A) = -Σ_ab (n_ab/N) log2(n_ab/n_a), bits per token. */
export const bigramEntropyRate = (c: BigramCounts): number => {
  let h = 0
  for (const [key, n] of c.pairs) {
    const na = c.contexts.get(Math.floor(key / c.V)) ?? n
    h -= (n / c.N) * Math.log2(n / na)
  }
  return h
}

export interface BigramRun {
  readonly generation: number
  /** #{(a, b) : n_ab > 0} in this generation's sample. */
  readonly survivingBigrams: number
  /** Bits per token. */
  readonly entropyRate: number
}

/** ML chain in CSR form: row a is succ/cum[rowStart[a] .. rowStart[a+1]), cum the inclusive running counts. */
interface Chain {
  readonly rowStart: Int32Array
  readonly succ: Int32Array
  readonly cum: Int32Array
}

const buildChain = (c: BigramCounts): Chain => {
  const { V } = c
  // Sorted keys: rows by context, successors by id, so a draw depends on the counts only, not on Map order.
  const keys = [...c.pairs.keys()].sort((x, y) => x - y)
  const rowStart = new Int32Array(V + 1)
  for (const key of keys) rowStart[Math.floor(key / V) + 1]++
  for (let a = 0; a < V; a++) rowStart[a + 1] += rowStart[a]
  const succ = new Int32Array(keys.length)
  const cum = new Int32Array(keys.length)
  let prevRow = -1
  let run = 0
  keys.forEach((key, e) => {
    const a = Math.floor(key / V)
    if (a !== prevRow) {
      prevRow = a
      run = 0
    }
    run += c.pairs.get(key) ?? 0
    succ[e] = key - a * V
    cum[e] = run
  })
  return { rowStart, succ, cum }
}

/** One generation: N transitions walked from start; a context with no row sends the walk back to start, unrecorded. */
const sampleGeneration = (c: BigramCounts, start: number, rng: RandomGenerator): BigramCounts => {
  const { V, N } = c
  const { rowStart, succ, cum } = buildChain(c)
  const pairs = new Map<number, number>()
  let cur = start
  for (let recorded = 0; recorded < N;) {
    const lo0 = rowStart[cur]
    const end = rowStart[cur + 1]
    if (lo0 === end) {
      // start always has a row (every walk leaves it first), so this terminates.
      cur = start
      continue
    }
    // A uniform position among the row's n_a observed successors: exactly T(cur, ·), integer arithmetic only.
    const r = uniformInt(rng, 0, cum[end - 1] - 1)
    let lo = lo0
    let hi = end - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cum[mid] > r) hi = mid
      else lo = mid + 1
    }
    const next = succ[lo]
    const key = cur * V + next
    pairs.set(key, (pairs.get(key) ?? 0) + 1)
    cur = next
    recorded++
  }
  return countsOf(pairs, V, N)
}

/**
 * The empirical bigram process (see the file header) for generations 0..G; randomness from seededGenerator(seed).
 * Generation 0 is the input sequence's own counts.
 */
export const simulateBigram = (tokens: ReadonlyArray<number>, generations: number, seed: number): BigramRun[] => {
  checkGenerations(generations, "simulateBigram")
  let c = bigramCounts(tokens)
  const rng = seededGenerator(seed)
  const out: BigramRun[] = []
  for (let g = 0;; g++) {
    out.push({ generation: g, survivingBigrams: c.pairs.size, entropyRate: bigramEntropyRate(c) })
    if (g === generations) return out
    c = sampleGeneration(c, tokens[0], rng)
  }
}

export interface BigramPrediction {
  readonly generation: number
  readonly expectedSurvivingBigrams: number
  /** Bits per token. */
  readonly expectedEntropyRate: number
}

/**
 * - "pooled" (default): the N transitions of a generation are treated as N iid draws from the pair distribution
 *   n_ab/N. Assumptions:
 *   (A1) no serial dependence: the walk's consecutive transitions share a token, so in truth a context's visit count
 *        n'_a has variance N π_a (1-π_a)·(1 + 2 Σ_k ρ_k) (its integrated autocorrelation), not the binomial
 *        N π_a (1-π_a) assumed here. Given its visit count, a context's successors are (close to) iid T(a, ·) draws
 *        in both, so only the drift of the context counts is misstated, not the within-row drift;
 *   (A2) the current chain's stationary context law is its empirical one, π_a = n_a/N. Exact when every type's
 *        in-count equals its out-count; a path violates this only at its two ends (off by <= 1/N);
 *   (A3) the fixed start token and the end-of-document restarts are ignored.
 *   Under (A1)-(A2) the pair counts are Multinomial(N, n/N) each generation: a Wright-Fisher process on bigram types,
 *   so each n_ab, and each context total n_a (a lumped Wright-Fisher type is again one), is its own Bin(N, ·/N)
 *   chain. E[#bigrams] = Σ_ab P(n_ab > 0), and since H(B|A) = H(A,B) - H(A) holds for every sample (Σ_b n_ab = n_a),
 *   E[H(B|A)] = Σ_ab E[-(n_ab/N) log2(n_ab/N)] - Σ_a E[-(n_a/N) log2(n_a/N)]: exact under (A1)-(A3), by linearity.
 * - "per-context": each context keeps its generation-0 visit count M_a = n_a forever (contexts never drift or die)
 *   and its successor counts evolve as an independent Wright-Fisher process of population M_a,
 *   n'_a· ~ Multinomial(M_a, n_a·/M_a). E[#bigrams] = Σ_ab P(chain of size M_a from n_ab survives) and
 *   E[H] = Σ_a (M_a/N) Σ_b E[-(n_ab/M_a) log2(n_ab/M_a)]. Ignoring context drift, it overpredicts survival: a
 *   context seen once keeps its one successor forever. Kept as the upper reference.
 * Both coincide with the data at generation 0.
 */
export type BigramPredictionModel = "pooled" | "per-context"

/** Predicted expected surviving bigram types and entropy rate per generation 0..G; see BigramPredictionModel. */
export const bigramPrediction = (
  tokens: ReadonlyArray<number>,
  generations: number,
  model: BigramPredictionModel = "pooled"
): BigramPrediction[] => {
  checkGenerations(generations, "bigramPrediction")
  const c = bigramCounts(tokens)
  const { N } = c
  const survivors = new Float64Array(generations + 1)
  const entropy = new Float64Array(generations + 1)
  const sorted = (m: Map<number, number>): Array<[number, number]> => [...m].sort((x, y) => x[0] - y[0])
  if (model === "pooled") {
    for (const [n, mult] of sorted(groupCounts(c.pairs.values()))) {
      const path = marginalPath(N, n, generations)
      for (let g = 0; g <= generations; g++) {
        survivors[g] += mult * path.survival[g]
        entropy[g] += mult * path.entropyTerm[g]
      }
    }
    for (const [n, mult] of sorted(groupCounts(c.contexts.values()))) {
      const path = marginalPath(N, n, generations)
      for (let g = 0; g <= generations; g++) entropy[g] -= mult * path.entropyTerm[g]
    }
  } else {
    // Group bigrams by (context size M, count n): one chain of population M per group. Key M·(N+1) + n.
    const groups = new Map<number, number>()
    for (const [key, n] of c.pairs) {
      const M = c.contexts.get(Math.floor(key / c.V)) ?? n
      const k = M * (N + 1) + n
      groups.set(k, (groups.get(k) ?? 0) + 1)
    }
    for (const [k, mult] of sorted(groups)) {
      const M = Math.floor(k / (N + 1))
      const path = marginalPath(M, k - M * (N + 1), generations)
      for (let g = 0; g <= generations; g++) {
        survivors[g] += mult * path.survival[g]
        entropy[g] += ((mult * M) / N) * path.entropyTerm[g]
      }
    }
  }
  return Array.from({ length: generations + 1 }, (_, g) => ({
    generation: g,
    expectedSurvivingBigrams: survivors[g],
    expectedEntropyRate: entropy[g]
  }))
}
