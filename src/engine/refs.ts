/** Names of the refs the engine keeps, in one place. */
import type { Pipeline, PipelineNode } from "../pipeline/pipeline.ts"

/** The key a node had when it last ran or was found cached: the baseline for "why does this run?". */
export const nodeRef = (pipeline: Pipeline, node: PipelineNode): string => `nodes/${pipeline.name}/${node.path}`

/** The folder of a pipeline's node refs. */
export const nodeRefs = (name: string): string => `nodes/${name}/`

/** The manifest (a blob) of the last completed run of a pipeline. */
export const pipelineRef = (name: string): string => `pipelines/${name}`

/** The file a pipeline was last run from, so `replay <name>` can find it. */
export const sourceRef = (name: string): string => `sources/${name}`

/**
 * One ref per completed run of a pipeline, named by its manifest: `runs/<pipeline>/<manifest>`. Its value is when
 * the run first completed (an ISO time), not a hash: the run list is no gc root, and times are in no hashed content.
 */
export const runRef = (name: string, manifest: string): string => `runs/${name}/${manifest}`
export const runsRef = (name: string): string => `runs/${name}/`

/** A pinned run: `pins/<name>` → its manifest hash. Every ref naming a blob is a gc root, so its closure is kept. */
export const pinRef = (name: string): string => `pins/${name}`
