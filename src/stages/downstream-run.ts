/** What Evaluate.downstream does when it runs (downstream.ts wires it). Imported on demand: it loads TF.js. */
import type { MetricsValue } from "../artifact/artifacts.ts"
import type { PredictionsValue } from "../artifact/predictions.ts"
import type { LanguageModel } from "../artifact/model.ts"
import type { TaskExample, TaskValue } from "../artifact/task.ts"
import { usePlannedBackend } from "../lm/neural/backend.ts"
import { netFromSafetensors } from "../lm/neural/families.ts"
import { pooledHidden } from "../lm/probe/features.ts"
import { classify, fineTune } from "../lm/probe/finetune.ts"
import { crossValidateL2 } from "../lm/probe/crossval.ts"
import { fitLogistic, predictLogistic } from "../lm/probe/logistic.ts"
import { accuracy, macroF1, pairedComparison, wilsonInterval } from "../lm/probe/scores.ts"
import { encode, EOS_ID, type TokenizerSpec } from "../lm/tokenizer.ts"
import type { RunContext } from "../pipeline/stage.ts"
import { DEFAULT_L2_GRID, type DownstreamEvalParams } from "./downstream-params.ts"

/** Each example as the model reads it: <eos>, then its first `maxTokens` tokens. */
export const sequences = (tokenizer: TokenizerSpec, examples: ReadonlyArray<TaskExample>, maxTokens: number) =>
  examples.map((e) => {
    const ids = encode(tokenizer, e.text)
    if (ids.length === 0) throw new Error(`task example ${e.id} has no tokens under the model's tokenizer`)
    const n = Math.min(ids.length, maxTokens)
    const seq = new Int32Array(n + 1)
    seq[0] = EOS_ID
    seq.set(ids.subarray(0, n), 1)
    return seq
  })

/** The metric keys a probe writes, after its prefix `<task>_<probe>`. */
const SCORES = ["accuracy", "accuracy_lo", "accuracy_hi", "macro_f1"] as const

