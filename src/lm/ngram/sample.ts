/**
 * Exact, seeded sampling from an n-gram model.
 *
 * The model's distribution is a chain of mixtures: p_k(w | h) = a_k(w | h) + γ_k(h) · p_{k-1}(w | h'), where a_k is
 * non-zero only on the history's entries ("children") and h' is h without its first token. The chain ends in a
 * history-independent base B (KN: the order-1 mixture with uniform; add-k: uniform, or the add-k unigram at order 1).
 *
 * - Temperature 1, no top-k/top-p: walk the mixture top-down, choosing a child with its discounted mass or backing
 *   off with γ. Exactly the model's distribution, a few binary searches per token.
 * - Temperature T != 1: per call, precompute for every history its tempered total Z_k(h) = Σ_w p_k(w | h)^(1/T)
 *   (children explicitly, the rest as γ^(1/T) · (Z_{k-1}(h') − Σ_children p_{k-1}^(1/T))). A draw then picks a
 *   child by its tempered mass, or draws from level k-1 and rejects that history's children. Exact; the expected
 *   number of lower-level draws per level is <= 1 (p_k >= γ p_{k-1} pointwise, so Z_k >= γ^(1/T) Z_{k-1}).
 * - Top-k / top-p: tokens come out in descending p by lazily merging, at each level, the history's children
 *   (pre-sorted by p once per model) with the level below (scaled by γ, children skipped). Top-k keeps every token
 *   with p >= the K-th largest p (ties all kept, as HF's top-k does); top-p keeps every token with p >= t for the
 *   largest t whose kept tempered mass is >= topP of the total. Order: temperature, top-k, top-p. The first visit
 *   of a history lists its kept set, O(kept · order · log), never O(V); its cut is then cached for the call, and
 *   later visits with a large kept set draw from the tempered distribution until p >= cut (exact rejection).
 * One-off costs: O(entries) per call for T != 1 or truncation, plus an O(entries log) sort per model for
 * top-k/top-p.
 */

import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import type { RandomGenerator } from "pure-rand/types/RandomGenerator"
import { EOS_ID } from "../tokenizer.ts"
import { advanceHistory, findEntry, initialHistory, type NgramLevel, type NgramModel } from "./model.ts"

export interface SampleOptions {
  readonly documents: number
  /** Tokens per document at most; a document that reaches it ends without <eos>. */
  readonly maxLength: number
  /** In [0.05, 100]; 1 = the model's distribution (lower values would underflow p^(1/T)). */
  readonly temperature: number
  /** 0 = off. */
  readonly topK: number
  /** In (0, 1]; 1 = off. */
  readonly topP: number
  /** 32-bit integer seed of the xoroshiro128+ generator. */
  readonly seed: number
  /**
   * Total tokens over all documents (0 = no limit): generation stops once they are reached, the last document cut
   * there. A fixed budget keeps every generation's corpus the same size, whatever document lengths the model drifts to.
   */
  readonly totalTokens?: number
}

export const MIN_TEMPERATURE = 0.05
export const MAX_TEMPERATURE = 100

const validate = (opts: SampleOptions): void => {
  const intIn = (x: number, lo: number, hi: number): boolean => Number.isInteger(x) && x >= lo && x <= hi
  if (!intIn(opts.documents, 0, 0x7fffffff)) {
    throw new Error(`sample: documents must be an integer >= 0, got ${opts.documents}`)
  }
  if (!intIn(opts.maxLength, 0, 0x7fffffff)) {
    throw new Error(`sample: maxLength must be an integer >= 0, got ${opts.maxLength}`)
  }
  if (!(opts.temperature >= MIN_TEMPERATURE && opts.temperature <= MAX_TEMPERATURE)) {
    throw new Error(`sample: temperature must be in [${MIN_TEMPERATURE}, ${MAX_TEMPERATURE}], got ${opts.temperature}`)
  }
  if (!intIn(opts.topK, 0, 0x7fffffff)) throw new Error(`sample: topK must be an integer >= 0, got ${opts.topK}`)
  if (!(opts.topP > 0 && opts.topP <= 1)) throw new Error(`sample: topP must be in (0, 1], got ${opts.topP}`)
  if (!intIn(opts.seed, -0x80000000, 0xffffffff)) {
    throw new Error(`sample: seed must be a 32-bit integer, got ${opts.seed}`)
  }
  if (!intIn(opts.totalTokens ?? 0, 0, 0x7fffffff)) {
    throw new Error(`sample: totalTokens must be an integer >= 0, got ${opts.totalTokens}`)
  }
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

const uniformIndex = (rng: RandomGenerator, size: number): number =>
  Math.min(size - 1, Math.floor(uniformFloat64(rng) * size))

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
      const hi = level.ctxOffsets[h + 1]
      const r = uniformFloat64(rng) * total
      if (r < level.cumMass[hi - 1]) return level.words[searchCum(level.cumMass, level.ctxOffsets[h], hi, r)]
    }
  }
  return uniformIndex(rng, V)
}

