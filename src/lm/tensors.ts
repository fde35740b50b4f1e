/** Reading results out of TF.js without paying for tf.tidy's bookkeeping. */
import * as tf from "@tensorflow/tfjs-core"

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
