/** Small helpers shared by the built-in stages. */
import { Effect } from "effect"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import { uniformInt } from "pure-rand/distribution/uniformInt"
import { type Corpus, corpusDocuments } from "../artifact/corpus.ts"
import { describe, StageFailed } from "../errors/index.ts"
import { encodeDocuments, type TokenizerSpec } from "../lm/tokenizer.ts"
import type { RunContext } from "../pipeline/stage.ts"

const failed = (ctx: RunContext) => (e: unknown) =>
  new StageFailed({ node: ctx.node, kind: ctx.kind, detail: describe(e), cause: e })

/** Runs a synchronous computation; a thrown error becomes a StageFailed naming the node and the stage's kind. */
export const compute = <A>(ctx: RunContext, f: () => A): Effect.Effect<A, StageFailed> =>
  Effect.try({ try: f, catch: failed(ctx) })

/** Same, for asynchronous work. */
export const computeAsync = <A>(ctx: RunContext, f: () => Promise<A>): Effect.Effect<A, StageFailed> =>
  Effect.tryPromise({ try: f, catch: failed(ctx) })

/** A seeded permutation of 0..n-1 (Fisher-Yates on xoroshiro128+). */
export const seededPermutation = (n: number, seed: number): Int32Array => {
  const rng = xoroshiro128plus(seed)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = uniformInt(rng, 0, i)
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}

/** The whitespace that separates words for mixes and filters: one definition for counting and cutting. */
const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13

/** Whitespace-separated words: the unit in which mixes and filters measure text, independent of any tokenizer. */
export const wordCount = (text: string): number => {
  let n = 0
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i))
    if (!space && !inWord) n++
    inWord = !space
  }
  return n
}

/** The first `n` words of `text` (as `wordCount` counts them), joined by single spaces. */
export const firstWords = (text: string, n: number): string => {
  const words: string[] = []
  let start = -1
  for (let i = 0; i <= text.length && words.length < n; i++) {
    const space = i === text.length || isSpace(text.charCodeAt(i))
    if (!space && start < 0) start = i
    else if (space && start >= 0) {
      words.push(text.slice(start, i))
      start = -1
    }
  }
  return words.join(" ")
}

/** A corpus encoded with a tokenizer: all ids with document offsets, and each document's ids as a view. */
export const encodeCorpus = (tokenizer: TokenizerSpec, corpus: Corpus) => {
  const data = encodeDocuments(tokenizer, corpusDocuments(corpus).texts)
  const docs: Int32Array[] = []
  for (let i = 0; i + 1 < data.offsets.length; i++) docs.push(data.ids.subarray(data.offsets[i], data.offsets[i + 1]))
  return { data, docs }
}

/** Every vocabulary entry but <unk> and <eos>, each as a one-token document: the reference of vocabulary coverage. */
export const vocabularyDocs = (tokenizer: TokenizerSpec): Int32Array[] =>
  tokenizer.vocab.slice(2).map((_, i) => Int32Array.of(i + 2))
