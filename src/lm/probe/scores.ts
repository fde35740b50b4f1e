/**
 * How a classifier's predictions on held-out examples are scored: accuracy with its Wilson interval, macro-F1, and
 * against another classifier on the same examples, pair by pair (McNemar).
 */

/** The share of predictions equal to the truth. */
export const accuracy = (truth: ArrayLike<number>, predicted: ArrayLike<number>): number => {
  if (truth.length !== predicted.length) {
    throw new Error(`${truth.length} labels against ${predicted.length} predictions`)
  }
  if (truth.length === 0) throw new Error("no examples to score")
  let right = 0
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) right++
  return right / truth.length
}

/**
 * The unweighted mean over classes of F1 = 2·TP / (2·TP + FP + FN). A class that is neither in the truth nor
 * predicted (TP + FP + FN = 0) has no F1 and is left out of the mean; a class in the truth that is never predicted
 * (or predicted and never true) counts 0.
 */
export const macroF1 = (truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number => {
  if (truth.length !== predicted.length) {
    throw new Error(`${truth.length} labels against ${predicted.length} predictions`)
  }
  const tp = new Float64Array(classes), fp = new Float64Array(classes), fn = new Float64Array(classes)
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i], p = predicted[i]
    if (t === p) tp[t]++
    else {
      fp[p]++
      fn[t]++
    }
  }
  let sum = 0, counted = 0
  for (let c = 0; c < classes; c++) {
    const denominator = 2 * tp[c] + fp[c] + fn[c]
    if (denominator === 0) continue
    sum += (2 * tp[c]) / denominator
    counted++
  }
  if (counted === 0) throw new Error("no examples to score")
  return sum / counted
}

/**
 * The Wilson score interval (95%, z = 1.96) of a proportion of `n` trials: the uncertainty of an accuracy measured on
 * `n` held-out examples (the test set's sampling, not the training's).
 */
export const wilsonInterval = (p: number, n: number, z = 1.959963984540054): { lo: number; hi: number } => {
  if (n <= 0) throw new Error("an interval needs at least one trial")
  const z2 = z * z
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n)
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n)
  return { lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) }
}

/** Two classifiers on the same examples, pair by pair: where one is right and the other wrong. */
export interface PairedComparison {
  /** Examples `a` gets right and `b` wrong. */
  readonly better: number
  /** Examples `a` gets wrong and `b` right. */
  readonly worse: number
  /** accuracy(a) - accuracy(b). */
  readonly difference: number
  /** Its 95% interval (Agresti and Min's, 2005: the paired Wald interval with 0.5 added to each cell). */
  readonly lo: number
  readonly hi: number
  /** McNemar's exact two-sided p-value: 2·P(X ≤ min(better, worse)), X ~ Binomial(better + worse, 1/2), at most 1. */
  readonly p: number
}

/**
 * How classifier `a` compares with `b` on the same examples. Two accuracies measured on one test set are not
 * independent, so their difference is judged by the discordant pairs (McNemar), not by two separate intervals.
 */
export const pairedComparison = (
  truth: ArrayLike<number>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  z = 1.959963984540054
): PairedComparison => {
  if (truth.length !== a.length || truth.length !== b.length) {
    throw new Error(`${truth.length} labels against ${a.length} and ${b.length} predictions`)
  }
  const n = truth.length
  if (n === 0) throw new Error("no examples to score")
  let better = 0, worse = 0
  for (let i = 0; i < n; i++) {
    const ra = a[i] === truth[i], rb = b[i] === truth[i]
    if (ra && !rb) better++
    else if (rb && !ra) worse++
  }
  const discordant = better + worse
  // P(X <= k) for X ~ Binomial(discordant, 1/2), by the recurrence C(m, i) = C(m, i-1)·(m-i+1)/i, in logs (2^-m
  // alone underflows past m = 1074; a term too small for a double is too small to matter).
  let logTerm = -discordant * Math.LN2, tail = Math.exp(logTerm)
  for (let i = 1; i <= Math.min(better, worse); i++) {
    logTerm += Math.log((discordant - i + 1) / i)
    tail += Math.exp(logTerm)
  }
  const b1 = better + 0.5, c1 = worse + 0.5, n1 = n + 2
  const d1 = (b1 - c1) / n1
  const half = (z * Math.sqrt(b1 + c1 - (b1 - c1) ** 2 / n1)) / n1
  return {
    better,
    worse,
    difference: (better - worse) / n,
    lo: Math.max(-1, d1 - half),
    hi: Math.min(1, d1 + half),
    p: discordant === 0 ? 1 : Math.min(1, 2 * tail)
  }
}
