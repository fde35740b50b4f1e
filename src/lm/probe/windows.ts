/**
 * The sliding windows a document longer than the model's context is read in, the same as Evaluate.perplexity's
 * (lm/neural/evaluate.ts): windows of the model's length W advance by `stride`, the last one moved back to end at the
 * document's end, and each position is taken from the first window that reaches it, so every position counts once
 * and (after the first window) has at least W - stride positions before it. A probe mean-pools the hidden states at
 * the positions each window contributes.
 */

export interface Window {
  /** The sequence it reads, its first position and its length. */
  readonly sequence: number
  readonly start: number
  readonly length: number
  /** Positions start + from .. start + length - 1 are this window's to pool. */
  readonly from: number
}

/** The windows over one sequence of `length` positions for a model whose window is `window`. */
export const slidingWindows = (sequence: number, length: number, window: number, stride: number): Window[] => {
  if (!Number.isSafeInteger(length) || length < 1) throw new Error(`a sequence of ${length} positions has no windows`)
  if (!Number.isSafeInteger(stride) || stride < 1) throw new Error(`stride must be a positive integer, got ${stride}`)
  const w = Math.min(window, length)
  const step = Math.min(stride, w)
  const starts: number[] = []
  const last = length - w
  for (let s = 0; s < last; s += step) starts.push(s)
  starts.push(last)
  let covered = 0 // positions < covered are taken
  return starts.map((start) => {
    const from = Math.max(0, covered - start)
    covered = start + w
    return { sequence, start, length: w, from }
  })
}
