/** Evaluate.downstream's params Schema (defaults included): here, so the stage's run module needs no import back. */
import { Schema } from "effect"
import { Int32, orDefault, Positive, PositiveInt } from "./params.ts"

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
  /** Linear probe: L2 penalty, full-batch Adam steps and step size. */
  l2: orDefault(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)), 0.001),
  iterations: orDefault(PositiveInt, 300),
  /**
   * Fine-tune only (left out of a linear probe's params and key): optimiser steps (default 20), examples per step
   * (8), AdamW's learning rate (3e-4, constant, no weight decay). The head starts as the linear probe fitted on the
   * training texts (linear probing, then fine-tuning: Kumar et al. 2022), its standardisation of the pooled states
   * kept fixed, so a few small steps refine a working classifier; from a random head, 20 steps learned only the
   * majority class here.
   */
  steps: Schema.optionalKey(PositiveInt),
  examples: Schema.optionalKey(PositiveInt),
  lr: Schema.optionalKey(Positive)
})
export type DownstreamEvalParams = typeof DownstreamParams.Type
