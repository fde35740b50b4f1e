/**
 * The linear probe's L2 penalty chosen by k-fold cross-validation on the training examples alone: the training rows
 * are dealt into `folds` folds stratified by class (a seeded permutation of each class's rows, dealt round-robin);
 * for each L2 of the grid, a probe is fitted on all folds but one and scored on the one left out, fold by fold; the
 * L2 with the least cross-entropy over all held-out rows wins (on an exact tie, the larger L2). The glmnet default
 * (`cv.glmnet`, deviance) is the same rule. The probe is then refitted on every training row with that L2 by the
 * caller. Nothing here sees a test example; plain JS in float64 and a fixed order: the same inputs, the same bits.
 */
import { uniformInt } from "pure-rand/distribution/uniformInt"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import { fitLogistic, type LogisticOptions, scoreLogistic } from "./logistic.ts"

/**
 * The fold (0..folds-1) of each of the rows labelled `labels`: within each class (in label order) its rows, in index
 * order, are permuted by a seeded Fisher-Yates shuffle (xoroshiro128+, one stream over all classes) and dealt
 * round-robin, the deal carrying on from one class to the next, so folds differ in size by at most one row and each
 * holds a class's rows in proportion.
 */
export const stratifiedFolds = (
  labels: ArrayLike<number>,
  classes: number,
  folds: number,
  seed: number
): Int32Array => {
  const n = labels.length
  if (!Number.isSafeInteger(folds) || folds < 2) {
    throw new Error(`cross-validation needs at least 2 folds, got ${folds}`)
  }
  if (n < folds) throw new Error(`${folds}-fold cross-validation needs at least ${folds} training examples, got ${n}`)
  const rng = xoroshiro128plus(seed)
  const out = new Int32Array(n)
  let dealt = 0
  for (let c = 0; c < classes; c++) {
    const members: number[] = []
    for (let i = 0; i < n; i++) if (labels[i] === c) members.push(i)
    for (let i = members.length - 1; i > 0; i--) {
      const j = uniformInt(rng, 0, i)
      const t = members[i]
      members[i] = members[j]
      members[j] = t
    }
    for (const i of members) out[i] = dealt++ % folds
  }
  if (dealt !== n) throw new Error(`labels outside 0..${classes - 1}`)
  return out
}

export interface CrossValidationOptions extends Omit<LogisticOptions, "l2"> {
  /** The L2 penalties tried (at least one). */
  readonly grid: ReadonlyArray<number>
  readonly folds: number
}

export interface CrossValidation {
  /** The chosen L2. */
  readonly l2: number
  /** Per grid value (in the grid's order): the mean cross-entropy and the accuracy over all held-out rows. */
  readonly scores: ReadonlyArray<{ readonly l2: number; readonly loss: number; readonly accuracy: number }>
  /** The fold of each training row. */
  readonly folds: Int32Array
}

/** The rows of `x` ([n · d]) and `y` whose fold is (`inside`) or is not `fold`. */
const rowsOf = (
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  d: number,
  folds: Int32Array,
  fold: number,
  inside: boolean
) => {
  const rows: number[] = []
  for (let i = 0; i < folds.length; i++) if ((folds[i] === fold) === inside) rows.push(i)
  const xs = new Float64Array(rows.length * d), ys = new Int32Array(rows.length)
  rows.forEach((r, i) => {
    for (let j = 0; j < d; j++) xs[i * d + j] = x[r * d + j]
    ys[i] = y[r]
  })
  return { x: xs, y: ys, n: rows.length }
}

/** Chooses the L2 of a linear probe on `n` training rows of `d` features by stratified k-fold cross-validation. */
export const crossValidateL2 = (
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  n: number,
  d: number,
  classes: number,
  o: CrossValidationOptions
): CrossValidation => {
  if (o.grid.length === 0) throw new Error("cross-validation needs at least one L2 to try")
  if (y.length !== n) throw new Error(`${y.length} labels for ${n} rows`)
  const folds = stratifiedFolds(y, classes, o.folds, o.seed)
  const sides = Array.from({ length: o.folds }, (_, f) => ({
    fit: rowsOf(x, y, d, folds, f, false),
    held: rowsOf(x, y, d, folds, f, true)
  }))
  const scores = o.grid.map((l2) => {
    let loss = 0, right = 0
    for (const { fit, held } of sides) {
      const m = fitLogistic(fit.x, fit.y, fit.n, d, classes, { l2, iterations: o.iterations, lr: o.lr, seed: o.seed })
      const s = scoreLogistic(m, held.x, held.y, held.n)
      loss += s.loss * held.n
      right += Math.round(s.accuracy * held.n)
    }
    return { l2, loss: loss / n, accuracy: right / n }
  })
  let best = scores[0]
  for (const s of scores) if (s.loss < best.loss || (s.loss === best.loss && s.l2 > best.l2)) best = s
  return { l2: best.l2, scores, folds }
}
