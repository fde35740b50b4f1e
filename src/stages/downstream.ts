/**
 * Evaluate.downstream: what a neural LM's final hidden states know about a labelled task (a Task artifact, see
 * tasks.ts). `probe: "linear"` fits a logistic regression on the mean-pooled hidden states of the task's training
 * texts; `probe: "finetune"` fine-tunes the whole network with a classification head for a few seeded steps. Either
 * way the held-out texts are classified and scored: accuracy (with its 95% Wilson interval over the test examples)
 * and macro-F1, as `<task>_<probe>_accuracy`, `..._accuracy_lo`, `..._accuracy_hi`, `..._macro_f1`. The linear
 * probe's L2 is chosen by k-fold cross-validation on the training examples alone (`l2: "cv"`, the default) and
 * reported as `..._l2`, with its cross-validated `..._cv_loss` and `..._cv_accuracy`.
 *
 * Every probe also outputs its `predictions` on the held-out texts (a Predictions artifact).
 *
 * The random-init baseline is the same stage on the untrained model (Train.transformer with steps: 0), one node;
 * `baseline: true` adds its outputs as inputs, `baseline` (its metrics, copied as `baseline_<task>_<probe>_...`, as
 * Evaluate.neural does with baseline_perplexity) and `baselinePredictions`: the two models' predictions on the same
 * examples are compared pair by pair, `..._minus_baseline` (the accuracy difference) with its 95% interval
 * (`_lo`, `_hi`), McNemar's exact p-value (`..._mcnemar_p`) and the discordant counts (`..._better`, `..._worse`). Task texts are tokenised by the model's own tokenizer; texts longer
 * than the context are read in Evaluate.perplexity's sliding windows and pooled. The computing code (TF.js) is
 * imported when the stage runs (downstream-run.ts).
 */
import { Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { Model } from "../artifact/model.ts"
import { Predictions } from "../artifact/predictions.ts"
import { Task } from "../artifact/task.ts"
import { backendEnv } from "../lm/neural/backend-plan.ts"
import { defineStage, type Stage } from "../pipeline/stage.ts"
import { DownstreamParams } from "./downstream-params.ts"
import { ownKeys } from "./params.ts"
import { computeAsync } from "./util.ts"

const run = () => import("./downstream-run.ts")

const INPUTS = { model: Model, tokenizer: Tokenizer, task: Task }
const WITH_BASELINE = { ...INPUTS, baseline: Metrics, baselinePredictions: Predictions }

const define = <I extends typeof INPUTS | typeof WITH_BASELINE>(inputs: I) =>
  defineStage({
    kind: "evaluate/downstream",
    // 3: the linear probe's L2 chosen by cross-validation on the training split (l2: "cv", the default); the training
    // texts' states pooled apart from the test texts'; the L2 used and the training examples in the metrics.
    // 4: the predictions as an output, and against a baseline the paired comparison (McNemar).
    // 5: l2, l2Grid and folds only in a linear probe's params (and key), as steps, examples, lr and initL2 only in a
    // fine-tune's: changing the linear probe's grid no longer reruns the fine-tunes. Same results.
    version: 5,
    params: DownstreamParams,
    env: backendEnv,
    inputs,
    outputs: { metrics: Metrics, predictions: Predictions },
    run: (p, resolved, ctx) => computeAsync(ctx, async () => (await run()).downstream(p, resolved, ctx))
  })

const alone = define(INPUTS)
const against = define(WITH_BASELINE)

type Params = typeof DownstreamParams.Encoded
type Outputs = { readonly metrics: typeof Metrics; readonly predictions: typeof Predictions }

interface DownstreamConstructor {
  (o: Params & { readonly baseline?: false }): Stage<typeof INPUTS, Outputs>
  (o: Params & { readonly baseline: true }): Stage<typeof WITH_BASELINE, Outputs>
}

export const EvaluateDownstream = {
  /**
   * A probe of the model's hidden states on a task (`task`: its name). With `baseline: true`, inputs `baseline` and
   * `baselinePredictions`: the same probe's outputs on the untrained model. Defaults: linear probe, stride 32, texts cut to 512 tokens.
   */
  downstream: ((o: Params & { readonly baseline?: boolean }) => {
    const { baseline, ...rest } = o
    return baseline === true ? against(ownKeys(rest)) : alone(ownKeys(rest))
  }) as DownstreamConstructor
}