/**
 * History-independent tables for the chain (cached per model). Chain levels are k = n..2 for KN, n for add-k with
 * n > 1, none otherwise; below the lowest one is the base. Arrays are indexed by k - 1, undefined off the chain.
 */
interface Chain {
  readonly levels: ReadonlyArray<number>
  readonly base: Float64Array
  /** Token ids by base desc, then id asc. */
  readonly baseOrder: Int32Array
  /** prob[k-1][e] = p_k(w | h) of entry e = (h, w) with a count > 0. */
  readonly prob: Array<Float64Array | undefined>
  /** gamma[k-1][h]: backoff weight of history h (1 for a history without counts). */
  readonly gamma: Array<Float64Array | undefined>
  /** suffix[k-1][e]: entry of level k-1 holding e's last k-1 tokens (KN, k >= 2). */
  readonly suffix: Array<Int32Array | undefined>
  /** Lazily (top-k/top-p): each history's entries by count > 0 first, then p desc, then token asc. */
  sorted: Array<Int32Array | undefined> | undefined
}

const chains = new WeakMap<NgramModel, Chain>()

const isKN = (model: NgramModel): boolean => model.config.smoothing.kind === "kneser-ney"

/** The level below chain level k: k - 1 for KN while it is >= 2, else 0 (the base). */
const lowerOf = (model: NgramModel, k: number): number => (isKN(model) && k > 2 ? k - 1 : 0)

const buildChain = (model: NgramModel): Chain => {
  const { order: n, vocabSize: V, smoothing } = model.config
  const levels = model.levels
  const base = new Float64Array(V)
  const first: NgramLevel = levels[0]
  const total1 = first.ctxTotals[0]
  if (smoothing.kind === "add-k") {
    if (n > 1) base.fill(1 / V)
    else {
      const denom = total1 + smoothing.k * V
      base.fill(smoothing.k / denom)
      for (let e = 0; e < first.words.length; e++) base[first.words[e]] += first.counts[e] / denom
    }
  } else if (total1 === 0) base.fill(1 / V)
  else {
    const D = smoothing.discount
    base.fill((D * first.ctxTypes[0]) / total1 / V)
    for (let e = 0; e < first.words.length; e++) {
      const c = first.counts[e]
      if (c > D) base[first.words[e]] += (c - D) / total1
    }
  }
  const ids = Array.from({ length: V }, (_, i) => i)
  ids.sort((a, b) => base[b] - base[a] || a - b)
  const baseOrder = Int32Array.from(ids)

  const chainLevels: number[] = []
  if (smoothing.kind === "add-k") {
    if (n > 1) chainLevels.push(n)
  } else for (let k = n; k >= 2; k--) chainLevels.push(k)
  const prob: Array<Float64Array | undefined> = new Array(n).fill(undefined)
  const gamma: Array<Float64Array | undefined> = new Array(n).fill(undefined)
  const suffix: Array<Int32Array | undefined> = new Array(n).fill(undefined)

  if (smoothing.kind === "add-k") {
    if (n > 1) {
      const level = levels[n - 1]
      const g = new Float64Array(level.ctxTotals.length)
      const pr = new Float64Array(level.words.length)
      for (let h = 0; h < g.length; h++) {
        const denom = level.ctxTotals[h] + smoothing.k * V
        g[h] = (smoothing.k * V) / denom
        for (let e = level.ctxOffsets[h]; e < level.ctxOffsets[h + 1]; e++) {
          pr[e] = (level.counts[e] + smoothing.k) / denom
        }
      }
      prob[n - 1] = pr
      gamma[n - 1] = g
    }
  } else {
    const D = smoothing.discount
    for (let k = 2; k <= n; k++) {
      const level = levels[k - 1]
      const lower = levels[k - 2]
      const sf = new Int32Array(level.words.length)
      const g = new Float64Array(level.ctxTotals.length)
      const pr = new Float64Array(level.words.length)
      const lowerSuffix = suffix[k - 2]
      const lowerProb = prob[k - 2]
      for (let h = 0; h < g.length; h++) {
        const total = level.ctxTotals[h]
        g[h] = total > 0 ? (D * level.ctxTypes[h]) / total : 1
        // the history of h's suffix at level k-1
        const hs = k === 2 ? 0 : (lowerSuffix as Int32Array)[h]
        for (let e = level.ctxOffsets[h]; e < level.ctxOffsets[h + 1]; e++) {
          const w = level.words[e]
          sf[e] = hs < 0 ? -1 : findEntry(lower, hs, w)
          const c = level.counts[e]
          if (c === 0) continue
          // an entry with a count ends at a predicted position, so its suffix has a count one level down
          const pl = k === 2 ? base[w] : (lowerProb as Float64Array)[sf[e]]
          pr[e] = (c > D ? c - D : 0) / total + g[h] * pl
        }
      }
      suffix[k - 1] = sf
      prob[k - 1] = pr
      gamma[k - 1] = g
    }
  }
  return { levels: chainLevels, base, baseOrder, prob, gamma, suffix, sorted: undefined }
}

