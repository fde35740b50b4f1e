/**
 * The training loop for neural LMs: seeded random windows from the training stream, AdamW (lm/adamw.ts), a
 * validation loss on fixed held-out windows every `every` steps, progress callbacks. A family with a data-parallel
 * stepper (the transformer) trains over `shards` threads; others on this thread.
 */
import { adamwStep, type AdamWConfig, optimizerState } from "./adamw.ts"
import type { BackendName } from "./backend-plan.ts"
import { negLogProb } from "./evaluate.ts"
import type { Family, Params, Stepper } from "./family.ts"
import { seededDraws } from "./weights.ts"

export interface TrainOptions {
  readonly batch: number
  readonly steps: number
  readonly seed: number
  readonly adamw: AdamWConfig
  /** Threads the batch is split over (transformer only; 1 = this thread). */
  readonly shards: number
  /** Validation every this many steps (and after the last); 0 = only after the last. */
  readonly every: number
  /** Batches of held-out windows the validation loss averages. */
  readonly validationBatches: number
  readonly backend: BackendName
}

export interface TrainPoint {
  readonly step: number
  /** Mean training loss over the steps since the previous point. */
  readonly train: number
  /** Validation loss at this step (absent without a validation stream). */
  readonly validation?: number
}

export interface TrainProgress {
  readonly step: number
  readonly steps: number
  readonly loss: number
  readonly validation?: number
}

/** `batch` windows of T+1 tokens at uniform random starts in a token stream: inputs and targets shifted by one. */
export const sampleBatch = (
  tokens: Int32Array,
  batch: number,
  t: number,
  next: () => number
): { inputs: Int32Array; targets: Int32Array } => {
  const inputs = new Int32Array(batch * t)
  const targets = new Int32Array(batch * t)
  const starts = tokens.length - t // every start s with s + t <= tokens.length - 1
  if (starts < 1) throw new Error(`${tokens.length} tokens are too few for windows of ${t + 1}`)
  for (let b = 0; b < batch; b++) {
    const start = Math.min(starts - 1, Math.floor(next() * starts))
    inputs.set(tokens.subarray(start, start + t), b * t)
    targets.set(tokens.subarray(start + 1, start + t + 1), b * t)
  }
  return { inputs, targets }
}

/** A seeded uniform [0, 1) stream for sampleBatch. */
export const uniformStream = (seed: number): () => number => seededDraws(seed).uniform

const stepperFor = async <C>(family: Family<C>, config: C, params: Params, o: TrainOptions): Promise<Stepper> => {
  const state = optimizerState(params)
  if (family.dataParallel !== undefined) {
    return family.dataParallel(config, state, { shards: o.shards, backend: o.backend, adamw: o.adamw })
  }
  if (o.shards !== 1) {
    throw new Error(`${family.name}: data-parallel training (shards ${o.shards}) is not available for this family`)
  }
  const shapes = family.paramShapes(config)
  return {
    step: async (inputs, targets, batch) => {
      const { loss, grads } = family.lossAndGrads(config, state.params, inputs, targets, batch)
      adamwStep(state, shapes, grads, o.adamw)
      return loss
    },
    close: async () => {}
  }
}

/** Mean next-token loss of `params` on fixed windows. */
const windowsLoss = <C>(
  family: Family<C>,
  config: C,
  params: Params,
  windows: ReadonlyArray<{ inputs: Int32Array; targets: Int32Array }>,
  batch: number
) => {
  let total = 0, count = 0
  for (const w of windows) {
    const logits = family.logits(config, params, w.inputs, batch)
    const vocab = logits.length / w.targets.length
    for (let i = 0; i < w.targets.length; i++) total += negLogProb(logits, i * vocab, vocab, w.targets[i])
    count += w.targets.length
  }
  return total / count
}

/** Trains `params` in place on `train`; returns the loss curve. */
export const trainNet = async <C>(
  family: Family<C>,
  config: C,
  params: Params,
  train: Int32Array,
  validation: Int32Array,
  o: TrainOptions,
  onProgress: (p: TrainProgress) => void = () => {}
): Promise<ReadonlyArray<TrainPoint>> => {
  const T = family.window(config)
  if (train.length < T + 2) {
    throw new Error(`the training stream has ${train.length} tokens, fewer than one window of ${T + 1} plus one`)
  }
  const next = uniformStream(o.seed)
  const heldOut = validation.length >= T + 2
    ? (() => {
      const pick = uniformStream(o.seed + 0x9e3779b1)
      return Array.from({ length: o.validationBatches }, () => sampleBatch(validation, o.batch, T, pick))
    })()
    : []
  const curve: TrainPoint[] = []
  let sum = 0, since = 0
  const record = (step: number) => {
    const point: TrainPoint = heldOut.length > 0
      ? { step, train: sum / Math.max(1, since), validation: windowsLoss(family, config, params, heldOut, o.batch) }
      : { step, train: sum / Math.max(1, since) }
    curve.push(point)
    sum = 0
    since = 0
    return point
  }
  const stepper = await stepperFor(family, config, params, o)
  try {
    let lastValidation: number | undefined
    for (let step = 1; step <= o.steps; step++) {
      const { inputs, targets } = sampleBatch(train, o.batch, T, next)
      const loss = await stepper.step(inputs, targets, o.batch)
      if (!Number.isFinite(loss)) {
        throw new Error(`the training loss is ${loss} at step ${step}: lower the learning rate`)
      }
      sum += loss
      since++
      if ((o.every > 0 && step % o.every === 0) || step === o.steps) lastValidation = record(step).validation
      onProgress({
        step,
        steps: o.steps,
        loss,
        ...(lastValidation === undefined ? {} : { validation: lastValidation })
      })
    }
  } finally {
    await stepper.close()
  }
  return curve
}
