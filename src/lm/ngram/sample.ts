/**
 * Exact, seeded sampling from an n-gram model.
 *
 * Plain sampling (temperature 1, no top-k/top-p) walks the interpolated mixture level by level: at order k it picks
 * one of the history's discounted continuations with probability (c - D) / c(h), or backs off with the remaining
 * D·N1+(h•)/c(h), ending at the uniform 1/V. That is exactly the model's distribution, costing a few binary searches
 * per token.
 *
 * Tempered or truncated sampling needs whole-distribution quantities (a normaliser, a top-k threshold, a nucleus).
 * The distribution is split as p(w) = Γ·B(w) + x(w): B is the history-independent base (the order-1 mixture for KN,
 * uniform or the add-k unigram otherwise), Γ the product of the backoff weights, and x is non-zero only on the
 * entries of the current histories (levels 2..n). So a token costs O(entries of its histories), not O(V):
 * base mass is handled in bulk (precomputed sums and a rejection draw for the unmarked part) and only the nucleus
 * or top-k set is listed. Top-k keeps every token with p >= the K-th largest p (ties all kept, as in HF's
 * top-k); top-p keeps every token with p >= t for the largest t whose kept tempered mass is >= topP.
 * Order: temperature, then top-k, then top-p.
 */

import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import type { RandomGenerator } from "pure-rand/types/RandomGenerator"
import { EOS_ID } from "../tokenizer.ts"
import { advanceHistory, initialHistory, type NgramLevel, type NgramModel } from "./model.ts"

export interface SampleOptions {
  readonly documents: number
  /** Tokens per document at most; a document that reaches it ends without <eos>. */
  readonly maxLength: number
  /** > 0; 1 = the model's distribution. */
  readonly temperature: number
  /** 0 = off. */
  readonly topK: number
  /** In (0, 1]; 1 = off. */
  readonly topP: number
  /** 32-bit integer seed of the xoroshiro128+ generator. */
  readonly seed: number
}

const validate = (opts: SampleOptions): void => {
  const intIn = (x: number, lo: number, hi: number): boolean => Number.isInteger(x) && x >= lo && x <= hi
  if (!intIn(opts.documents, 0, 0x7fffffff)) throw new Error(`sample: documents must be an integer >= 0, got ${opts.documents}`)
  if (!intIn(opts.maxLength, 0, 0x7fffffff)) throw new Error(`sample: maxLength must be an integer >= 0, got ${opts.maxLength}`)
  if (!(opts.temperature > 0 && Number.isFinite(opts.temperature))) {
    throw new Error(`sample: temperature must be > 0, got ${opts.temperature}`)
  }
  if (!intIn(opts.topK, 0, 0x7fffffff)) throw new Error(`sample: topK must be an integer >= 0, got ${opts.topK}`)
  if (!(opts.topP > 0 && opts.topP <= 1)) throw new Error(`sample: topP must be in (0, 1], got ${opts.topP}`)
  if (!intIn(opts.seed, -0x80000000, 0xffffffff)) throw new Error(`sample: seed must be a 32-bit integer, got ${opts.seed}`)
}

/** Smallest e in [lo, hi) with cum[e] > r (the caller guarantees r < cum[hi - 1]). */
const searchCum = (cum: Float64Array, lo: number, hi: number, r: number): number => {
  hi--
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cum[mid] > r) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** One draw at temperature 1, no truncation: the level-by-level mixture walk. */
const drawPlain = (model: NgramModel, hist: Int32Array, rng: RandomGenerator): number => {
  const { order: n, vocabSize: V, smoothing } = model.config
  if (smoothing.kind === "add-k") {
    const h = hist[n - 1]
    if (h >= 0) {
      const level = model.levels[n - 1]
      const total = level.ctxTotals[h]
      const r = uniformFloat64(rng) * (total + smoothing.k * V)
      if (r < total) return level.words[searchCum(level.cumMass, level.ctxOffsets[h], level.ctxOffsets[h + 1], r)]
    }
  } else {
    for (let k = n; k >= 1; k--) {
      const h = hist[k - 1]
      if (h < 0) continue
      const level = model.levels[k - 1]
      const total = level.ctxTotals[h]
      if (total === 0) continue
      const lo = level.ctxOffsets[h]
      const hi = level.ctxOffsets[h + 1]
      const r = uniformFloat64(rng) * total
      if (r < level.cumMass[hi - 1]) return level.words[searchCum(level.cumMass, lo, hi, r)]
    }
  }
  return Math.min(V - 1, Math.floor(uniformFloat64(rng) * V))
}

