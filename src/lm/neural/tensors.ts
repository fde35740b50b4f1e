/** Reading results out of TF.js without paying for tf.tidy's bookkeeping. */
import * as tf from "@tensorflow/tfjs-core"
import type { Params, ParamShapes } from "./weights.ts"

/**
 * Runs `f` in tf.tidy and returns its tensors' data as Float32Arrays, the tensors freed. Returning the arrays from
 * inside tidy would be far slower: tidy walks whatever it returns key by key to find tensors to keep, so a typed
 * array costs one Set insertion per element (measured: most of a sampling step's time).
 */
export const tidyRead = <K extends string>(f: () => Readonly<Record<K, tf.Tensor>>): Record<K, Float32Array> => {
  const tensors = tf.tidy(f)
  const out = {} as Record<K, Float32Array>
  for (const k in tensors) {
    out[k] = tensors[k].dataSync() as Float32Array
    tensors[k].dispose()
  }
  return out
}

/**
 * The affine maps x·W + b of a decoder, each W uploaded once (named "<name>.w" in `params`, with bias
 * "<name>.b"): a decoding step multiplies the same weights many times with small fresh inputs.
 */
export const residentAffine = (params: Readonly<Params>, shapes: ParamShapes, names: ReadonlyArray<string>) => {
  const shapeOf = new Map(shapes)
  const weights = new Map(names.map((name) => {
    const [rows, cols] = shapeOf.get(name + ".w")!
    return [name, tf.tensor2d(params[name + ".w"], [rows, cols])] as const
  }))
  return {
    /** x [m, in] · W + b, [m, out] row-major. */
    apply(x: Float32Array, m: number, name: string): Float32Array {
      const w = weights.get(name)!
      const { out } = tidyRead(() => ({ out: tf.matMul(tf.tensor2d(x, [m, w.shape[0]]), w) }))
      const b = params[name + ".b"], n = b.length
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] += b[j]
      return out
    },
    dispose(): void {
      for (const w of weights.values()) w.dispose()
    }
  }
}

// A key no parameter is named (parameter names have no spaces).
const LOSS = " loss"

/**
 * The value of `loss` at the weights `upload` makes (named `names`) and its gradient per name, read out as
 * Float32Arrays. The weights are uploaded inside the tidy scope, so they are freed with everything else.
 */
export const gradientsOf = (
  names: ReadonlyArray<string>,
  upload: () => ReadonlyArray<tf.Tensor>,
  loss: (weights: Readonly<Record<string, tf.Tensor>>) => tf.Scalar
): { readonly loss: number; readonly grads: Record<string, Float32Array> } => {
  const { [LOSS]: value, ...grads } = tidyRead(() => {
    const f = (...ws: tf.Tensor[]): tf.Scalar => loss(Object.fromEntries(names.map((n, i) => [n, ws[i]])))
    const { value, grads } = tf.valueAndGrads(f)([...upload()])
    return { [LOSS]: value, ...Object.fromEntries(names.map((n, i) => [n, grads[i]])) }
  })
  return { loss: value[0], grads }
}