const chainOf = (model: NgramModel): Chain => {
  let chain = chains.get(model)
  if (chain === undefined) {
    chain = buildChain(model)
    chains.set(model, chain)
  }
  return chain
}

const sortedChildren = (model: NgramModel, chain: Chain): Array<Int32Array | undefined> => {
  if (chain.sorted !== undefined) return chain.sorted
  const sorted: Array<Int32Array | undefined> = new Array(model.config.order).fill(undefined)
  const scratch: number[] = []
  for (const k of chain.levels) {
    const level = model.levels[k - 1]
    const pr = chain.prob[k - 1] as Float64Array
    const out = new Int32Array(level.words.length)
    const before = (a: number, b: number): number =>
      (level.counts[a] > 0 ? 0 : 1) - (level.counts[b] > 0 ? 0 : 1) || pr[b] - pr[a] || level.words[a] - level.words[b]
    for (let h = 0; h + 1 < level.ctxOffsets.length; h++) {
      const lo = level.ctxOffsets[h]
      const hi = level.ctxOffsets[h + 1]
      scratch.length = 0
      for (let e = lo; e < hi; e++) scratch.push(e)
      if (hi - lo > 1) scratch.sort(before)
      for (let i = 0; i < scratch.length; i++) out[lo + i] = scratch[i]
    }
    sorted[k - 1] = out
  }
  chain.sorted = sorted
  return sorted
}

/** Per-temperature tables: tempered base and, per chain level, children's running tempered mass and totals Z. */
interface Tempered {
  readonly invT: number
  readonly cumBase: Float64Array
  readonly zBase: number
  /** cum[k-1][e]: running Σ p_k^(1/T) over the history's entries with a count. */
  readonly cum: Array<Float64Array | undefined>
  /** z[k-1][h] = Σ_w p_k(w | h)^(1/T); fall[k-1][h] = the part not on h's children. */
  readonly z: Array<Float64Array | undefined>
  readonly fall: Array<Float64Array | undefined>
}