/** The history-independent part B of p = Γ·B + x (see the module comment). */
const baseDistribution = (model: NgramModel): Float64Array => {
  const { order: n, vocabSize: V, smoothing } = model.config
  const level: NgramLevel = model.levels[0]
  const total = level.ctxTotals[0]
  const base = new Float64Array(V)
  if (smoothing.kind === "add-k") {
    if (n > 1) return base.fill(1 / V)
    const denom = total + smoothing.k * V
    base.fill(smoothing.k / denom)
    for (let e = 0; e < level.words.length; e++) base[level.words[e]] += level.counts[e] / denom
    return base
  }
  if (total === 0) return base.fill(1 / V)
  const D = smoothing.discount
  base.fill((D * level.ctxTypes[0]) / total / V)
  for (let e = 0; e < level.words.length; e++) {
    const c = level.counts[e]
    if (c > D) base[level.words[e]] += (c - D) / total
  }
  return base
}

/** Tempered / truncated sampler with scratch buffers reused across tokens. */
class TruncatedSampler {
  private readonly V: number
  private readonly invT: number
  private readonly base: Float64Array
  private readonly baseMax: number
  /** Token ids by base desc, then id asc. */
  private readonly order: Int32Array
  /** Tempered base relative to its maximum, (B / Bmax)^(1/T), and its running sum. */
  private readonly baseT: Float64Array
  private readonly cumBaseT: Float64Array
  private readonly mark: Int32Array
  private stamp = 0
  private readonly extra: Float64Array
  private readonly touched: Int32Array
  private nTouched = 0
  private readonly keptIds: Int32Array
  private readonly keptQ: Float64Array
  private nKept = 0
  private scratch: Float64Array

  constructor(
    private readonly model: NgramModel,
    temperature: number,
    private readonly topK: number,
    private readonly topP: number
  ) {
    const V = model.config.vocabSize
    this.V = V
    this.invT = 1 / temperature
    this.base = baseDistribution(model)
    const base = this.base
    const ids = Array.from({ length: V }, (_, i) => i)
    ids.sort((a, b) => base[b] - base[a] || a - b)
    this.order = Int32Array.from(ids)
    this.baseMax = base[this.order[0]]
    this.baseT = new Float64Array(V)
    this.cumBaseT = new Float64Array(V)
    let cum = 0
    for (let w = 0; w < V; w++) {
      this.baseT[w] = this.temper(base[w] / this.baseMax)
      cum += this.baseT[w]
      this.cumBaseT[w] = cum
    }
    this.mark = new Int32Array(V)
    this.extra = new Float64Array(V)
    this.touched = new Int32Array(V)
    this.keptIds = new Int32Array(V)
    this.keptQ = new Float64Array(V)
    this.scratch = new Float64Array(64)
  }

  private temper(x: number): number {
    return this.invT === 1 ? x : Math.pow(x, this.invT)
  }

  /** Fills touched/extra with x(w) for the current histories; returns Γ. */
  private spread(hist: Int32Array): number {
    const { order: n, vocabSize: V, smoothing } = this.model.config
    this.stamp++
    this.nTouched = 0
    const touch = (w: number, add: number): void => {
      if (this.mark[w] !== this.stamp) {
        this.mark[w] = this.stamp
        this.extra[w] = 0
        this.touched[this.nTouched++] = w
      }
      this.extra[w] += add
    }
    if (smoothing.kind === "add-k") {
      const h = n > 1 ? hist[n - 1] : -1
      if (h < 0) return 1
      const level = this.model.levels[n - 1]
      const denom = level.ctxTotals[h] + smoothing.k * V
      for (let e = level.ctxOffsets[h]; e < level.ctxOffsets[h + 1]; e++) {
        if (level.counts[e] > 0) touch(level.words[e], level.counts[e] / denom)
      }
      return (smoothing.k * V) / denom
    }
    const D = smoothing.discount
    let mult = 1
    for (let k = n; k >= 2; k--) {
      const h = hist[k - 1]
      if (h < 0) continue
      const level = this.model.levels[k - 1]
      const total = level.ctxTotals[h]
      if (total === 0) continue
      const scale = mult / total
      for (let e = level.ctxOffsets[h]; e < level.ctxOffsets[h + 1]; e++) {
        const c = level.counts[e]
        if (c > 0) touch(level.words[e], c > D ? (c - D) * scale : 0)
      }
      mult *= (D * level.ctxTypes[h]) / total
    }
    return mult
  }

