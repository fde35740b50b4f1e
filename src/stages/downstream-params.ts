/** Evaluate.downstream's params Schema (defaults included): here, so the stage's run module needs no import back. */
import { Schema } from "effect"
import { Int32, NonNegative, orDefault, Positive, PositiveInt } from "./params.ts"

export const DownstreamParams = Schema.Struct({
  /** The task's name (the Task input's `name`): it names the metrics. */
  task: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_]+$/)),
  probe: orDefault(Schema.Literals(["linear", "finetune"]), "linear"),
  /** Seeds the linear probe's initial weights, and the fine-tune's head and example order. */
  seed: orDefault(Int32, 1),
  /** Window advance of the sliding windows (as Evaluate.perplexity's). */
  stride: orDefault(PositiveInt, 32),
  /** Windows per forward pass. */
  batch: orDefault(PositiveInt, 32),
  /** Each text's first `maxTokens` tokens are read. */
  maxTokens: orDefault(PositiveInt, 512),
  /**
   * Linear probe only (left out of a fine-tune's params and key, whose head uses `initL2`): the L2 penalty, or "cv"
   * (the default): chosen from `l2Grid` (default DEFAULT_L2_GRID) by `folds`-fold (default 5) cross-validation on the
   * training examples alone (stratified, seeded folds; the least held-out cross-entropy; see lm/probe/crossval.ts),
   * then the probe refitted on every training example. Before version 3 it was a fixed 0.001, chosen by no procedure.
   */
  l2: Schema.optionalKey(Schema.Union([Schema.Literal("cv"), NonNegative])),
  l2Grid: Schema.optionalKey(Schema.NonEmptyArray(NonNegative)),
  folds: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(2))),
  /** The linear probe's (and the fine-tune's initial head's) full-batch Adam steps. */
  iterations: orDefault(PositiveInt, 300),
  /**
   * Fine-tune only (left out of a linear probe's params and key): optimiser steps (default 20), examples per step
   * (8), AdamW's learning rate (1e-4, constant, no weight decay), and the L2 of the linear probe the head starts from
   * (0.1). The head starts as that probe, fitted on the training texts (linear probing, then fine-tuning: Kumar et
   * al. 2022), its standardisation of the pooled states kept fixed. Measured on the spam task: from a random head,
   * 20 steps learned only the majority class; from a probe with L2 0.001 (the linear probe's before version 3), whose weights are large
   * on nearly separable texts, the untrained model's loss rose from 0.02 to 12.3 in 20 steps even at lr 1e-4; with
   * L2 0.1 it stayed at 0.33-0.41.
   */
  steps: Schema.optionalKey(PositiveInt),
  examples: Schema.optionalKey(PositiveInt),
  lr: Schema.optionalKey(Positive),
  initL2: Schema.optionalKey(NonNegative)
})
export type DownstreamEvalParams = typeof DownstreamParams.Type

/** The linear probe's L2 values cross-validation chooses from, unless `l2Grid` says otherwise. */
export const DEFAULT_L2_GRID: readonly [number, ...number[]] = [0.001, 0.01, 0.1, 1, 10]
