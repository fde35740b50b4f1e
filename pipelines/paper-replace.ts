/** Wang et al. 2024's regime alone: from scratch each generation, pure sampling, replace (pipelines/neural.ts). */
import { neuralCollapse } from "./neural.ts"

export default neuralCollapse("paper-replace", { arms: ["replace"], generations: 5 })