const temperChain = (model: NgramModel, chain: Chain, temperature: number): Tempered => {
  const V = model.config.vocabSize
  const invT = 1 / temperature
  const pow = (x: number): number => (invT === 1 ? x : Math.pow(x, invT))
  const cumBase = new Float64Array(V)
  let acc = 0
  for (let w = 0; w < V; w++) {
    acc += pow(chain.base[w])
    cumBase[w] = acc
  }
  const n = model.config.order
  const cum: Array<Float64Array | undefined> = new Array(n).fill(undefined)
  const z: Array<Float64Array | undefined> = new Array(n).fill(undefined)
  const fall: Array<Float64Array | undefined> = new Array(n).fill(undefined)
  // bottom-up, so the level below is ready
  for (let i = chain.levels.length - 1; i >= 0; i--) {
    const k = chain.levels[i]
    const level = model.levels[k - 1]
    const pr = chain.prob[k - 1] as Float64Array
    const g = chain.gamma[k - 1] as Float64Array
    const lowerK = lowerOf(model, k)
    const sf = chain.suffix[k - 1]
    const lowerSuffix = lowerK === 0 ? undefined : chain.suffix[k - 2]
    const lowerZ = lowerK === 0 ? undefined : z[lowerK - 1]
    const lowerProb = lowerK === 0 ? undefined : chain.prob[lowerK - 1]
    const c = new Float64Array(level.words.length)
    const zk = new Float64Array(g.length)
    const fk = new Float64Array(g.length)
    for (let h = 0; h < g.length; h++) {
      const zLow = lowerZ === undefined ? cumBase[V - 1] : (lowerZ as Float64Array)[(lowerSuffix as Int32Array)[h]]
      let children = 0
      let covered = 0
      for (let e = level.ctxOffsets[h]; e < level.ctxOffsets[h + 1]; e++) {
        if (level.counts[e] > 0) {
          children += pow(pr[e])
          covered += pow(lowerProb === undefined ? chain.base[level.words[e]] : lowerProb[(sf as Int32Array)[e]])
        }
        c[e] = children
      }
      // all V tokens are children: nothing falls through (avoids a rounding remainder that could never be drawn)
      fk[h] = level.ctxTypes[h] >= V ? 0 : level.ctxTotals[h] === 0 ? zLow : pow(g[h]) * Math.max(0, zLow - covered)
      zk[h] = children + fk[h]
    }
    cum[k - 1] = c
    z[k - 1] = zk
    fall[k - 1] = fk
  }
  return { invT, cumBase, zBase: cumBase[V - 1], cum, z, fall }
}

/** Whether token w is one of history h's counted entries at level k. */
const isChild = (level: NgramLevel, h: number, w: number): boolean => {
  const e = findEntry(level, h, w)
  return e >= 0 && level.counts[e] > 0
}

/** The highest chain level whose history is known and has counts, or 0 (the base). */
const topLevel = (model: NgramModel, chain: Chain, hist: Int32Array): number => {
  for (const k of chain.levels) {
    const h = hist[k - 1]
    if (h >= 0 && model.levels[k - 1].ctxTotals[h] > 0) return k
  }
  return 0
}

// rejection guard: only reachable through rounding when a history's children hold (almost) all the mass
const MAX_REJECTIONS = 100_000

/** One draw from p_k(· | hist)^(1/T), normalised. */
const drawTempered = (
  model: NgramModel,
  t: Tempered,
  hist: Int32Array,
  k: number,
  rng: RandomGenerator
): number => {
  const V = model.config.vocabSize
  if (k === 0) return searchCum(t.cumBase, 0, V, uniformFloat64(rng) * t.zBase)
  const level = model.levels[k - 1]
  const h = hist[k - 1]
  const lo = level.ctxOffsets[h]
  const hi = level.ctxOffsets[h + 1]
  const cum = t.cum[k - 1] as Float64Array
  const r = uniformFloat64(rng) * (t.z[k - 1] as Float64Array)[h]
  const children = cum[hi - 1]
  if (r < children) return level.words[searchCum(cum, lo, hi, r)]
  const lower = lowerOf(model, k)
  for (let attempt = 0; attempt < MAX_REJECTIONS; attempt++) {
    const w = drawTempered(model, t, hist, lower, rng)
    if (!isChild(level, h, w)) return w
  }
  return level.words[searchCum(cum, lo, hi, uniformFloat64(rng) * children)]
}

/**
 * Tokens in descending p for the current history: at each chain level, a merge of the history's sorted children
 * with the level below (scaled by γ, this level's children skipped). Node i is chain level ks[i]; the last node is
 * the base.
 */
class DescendingTokens {
  private readonly ks: number[] = []
  private readonly hs: number[] = []
  private readonly pos: number[] = []
  private readonly end: number[] = []
  private readonly headW: number[] = []
  private readonly headP: number[] = []
  /** 0 = no lookahead from the lower node, 1 = have one, 2 = lower node exhausted. */
  private readonly state: number[] = []
  /** p of the token last returned by pull(). */
  p = 0

  constructor(
    private readonly model: NgramModel,
    private readonly chain: Chain,
    private readonly sorted: Array<Int32Array | undefined>,
    hist: Int32Array,
    top: number
  ) {
    for (let k = top; k !== 0; k = lowerOf(model, k)) {
      const level = model.levels[k - 1]
      const h = hist[k - 1]
      this.ks.push(k)
      this.hs.push(h)
      this.pos.push(level.ctxOffsets[h])
      this.end.push(level.ctxOffsets[h + 1])
      this.headW.push(-1)
      this.headP.push(0)
      this.state.push(0)
    }
    this.ks.push(0)
    this.hs.push(0)
    this.pos.push(0)
    this.end.push(model.config.vocabSize)
    this.headW.push(-1)
    this.headP.push(0)
    this.state.push(0)
  }

