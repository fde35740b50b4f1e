/**
 * Perplexity of a neural LM on a token stream with a sliding window: windows of the model's length W advance by
 * `stride`; the first window scores all of its tokens, each later one only the tokens it adds, so every token is
 * scored once and (after the first window) with at least W - stride tokens before it.
 */
import type { Net } from "./families.ts"

/** -log softmax(logits[o .. o + V))[target], in float64 with the max subtracted. */
export const negLogProb = (logits: Float32Array, o: number, vocab: number, target: number): number => {
  let max = -Infinity
  for (let k = 0; k < vocab; k++) if (logits[o + k] > max) max = logits[o + k]
  let sum = 0
  for (let k = 0; k < vocab; k++) sum += Math.exp(logits[o + k] - max)
  return Math.log(sum) + max - logits[o + target]
}

export interface SlidingNll {
  /** Mean negative log-likelihood per scored token, in nats. */
  readonly nll: number
  readonly tokens: number
}

export const slidingNll = (
  net: Net,
  stream: Int32Array,
  options: {
    readonly stride: number
    readonly batch: number
    readonly onProgress?: (done: number, total: number) => void
  }
): SlidingNll => {
  if (stream.length < 2) throw new Error(`the test stream has ${stream.length} tokens: nothing to predict`)
  const W = Math.min(net.window, stream.length - 1)
  const stride = Math.min(options.stride, W)
  if (!Number.isSafeInteger(stride) || stride < 1) {
    throw new Error(`stride must be a positive integer, got ${options.stride}`)
  }
  // Window starts; the last one is moved back so every window is full length (targets up to the stream's end).
  const starts: number[] = []
  const last = stream.length - 1 - W
  for (let s = 0; s < last; s += stride) starts.push(s)
  starts.push(last)
  let total = 0, count = 0, scoredUpTo = 0 // targets at stream indices < scoredUpTo + 1 are done
  for (let b0 = 0; b0 < starts.length; b0 += options.batch) {
    const group = starts.slice(b0, b0 + options.batch)
    const ids = new Int32Array(group.length * W)
    group.forEach((s, i) => ids.set(stream.subarray(s, s + W), i * W))
    const logits = net.logits(ids, group.length)
    group.forEach((s, i) => {
      // Position j predicts stream[s + j + 1]; score those not scored by an earlier window.
      for (let j = Math.max(0, scoredUpTo - s); j < W; j++) {
        total += negLogProb(logits, (i * W + j) * net.vocab, net.vocab, stream[s + j + 1])
        count++
      }
      scoredUpTo = s + W
    })
    options.onProgress?.(Math.min(starts.length, b0 + options.batch), starts.length)
  }
  return { nll: total / count, tokens: count }
}
