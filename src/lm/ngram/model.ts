/**
 * Exact n-gram language model (orders 1..5) over token ids, stored as flat typed arrays.
 *
 * Layout: level k (order k) holds the distinct k-grams, grouped by their (k-1)-token history. A history of length
 * k-1 is identified by its entry index in level k-1 (level 1 has one, empty, history), so a k-gram is
 * (history entry, last token) and the entries of one history are contiguous, sorted by token: lookups are binary
 * searches, sampling walks a contiguous range, and nothing is allocated per n-gram.
 *
 * Documents are padded with n-1 <eos> (id 1) on the left as BOS context and must predict a final <eos>.
 *
 * Smoothing:
 * - interpolated Kneser-Ney with one absolute discount D in (0, 1]: the top order uses raw counts, lower orders
 *   continuation counts N1+(• h w), and order 1 interpolates with the uniform 1/V, so every token has p > 0;
 * - add-k on the top order only: p = (c(h, w) + k) / (c(h) + kV), no backoff.
 */

import { EOS_ID } from "../tokenizer.ts"

export type NgramSmoothing =
  | { readonly kind: "kneser-ney"; readonly discount: number }
  | { readonly kind: "add-k"; readonly k: number }

export interface NgramConfig {
  readonly order: number
  readonly vocabSize: number
  readonly smoothing: NgramSmoothing
}

export interface NgramLevel {
  /** Length (number of histories) + 1; history h's entries are [ctxOffsets[h], ctxOffsets[h + 1]). */
  readonly ctxOffsets: Int32Array
  /** Last token of each entry, strictly increasing within a history. */
  readonly words: Int32Array
  /** Raw counts at the top order, continuation counts below; 0 for entries kept only as histories. */
  readonly counts: Int32Array
  /** Derived: per history, the sum of its entries' counts. */
  readonly ctxTotals: Float64Array
  /** Derived: per history, how many of its entries have a count > 0. */
  readonly ctxTypes: Int32Array
  /** Derived: within each history, the running sum of the entries' sampling mass (KN: max(c - D, 0), add-k: c). */
  readonly cumMass: Float64Array
}

export interface NgramModel {
  readonly config: NgramConfig
  /** levels[k - 1] is order k. */
  readonly levels: ReadonlyArray<NgramLevel>
}

/** Documents as `encodeDocuments` gives them: document i is ids[offsets[i] .. offsets[i + 1]), no <eos>. */
export interface TokenDocuments {
  readonly ids: Int32Array
  readonly offsets: Int32Array
}

export const MAX_ORDER = 5

export const validateConfig = (config: NgramConfig): NgramConfig => {
  const { order, vocabSize, smoothing } = config
  if (!Number.isInteger(order) || order < 1 || order > MAX_ORDER) {
    throw new Error(`ngram: order must be an integer in 1..${MAX_ORDER}, got ${order}`)
  }
  if (!Number.isInteger(vocabSize) || vocabSize < 2 || vocabSize > 0x7fffffff) {
    throw new Error(`ngram: vocabSize must be an integer >= 2, got ${vocabSize}`)
  }
  if (smoothing.kind === "kneser-ney") {
    // D <= 1 keeps max(c - D, 0) = c - D for every seen count, which makes the mixture sum to exactly 1
    if (!(smoothing.discount > 0 && smoothing.discount <= 1)) {
      throw new Error(`ngram: kneser-ney discount must be in (0, 1], got ${smoothing.discount}`)
    }
    return { order, vocabSize, smoothing: { kind: "kneser-ney", discount: smoothing.discount } }
  }
  if (smoothing.kind === "add-k") {
    if (!(smoothing.k > 0 && Number.isFinite(smoothing.k))) {
      throw new Error(`ngram: add-k needs k > 0, got ${smoothing.k}`)
    }
    return { order, vocabSize, smoothing: { kind: "add-k", k: smoothing.k } }
  }
  throw new Error(`ngram: unknown smoothing ${JSON.stringify(smoothing)}`)
}