  /** Next token of node i (or -1 when exhausted); its p is left in this.p. */
  pull(i = 0): number {
    const k = this.ks[i]
    if (k === 0) {
      if (this.pos[i] >= this.end[i]) return -1
      const w = this.chain.baseOrder[this.pos[i]++]
      this.p = this.chain.base[w]
      return w
    }
    const level = this.model.levels[k - 1]
    const h = this.hs[i]
    if (this.state[i] === 0) {
      const g = (this.chain.gamma[k - 1] as Float64Array)[h]
      for (;;) {
        const w = this.pull(i + 1)
        if (w < 0) {
          this.state[i] = 2
          break
        }
        if (!isChild(level, h, w)) {
          this.headW[i] = w
          this.headP[i] = g * this.p
          this.state[i] = 1
          break
        }
      }
    }
    const sorted = this.sorted[k - 1] as Int32Array
    const e = this.pos[i] < this.end[i] ? sorted[this.pos[i]] : -1
    const childP = e >= 0 && level.counts[e] > 0 ? (this.chain.prob[k - 1] as Float64Array)[e] : -1
    if (this.state[i] === 1 && this.headP[i] > childP) {
      this.state[i] = 0
      this.p = this.headP[i]
      return this.headW[i]
    }
    if (childP < 0) return -1
    this.pos[i]++
    this.p = childP
    return level.words[e]
  }
}

/** Scratch for the kept (truncated) set. */
class Kept {
  ids = new Int32Array(64)
  p = new Float64Array(64)
  q = new Float64Array(64)
  size = 0
  push(w: number, p: number, q: number): void {
    if (this.size === this.ids.length) {
      const grow = <A extends Int32Array | Float64Array>(a: A, make: (n: number) => A): A => {
        const b = make(a.length * 2)
        b.set(a)
        return b
      }
      this.ids = grow(this.ids, (n) => new Int32Array(n))
      this.p = grow(this.p, (n) => new Float64Array(n))
      this.q = grow(this.q, (n) => new Float64Array(n))
    }
    this.ids[this.size] = w
    this.p[this.size] = p
    this.q[this.size++] = q
  }
}

/**
 * p(w) in exactly the arithmetic of DescendingTokens (the highest level where w is a child, then the backoff
 * weights applied from the bottom up), so that comparing it with a cut taken from the stream is exact.
 */
const streamProb = (
  model: NgramModel,
  chain: Chain,
  hist: Int32Array,
  top: number,
  w: number,
  gammas: Float64Array
): number => {
  let depth = 0
  let p = -1
  for (let k = top; k !== 0; k = lowerOf(model, k)) {
    const level = model.levels[k - 1]
    const h = hist[k - 1]
    const e = findEntry(level, h, w)
    if (e >= 0 && level.counts[e] > 0) {
      p = (chain.prob[k - 1] as Float64Array)[e]
      break
    }
    gammas[depth++] = (chain.gamma[k - 1] as Float64Array)[h]
  }
  if (p < 0) p = chain.base[w]
  while (depth > 0) p = gammas[--depth] * p
  return p
}

/** Per sampling call: each visited history's truncation cut, and whether drawing by rejection pays off there. */
interface Cut {
  readonly cut: number
  readonly rejection: boolean
}

// Rejection (draw from the tempered distribution until p >= cut) is used where the kept set is large (listing it is
// the cost) and holds enough of the mass (so few draws are wasted); it is exact, and so is the fallback.
const REJECTION_MIN_KEPT = 32
const REJECTION_MIN_MASS = 0.2
const REJECTION_ATTEMPTS = 32
const MAX_CACHED_CUTS = 1 << 20

