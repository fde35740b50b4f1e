/**
 * What a report shows, as plain data: gathered from a run (see gather.ts), rendered to HTML (see html.ts).
 * Every number here was read from the store; nothing is recomputed for the picture.
 */
import type { TheoryCurve } from "../artifact/artifacts.ts"

export type { TheoryCurve }

/** A metric over seeds at one generation: mean and 95% t-interval of the mean (lo = hi = mean for one seed). */
export interface SeedSummary {
  readonly mean: number
  readonly lo: number
  readonly hi: number
  readonly values: ReadonlyArray<number>
}

export interface GenerationReport {
  readonly generation: number
  readonly seeds: number
  /** perplexity, baseline_perplexity, distinct_1, distinct_2, rep_4, self_bleu, unigram_entropy, vocab_coverage, ... */
  readonly metrics: Readonly<Record<string, SeedSummary>>
  /** Token frequencies of this generation's synthetic sample (first seed), by rank: the tail vanishing. */
  readonly rankFrequency: ReadonlyArray<{ readonly rank: number; readonly frequency: number }>
  /** The opening of this generation's first synthetic document (first seed). */
  readonly sampleText: string
  /**
   * The training curve of this generation's model (first seed), as its safetensors metadata "training" keeps it:
   * mean training loss since the previous point and the validation loss, per step. Empty for a model without one
   * (an n-gram model is fitted, not trained by steps).
   */
  readonly lossCurve?: ReadonlyArray<LossPoint>
}

export interface LossPoint {
  readonly step: number
  readonly train: number
  readonly validation?: number
}

export interface ArmReport {
  /** e.g. "arm=replace" */
  readonly name: string
  readonly generations: ReadonlyArray<GenerationReport>
}

/**
 * Metrics measured once, outside the generations (a scope without any, such as the untrained baseline's): reference
 * points, shown in their own table rather than as an arm.
 */
export interface ReferenceReport {
  /** e.g. "arm=untrained" */
  readonly name: string
  readonly seeds: number
  readonly metrics: Readonly<Record<string, SeedSummary>>
}

export interface DagNode {
  readonly path: string
  readonly kind: string
  readonly key: string
}

export interface DagEdge {
  readonly from: string
  readonly to: string
  readonly input: string
}

export interface ArtifactRow {
  readonly stage: string
  readonly output: string
  readonly artifact: string
  readonly hash: string
  readonly bytes: number
}

export interface ReportData {
  readonly pipeline: string
  /** Content hash of the run manifest the report was made from. */
  readonly manifest: string
  readonly arms: ReadonlyArray<ArmReport>
  /** Scopes measured outside the generations (none when no scope has generations: then every scope is an arm). */
  readonly references?: ReadonlyArray<ReferenceReport>
  readonly dag: { readonly nodes: ReadonlyArray<DagNode>; readonly edges: ReadonlyArray<DagEdge> }
  readonly artifacts: ReadonlyArray<ArtifactRow>
  readonly theory: ReadonlyArray<TheoryCurve>
}
