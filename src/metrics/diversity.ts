/**
 * Diversity metrics over token documents (Int32Array per document, ids as the tokenizer gives them; every id,
 * <unk> included, counts as a token here except in vocabCoverage). Deterministic and O(total tokens · n).
 */

import { checkOrder, indexNgrams } from "./ngrams.ts"

type Docs = ReadonlyArray<ArrayLike<number>>

/** Distinct n-grams over all documents / total n-grams (n-grams never cross documents); 0 when there are none. */
export const distinctN = (docs: Docs, n: number): number => {
  checkOrder(n, "distinctN")
  const index = indexNgrams(docs, n)
  let total = 0
  for (const doc of docs) total += Math.max(0, doc.length - n + 1)
  return total === 0 ? 0 : index.distinct[n - 1] / total
}

/**
 * seq-rep-n of Welleck et al. 2019 ("Neural text generation with unlikelihood training"): per document,
 * 1 − unique n-grams / n-grams, averaged over the documents that have at least one n-gram (0 if none do).
 */
export const repN = (docs: Docs, n: number): number => {
  checkOrder(n, "repN")
  const index = indexNgrams(docs, n)
  const ids = index.ids[n - 1]
  const stamp = new Int32Array(index.distinct[n - 1]).fill(-1)
  let sum = 0
  let counted = 0
  for (let d = 0; d < docs.length; d++) {
    const total = docs[d].length - n + 1
    if (total <= 0) continue
    let unique = 0
    for (let p = index.offsets[d] + n - 1; p < index.offsets[d + 1]; p++) {
      if (stamp[ids[p]] !== d) {
        stamp[ids[p]] = d
        unique++
      }
    }
    sum += 1 - unique / total
    counted++
  }
  return counted === 0 ? 0 : sum / counted
}

const maxIdOf = (docs: Docs): number => {
  let max = -1
  for (const doc of docs) {
    for (let i = 0; i < doc.length; i++) {
      const t = doc[i]
      if (!Number.isInteger(t) || t < 0) throw new Error(`metrics: token ids must be non-negative integers, got ${t}`)
      if (t > max) max = t
    }
  }
  return max
}

/** Shannon entropy (bits) of the pooled unigram distribution; 0 for no tokens. */
export const unigramEntropy = (docs: Docs): number => {
  const counts = new Float64Array(maxIdOf(docs) + 1)
  let total = 0
  for (const doc of docs) {
    for (let i = 0; i < doc.length; i++) counts[doc[i]]++
    total += doc.length
  }
  let h = 0
  for (let t = 0; t < counts.length; t++) {
    if (counts[t] > 0) {
      const p = counts[t] / total
      h -= p * Math.log2(p)
    }
  }
  return h
}

/** Ids 0 (<unk>) and 1 (<eos>) are not vocabulary. */
const FIRST_TYPE = 2

/**
 * Fraction of the reference's distinct token types (excluding <unk> and <eos>) that occur in `docs`;
 * 0 when the reference has none.
 */
export const vocabCoverage = (docs: Docs, referenceDocs: Docs): number => {
  const present = new Uint8Array(maxIdOf(docs) + 1)
  for (const doc of docs) for (let i = 0; i < doc.length; i++) present[doc[i]] = 1
  const seen = new Uint8Array(maxIdOf(referenceDocs) + 1)
  let types = 0
  let covered = 0
  for (const doc of referenceDocs) {
    for (let i = 0; i < doc.length; i++) {
      const t = doc[i]
      if (t < FIRST_TYPE || seen[t] === 1) continue
      seen[t] = 1
      types++
      if (t < present.length && present[t] === 1) covered++
    }
  }
  return types === 0 ? 0 : covered / types
}
