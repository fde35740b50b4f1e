/**
 * Repetition measured on a sample's text, independent of any tokenizer, so that they read the same for every model
 * family and tokenizer:
 *   - wordRepN: seq-rep-n (Welleck et al. 2019) on whitespace words: per document, 1 − unique word n-grams / word
 *     n-grams, averaged over the documents that have one;
 *   - repeatedNgramShare: of all the sample's word n-grams (pooled, so long documents weigh more), the share that
 *     already occurred earlier in the same document;
 *   - compressionRatio: UTF-8 bytes / raw-deflate bytes of the sample's text (documents joined by newlines), at a
 *     fixed level, so the same text always gives the same number: repetitive text compresses better.
 */
import { deflateRawSync } from "node:zlib"

const words = (text: string): string[] => text.split(/\s+/).filter((w) => w !== "")

const checkN = (n: number, what: string): void => {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: n must be a positive integer, got ${n}`)
}

/**
 * Per document: [word n-grams, of them ones seen earlier in the document]. Words are interned per document, so an
 * n-gram is a number (exact while distinct words ^ n stays below 2^53) rather than a joined string.
 */
const repeats = (text: string, n: number): readonly [number, number] => {
  const w = words(text)
  const total = w.length - n + 1
  if (total <= 0) return [0, 0]
  const dense = new Map<string, number>()
  const ids = new Float64Array(w.length)
  for (let i = 0; i < w.length; i++) {
    let id = dense.get(w[i])
    if (id === undefined) dense.set(w[i], id = dense.size)
    ids[i] = id
  }
  const radix = dense.size
  const exact = n * Math.log2(Math.max(2, radix)) < 53
  const seen = new Set<number | string>()
  let repeated = 0
  for (let i = 0; i < total; i++) {
    let key: number | string
    if (exact) {
      key = 0
      for (let k = 0; k < n; k++) key = key * radix + ids[i + k]
    } else key = w.slice(i, i + n).join(" ")
    if (seen.has(key)) repeated++
    else seen.add(key)
  }
  return [total, repeated]
}

/** seq-rep-n on whitespace words, averaged over documents with at least one n-gram (0 if none has). */
export const wordRepN = (texts: ReadonlyArray<string>, n: number): number => {
  checkN(n, "wordRepN")
  let sum = 0
  let counted = 0
  for (const t of texts) {
    const [total, repeated] = repeats(t, n)
    if (total === 0) continue
    sum += repeated / total
    counted++
  }
  return counted === 0 ? 0 : sum / counted
}

/** The share of all word n-grams of the sample that occurred earlier in their own document (0 if there are none). */
export const repeatedNgramShare = (texts: ReadonlyArray<string>, n: number): number => {
  checkN(n, "repeatedNgramShare")
  let total = 0
  let repeated = 0
  for (const t of texts) {
    const [a, b] = repeats(t, n)
    total += a
    repeated += b
  }
  return total === 0 ? 0 : repeated / total
}

/** Deflate level of compressionRatio: fixed, as it shapes the number. */
export const COMPRESSION_LEVEL = 9

/** UTF-8 bytes / raw-deflate bytes (level 9) of the documents joined by "\n"; 1 for no text. */
export const compressionRatio = (texts: ReadonlyArray<string>): number => {
  const bytes = Buffer.from(texts.join("\n"), "utf8")
  if (bytes.length === 0) return 1
  return bytes.length / deflateRawSync(bytes, { level: COMPRESSION_LEVEL }).length
}

/** The repetition figures Evaluate.lm and Evaluate.neural add with `repetition: true`. */
export const sampleRepetition = (texts: ReadonlyArray<string>): Record<string, number> => ({
  word_rep_4: wordRepN(texts, 4),
  repeated_3gram_share: repeatedNgramShare(texts, 3),
  compression_ratio: compressionRatio(texts)
})
