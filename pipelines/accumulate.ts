/** Gerstgrasser et al. 2024's remedy: every generation trains on real text plus all synthetic text so far (pipelines/neural.ts). */
import { neuralCollapse } from "./neural.ts"

export default neuralCollapse("accumulate", { arms: ["accumulate"], generations: 5 })
