/** How a classifier's predictions on held-out examples are scored: accuracy with its Wilson interval, and macro-F1. */

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
