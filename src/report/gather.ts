/**
 * Gathers a report's data from the store for a pipeline whose every stage is computed: metrics over seeds per arm
 * and generation, each generation's sample (rank-frequency, opening text), theory curves, the DAG and the artifacts.
 */
import { Effect, Option } from "effect"
import { Corpus, Curves, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { corpusDocuments } from "../artifact/corpus.ts"
import { decodeFiles } from "../artifact/files.ts"
import { plan } from "../engine/plan.ts"
import { manifestHash, type RunManifest } from "../engine/manifest.ts"
import { runWiring } from "../audit/lineage.ts"
import { NotFound } from "../errors/index.ts"
import { readSafetensors } from "../format/safetensors.ts"
import { encodeDocuments } from "../lm/tokenizer.ts"
import type { Pipeline, PipelineNode } from "../pipeline/pipeline.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { readArtifact } from "../store/read.ts"
import type { StageRecord } from "../store/record.ts"
import type {
  ArmReport,
  ArtifactRow,
  DagEdge,
  GenerationReport,
  LossPoint,
  ReferenceReport,
  ReportData,
  TheoryCurve
} from "./data.ts"
import { armOf, summarize } from "./summary.ts"
import { seedCount } from "./table.ts"

/** Relative token frequencies by rank, thinned to about log-spaced ranks so a long tail stays a small plot. */
export const rankFrequency = (ids: Int32Array): Array<{ rank: number; frequency: number }> => {
  const counts = new Map<number, number>()
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1)
  const sorted = [...counts.values()].sort((a, b) => b - a)
  const out: Array<{ rank: number; frequency: number }> = []
  let next = 1
  for (let r = 1; r <= sorted.length; r++) {
    if (r < next && r !== sorted.length) continue
    out.push({ rank: r, frequency: sorted[r - 1] / ids.length })
    next = Math.max(r + 1, Math.ceil(r * 1.08))
  }
  return out
}

/**
 * A model's training curve: from its safetensors metadata ("training": `{ curve: [[step, train, validation?], ...] }`,
 * as Train.transformer and Train.torch write it), or from the `training.json` of a model folder (a Files artifact,
 * as Train.hf writes it). Anything else (an n-gram model's JSON, no curve, a malformed one) has none: the report then
 * draws none.
 */
export const lossCurveOf = (bytes: Uint8Array): ReadonlyArray<LossPoint> => {
  const training = trainingOf(bytes)
  const curve = typeof training === "object" && training !== null ? (training as { curve?: unknown }).curve : undefined
  if (!Array.isArray(curve)) return []
  return curve.flatMap((point: unknown) => {
    if (!Array.isArray(point) || point.length < 2 || !point.every((v) => typeof v === "number" && Number.isFinite(v))) {
      return []
    }
    const [step, train, validation] = point as number[]
    return [validation === undefined ? { step, train } : { step, train, validation }]
  })
}

const trainingOf = (bytes: Uint8Array): unknown => {
  try {
    return JSON.parse(readSafetensors(bytes).metadata["training"] ?? "null")
  } catch {
    // Not a safetensors file: a model folder, perhaps.
  }
  try {
    const file = decodeFiles(bytes).find((f) => f.path === "training.json")
    return file === undefined ? null : JSON.parse(new TextDecoder().decode(file.bytes))
  } catch {
    return null
  }
}

/** A node of the run a report is of, with its record. */
interface ReportNode {
  readonly path: string
  readonly kind: string
  readonly tags: Readonly<Record<string, string | number>>
  readonly record: StageRecord
}

/** Every node of a pipeline with the record its key finds: all must be computed (what a report or an export reads). */
export const computedRecords = (pipeline: Pipeline) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const entries = yield* plan(pipeline)
    const missing = entries.filter((e) => e.status !== "cached")
    if (missing.length > 0) {
      return yield* new NotFound({
        what: pipeline.name,
        detail: `${missing.length} stages are not computed yet (first: ${missing[0].node.path}); run the pipeline first`
      })
    }
    const found: Array<{ readonly node: PipelineNode; readonly record: StageRecord }> = []
    for (const e of entries) {
      const record = yield* store.getRecord(e.key!)
      if (Option.isNone(record)) return yield* new NotFound({ what: e.node.path, detail: `no record for key ${e.key}` })
      found.push({ node: e.node, record: record.value })
    }
    return found
  })

/** The report of the pipeline a file defines now: every stage must be computed; the page is of the run that makes. */
export const gatherReport = (pipeline: Pipeline) =>
  Effect.gen(function*() {
    const nodes: ReportNode[] = (yield* computedRecords(pipeline)).map(({ node, record }) => ({
      path: node.path,
      kind: node.stage.kind,
      tags: node.tags,
      record
    }))
    const byId = new Map(pipeline.nodes.map((n) => [n.id, n]))
    const edges = pipeline.nodes.flatMap((n) =>
      Object.entries(n.inputs).map(([input, src]) => ({ from: byId.get(src.node)!.path, to: n.path, input }))
    )
    // The manifest a run of it writes (the same bytes, so the same hash): the page names the run it shows.
    const manifest = manifestHash(
      pipeline.name,
      nodes.map((n) => ({
        path: n.path,
        kind: n.kind,
        tags: n.tags,
        key: n.record.key,
        outputs: Object.fromEntries(Object.entries(n.record.outputs).map(([k, v]) => [k, v.hash]))
      }))
    )
    return yield* gatherNodes(pipeline.name, manifest, nodes, edges)
  })

/**
 * The report of one completed run, by its manifest: its own records, whatever the pipeline file says now. The
 * DAG's edges come from `structure` (the pipeline file's wiring by path) where it agrees with the run, else from
 * the bytes each stage read (see runWiring).
 */