const validateData = (data: TokenDocuments, vocabSize: number): void => {
  const { ids, offsets } = data
  if (offsets.length < 1) throw new Error("ngram: offsets must have at least one element")
  for (let d = 0; d + 1 < offsets.length; d++) {
    if (offsets[d] < 0 || offsets[d + 1] < offsets[d] || offsets[d + 1] > ids.length) {
      throw new Error(`ngram: offsets are not non-decreasing within 0..${ids.length} at document ${d}`)
    }
  }
  for (let i = offsets[0]; i < offsets[offsets.length - 1]; i++) {
    if (ids[i] < 0 || ids[i] >= vocabSize) {
      throw new Error(`ngram: token id ${ids[i]} at ${i} outside 0..${vocabSize - 1}`)
    }
  }
}

/** Entry index of (history h, token w) in a level, or -1. */
export const findEntry = (level: NgramLevel, h: number, w: number): number => {
  let lo = level.ctxOffsets[h]
  let hi = level.ctxOffsets[h + 1] - 1
  const words = level.words
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const x = words[mid]
    if (x < w) lo = mid + 1
    else if (x > w) hi = mid - 1
    else return mid
  }
  return -1
}

/** Builds the derived per-history arrays from the stored ones (also used when loading a model). */
export const makeLevel = (
  smoothing: NgramSmoothing,
  ctxOffsets: Int32Array,
  words: Int32Array,
  counts: Int32Array
): NgramLevel => {
  const contexts = ctxOffsets.length - 1
  const ctxTotals = new Float64Array(contexts)
  const ctxTypes = new Int32Array(contexts)
  const cumMass = new Float64Array(words.length)
  const d = smoothing.kind === "kneser-ney" ? smoothing.discount : 0
  for (let h = 0; h < contexts; h++) {
    let total = 0
    let types = 0
    let cum = 0
    for (let e = ctxOffsets[h]; e < ctxOffsets[h + 1]; e++) {
      const c = counts[e]
      total += c
      if (c > 0) types++
      cum += c > d ? c - d : 0
      cumMass[e] = cum
    }
    ctxTotals[h] = total
    ctxTypes[h] = types
  }
  return { ctxOffsets, words, counts, ctxTotals, ctxTypes, cumMass }
}

export interface NgramOptions {
  readonly order: number
  readonly smoothing: NgramSmoothing
}

/**
 * Counts every k-gram (k = 1..n) level by level: each position's (history entry, token) pair is ordered by two
 * stable counting sorts (token, then history), which assigns entry ids without any search or hashing.
 * Level k < n also keeps the all-<eos> k-gram at the last padding position: it is the history of each document's
 * first token at order k + 1.
 */
