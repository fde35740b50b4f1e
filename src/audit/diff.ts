/**
 * `ouro diff A B`: two runs, or a run and a pipeline file as it would run now. The stages whose key differs and why
 * (kind, version, params field by field, inputs, env: what `plan` says against a node's last record), the nodes only
 * one side has, and every metric side by side per arm and generation (mean over seeds) with its change, as
 * `dvc params diff` and `dvc metrics diff` do.
 */
import { Effect, Option } from "effect"
import { Metrics } from "../artifact/artifacts.ts"
import { keyMaterial, explain } from "../engine/key.ts"
import type { RunManifest } from "../engine/manifest.ts"
import { plan } from "../engine/plan.ts"
import { NotFound } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import type { Pipeline } from "../pipeline/pipeline.ts"
import { armOf } from "../pipeline/tags.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { readArtifact } from "../store/read.ts"
import type { StageRecord } from "../store/record.ts"

export interface DiffNode {
  readonly path: string
  readonly tags: Readonly<Record<string, string | number>>
  /** Undefined while an input is still to be computed (a pipeline file's pending stage). */
  readonly key: Sha256 | undefined
  readonly material: Pick<StageRecord, "kind" | "version" | "params" | "env"> & {
    readonly inputs: Readonly<Record<string, Sha256>>
  }
  /** Inputs not known yet, and the node that will compute each. */
  readonly pending: Readonly<Record<string, string>>
  /** Undefined when the node computes no metrics, or has not been computed. */
  readonly metrics: Readonly<Record<string, number>> | undefined
}

export interface DiffSide {
  /** "run 1a2b3c4d5e6f" or "pipelines/x.ts (as it would run now)" */
  readonly label: string
  readonly pipeline: string
  readonly nodes: ReadonlyArray<DiffNode>
}

const metricsOf = (record: StageRecord) =>
  Effect.gen(function*() {
    const out = Object.values(record.outputs).find((o) => o.artifact === "metrics")
    return out === undefined ? undefined : (yield* readArtifact(Metrics, out.hash)).values
  })

/** A completed run, from its manifest and records. */
export const runSide = (run: { readonly hash: Sha256; readonly manifest: RunManifest }) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const nodes: DiffNode[] = []
    for (const n of run.manifest.nodes) {
      const record = yield* store.getRecord(n.key)
      if (Option.isNone(record)) {
        return yield* new NotFound({
          what: run.hash,
          detail: `the record of ${n.path} in this run (key ${n.key.slice(0, 12)}) is no longer in the store`
        })
      }
      const { kind, version, params, env, inputs } = record.value
      nodes.push({
        path: n.path,
        tags: n.tags,
        key: n.key,
        material: { kind, version, params, env, inputs },
        pending: {},
        metrics: yield* metricsOf(record.value)
      })
    }
    return { label: `run ${run.hash.slice(0, 12)}`, pipeline: run.manifest.pipeline, nodes } satisfies DiffSide
  })

/** A pipeline file as it would run now: its plan's keys, and the metrics of the stages already computed. */
export const pipelineSide = (pipeline: Pipeline, file: string) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const byId = new Map(pipeline.nodes.map((n) => [n.id, n]))
    const nodes: DiffNode[] = []
    for (const e of yield* plan(pipeline)) {
      const { kind, version, params, env } = keyMaterial(e.node.stage, e.inputs)
      const pending = Object.fromEntries(
        Object.entries(e.node.inputs).filter(([name]) => !(name in e.inputs)).map((
          [name, src]
        ) => [name, byId.get(src.node)!.path])
      )
      const record = e.status === "cached" && e.key !== undefined
        ? yield* store.getRecord(e.key)
        : Option.none<StageRecord>()
      nodes.push({
        path: e.node.path,
        tags: e.node.tags,
        key: e.key,
        material: { kind, version, params: params as StageRecord["params"], env, inputs: e.inputs },
        pending,
        metrics: Option.isSome(record) ? yield* metricsOf(record.value) : undefined
      })
    }
    return { label: `${file} (as it would run now)`, pipeline: pipeline.name, nodes } satisfies DiffSide
  })

export interface StageChange {
  readonly path: string
  readonly reasons: ReadonlyArray<string>
}

export interface MetricChange {
  readonly arm: string
  readonly generation: number
  readonly metric: string
  readonly a: number | undefined
  readonly b: number | undefined
}

export interface Diff {
  readonly a: DiffSide
  readonly b: DiffSide
  readonly changed: ReadonlyArray<StageChange>
  readonly onlyA: ReadonlyArray<string>
  readonly onlyB: ReadonlyArray<string>
  readonly metrics: ReadonlyArray<MetricChange>
}

const sameKey = (a: DiffNode, b: DiffNode) => a.key !== undefined && a.key === b.key

/** Mean over seeds of each metric, per arm and generation. */
const metricMeans = (side: DiffSide) => {
  const sums = new Map<string, { arm: string; generation: number; metric: string; values: number[] }>()
  for (const n of side.nodes) {
    if (n.metrics === undefined) continue
    const arm = armOf(n.tags)
    const generation = Number(n.tags.generation ?? 0)
    for (const [metric, v] of Object.entries(n.metrics)) {
      const id = `${arm}\u0000${generation}\u0000${metric}`
      const entry = sums.get(id) ?? { arm, generation, metric, values: [] }
      entry.values.push(v)
      sums.set(id, entry)
    }
  }
  return new Map(
    [...sums].map(([id, e]) => [id, { ...e, mean: e.values.reduce((s, v) => s + v, 0) / e.values.length }])
  )
}

export const diffSides = (a: DiffSide, b: DiffSide): Diff => {
  const byPathA = new Map(a.nodes.map((n) => [n.path, n]))
  const byPathB = new Map(b.nodes.map((n) => [n.path, n]))
  const changed: StageChange[] = []
  for (const nb of b.nodes) {
    const na = byPathA.get(nb.path)
    if (na === undefined || sameKey(na, nb)) continue
    const previous = {
      ...na.material,
      key: na.key ?? "",
      node: na.path,
      outputs: {},
      timings: { startedAt: "", ms: 0 }
    } satisfies StageRecord
    const reasons = explain({ ...nb.material, inputs: nb.material.inputs }, previous, nb.pending)
    const unknown = Object.keys(na.pending).map((name) => `input ${name} not computed yet in ${a.label}`)
    changed.push({
      path: nb.path,
      reasons: [...reasons, ...unknown].length > 0 ? [...reasons, ...unknown] : ["inputs not computed yet"]
    })
  }
  const ma = metricMeans(a)
  const mb = metricMeans(b)
  const metrics: MetricChange[] = []
  for (const id of new Set([...ma.keys(), ...mb.keys()])) {
    const e = (ma.get(id) ?? mb.get(id))!
    metrics.push({ arm: e.arm, generation: e.generation, metric: e.metric, a: ma.get(id)?.mean, b: mb.get(id)?.mean })
  }
  return {
    a,
    b,
    changed,
    onlyA: a.nodes.filter((n) => !byPathB.has(n.path)).map((n) => n.path),
    onlyB: b.nodes.filter((n) => !byPathA.has(n.path)).map((n) => n.path),
    metrics
  }
}
