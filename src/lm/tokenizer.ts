/**
 * Word- and character-level tokenizers (a fitted vocabulary) and GPT-2's byte-level BPE (r50k_base, shipped inside
 * js-tiktoken: nothing is downloaded), with pure encode/decode functions.
 *
 * Ids 0 and 1 are reserved: 0 = "<unk>" (anything outside the vocabulary), 1 = "<eos>" (end of document).
 * Word tokens: "<unk>" literally, numbers with internal separators ("1,000", "3.5"), words of letters/marks/digits
 * with internal apostrophes or hyphens ("don't", "well-known"), and every other non-space code point on its own.
 * `decode` renders text that re-encodes to the same ids (for the word tokenizer), so synthetic corpora
 * round-trip through text.
 * BPE: id = r50k id + 2 (so 0 and 1 keep their meaning); <|endoftext|> is not in the vocabulary (text that spells
 * it is encoded as ordinary text), so the vocabulary is 2 + 50256 = 50258. Every text encodes without <unk>.
 */
import { createRequire } from "node:module"
import type { Tiktoken, TiktokenBPE } from "js-tiktoken/lite"

export const UNK_ID = 0
export const EOS_ID = 1
export const UNK = "<unk>"
export const EOS = "<eos>"

export type TokenizerKind = "word" | "char" | "bpe"

/** The BPE encodings a bpe tokenizer can use (shipped inside js-tiktoken). */
export const BPE_ENCODINGS = ["r50k_base"] as const
export type BpeEncoding = (typeof BPE_ENCODINGS)[number]

export interface TokenizerSpec {
  readonly kind: TokenizerKind
  readonly lowercase: boolean
  /**
   * vocab[0] = "<unk>", vocab[1] = "<eos>", then tokens by count desc, then string asc (word, char); for bpe, each
   * BPE token decoded on its own (a token that is part of a UTF-8 sequence shows U+FFFD).
   */
  readonly vocab: ReadonlyArray<string>
  /** kind "bpe" only: the encoding. */
  readonly encoding?: BpeEncoding
}

/** The offset of BPE ids: ids 0 and 1 stay <unk> and <eos>. */
const BPE_OFFSET = 2

// js-tiktoken and the ranks (a 0.5 MB module) are loaded, and the encoder built (about half a second, ~100 MB), once
// per thread when a bpe tokenizer is first used: commands that never meet one do not pay for it (5 ms to load
// js-tiktoken at every start, before).
const require = createRequire(import.meta.url)
let r50k: { readonly ranks: TiktokenBPE; readonly encoder: Tiktoken } | undefined
const r50kBase = () => {
  if (r50k === undefined) {
    const { Tiktoken } = require("js-tiktoken/lite") as typeof import("js-tiktoken/lite")
    const ranks = require("js-tiktoken/ranks/r50k_base") as TiktokenBPE
    r50k = { ranks, encoder: new Tiktoken(ranks) }
  }
  return r50k
}
const bpeEncoder = (encoding: BpeEncoding): Tiktoken => {
  if (encoding !== "r50k_base") throw new Error(`tokenizer: unknown BPE encoding ${JSON.stringify(encoding)}`)
  return r50kBase().encoder
}

/** r50k_base's ordinary tokens: every id below <|endoftext|> (50256). */
const bpeTokens = (encoding: BpeEncoding): number => {
  bpeEncoder(encoding)
  return Math.min(...Object.values(r50kBase().ranks.special_tokens))
}

/** A BPE tokenizer: nothing to fit, the vocabulary is the encoding's. */
export const bpeTokenizer = (o: { readonly encoding: BpeEncoding; readonly lowercase: boolean }): TokenizerSpec => {
  const enc = bpeEncoder(o.encoding)
  const n = bpeTokens(o.encoding)
  const vocab = [UNK, EOS]
  for (let i = 0; i < n; i++) vocab.push(enc.decode([i]))
  return { kind: "bpe", lowercase: o.lowercase, vocab, encoding: o.encoding }
}

/**
 * BPE encoding as tiktoken does it (split by the encoding's regex, then byte-pair merge each piece on its own), with
 * the pieces' ids memoised per thread: js-tiktoken merges every piece afresh (≈0.5 MB/s on SOTU), and text repeats
 * its pieces. The same ids as `Tiktoken.encode(text, [], [])` (tested).
 */