export const trainNgram = (data: TokenDocuments, vocabSize: number, options: NgramOptions): NgramModel => {
  const config = validateConfig({ order: options.order, vocabSize, smoothing: options.smoothing })
  validateData(data, vocabSize)
  const n = config.order
  const V = vocabSize
  const docs = data.offsets.length - 1
  // Padded stream: n-1 <eos> as BOS context, the document, then the <eos> it must predict.
  const starts = new Int32Array(docs + 1)
  for (let d = 0; d < docs; d++) starts[d + 1] = starts[d] + (data.offsets[d + 1] - data.offsets[d]) + n
  const total = starts[docs]
  const stream = new Int32Array(total).fill(EOS_ID)
  for (let d = 0; d < docs; d++) {
    stream.set(data.ids.subarray(data.offsets[d], data.offsets[d + 1]), starts[d] + n - 1)
  }
  // prevEnd[p] / curEnd[p]: entry (in level m-1 / m) of the gram ending at stream position p
  let prevEnd = new Int32Array(total)
  let curEnd = new Int32Array(total)
  const built: Array<{ ctxOffsets: Int32Array; words: Int32Array; counts: Int32Array }> = []
  for (let m = 1; m <= n; m++) {
    const first = m < n ? n - 2 : n - 1
    let size = 0
    for (let d = 0; d < docs; d++) size += starts[d + 1] - starts[d] - first
    const pos = new Int32Array(size)
    const tokens = new Int32Array(size)
    const hist = new Int32Array(size)
    for (let d = 0, i = 0; d < docs; d++) {
      for (let p = starts[d] + first, q = first; p < starts[d + 1]; p++, q++, i++) {
        pos[i] = p
        tokens[i] = stream[p]
        // the history is the (m-1)-gram ending at p-1; at the last padding position that would reach before the
        // document, but the all-<eos> gram ending at p itself has the same content
        hist[i] = m === 1 ? 0 : prevEnd[q === n - 2 ? p : p - 1]
      }
    }
    const contexts = m === 1 ? 1 : built[m - 2].words.length
    // LSD radix: by token, then (stably) by history
    const byToken = countingOrder(tokens, V, null)
    const sorted = contexts === 1 ? byToken : countingOrder(hist, contexts, byToken)
    const ctxOffsets = new Int32Array(contexts + 1)
    const wordsAll = new Int32Array(size)
    let unique = 0
    for (let j = 0, ph = -1, pw = -1; j < size; j++) {
      const i = sorted[j]
      if (hist[i] !== ph || tokens[i] !== pw) {
        ph = hist[i]
        pw = tokens[i]
        wordsAll[unique++] = pw
        ctxOffsets[ph + 1]++
      }
      curEnd[pos[i]] = unique - 1
    }
    const words = wordsAll.slice(0, unique)
    for (let h = 0; h < contexts; h++) ctxOffsets[h + 1] += ctxOffsets[h]
    const counts = new Int32Array(unique)
    // continuation counts of level m-1: distinct m-grams (at predicted positions) per (m-1)-gram suffix
    const seen = new Uint8Array(m >= 2 ? unique : 0)
    const lower = m >= 2 ? built[m - 2].counts : counts
    for (let d = 0; d < docs; d++) {
      for (let p = starts[d] + n - 1; p < starts[d + 1]; p++) {
        const e = curEnd[p]
        if (m === n) counts[e]++
        if (m >= 2 && seen[e] === 0) {
          seen[e] = 1
          lower[prevEnd[p]]++
        }
      }
    }
    built.push({ ctxOffsets, words, counts })
    const t = prevEnd
    prevEnd = curEnd
    curEnd = t
  }
  return {
    config,
    levels: built.map((l) => makeLevel(config.smoothing, l.ctxOffsets, l.words, l.counts))
  }
}

/** Stable counting sort of indices 0..size-1 (in the order `input` gives, or ascending) by keys[i] in 0..range-1. */
const countingOrder = (keys: Int32Array, range: number, input: Int32Array | null): Int32Array => {
  const size = keys.length
  const count = new Int32Array(range + 1)
  for (let i = 0; i < size; i++) count[keys[i] + 1]++
  for (let k = 0; k < range; k++) count[k + 1] += count[k]
  const out = new Int32Array(size)
  if (input === null) { for (let i = 0; i < size; i++) out[count[keys[i]]++] = i }
  else {
    for (let j = 0; j < size; j++) {
      const i = input[j]
      out[count[keys[i]]++] = i
    }
  }
  return out
}

/**
 * The history state of a document being scored or generated: hist[m] is the level-m entry of the last m tokens
 * (hist[0] = 0, the empty history), or -1 when those m tokens never occurred in training.
 */
export const initialHistory = (model: NgramModel): Int32Array => {
  const n = model.config.order
  const hist = new Int32Array(n).fill(-1)
  hist[0] = 0
  for (let i = 0; i < n - 1; i++) advanceHistory(model, hist, EOS_ID)
  return hist
}

/** Appends token w to the history in place. */
export const advanceHistory = (model: NgramModel, hist: Int32Array, w: number): void => {
  // descending, so hist[m - 1] is still the old (shorter) history when level m reads it
  for (let m = hist.length - 1; m >= 1; m--) {
    const h = hist[m - 1]
    hist[m] = h < 0 ? -1 : findEntry(model.levels[m - 1], h, w)
  }
}

