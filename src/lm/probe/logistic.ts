/**
 * Multinomial logistic regression, the linear probe: features standardised by the training set's mean and standard
 * deviation, a softmax layer fitted by full-batch Adam on the mean cross-entropy plus an L2 penalty on the weights,
 * from a small seeded initialisation. Plain JS in float64 and a fixed order of operations: the same inputs give the
 * same bits on every machine.
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"

export interface LogisticOptions {
  /** Weight of the L2 penalty (0.5·l2·‖W‖²; the biases are not penalised). */
  readonly l2: number
  /** Full-batch Adam steps. */
  readonly iterations: number
  /** Adam's step size. */
  readonly lr: number
  /** Seeds the initial weights (normal, standard deviation 0.01). */
  readonly seed: number
}

export interface LogisticModel {
  readonly width: number
  readonly classes: number
  /** The training features' per-column mean and 1 / standard deviation (1 where a column is constant). */
  readonly mean: Float64Array
  readonly invScale: Float64Array
  /** Weights [width · classes] row-major, biases [classes]. */
  readonly weights: Float64Array
  readonly bias: Float64Array
  /** The training objective after the last step. */
  readonly loss: number
}

const standardiser = (x: ArrayLike<number>, n: number, d: number) => {
  const mean = new Float64Array(d), invScale = new Float64Array(d)
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j]
  for (let j = 0; j < d; j++) mean[j] /= n
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) invScale[j] += (x[i * d + j] - mean[j]) ** 2
  }
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(invScale[j] / n)
    invScale[j] = sd > 1e-12 ? 1 / sd : 1
  }
  return { mean, invScale }
}

/** Softmax probabilities of standardised row `z` under the model's weights, into `out`. */
const softmaxRow = (z: Float64Array, w: Float64Array, b: Float64Array, d: number, k: number, out: Float64Array) => {
  let max = -Infinity
  for (let c = 0; c < k; c++) {
    let s = b[c]
    for (let j = 0; j < d; j++) s += z[j] * w[j * k + c]
    out[c] = s
    if (s > max) max = s
  }
  let sum = 0
  for (let c = 0; c < k; c++) {
    out[c] = Math.exp(out[c] - max)
    sum += out[c]
  }
  for (let c = 0; c < k; c++) out[c] /= sum
}

const checkShape = (x: ArrayLike<number>, n: number, d: number) => {
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(d) || n < 1 || d < 1 || x.length !== n * d) {
    throw new Error(`features: expected ${n} rows of ${d}, got ${x.length} numbers`)
  }
}