  private keep(w: number, q: number): void {
    this.keptIds[this.nKept] = w
    this.keptQ[this.nKept++] = q
  }

  /** The p-value of rank `rank` (0 = largest) among `values[0..len)`. */
  private rankValue(values: Float64Array, len: number, rank: number): number {
    const sorted = values.subarray(0, len).sort()
    return sorted[len - 1 - rank]
  }

  private ensureScratch(len: number): Float64Array {
    if (this.scratch.length < len) this.scratch = new Float64Array(Math.max(len, this.scratch.length * 2))
    return this.scratch
  }

  draw(hist: Int32Array, rng: RandomGenerator): number {
    const gamma = this.spread(hist)
    const { base, extra, touched, mark, stamp } = this
    const nT = this.nTouched
    // reference scale so that tempering small probabilities does not underflow everything
    let pref = gamma * this.baseMax
    for (let i = 0; i < nT; i++) {
      const w = touched[i]
      const p = gamma * base[w] + extra[w]
      if (p > pref) pref = p
    }
    const denseFactor = this.temper((gamma * this.baseMax) / pref)
    const qOf = (p: number): number => this.temper(p / pref)
    const pDense = (w: number): number => gamma * base[w]
    const qDense = (w: number): number => denseFactor * this.baseT[w]

    // p-threshold of top-k (every token with p >= it is kept); -Infinity when off
    let threshold = -Infinity
    if (this.topK > 0 && this.topK < this.V) {
      // the top K are among the touched tokens and the first K untouched ones in base order
      const values = this.ensureScratch(nT + this.topK)
      let len = 0
      for (let i = 0; i < nT; i++) values[len++] = gamma * base[touched[i]] + extra[touched[i]]
      for (let i = 0, taken = 0; i < this.V && taken < this.topK; i++) {
        const w = this.order[i]
        if (mark[w] !== stamp) {
          values[len++] = pDense(w)
          taken++
        }
      }
      threshold = this.rankValue(values, len, this.topK - 1)
    }

    this.nKept = 0
    if (threshold === -Infinity && this.topP >= 1) {
      // no truncation: touched tokens explicitly, the rest by rejection from the tempered base
      let touchedMass = 0
      let touchedBase = 0
      for (let i = 0; i < nT; i++) {
        const w = touched[i]
        const q = qOf(gamma * base[w] + extra[w])
        this.keep(w, q)
        touchedMass += q
        touchedBase += this.baseT[w]
      }
      const restBase = Math.max(0, this.cumBaseT[this.V - 1] - touchedBase)
      const r = uniformFloat64(rng) * (touchedMass + denseFactor * restBase)
      if (r < touchedMass || restBase === 0) return this.pickKept(r)
      return this.drawUntouched(rng)
    }

    if (this.topP >= 1) {
      // top-k only
      for (let i = 0; i < nT; i++) {
        const w = touched[i]
        const p = gamma * base[w] + extra[w]
        if (p >= threshold) this.keep(w, qOf(p))
      }
      for (let i = 0; i < this.V; i++) {
        const w = this.order[i]
        if (mark[w] === stamp) continue
        if (pDense(w) < threshold) break
        this.keep(w, qDense(w))
      }
      return this.pickKept(uniformFloat64(rng) * this.keptTotal())
    }

    // top-p (after top-k if any): walk tokens by p desc, merging sorted touched p-values with the base order
    const tp = this.ensureScratch(nT)
    let touchedMass = 0
    let touchedBase = 0
    let nCand = 0
    for (let i = 0; i < nT; i++) {
      const w = touched[i]
      const p = gamma * base[w] + extra[w]
      touchedBase += this.baseT[w]
      if (p >= threshold) {
        tp[nCand++] = p
        touchedMass += qOf(p)
      }
    }
    let candidateMass = touchedMass
    if (threshold === -Infinity) {
      candidateMass += denseFactor * Math.max(0, this.cumBaseT[this.V - 1] - touchedBase)
    } else {
      for (let i = 0; i < this.V; i++) {
        const w = this.order[i]
        if (mark[w] === stamp) continue
        if (pDense(w) < threshold) break
        candidateMass += qDense(w)
      }
    }
    const sortedTouched = tp.subarray(0, nCand).sort()
    const goal = this.topP * candidateMass
    let acc = 0
    let ti = nCand - 1
    let di = 0
    let cut = Infinity
    while (acc < goal) {
      while (di < this.V && mark[this.order[di]] === stamp) di++
      const pd = di < this.V && pDense(this.order[di]) >= threshold ? pDense(this.order[di]) : -Infinity
      const pt = ti >= 0 ? sortedTouched[ti] : -Infinity
      if (pt === -Infinity && pd === -Infinity) break
      if (pt >= pd) {
        acc += qOf(pt)
        cut = pt
        ti--
      } else {
        acc += qDense(this.order[di])
        cut = pd
        di++
      }
    }
    for (let i = 0; i < nT; i++) {
      const w = touched[i]
      const p = gamma * base[w] + extra[w]
      if (p >= cut) this.keep(w, qOf(p))
    }
    for (let i = 0; i < this.V; i++) {
      const w = this.order[i]
      if (mark[w] === stamp) continue
      if (pDense(w) < cut) break
      this.keep(w, qDense(w))
    }
    return this.pickKept(uniformFloat64(rng) * this.keptTotal())
  }

