/**
 * Turning a neural LM into documents: ancestral sampling (temperature, top-k, top-p, repetition penalty) over many
 * rows at once, or beam search. Every random draw comes from one seeded xoroshiro128+ stream consumed in row order,
 * so the output depends only on the model, the options and the seed.
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import type { Decoder } from "./family.ts"
import { EOS_ID } from "../tokenizer.ts"

export interface DecodeOptions {
  /** Documents at most. */
  readonly documents: number
  /** Tokens per document at most (the end-of-document token is not counted). */
  readonly maxLength: number
  /** Total tokens over all documents; 0 = no limit. */
  readonly tokens: number
  readonly temperature: number
  /** Keep the k most likely tokens; 0 = off. */
  readonly topK: number
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 = off. */
  readonly topP: number
  /** CTRL's penalty on tokens already in the document (logit / p if positive, · p if not); 1 = off. */
  readonly repetitionPenalty: number
  /** 1 = sampling; more = beam search of that width after a sampled first token. */
  readonly beams: number
  /** Sequences decoded side by side when sampling. */
  readonly rows: number
  readonly seed: number
}

export interface DecodeProgress {
  readonly tokens: number
  readonly documents: number
}

/** Adjusted log-probabilities (float64) of one row: penalty, temperature, top-k and top-p applied. */
const logProbs = (
  logits: Float32Array,
  o: number,
  vocab: number,
  seen: ReadonlySet<number>,
  opt: DecodeOptions
): Float64Array => {
  const z = new Float64Array(vocab)
  for (let k = 0; k < vocab; k++) {
    let v = logits[o + k]
    if (opt.repetitionPenalty !== 1 && seen.has(k)) v = v > 0 ? v / opt.repetitionPenalty : v * opt.repetitionPenalty
    z[k] = v / opt.temperature
  }
  if (opt.topK > 0 && opt.topK < vocab) {
    const kth = [...z].sort((a, b) => b - a)[opt.topK - 1]
    let kept = 0 // ties at the k-th value: keep the lowest ids, exactly k in all
    for (let k = 0; k < vocab; k++) {
      if (z[k] > kth) kept++
    }
    for (let k = 0; k < vocab; k++) {
      if (z[k] < kth) z[k] = -Infinity
      else if (z[k] === kth) {
        if (kept < opt.topK) kept++
        else z[k] = -Infinity
      }
    }
  }
  let max = -Infinity
  for (let k = 0; k < vocab; k++) if (z[k] > max) max = z[k]
  let sum = 0
  for (let k = 0; k < vocab; k++) sum += Math.exp(z[k] - max)
  const lse = max + Math.log(sum)
  for (let k = 0; k < vocab; k++) z[k] -= lse
  if (opt.topP < 1) {
    const order = Array.from({ length: vocab }, (_, k) => k).sort((a, b) => z[b] - z[a] || a - b)
    let cum = 0, cut = vocab
    for (let i = 0; i < vocab; i++) {
      cum += Math.exp(z[order[i]])
      if (cum >= opt.topP) {
        cut = i + 1
        break
      }
    }
    const keep = Math.log(cum)
    for (let i = 0; i < vocab; i++) z[order[i]] = i < cut ? z[order[i]] - keep : -Infinity
  }
  return z
}

/** Draws from log-probabilities by inverse CDF with one uniform. */
const draw = (lp: Float64Array, u: number): number => {
  let cum = 0, last = 0
  for (let k = 0; k < lp.length; k++) {
    if (lp[k] === -Infinity) continue
    cum += Math.exp(lp[k])
    last = k
    if (u < cum) return k
  }
  return last // rounding: u beyond the summed mass
}

export const decodeDocuments = (
  makeDecoder: (rows: number) => Decoder,
  opt: DecodeOptions,
  onProgress: (p: DecodeProgress) => void = () => {}
): Int32Array[] => {
  const rng = xoroshiro128plus(opt.seed)
  const uniform = () => uniformFloat64(rng)
  return opt.beams > 1
    ? beamSearch(makeDecoder, opt, uniform, onProgress)
    : sample(makeDecoder, opt, uniform, onProgress)
}