const PIECE_CACHE_LIMIT = 1 << 20
const pieceCache = new Map<string, ReadonlyArray<number>>()
let pieceRe: RegExp | undefined
const bpeEncodeInto = (encoding: BpeEncoding, text: string, out: IdBuffer): void => {
  const enc = bpeEncoder(encoding)
  pieceRe ??= new RegExp(r50kBase().ranks.pat_str, "gu")
  pieceRe.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = pieceRe.exec(text)) !== null) {
    const piece = m[0]
    let ids = pieceCache.get(piece)
    if (ids === undefined) {
      ids = enc.encode(piece, [], [])
      if (pieceCache.size >= PIECE_CACHE_LIMIT) pieceCache.clear()
      pieceCache.set(piece, ids)
    }
    for (const id of ids) out.push(id + BPE_OFFSET)
  }
}

const encodingOf = (tok: TokenizerSpec): BpeEncoding => {
  if (tok.encoding === undefined) throw new Error("tokenizer: a bpe tokenizer needs an encoding")
  return tok.encoding
}

export interface FitTokenizerOptions {
  readonly kind: TokenizerKind
  readonly lowercase: boolean
  /** Tokens seen fewer times than this map to <unk>. */
  readonly minCount: number
  /** Upper bound on the vocabulary size, the two special tokens included. */
  readonly maxVocab?: number
}

