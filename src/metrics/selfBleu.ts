/**
 * Self-BLEU (Zhu et al. 2018, Texygen): the mean sentence BLEU of each document against all the others as
 * references. Matches NLTK's sentence_bleu with uniform weights and SmoothingFunction().method1 (Chen & Cherry
 * 2014, method 1: a precision with zero matches becomes epsilon = 0.1 over its n-gram count), clipped counts
 * against the maximum count in any reference, and the brevity penalty against the closest reference length
 * (ties to the shorter). A document with no unigram match, or no tokens, scores 0.
 *
 * Cost is bounded: only the first maxDocs documents, each truncated to maxLength tokens, are used, and the clip
 * for each n-gram comes from its two largest per-document counts, so the whole is O(maxDocs · maxLength · n)
 * plus O(maxDocs²) for the brevity penalty.
 */

import { checkOrder, indexNgrams } from "./ngrams.ts"

export interface SelfBleuOptions {
  /** Maximum n-gram order, with uniform weights 1/n (default 4). */
  readonly n?: number
  readonly maxDocs: number
  readonly maxLength: number
}

const EPSILON = 0.1

export const selfBleu = (docs: ReadonlyArray<ArrayLike<number>>, opts: SelfBleuOptions): number => {
  const n = opts.n ?? 4
  checkOrder(n, "selfBleu")
  for (const [name, v] of [["maxDocs", opts.maxDocs], ["maxLength", opts.maxLength]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`selfBleu: ${name} must be a non-negative integer, got ${v}`)
  }
  const subset = docs.slice(0, opts.maxDocs).map((d) => Array.prototype.slice.call(d, 0, opts.maxLength) as number[])
  const M = subset.length
  if (M < 2) return 0
  const index = indexNgrams(subset, n)
  const { offsets } = index
  // per order: the largest and second largest per-document count of each n-gram, and the document of the largest
  const best1: Int32Array[] = []
  const best2: Int32Array[] = []
  const best1Doc: Int32Array[] = []
  const count: Int32Array[] = []
  for (let k = 1; k <= n; k++) {
    const size = index.distinct[k - 1]
    const ids = index.ids[k - 1]
    const b1 = new Int32Array(size)
    const b2 = new Int32Array(size)
    const bd = new Int32Array(size).fill(-1)
    const cnt = new Int32Array(size)
    for (let d = 0; d < M; d++) {
      const lo = offsets[d] + k - 1
      const hi = offsets[d + 1]
      for (let p = lo; p < hi; p++) cnt[ids[p]]++
      for (let p = lo; p < hi; p++) {
        const g = ids[p]
        const c = cnt[g]
        if (c === 0) continue // already folded in for this document
        if (c > b1[g]) {
          b2[g] = b1[g]
          b1[g] = c
          bd[g] = d
        } else if (c > b2[g]) b2[g] = c
        cnt[g] = 0
      }
    }
    best1.push(b1)
    best2.push(b2)
    best1Doc.push(bd)
    count.push(cnt)
  }
  let sum = 0
  for (let d = 0; d < M; d++) {
    const len = subset[d].length
    if (len === 0) continue
    let logSum = 0
    let unigramMatches = 0
    for (let k = 1; k <= n; k++) {
      const ids = index.ids[k - 1]
      const cnt = count[k - 1]
      const lo = offsets[d] + k - 1
      const hi = offsets[d + 1]
      for (let p = lo; p < hi; p++) cnt[ids[p]]++
      let clipped = 0
      for (let p = lo; p < hi; p++) {
        const g = ids[p]
        const c = cnt[g]
        if (c === 0) continue
        const refMax = best1Doc[k - 1][g] === d ? best2[k - 1][g] : best1[k - 1][g]
        clipped += Math.min(c, refMax)
        cnt[g] = 0
      }
      const denominator = Math.max(1, hi - lo)
      if (k === 1) unigramMatches = clipped
      logSum += Math.log((clipped === 0 ? EPSILON : clipped) / denominator) / n
    }
    if (unigramMatches === 0) continue
    let closest = -1
    for (let j = 0; j < M; j++) {
      if (j === d) continue
      const r = subset[j].length
      if (
        closest < 0 || Math.abs(r - len) < Math.abs(closest - len) ||
        (Math.abs(r - len) === Math.abs(closest - len) && r < closest)
      ) {
        closest = r
      }
    }
    const bp = len > closest ? 1 : Math.exp(1 - closest / len)
    sum += bp * Math.exp(logSum)
  }
  return sum / M
}