  private keptTotal(): number {
    let s = 0
    for (let i = 0; i < this.nKept; i++) s += this.keptQ[i]
    return s
  }

  private pickKept(r: number): number {
    let acc = 0
    for (let i = 0; i < this.nKept; i++) {
      acc += this.keptQ[i]
      if (r < acc) return this.keptIds[i]
    }
    return this.keptIds[this.nKept - 1]
  }

  /** A token outside the touched set, with probability proportional to its tempered base. */
  private drawUntouched(rng: RandomGenerator): number {
    const total = this.cumBaseT[this.V - 1]
    // expected attempts per token are <= 1 overall (p >= Γ·B pointwise); the bound only guards pathological cases
    for (let attempt = 0; attempt < 64; attempt++) {
      const w = searchCum(this.cumBaseT, 0, this.V, uniformFloat64(rng) * total)
      if (this.mark[w] !== this.stamp) return w
    }
    // exact fallback: the same conditional distribution, by a linear scan
    let rest = 0
    for (let w = 0; w < this.V; w++) if (this.mark[w] !== this.stamp) rest += this.baseT[w]
    const r = uniformFloat64(rng) * rest
    let acc = 0
    let last = -1
    for (let w = 0; w < this.V; w++) {
      if (this.mark[w] === this.stamp) continue
      acc += this.baseT[w]
      last = w
      if (r < acc) return w
    }
    return last
  }
}

/**
 * `documents` token sequences, each generated from the BOS context until <eos> (not included) or `maxLength`
 * tokens. Deterministic in (model, options).
 */
export const sampleNgram = (model: NgramModel, opts: SampleOptions): Int32Array[] => {
  validate(opts)
  const rng = xoroshiro128plus(opts.seed | 0)
  const plain = opts.temperature === 1 && opts.topK === 0 && opts.topP === 1
  const truncated = plain ? undefined : new TruncatedSampler(model, opts.temperature, opts.topK, opts.topP)
  const start = initialHistory(model)
  const hist = new Int32Array(start.length)
  const buffer = new Int32Array(opts.maxLength)
  const out: Int32Array[] = []
  for (let d = 0; d < opts.documents; d++) {
    hist.set(start)
    let len = 0
    while (len < opts.maxLength) {
      const w = truncated === undefined ? drawPlain(model, hist, rng) : truncated.draw(hist, rng)
      if (w === EOS_ID) break
      buffer[len++] = w
      advanceHistory(model, hist, w)
    }
    out.push(buffer.slice(0, len))
  }
  return out
}
