/** The main job (`npm start`): the seed paper's replace regime against accumulation, 5 generations (pipelines/neural.ts). */
import { neuralCollapse } from "./neural.ts"

export default neuralCollapse("neural-collapse", { arms: ["replace", "accumulate"], generations: 5 })