/** Fits the probe on `n` rows of `d` features `x` (row-major) with labels `y` in 0..classes-1. */
export const fitLogistic = (
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  n: number,
  d: number,
  classes: number,
  o: LogisticOptions
): LogisticModel => {
  checkShape(x, n, d)
  if (y.length !== n) throw new Error(`${y.length} labels for ${n} rows`)
  if (classes < 2) throw new Error(`a classifier needs at least 2 classes, got ${classes}`)
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= classes) {
      throw new Error(`label ${y[i]} outside 0..${classes - 1}`)
    }
  }
  const k = classes
  const { mean, invScale } = standardiser(x, n, d)
  const z = new Float64Array(n * d)
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) z[i * d + j] = (x[i * d + j] - mean[j]) * invScale[j]
  // The weights are held class-major while fitting (wt[c·d + j] is W[j, c]), so that the inner loops run over
  // contiguous memory; every sum is taken in the same order as over the row-major W, so the bits are the same.
  const rng = xoroshiro128plus(o.seed)
  const wt = new Float64Array(d * k)
  for (let j = 0; j < d; j++) {
    for (let c = 0; c < k; c++) {
      const u = 1 - uniformFloat64(rng)
      wt[c * d + j] = 0.01 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniformFloat64(rng))
    }
  }
  const b = new Float64Array(k)
  const gt = new Float64Array(d * k), gb = new Float64Array(k)
  const mw = new Float64Array(d * k), vw = new Float64Array(d * k), mb = new Float64Array(k), vb = new Float64Array(k)
  const p = new Float64Array(k)
  const beta1 = 0.9, beta2 = 0.999, eps = 1e-8
  let loss = 0
  for (let step = 1; step <= o.iterations + 1; step++) {
    gt.fill(0)
    gb.fill(0)
    loss = 0
    for (let i = 0; i < n; i++) {
      const row = i * d
      let max = -Infinity
      for (let c = 0; c < k; c++) {
        const col = c * d
        let s = b[c]
        for (let j = 0; j < d; j++) s += z[row + j] * wt[col + j]
        p[c] = s
        if (s > max) max = s
      }
      let sum = 0
      for (let c = 0; c < k; c++) {
        p[c] = Math.exp(p[c] - max)
        sum += p[c]
      }
      for (let c = 0; c < k; c++) p[c] /= sum
      loss -= Math.log(Math.max(p[y[i]], 1e-300))
      p[y[i]] -= 1
      for (let c = 0; c < k; c++) {
        const pc = p[c], col = c * d
        gb[c] += pc
        for (let j = 0; j < d; j++) gt[col + j] += z[row + j] * pc
      }
    }
    let penalty = 0
    for (let j = 0; j < d; j++) {
      for (let c = 0; c < k; c++) {
        const at = c * d + j
        gt[at] = gt[at] / n + o.l2 * wt[at]
        penalty += wt[at] * wt[at]
      }
    }
    for (let c = 0; c < k; c++) gb[c] /= n
    loss = loss / n + 0.5 * o.l2 * penalty
    if (step > o.iterations) break // the last pass only measures the objective
    const c1 = 1 - beta1 ** step, c2 = 1 - beta2 ** step
    for (let i = 0; i < wt.length; i++) {
      mw[i] = beta1 * mw[i] + (1 - beta1) * gt[i]
      vw[i] = beta2 * vw[i] + (1 - beta2) * gt[i] * gt[i]
      wt[i] -= (o.lr * (mw[i] / c1)) / (Math.sqrt(vw[i] / c2) + eps)
    }
    for (let c = 0; c < k; c++) {
      mb[c] = beta1 * mb[c] + (1 - beta1) * gb[c]
      vb[c] = beta2 * vb[c] + (1 - beta2) * gb[c] * gb[c]
      b[c] -= (o.lr * (mb[c] / c1)) / (Math.sqrt(vb[c] / c2) + eps)
    }
  }
  const w = new Float64Array(d * k)
  for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) w[j * k + c] = wt[c * d + j]
  return { width: d, classes: k, mean, invScale, weights: w, bias: b, loss }
}

/** Calls `each(i, p)` with the class probabilities `p` of each of `n` rows (standardised as in training). */
const eachRow = (
  m: LogisticModel,
  x: ArrayLike<number>,
  n: number,
  each: (i: number, p: Float64Array) => void
): void => {
  const d = m.width, k = m.classes
  checkShape(x, n, d)
  const p = new Float64Array(k)
  const row = new Float64Array(d)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = (x[i * d + j] - m.mean[j]) * m.invScale[j]
    softmaxRow(row, m.weights, m.bias, d, k, p)
    each(i, p)
  }
}

/** The most probable class of a row's probabilities (the lowest class index on a tie). */
const argmax = (p: Float64Array): number => {
  let best = 0
  for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c
  return best
}

/** The most probable class of each of `n` rows (the lowest class index on a tie). */
export const predictLogistic = (m: LogisticModel, x: ArrayLike<number>, n: number): Int32Array => {
  const out = new Int32Array(n)
  eachRow(m, x, n, (i, p) => (out[i] = argmax(p)))
  return out
}

/**
 * The mean cross-entropy (nats; a probability is floored at 1e-300, as in training) and the accuracy of the model on
 * `n` labelled rows: how a held-out fold is scored.
 */
export const scoreLogistic = (
  m: LogisticModel,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  n: number
): { readonly loss: number; readonly accuracy: number } => {
  if (y.length !== n) throw new Error(`${y.length} labels for ${n} rows`)
  let loss = 0, right = 0
  eachRow(m, x, n, (i, p) => {
    if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= m.classes) {
      throw new Error(`label ${y[i]} outside 0..${m.classes - 1}`)
    }
    loss -= Math.log(Math.max(p[y[i]], 1e-300))
    if (argmax(p) === y[i]) right++
  })
  return { loss: loss / n, accuracy: right / n }
}
