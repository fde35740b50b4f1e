/**
 * Dense ids for the n-grams of token documents, order by order, so metrics count n-grams with typed arrays
 * instead of string keys. An order-k id is interned from (order k-1 id of the prefix, last token): keys stay below
 * (number of n-grams) × (max token id + 1), exact in a double.
 */

export interface NgramIndex {
  /** Length documents + 1: document d's tokens are positions offsets[d] .. offsets[d + 1]. */
  readonly offsets: Int32Array
  /** ids[k - 1][p]: id of the k-gram ending at position p (within its document), or -1 if there is none. */
  readonly ids: ReadonlyArray<Int32Array>
  /** distinct[k - 1]: number of distinct k-grams (ids are 0 .. distinct - 1). */
  readonly distinct: ReadonlyArray<number>
}

export const checkOrder = (n: number, what: string): void => {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: n must be a positive integer, got ${n}`)
}

export const indexNgrams = (docs: ReadonlyArray<ArrayLike<number>>, maxOrder: number): NgramIndex => {
  const offsets = new Int32Array(docs.length + 1)
  for (let d = 0; d < docs.length; d++) offsets[d + 1] = offsets[d] + docs[d].length
  const total = offsets[docs.length]
  const tokens = new Int32Array(total)
  let maxId = 0
  for (let d = 0; d < docs.length; d++) {
    const doc = docs[d]
    for (let i = 0; i < doc.length; i++) {
      const t = doc[i]
      if (!Number.isInteger(t) || t < 0) throw new Error(`ngrams: token ids must be non-negative integers, got ${t}`)
      tokens[offsets[d] + i] = t
      if (t > maxId) maxId = t
    }
  }
  const ids: Int32Array[] = []
  const distinct: number[] = []
  // order 1: relabel tokens densely
  const dense = new Int32Array(maxId + 1).fill(-1)
  const unigrams = new Int32Array(total)
  let next = 0
  for (let p = 0; p < total; p++) {
    const t = tokens[p]
    if (dense[t] < 0) dense[t] = next++
    unigrams[p] = dense[t]
  }
  ids.push(unigrams)
  distinct.push(next)
  const radix = maxId + 1
  for (let k = 2; k <= maxOrder; k++) {
    const prev = ids[k - 2]
    const cur = new Int32Array(total).fill(-1)
    const intern = new Map<number, number>()
    for (let d = 0; d < docs.length; d++) {
      for (let p = offsets[d] + k - 1; p < offsets[d + 1]; p++) {
        const key = prev[p - 1] * radix + tokens[p]
        let id = intern.get(key)
        if (id === undefined) {
          id = intern.size
          intern.set(key, id)
        }
        cur[p] = id
      }
    }
    ids.push(cur)
    distinct.push(intern.size)
  }
  return { offsets, ids, distinct }
}
