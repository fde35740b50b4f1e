/**
 * Gathers a report's data from the store for a pipeline whose every stage is computed: metrics over seeds per arm
 * and generation, each generation's sample (rank-frequency, opening text), theory curves, the DAG and the artifacts.
 */
import { Effect, Option } from "effect"
import { Corpus, Curves, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { corpusDocuments } from "../artifact/corpus.ts"
import { plan } from "../engine/plan.ts"
import { pipelineRef } from "../engine/refs.ts"
import { NotFound } from "../errors/index.ts"
import { encodeDocuments } from "../lm/tokenizer.ts"
import type { Pipeline, PipelineNode } from "../pipeline/pipeline.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { readArtifact } from "../store/read.ts"
import type { StageRecord } from "../store/record.ts"
import type { ArmReport, ArtifactRow, GenerationReport, ReferenceReport, ReportData, TheoryCurve } from "./data.ts"
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

export const gatherReport = (pipeline: Pipeline) =>
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
    const records = new Map<number, StageRecord>()
    for (const e of entries) {
      const record = yield* store.getRecord(e.key!)
      if (Option.isNone(record)) return yield* new NotFound({ what: e.node.path, detail: `no record for key ${e.key}` })
      records.set(e.node.id, record.value)
    }
    const blob = readArtifact

    // Metrics per arm and generation, over seeds (sorted, so "the first seed" is well defined).
    const byArm = new Map<string, Map<number, Array<{ seed: number; node: PipelineNode; record: StageRecord }>>>()
    const withGenerations = new Set<string>()
    for (const node of pipeline.nodes) {
      const record = records.get(node.id)!
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
          for (const [k, v] of Object.entries((yield* blob(Metrics, out.hash)).values)) values.set(k, [...(values.get(k) ?? []), v])
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
          for (const [k, v] of Object.entries((yield* blob(Metrics, out.hash)).values)) values.set(k, [...(values.get(k) ?? []), v])
        }
        // The first seed's metric stage that read a sample (a generation may have several metric stages).
        const first = runs.find((r) => r.record.inputs.sample !== undefined && r.record.inputs.tokenizer !== undefined)?.record
        let frequencies: Array<{ rank: number; frequency: number }> = []
        let sampleText = ""
        if (first?.inputs.sample !== undefined && first.inputs.tokenizer !== undefined) {
          const sample = corpusDocuments(yield* blob(Corpus, first.inputs.sample)).texts
          const tokenizer = yield* blob(Tokenizer, first.inputs.tokenizer)
          frequencies = rankFrequency(encodeDocuments(tokenizer, sample).ids)
          sampleText = (sample[0] ?? "").slice(0, 600)
        }
        generations.push({
          generation,
          seeds: seedCount(runs.map((r) => r.node.tags)),
          metrics: Object.fromEntries([...values].map(([k, vs]) => [k, summarize(vs)])),
          rankFrequency: frequencies,
          sampleText
        })
      }
      arms.push({ name, generations })
    }

    const theory: TheoryCurve[] = []
    const artifacts: ArtifactRow[] = []
    for (const node of pipeline.nodes) {
      const record = records.get(node.id)!
      for (const [output, o] of Object.entries(record.outputs)) {
        artifacts.push({ stage: node.path, output, artifact: o.artifact, hash: o.hash, bytes: o.bytes })
        if (o.artifact === "curves") for (const curve of yield* blob(Curves, o.hash)) theory.push(curve)
      }
    }
    const byId = new Map(pipeline.nodes.map((n) => [n.id, n]))
    const manifest = yield* store.getRef(pipelineRef(pipeline.name))
    return {
      pipeline: pipeline.name,
      manifest: Option.getOrElse(manifest, () => ""),
      arms,
      references,
      dag: {
        nodes: pipeline.nodes.map((n) => ({ path: n.path, kind: n.stage.kind, key: records.get(n.id)!.key })),
        edges: pipeline.nodes.flatMap((n) => Object.entries(n.inputs).map(([input, src]) => ({ from: byId.get(src.node)!.path, to: n.path, input })))
      },
      artifacts,
      theory
    } satisfies ReportData
  })
