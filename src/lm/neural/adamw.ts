/**
 * AdamW with linear warmup and a constant or cosine schedule, in JS over Float32Arrays: a fixed order of
 * operations makes an update bit-identical on every backend. Weight decay is decoupled and applies to matrices
 * (embeddings, weights) only, not to biases or LayerNorm gains.
 */
import type { Params, ParamShapes } from "./weights.ts"

export interface AdamWConfig {
  readonly lr: number
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  readonly weightDecay: number
  readonly warmup: number
  readonly schedule: "cosine" | "constant"
  /** Steps of the cosine schedule (it reaches minLrFraction·lr at this step). */
  readonly totalSteps: number
  readonly minLrFraction: number
}

/** Learning rate at 0-based step: linear warmup to lr, then constant or cosine down to minLrFraction·lr. */
export const learningRate = (o: AdamWConfig, step: number): number => {
  if (step < o.warmup) return (o.lr * (step + 1)) / o.warmup
  if (o.schedule === "constant") return o.lr
  const span = Math.max(1, o.totalSteps - o.warmup)
  const progress = Math.min(1, (step - o.warmup) / span)
  return o.lr * (o.minLrFraction + (1 - o.minLrFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)))
}

export interface OptimizerState {
  readonly params: Params
  readonly m: Params
  readonly v: Params
  step: number
}

export const optimizerState = (params: Params): OptimizerState => {
  const zeros = (): Params =>
    Object.fromEntries(Object.entries(params).map(([k, a]) => [k, new Float32Array(a.length)]))
  return { params, m: zeros(), v: zeros(), step: 0 }
}

/** One update in place, parameters in `shapes` order. Returns the learning rate used. */
export const adamwStep = (
  s: OptimizerState,
  shapes: ParamShapes,
  grads: Params,
  o: AdamWConfig
): number => {
  const lr = learningRate(o, s.step)
  s.step++
  const c1 = 1 - Math.pow(o.beta1, s.step)
  const c2 = 1 - Math.pow(o.beta2, s.step)
  for (const [name, shape] of shapes) {
    const w = s.params[name], g = grads[name], m = s.m[name], v = s.v[name]
    const decay = shape.length === 2 ? 1 - lr * o.weightDecay : 1
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi
      w[i] = w[i] * decay - (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + o.eps)
    }
  }
  return lr
}
