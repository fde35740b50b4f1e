/**
 * Downstream probes of a neural LM: what its final hidden states know about a labelled task. `features.ts` pools the
 * hidden states of a text over the sliding windows of `windows.ts`; `logistic.ts` is the linear probe on them;
 * `finetune.ts` the short fine-tune with a classification head; `scores.ts` accuracy (with its Wilson interval) and
 * macro-F1. Stages import the modules they need directly, so planning loads none of TF.js.
 */
export type { LogisticModel, LogisticOptions } from "./logistic.ts"