export const downstream = async (
  p: DownstreamEvalParams,
  inputs: {
    readonly model: LanguageModel
    readonly tokenizer: TokenizerSpec
    readonly task: TaskValue
    readonly baseline?: MetricsValue
    readonly baselinePredictions?: PredictionsValue
  },
  ctx: RunContext
): Promise<{ readonly metrics: MetricsValue; readonly predictions: PredictionsValue }> => {
  const { model, tokenizer, task } = inputs
  if (
    p.probe === "linear" &&
    (p.steps !== undefined || p.examples !== undefined || p.lr !== undefined || p.initL2 !== undefined)
  ) {
    throw new Error("steps, examples, lr and initL2 are the fine-tune's (probe: \"finetune\"), not a linear probe's")
  }
  if (p.probe === "finetune" && (p.l2 !== undefined || p.l2Grid !== undefined || p.folds !== undefined)) {
    throw new Error("l2, l2Grid and folds are the linear probe's, not a fine-tune's (its head's L2 is initL2)")
  }
  if (model.family !== "neural") {
    throw new Error(`${ctx.kind} probes a neural model's hidden states; an n-gram model has none`)
  }
  if (task.name !== p.task) {
    throw new Error(`the task input is ${JSON.stringify(task.name)}, not ${JSON.stringify(p.task)} (params.task)`)
  }
  const prefix = `${p.task}_${p.probe}`
  // Checked before any work: a baseline of another task or probe is a wiring mistake.
  const baseline: Record<string, number> = {}
  if (inputs.baseline !== undefined) {
    for (const k of SCORES) {
      const v = inputs.baseline.values[`${prefix}_${k}`]
      if (v === undefined) {
        throw new Error(
          `the baseline metrics have no ${prefix}_${k} (give it Evaluate.downstream's output for the untrained model, same task and probe)`
        )
      }
      baseline[`baseline_${prefix}_${k}`] = v
    }
  }
  const theirs = inputs.baselinePredictions
  if (theirs !== undefined) {
    const ids = task.test.map((e) => e.id)
    if (theirs.task !== task.name || theirs.ids.length !== ids.length || theirs.ids.some((id, i) => id !== ids[i])) {
      throw new Error(
        `the baseline's predictions are of other examples (task ${theirs.task}, ${theirs.ids.length} of them), not of ` +
          `${task.name}'s ${ids.length} test examples: give it the untrained model's probe of the same task`
      )
    }
  }
  await usePlannedBackend()
  const net = netFromSafetensors(model.bytes)
  if (net.vocab !== tokenizer.vocab.length) {
    throw new Error(`the model's vocabulary (${net.vocab}) is not the tokenizer's (${tokenizer.vocab.length})`)
  }
  const train = sequences(tokenizer, task.train, p.maxTokens)
  const test = sequences(tokenizer, task.test, p.maxTokens)
  const trainLabels = Int32Array.from(task.train, (e) => e.label)
  const truth = Int32Array.from(task.test, (e) => e.label)
  const k = task.classes.length
  const options = { stride: p.stride, batch: p.batch }
  const d = net.hiddenWidth
  const progress = (what: string) => ({
    onProgress: (done: number, total: number) => ctx.status(`hidden states of the ${what}: ${done}/${total} windows`)
  })
  const fitOptions = { iterations: p.iterations, lr: 0.05, seed: p.seed }
  const linear = (features: Float64Array, l2: number) =>
    fitLogistic(features, trainLabels, train.length, d, k, { ...fitOptions, l2 })
  // The training texts' states are pooled apart from the test texts': what is fitted (and the L2 chosen) depends on
  // the training examples alone, to the last bit, whatever the test examples are.
  const trainFeatures = pooledHidden(net, train, { ...options, ...progress("training texts") })
  let predicted: Int32Array
  const chosen: Record<string, number> = {}
  if (p.probe === "linear") {
    let l2: number
    const fixed = p.l2 ?? "cv", grid = p.l2Grid ?? DEFAULT_L2_GRID, folds = p.folds ?? 5
    if (fixed === "cv") {
      ctx.status(`cross-validating the L2 (${folds} folds, ${grid.length} values)`)
      const cv = crossValidateL2(trainFeatures, trainLabels, train.length, d, k, {
        ...fitOptions,
        grid,
        folds
      })
      const best = cv.scores.find((s) => s.l2 === cv.l2)!
      l2 = cv.l2
      chosen[`${prefix}_cv_loss`] = best.loss
      chosen[`${prefix}_cv_accuracy`] = best.accuracy
    } else l2 = fixed
    chosen[`${prefix}_l2`] = l2
    const testFeatures = pooledHidden(net, test, { ...options, ...progress("test texts") })
    predicted = predictLogistic(linear(trainFeatures, l2), testFeatures, test.length)
  } else {
    const initL2 = p.initL2 ?? 0.1
    chosen[`${prefix}_init_l2`] = initL2
    const tuned = fineTune(net, train, trainLabels, k, {
      ...options,
      steps: p.steps ?? 20,
      examples: p.examples ?? 8,
      lr: p.lr ?? 0.0001,
      seed: p.seed,
      head: linear(trainFeatures, initL2),
      onStep: (step, steps, loss) => ctx.status(`fine-tune: step ${step}/${steps} loss ${loss.toFixed(3)}`)
    })
    predicted = classify(net, tuned, test, k, options)
  }
  const acc = accuracy(truth, predicted)
  const { lo, hi } = wilsonInterval(acc, truth.length)
  const counts = new Array<number>(k).fill(0)
  for (const t of truth) counts[t]++
  const paired: Record<string, number> = {}
  if (theirs !== undefined) {
    const c = pairedComparison(truth, predicted, theirs.predicted)
    paired[`${prefix}_minus_baseline`] = c.difference
    paired[`${prefix}_minus_baseline_lo`] = c.lo
    paired[`${prefix}_minus_baseline_hi`] = c.hi
    paired[`${prefix}_mcnemar_p`] = c.p
    paired[`${prefix}_better`] = c.better
    paired[`${prefix}_worse`] = c.worse
  }
  const predictions: PredictionsValue = {
    task: task.name,
    ids: task.test.map((e) => e.id),
    truth: Array.from(truth),
    predicted: Array.from(predicted)
  }
  return {
    predictions,
    metrics: {
      values: {
        [`${prefix}_accuracy`]: acc,
        [`${prefix}_accuracy_lo`]: lo,
        [`${prefix}_accuracy_hi`]: hi,
        [`${prefix}_macro_f1`]: macroF1(truth, predicted, k),
        [`${prefix}_majority`]: Math.max(...counts) / truth.length,
        [`${prefix}_test_examples`]: truth.length,
        [`${prefix}_train_examples`]: train.length,
        ...chosen,
        ...baseline,
        ...paired
      }
    }
  }
}
