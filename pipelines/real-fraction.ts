/** Shumailov et al. 2024's remedy: 10% real text in every generation's training corpus (pipelines/neural.ts). */
import { neuralCollapse } from "./neural.ts"

export default neuralCollapse("real-fraction", { arms: ["real-fraction"], generations: 5 })