/**
 * p(w | history) under the model's smoothing; with `advance`, also appends w to the history (the lookups that
 * score w are the ones that extend the history, so scoring a sequence costs one binary search per order).
 * KN is evaluated top-down: p = sum_k mult_k * max(c_k - D, 0) / c(h_k) + mult_0 / V, mult_k the product of the
 * backoff weights above order k.
 */
export const tokenProb = (model: NgramModel, hist: Int32Array, w: number, advance = false): number => {
  const { order: n, vocabSize: V, smoothing } = model.config
  const levels = model.levels
  if (smoothing.kind === "add-k") {
    const h = hist[n - 1]
    const level = levels[n - 1]
    const e = h < 0 ? -1 : findEntry(level, h, w)
    const c = e < 0 ? 0 : level.counts[e]
    const p = (c + smoothing.k) / ((h < 0 ? 0 : level.ctxTotals[h]) + smoothing.k * V)
    if (advance) advanceHistory(model, hist, w)
    return p
  }
  const D = smoothing.discount
  let p = 0
  let mult = 1
  // descending: hist[k - 1] is read before level k - 1 overwrites it
  for (let k = n; k >= 1; k--) {
    const h = hist[k - 1]
    if (h < 0) {
      if (advance && k < n) hist[k] = -1
      continue
    }
    const level = levels[k - 1]
    const e = findEntry(level, h, w)
    if (advance && k < n) hist[k] = e
    const total = level.ctxTotals[h]
    if (total === 0) continue
    const c = e < 0 ? 0 : level.counts[e]
    if (c > D) p += (mult * (c - D)) / total
    mult *= (D * level.ctxTypes[h]) / total
  }
  return p + mult / V
}

/** The full next-token distribution after `prefix` (tokens of the document so far). O(V · order). */
export const nextTokenDistribution = (model: NgramModel, prefix: ArrayLike<number>): Float64Array => {
  const hist = initialHistory(model)
  for (let i = 0; i < prefix.length; i++) advanceHistory(model, hist, prefix[i])
  const V = model.config.vocabSize
  const out = new Float64Array(V)
  for (let w = 0; w < V; w++) out[w] = tokenProb(model, hist, w)
  return out
}

export interface CrossEntropy {
  /** Predicted tokens, each document's final <eos> included. */
  readonly tokens: number
  /** Total negative natural-log likelihood. */
  readonly nll: number
}

export const crossEntropy = (model: NgramModel, data: TokenDocuments): CrossEntropy => {
  validateData(data, model.config.vocabSize)
  const start = initialHistory(model)
  const hist = new Int32Array(start.length)
  let nll = 0
  let tokens = 0
  for (let d = 0; d + 1 < data.offsets.length; d++) {
    hist.set(start)
    for (let i = data.offsets[d]; i < data.offsets[d + 1]; i++) {
      nll -= Math.log(tokenProb(model, hist, data.ids[i], true))
    }
    nll -= Math.log(tokenProb(model, hist, EOS_ID))
    tokens += data.offsets[d + 1] - data.offsets[d] + 1
  }
  return { tokens, nll }
}

/** exp(nll / tokens); NaN for no documents. */
export const perplexity = (model: NgramModel, data: TokenDocuments): number => {
  const { tokens, nll } = crossEntropy(model, data)
  return Math.exp(nll / tokens)
}

export interface NgramSummary {
  readonly order: number
  readonly vocabSize: number
  readonly smoothing: NgramSmoothing
  /** Distinct n-grams with a count per order (index 0 = unigrams); histories-only entries excluded. */
  readonly ngrams: ReadonlyArray<number>
  /** Tokens seen in training (sum of top-order counts: each document's tokens plus its <eos>). */
  readonly trainingTokens: number
}

export const describeNgram = (model: NgramModel): NgramSummary => {
  const ngrams = model.levels.map((level) => {
    let c = 0
    for (let e = 0; e < level.counts.length; e++) if (level.counts[e] > 0) c++
    return c
  })
  const top = model.levels[model.levels.length - 1]
  let trainingTokens = 0
  for (let h = 0; h < top.ctxTotals.length; h++) trainingTokens += top.ctxTotals[h]
  return { ...model.config, ngrams, trainingTokens }
}
