/**
 * The neural family with error bars (`npm run start:neural-bands`): replace against accumulate, 4 generations of the
 * character GPT of pipelines/neural.ts, over three seeds (each seed its own training and sampling streams), with
 * the repetition measures. README.md ("Neural models, with bands") gives its run time.
 */
import { neuralCollapse } from "./neural.ts"

export default neuralCollapse("neural-bands", {
  arms: ["replace", "accumulate"],
  generations: 4,
  seeds: [1, 2, 3],
  repetition: true
})
