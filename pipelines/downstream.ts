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

/** The tasks, small enough that the 44 probe stages run in minutes on two cores. */
const TASKS = {
  spam: () => Tasks.spam({ perClass: 60, maxChars: 192, testFraction: 0.3, seed: 1 }),
  era: () => Tasks.era({ period: 50, passageChars: 192, perAddress: 6, testFraction: 0.3, seed: 1 })
}
const PROBES = ["linear", "finetune"] as const
/** The probes' settings (the fine-tune's defaults: 20 steps of 8 examples at a learning rate of 1e-4, from a linear probe with L2 0.1). */
const SETTINGS = { seed: 1 }

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
      ).metrics
    })))
  return (g, model) => {
    for (const t of baselines) {
      g.add(
        Evaluate.downstream({ task: t.task, probe: t.probe, ...SETTINGS, baseline: true }),
        { model, tokenizer, task: t.ref, baseline: t.baseline },
        { name: name(t) }
      )
    }
  }
}

export default neuralCollapse("downstream", { arms: ["replace", "accumulate"], generations: 5, extend: probes })