function sample(
  makeDecoder: (rows: number) => Decoder,
  opt: DecodeOptions,
  uniform: () => number,
  onProgress: (p: DecodeProgress) => void
) {
  const rows = Math.max(1, Math.min(opt.rows, opt.documents))
  const dec = makeDecoder(rows)
  const vocab = dec.vocab
  const done: Array<{ index: number; ids: Int32Array }> = []
  const doc: Array<number[] | undefined> = Array.from({ length: rows })
  const docIndex = new Int32Array(rows)
  const seen = Array.from({ length: rows }, () => new Set<number>())
  const feed = new Int32Array(rows).fill(EOS_ID)
  // started: documents begun and not dropped (bounded by opt.documents); nextIndex orders them as begun.
  let started = 0, nextIndex = 0, generated = 0, empty = 0
  const budgetLeft = () => opt.tokens === 0 || generated < opt.tokens
  const start = (r: number) => {
    if (started < opt.documents && budgetLeft() && empty <= opt.documents) {
      started++
      docIndex[r] = nextIndex++
      doc[r] = []
      seen[r].clear()
      dec.resetRow(r)
    } else doc[r] = undefined
    feed[r] = EOS_ID // the end-of-document token also starts one, as in training
  }
  const finish = (r: number) => {
    const ids = doc[r]!
    if (ids.length === 0) {
      empty++ // an immediately ended document is not a document; guarded so a model that only ends cannot loop
      started--
    } else done.push({ index: docIndex[r], ids: Int32Array.from(ids) })
    doc[r] = undefined
  }
  try {
    for (let r = 0; r < rows; r++) start(r)
    while (doc.some((d) => d !== undefined)) {
      const logits = dec.step(feed)
      for (let r = 0; r < rows; r++) {
        const ids = doc[r]
        if (ids === undefined) continue
        if (!budgetLeft()) {
          finish(r)
          continue
        }
        const tok = draw(logProbs(logits, r * vocab, vocab, seen[r], opt), uniform())
        if (tok === EOS_ID) {
          finish(r)
          start(r)
          continue
        }
        ids.push(tok)
        seen[r].add(tok)
        generated++
        feed[r] = tok
        if (ids.length >= opt.maxLength) {
          finish(r)
          start(r)
        }
      }
      onProgress({ tokens: generated, documents: done.length })
    }
  } finally {
    dec.dispose()
  }
  // Documents in the order they were begun.
  return done.sort((a, b) => a.index - b.index).map((d) => d.ids)
}

function beamSearch(
  makeDecoder: (rows: number) => Decoder,
  opt: DecodeOptions,
  uniform: () => number,
  onProgress: (p: DecodeProgress) => void
) {
  const width = opt.beams
  const dec = makeDecoder(width)
  const vocab = dec.vocab
  const out: Int32Array[] = []
  let generated = 0, empty = 0
  const plain: DecodeOptions = { ...opt, repetitionPenalty: 1 }
  try {
    while (out.length < opt.documents && (opt.tokens === 0 || generated < opt.tokens) && empty <= opt.documents) {
      for (let r = 0; r < width; r++) dec.resetRow(r)
      let logits = dec.step(new Int32Array(width).fill(EOS_ID))
      // The first token is sampled, so documents differ; beam search continues from it.
      const first = draw(logProbs(logits, 0, vocab, new Set(), opt), uniform())
      if (first === EOS_ID) {
        empty++
        continue
      }
      let alive = [{ row: 0, ids: [first], score: 0 }]
      const finished: Array<{ ids: number[]; score: number }> = []
      logits = dec.step(new Int32Array(width).fill(first))
      while (alive.length > 0 && alive[0].ids.length < opt.maxLength && finished.length < width) {
        const candidates: Array<{ from: number; ids: number[]; score: number; end: boolean }> = []
        alive.forEach((b, i) => {
          const lp = logProbs(logits, b.row * vocab, vocab, new Set(b.ids), opt.repetitionPenalty === 1 ? plain : opt)
          const best = Array.from({ length: vocab }, (_, k) => k).sort((x, y) => lp[y] - lp[x] || x - y).slice(0, width)
          for (const k of best) {
            if (lp[k] === -Infinity) continue
            candidates.push({
              from: i,
              ids: k === EOS_ID ? b.ids : [...b.ids, k],
              score: b.score + lp[k],
              end: k === EOS_ID
            })
          }
        })
        candidates.sort((x, y) => y.score - x.score)
        const next: typeof candidates = []
        for (const cnd of candidates) {
          if (next.length === width) break
          if (cnd.end) finished.push({ ids: cnd.ids, score: cnd.score })
          else next.push(cnd)
        }
        if (next.length === 0) break
        const from = new Int32Array(width)
        for (let r = 0; r < width; r++) from[r] = alive[next[Math.min(r, next.length - 1)].from].row
        dec.reorder(from)
        alive = next.map((cnd, r) => ({ row: r, ids: cnd.ids, score: cnd.score }))
        const feed = new Int32Array(width)
        for (let r = 0; r < width; r++) feed[r] = next[Math.min(r, next.length - 1)].ids.at(-1)!
        logits = dec.step(feed)
      }
      // Best by mean log-probability per token, so short endings are not favoured for being short.
      const pool = [...finished, ...alive]
      pool.sort((x, y) => y.score / y.ids.length - x.score / x.ids.length)
      let ids = pool[0].ids
      if (opt.tokens > 0) ids = ids.slice(0, opt.tokens - generated)
      generated += ids.length
      out.push(Int32Array.from(ids))
      onProgress({ tokens: generated, documents: out.length })
    }
  } finally {
    dec.dispose()
  }
  return out
}