// One global, sticky-free regex: alternatives are tried left to right, so "<unk>" and numbers win over punctuation.
const WORD_RE = /<unk>|\p{N}+(?:[.,]\p{N}+)+|[\p{L}\p{M}\p{N}]+(?:['\u2019-][\p{L}\p{M}\p{N}]+)*|\S/gu

// In char mode U+FFFD stands for <unk> when decoding, so it is never a vocabulary entry itself.
const CHAR_UNK = "\uFFFD"

const NO_SPACE_BEFORE = new Set([",", ".", ";", ":", "!", "?", ")"])
const NO_SPACE_AFTER = new Set(["("])

const normalize = (text: string, lowercase: boolean): string => (lowercase ? text.toLowerCase() : text)

/** Calls `f` on each raw token of `text` (already normalised). */
const forEachToken = (kind: TokenizerKind, text: string, f: (token: string) => void): void => {
  if (kind === "word") {
    WORD_RE.lastIndex = 0
    let m: RegExpExecArray | null
    while ((m = WORD_RE.exec(text)) !== null) f(m[0])
  } else {
    for (const ch of text) f(ch)
  }
}

const isSpecial = (kind: TokenizerKind, token: string): boolean => kind === "word" ? token === UNK : token === CHAR_UNK

export const fitTokenizer = (texts: Iterable<string>, opts: FitTokenizerOptions): TokenizerSpec => {
  if (opts.kind === "bpe") throw new Error("tokenizer: a bpe tokenizer is not fitted (use bpeTokenizer)")
  if (!Number.isInteger(opts.minCount) || opts.minCount < 1) {
    throw new Error(`tokenizer: minCount must be a positive integer, got ${opts.minCount}`)
  }
  if (opts.maxVocab !== undefined && (!Number.isInteger(opts.maxVocab) || opts.maxVocab < 2)) {
    throw new Error(`tokenizer: maxVocab must be an integer >= 2, got ${opts.maxVocab}`)
  }
  const counts = new Map<string, number>()
  const add = (token: string): void => {
    if (!isSpecial(opts.kind, token)) counts.set(token, (counts.get(token) ?? 0) + 1)
  }
  for (const text of texts) forEachToken(opts.kind, normalize(text, opts.lowercase), add)
  const kept: Array<[string, number]> = []
  for (const entry of counts) if (entry[1] >= opts.minCount) kept.push(entry)
  // count desc, then code-unit order asc: no locale, so the same on every machine
  kept.sort((a, b) => (b[1] - a[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const limit = opts.maxVocab === undefined ? kept.length : Math.min(kept.length, opts.maxVocab - 2)
  const vocab = [UNK, EOS]
  for (let i = 0; i < limit; i++) vocab.push(kept[i][0])
  return { kind: opts.kind, lowercase: opts.lowercase, vocab }
}

// Encoding needs a string → id map; cache it per spec object (specs are immutable values).
const indexCache = new WeakMap<TokenizerSpec, Map<string, number>>()

const NO_INDEX = new Map<string, number>()

const indexOf = (tok: TokenizerSpec): Map<string, number> => {
  let index = indexCache.get(tok)
  if (index === undefined) {
    if (tok.vocab[UNK_ID] !== UNK || tok.vocab[EOS_ID] !== EOS) {
      throw new Error(`tokenizer: vocab must start with "${UNK}", "${EOS}"`)
    }
    // bpe encodes with its merges, not a string → id map
    index = tok.kind === "bpe" ? NO_INDEX : new Map()
    if (tok.kind !== "bpe") { for (let i = 2; i < tok.vocab.length; i++) index.set(tok.vocab[i], i) }
    indexCache.set(tok, index)
  }
  return index
}

/** Growable Int32Array: avoids a JS array of numbers for millions of ids. */
class IdBuffer {
  data = new Int32Array(1024)
  length = 0
  push(id: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2)
      next.set(this.data)
      this.data = next
    }
    this.data[this.length++] = id
  }
  toArray(): Int32Array {
    return this.data.slice(0, this.length)
  }
}

const encodeInto = (tok: TokenizerSpec, index: Map<string, number>, text: string, out: IdBuffer): void => {
  if (tok.kind === "bpe") {
    // no special tokens: "<|endoftext|>" in a text is just text
    bpeEncodeInto(encodingOf(tok), normalize(text, tok.lowercase), out)
    return
  }
  forEachToken(tok.kind, normalize(text, tok.lowercase), (token) => out.push(index.get(token) ?? UNK_ID))
}

export const encode = (tok: TokenizerSpec, text: string): Int32Array => {
  const out = new IdBuffer()
  encodeInto(tok, indexOf(tok), text, out)
  return out.toArray()
}

export interface EncodedDocuments {
  /** All documents' ids back to back, without <eos>. */
  readonly ids: Int32Array
  /** Length documents + 1; document i is ids[offsets[i] .. offsets[i + 1]). */
  readonly offsets: Int32Array
}

export const encodeDocuments = (tok: TokenizerSpec, texts: ReadonlyArray<string>): EncodedDocuments => {
  const index = indexOf(tok)
  const out = new IdBuffer()
  const offsets = new Int32Array(texts.length + 1)
  for (let i = 0; i < texts.length; i++) {
    encodeInto(tok, index, texts[i], out)
    offsets[i + 1] = out.length
  }
  return { ids: out.toArray(), offsets }
}

/**
 * Ids back to text. Word level: single spaces, none before , . ; : ! ? ) and none after (.
 * <unk> renders as "<unk>" (word) or U+FFFD (char); <eos> renders as a newline.
 */
export const decode = (tok: TokenizerSpec, ids: ArrayLike<number>): string => {
  const vocab = tok.vocab
  const piece = (id: number): string => {
    if (id === UNK_ID) return tok.kind === "word" ? UNK : CHAR_UNK
    if (id === EOS_ID) return "\n"
    const s = vocab[id]
    if (s === undefined) throw new Error(`tokenizer: id ${id} is outside the vocabulary (size ${vocab.length})`)
    return s
  }
  if (tok.kind === "bpe") {
    // runs of BPE ids decode together, so a character split over several byte tokens comes out whole
    const enc = bpeEncoder(encodingOf(tok))
    let text = ""
    let run: number[] = []
    const flush = () => {
      if (run.length > 0) text += enc.decode(run)
      run = []
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]
      if (id === UNK_ID || id === EOS_ID) {
        flush()
        text += piece(id)
      } else if (id >= vocab.length || id < 0 || !Number.isInteger(id)) piece(id)
      else run.push(id - BPE_OFFSET)
    }
    flush()
    return text
  }
  if (tok.kind === "char") {
    let text = ""
    for (let i = 0; i < ids.length; i++) text += piece(ids[i])
    return text
  }
  const parts: string[] = []
  let prev = "\n"
  for (let i = 0; i < ids.length; i++) {
    const s = piece(ids[i])
    if (s === "\n" || prev === "\n" || NO_SPACE_BEFORE.has(s) || NO_SPACE_AFTER.has(prev)) parts.push(s)
    else parts.push(" ", s)
    prev = s
  }
  return parts.join("")
}