const drawTruncated = (
  model: NgramModel,
  chain: Chain,
  sorted: Array<Int32Array | undefined>,
  t: Tempered,
  hist: Int32Array,
  opts: SampleOptions,
  kept: Kept,
  cuts: Map<number, Cut>,
  gammas: Float64Array,
  rng: RandomGenerator
): number => {
  const top = topLevel(model, chain, hist)
  const key = top === 0 ? -1 : hist[top - 1] * 8 + top
  const cached = cuts.get(key)
  if (cached !== undefined && cached.rejection) {
    for (let attempt = 0; attempt < REJECTION_ATTEMPTS; attempt++) {
      const w = drawTempered(model, t, hist, top, rng)
      if (streamProb(model, chain, hist, top, w, gammas) >= cached.cut) return w
    }
  }
  const tokens = new DescendingTokens(model, chain, sorted, hist, top)
  const pow = (x: number): number => (t.invT === 1 ? x : Math.pow(x, t.invT))
  const z = top === 0 ? t.zBase : (t.z[top - 1] as Float64Array)[hist[top - 1]]
  kept.size = 0
  // one token of lookahead, to keep ties at a cut
  let nextW = tokens.pull()
  let nextP = tokens.p
  const take = (): void => {
    kept.push(nextW, nextP, pow(nextP))
    nextW = tokens.pull()
    nextP = tokens.p
  }
  let mass = 0
  if (opts.topK > 0) {
    while (nextW >= 0 && (kept.size < opts.topK || nextP === kept.p[kept.size - 1])) take()
    for (let i = 0; i < kept.size; i++) mass += kept.q[i]
    if (opts.topP < 1) {
      // kept is in descending p: cut after the first prefix reaching topP of its mass, ties included
      const goal = opts.topP * mass
      let acc = 0
      let size = 0
      while (size < kept.size && (acc < goal || kept.p[size] === kept.p[size - 1])) acc += kept.q[size++]
      kept.size = size
      mass = acc
    }
  } else {
    const goal = opts.topP * z
    while (nextW >= 0 && (mass < goal || nextP === kept.p[kept.size - 1])) {
      mass += pow(nextP)
      take()
    }
  }
  if (cached === undefined && cuts.size < MAX_CACHED_CUTS) {
    // kept is exactly {w : p(w) >= its last p}
    cuts.set(key, {
      cut: kept.p[kept.size - 1],
      rejection: kept.size >= REJECTION_MIN_KEPT && mass >= REJECTION_MIN_MASS * z
    })
  }
  const r = uniformFloat64(rng) * mass
  let acc = 0
  for (let i = 0; i < kept.size; i++) {
    acc += kept.q[i]
    if (r < acc) return kept.ids[i]
  }
  return kept.ids[kept.size - 1]
}

/**
 * `documents` token sequences, each generated from the BOS context until <eos> (not included) or `maxLength`
 * tokens. Deterministic in (model, options): one xoroshiro128+ stream, documents in order.
 */
export const sampleNgram = (model: NgramModel, opts: SampleOptions): Int32Array[] => {
  validate(opts)
  const rng = xoroshiro128plus(opts.seed | 0)
  const plain = opts.temperature === 1 && opts.topK === 0 && opts.topP === 1
  const truncated = opts.topK > 0 || opts.topP < 1
  const chain = plain ? undefined : chainOf(model)
  const tempered = chain === undefined ? undefined : temperChain(model, chain, opts.temperature)
  const sorted = chain !== undefined && truncated ? sortedChildren(model, chain) : undefined
  const kept = new Kept()
  const cuts = new Map<number, Cut>()
  const gammas = new Float64Array(model.config.order + 1)
  const draw = (hist: Int32Array): number => {
    if (chain === undefined || tempered === undefined) return drawPlain(model, hist, rng)
    if (sorted !== undefined) return drawTruncated(model, chain, sorted, tempered, hist, opts, kept, cuts, gammas, rng)
    return drawTempered(model, tempered, hist, topLevel(model, chain, hist), rng)
  }
  const start = initialHistory(model)
  const hist = new Int32Array(start.length)
  const buffer = new Int32Array(opts.maxLength)
  const out: Int32Array[] = []
  let budget = opts.totalTokens === undefined || opts.totalTokens === 0 ? Infinity : opts.totalTokens
  for (let d = 0; d < opts.documents && budget > 0; d++) {
    hist.set(start)
    let len = 0
    const limit = Math.min(opts.maxLength, budget)
    while (len < limit) {
      const w = draw(hist)
      if (w === EOS_ID) break
      buffer[len++] = w
      advanceHistory(model, hist, w)
    }
    out.push(buffer.slice(0, len))
    budget -= len
  }
  return out
}