export const gatherRunReport = (
  run: { readonly hash: string; readonly manifest: RunManifest },
  structure?: ReadonlyMap<string, Readonly<Record<string, { readonly path: string; readonly output: string }>>>
) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const records = new Map<string, StageRecord>()
    const nodes: ReportNode[] = []
    for (const n of run.manifest.nodes) {
      const record = records.get(n.key) ?? Option.getOrUndefined(yield* store.getRecord(n.key))
      if (record === undefined) {
        return yield* new NotFound({
          what: run.hash,
          detail: `the record of ${n.path} in this run (key ${
            n.key.slice(0, 12)
          }) is no longer in the store (gc removes unpinned old runs: see ouro pin)`
        })
      }
      records.set(n.key, record)
      nodes.push({ path: n.path, kind: n.kind, tags: n.tags, record })
    }
    const wiring = runWiring({ hash: run.hash, nodes: run.manifest.nodes }, records, structure)
    const edges = run.manifest.nodes.flatMap((n) =>
      Object.entries(wiring.get(n.path) ?? {}).map(([input, from]) => ({ from, to: n.path, input }))
    )
    return yield* gatherNodes(run.manifest.pipeline, run.hash, nodes, edges)
  })

const gatherNodes = (name: string, manifest: string, nodes: ReadonlyArray<ReportNode>, edges: ReadonlyArray<DagEdge>) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const blob = readArtifact

    // Metrics per arm and generation, over seeds (sorted, so "the first seed" is well defined).
    const byArm = new Map<string, Map<number, Array<{ seed: number; node: ReportNode; record: StageRecord }>>>()
    const withGenerations = new Set<string>()
    for (const node of nodes) {
      const record = node.record
      if (!Object.values(record.outputs).some((o) => o.artifact === "metrics")) continue
      const arm = armOf(node.tags)
      if (node.tags.generation !== undefined) withGenerations.add(arm)
      const gen = Number(node.tags.generation ?? 0)
      const gens = byArm.get(arm) ?? new Map()
      byArm.set(arm, gens)
      gens.set(gen, [...(gens.get(gen) ?? []), { seed: Number(node.tags.seed ?? 0), node, record }])
    }
    const arms: ArmReport[] = []
    const references: ReferenceReport[] = []
    for (const [name, gens] of byArm) {
      // A scope measured outside the generations (the untrained baseline), beside scopes with generations: a
      // reference point, not an arm with one generation 0 and no sample.
      if (withGenerations.size > 0 && !withGenerations.has(name)) {
        const runs = [...gens.values()].flat()
        const values = new Map<string, number[]>()
        for (const run of runs) {
          const out = Object.values(run.record.outputs).find((o) => o.artifact === "metrics")!
          for (const [k, v] of Object.entries((yield* blob(Metrics, out.hash)).values)) {
            values.set(k, [...(values.get(k) ?? []), v])
          }
        }
        references.push({
          name,
          seeds: seedCount(runs.map((r) => r.node.tags)),
          metrics: Object.fromEntries([...values].map(([k, vs]) => [k, summarize(vs)]))
        })
        continue
      }
      const generations: GenerationReport[] = []
      for (const [generation, runs] of [...gens.entries()].sort(([a], [b]) => a - b)) {
        runs.sort((a, b) => a.seed - b.seed)
        const values = new Map<string, number[]>()
        for (const run of runs) {
          const out = Object.values(run.record.outputs).find((o) => o.artifact === "metrics")!
          for (const [k, v] of Object.entries((yield* blob(Metrics, out.hash)).values)) {
            values.set(k, [...(values.get(k) ?? []), v])
          }
        }
        // The first seed's metric stage that read a sample (a generation may have several metric stages).
        const first = runs.find((r) => r.record.inputs.sample !== undefined && r.record.inputs.tokenizer !== undefined)
          ?.record
        let frequencies: Array<{ rank: number; frequency: number }> = []
        let sampleText = ""
        if (first?.inputs.sample !== undefined && first.inputs.tokenizer !== undefined) {
          const sample = corpusDocuments(yield* blob(Corpus, first.inputs.sample)).texts
          const tokenizer = yield* blob(Tokenizer, first.inputs.tokenizer)
          frequencies = rankFrequency(encodeDocuments(tokenizer, sample).ids)
          sampleText = (sample[0] ?? "").slice(0, 600)
        }
        // The first seed's model, as a metric stage read it: its training curve, if it was trained by steps.
        const modelHash = runs.find((r) => r.record.inputs.model !== undefined)?.record.inputs.model
        const lossCurve = modelHash === undefined ? [] : lossCurveOf(yield* store.getBlob(modelHash))
        generations.push({
          generation,
          seeds: seedCount(runs.map((r) => r.node.tags)),
          metrics: Object.fromEntries([...values].map(([k, vs]) => [k, summarize(vs)])),
          rankFrequency: frequencies,
          sampleText,
          lossCurve
        })
      }
      arms.push({ name, generations })
    }

    const theory: TheoryCurve[] = []
    const artifacts: ArtifactRow[] = []
    for (const node of nodes) {
      const record = node.record
      for (const [output, o] of Object.entries(record.outputs)) {
        artifacts.push({ stage: node.path, output, artifact: o.artifact, hash: o.hash, bytes: o.bytes })
        if (o.artifact === "curves") { for (const curve of yield* blob(Curves, o.hash)) theory.push(curve) }
      }
    }
    return {
      pipeline: name,
      manifest,
      arms,
      references,
      dag: {
        nodes: nodes.map((n) => ({ path: n.path, kind: n.kind, key: n.record.key })),
        edges: [...edges]
      },
      artifacts,
      theory
    } satisfies ReportData
  })
