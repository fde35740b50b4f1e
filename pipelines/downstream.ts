/**
 * Downstream tasks, generation by generation, against the untrained model (`npm run start:downstream`, issue #16):
 * the neural collapse experiment of pipelines/neural-collapse.ts (replace against accumulate, 5 generations of the
 * character GPT, one seed) with two probes on two tasks for every generation's model and, once, for the untrained
 * model of the same architecture (the random-init baseline, the seed paper's "baseline" row):
 *   - tasks: spam against ham mail (Tasks.spam, the SpamAssassin public corpus) and the 50-year period of a passage
 *     of a State of the Union address (Tasks.era), cut from the experiment's held-out test addresses only;
 *   - probes: a linear probe (logistic regression on the mean-pooled final hidden states) and a short fine-tune.
 * Every node of the experiment is the neural pipeline's own (the same stage keys): after `npm run start:neural`,
 * only the task and probe stages compute. README.md ("Downstream tasks") has the numbers and the run time.
 */
import { Evaluate, Tasks } from "ouroboros"
import { type NeuralExtension, neuralCollapse } from "./neural.ts"

/**
 * The tasks: texts of at most 63 characters, so that each is read whole in one window of the model's context (64
 * positions: the <eos> and 63 characters), and many of them, so that an accuracy's 95% interval is about ±0.06-0.07
 * rather than ±0.15 (version 1 read 120 messages and 192 passages of 192 characters each, in sliding windows):
 * 600 messages (300 of each class) and 640 passages (20 from each of the 32 held-out addresses), 30% of each held
 * out. The size is what keeps the probe stages near 3 minutes on two cores (measured: 276 s of CPU, 3 min 50 s of
 * wall time on two cores shared with other jobs; README, "Downstream tasks").
 */
const TASKS = {
  spam: () => Tasks.spam({ perClass: 300, maxChars: 63, testFraction: 0.3, seed: 1 }),
  era: () => Tasks.era({ period: 50, passageChars: 63, perAddress: 20, testFraction: 0.3, seed: 1 })
}
const PROBES = ["linear", "finetune"] as const
/**
 * The probes' settings: a text's first 63 tokens (an era passage gathers words up to at least 63 characters);
 * the linear probe's L2 by 5-fold cross-validation on the training split over 0.001 ... 10 (the defaults); the
 * fine-tune's defaults (20 steps of 8 examples at a learning rate of 1e-4, from a linear probe with L2 0.1).
 */
const SETTINGS = { seed: 1, maxTokens: 63 }

/** The tasks and every probe of the untrained model, once; then every probe of each generation's model. */
export const probes: NeuralExtension = (p, { real, tokenizer, untrained }) => {
  const tasks = {
    spam: p.add(TASKS.spam()).task,
    era: p.add(TASKS.era(), { addresses: real.test }).task
  }
  const each = Object.entries(tasks).flatMap(([task, ref]) => PROBES.map((probe) => ({ task, probe, ref })))
  const name = (t: { task: string; probe: string }) => `downstream-${t.task}-${t.probe}`
  const baselines = p.scope({ arm: "untrained" }, (u) =>
    each.map((t) => ({
      ...t,
      baseline: u.add(
        Evaluate.downstream({ task: t.task, probe: t.probe, ...SETTINGS }),
        { model: untrained, tokenizer, task: t.ref },
        { name: name(t) }
      )
    })))
  return (g, model) => {
    for (const t of baselines) {
      g.add(
        Evaluate.downstream({ task: t.task, probe: t.probe, ...SETTINGS, baseline: true }),
        { model, tokenizer, task: t.ref, baseline: t.baseline.metrics, baselinePredictions: t.baseline.predictions },
        { name: name(t) }
      )
    }
  }
}

export default neuralCollapse("downstream", { arms: ["replace", "accumulate"], generations: 5, extend: probes })
