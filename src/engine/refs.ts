/** Names of the refs the engine keeps, in one place. */
import type { Pipeline, PipelineNode } from "../pipeline/pipeline.ts"

/** The key a node had when it last ran or was found cached: the baseline for "why does this run?". */
export const nodeRef = (pipeline: Pipeline, node: PipelineNode): string => `nodes/${pipeline.name}/${node.path}`

/** The manifest (a blob) of the last completed run of a pipeline. */
export const pipelineRef = (name: string): string => `pipelines/${name}`

/** The file a pipeline was last run from, so `replay <name>` can find it. */
export const sourceRef = (name: string): string => `sources/${name}`
