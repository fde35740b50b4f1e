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
  const rng = xoroshiro128plus(o.seed)
  const w = new Float64Array(d * k)
  for (let i = 0; i < w.length; i++) {
    const u = 1 - uniformFloat64(rng)
    w[i] = 0.01 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniformFloat64(rng))
  }
  const b = new Float64Array(k)
  const gw = new Float64Array(d * k), gb = new Float64Array(k)
  const mw = new Float64Array(d * k), vw = new Float64Array(d * k), mb = new Float64Array(k), vb = new Float64Array(k)
  const p = new Float64Array(k)
  const row = new Float64Array(d)
  const beta1 = 0.9, beta2 = 0.999, eps = 1e-8
  let loss = 0
  for (let step = 1; step <= o.iterations + 1; step++) {
    gw.fill(0)
    gb.fill(0)
    loss = 0
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) row[j] = z[i * d + j]
      softmaxRow(row, w, b, d, k, p)
      loss -= Math.log(Math.max(p[y[i]], 1e-300))
      p[y[i]] -= 1
      for (let c = 0; c < k; c++) gb[c] += p[c]
      for (let j = 0; j < d; j++) {
        const zj = row[j]
        for (let c = 0; c < k; c++) gw[j * k + c] += zj * p[c]
      }
    }
    let penalty = 0
    for (let i = 0; i < w.length; i++) {
      gw[i] = gw[i] / n + o.l2 * w[i]
      penalty += w[i] * w[i]
    }
    for (let c = 0; c < k; c++) gb[c] /= n
    loss = loss / n + 0.5 * o.l2 * penalty
    if (step > o.iterations) break // the last pass only measures the objective
    const c1 = 1 - beta1 ** step, c2 = 1 - beta2 ** step
    for (let i = 0; i < w.length; i++) {
      mw[i] = beta1 * mw[i] + (1 - beta1) * gw[i]
      vw[i] = beta2 * vw[i] + (1 - beta2) * gw[i] * gw[i]
      w[i] -= (o.lr * (mw[i] / c1)) / (Math.sqrt(vw[i] / c2) + eps)
    }
    for (let c = 0; c < k; c++) {
      mb[c] = beta1 * mb[c] + (1 - beta1) * gb[c]
      vb[c] = beta2 * vb[c] + (1 - beta2) * gb[c] * gb[c]
      b[c] -= (o.lr * (mb[c] / c1)) / (Math.sqrt(vb[c] / c2) + eps)
    }
  }
  return { width: d, classes: k, mean, invScale, weights: w, bias: b, loss }
}

/** The most probable class of each of `n` rows (the lowest class index on a tie). */
export const predictLogistic = (m: LogisticModel, x: ArrayLike<number>, n: number): Int32Array => {
  const d = m.width, k = m.classes
  checkShape(x, n, d)
  const out = new Int32Array(n)
  const p = new Float64Array(k)
  const row = new Float64Array(d)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = (x[i * d + j] - m.mean[j]) * m.invScale[j]
    softmaxRow(row, m.weights, m.bias, d, k, p)
    let best = 0
    for (let c = 1; c < k; c++) if (p[c] > p[best]) best = c
    out[i] = best
  }
  return out
}
