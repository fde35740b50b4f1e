/**
 * Runs as the CLI names them: the list of a pipeline's completed runs (`ouro runs`), a run's wiring read from its
 * pipeline file, and what `ouro report` makes a page of (a file's current state, or one completed run).
 */
import { existsSync } from "node:fs"
import { Effect, Option } from "effect"
import { listPins } from "../audit/pins.ts"
import { readManifest } from "../engine/manifest.ts"
import { pipelineRef, runsRef, sourceRef } from "../engine/refs.ts"
import { NotFound } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import { loadPipeline } from "../pipeline/load.ts"
import type { Pipeline } from "../pipeline/pipeline.ts"
import { gatherReport, gatherRunReport } from "../report/gather.ts"
import { alignTable } from "../report/table.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { runOf } from "./inspect.ts"

/** A pipeline's wiring by path: node path → input name → the source node's path and output. */
export type Structure = ReadonlyMap<
  string,
  Readonly<Record<string, { readonly path: string; readonly output: string }>>
>

export const structureOf = (pipeline: Pipeline): Structure => {
  const byId = new Map(pipeline.nodes.map((n) => [n.id, n]))
  return new Map(pipeline.nodes.map((n) => [
    n.path,
    Object.fromEntries(
      Object.entries(n.inputs).map(([name, src]) => [name, { path: byId.get(src.node)!.path, output: src.output }])
    )
  ]))
}

/**
 * The wiring of the pipeline `name` as its file (the one it last ran from) defines it now; none if that file is
 * gone or does not load. Only a hint: whoever uses it checks it against the run (see runWiring).
 */
export const structureFromSource = (name: string) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const file = yield* store.getRef(sourceRef(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
    if (Option.isNone(file) || !existsSync(file.value)) return undefined
    const pipeline = yield* loadPipeline(file.value).pipe(Effect.option)
    return Option.isSome(pipeline) && pipeline.value.name === name ? structureOf(pipeline.value) : undefined
  })

/** What `ouro report TARGET` is of: a pipeline file as it is now, else a completed run (a pipeline's last, or by hash). */
export const reportOf = (target: string) =>
  Effect.gen(function*() {
    if (existsSync(target)) return yield* gatherReport(yield* loadPipeline(target))
    const run = yield* runOf(target)
    if (Option.isNone(run)) {
      return yield* new NotFound({
        what: target,
        detail: "neither a pipeline file, nor the name of a pipeline run on this store, nor one of its run manifests"
      })
    }
    return yield* gatherRunReport(run.value, yield* structureFromSource(run.value.manifest.pipeline))
  })

export interface RunEntry {
  readonly pipeline: string
  readonly hash: Sha256
  /** When it first completed (ISO), or undefined for a run recorded before runs were listed. */
  readonly at: string | undefined
  readonly stages: number
  readonly latest: boolean
  readonly pins: ReadonlyArray<string>
}

/** The completed runs whose manifest is still in the store, oldest first, of one pipeline or of all. */
export const listRuns = (pipeline: Option.Option<string>) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const pins = yield* listPins
    const refs = yield* store.listRefs(Option.isSome(pipeline) ? runsRef(pipeline.value) : "runs/")
    const listed = refs.map((r) => {
      const [, name, hash] = r.name.split("/")
      return { pipeline: name, hash, at: r.value as string | undefined }
    })
    // The last run of a pipeline that ran before runs were listed has no entry of its own.
    for (const last of yield* store.listRefs(pipelineRef(""))) {
      const name = last.name.slice(pipelineRef("").length)
      if (Option.isSome(pipeline) && name !== pipeline.value) continue
      if (!listed.some((l) => l.pipeline === name && l.hash === last.value)) {
        listed.push({ pipeline: name, hash: last.value, at: undefined })
      }
    }
    const out: RunEntry[] = []
    for (const l of listed) {
      const manifest = yield* readManifest(store, l.hash).pipe(Effect.orElseSucceed(() => Option.none()))
      if (Option.isNone(manifest)) continue // collected by gc
      const latest = yield* store.getRef(pipelineRef(l.pipeline))
      out.push({
        ...l,
        stages: manifest.value.nodes.length,
        latest: Option.isSome(latest) && latest.value === l.hash,
        pins: pins.filter((p) => p.run === l.hash).map((p) => p.name)
      })
    }
    return out.sort((a, b) => (a.at ?? "").localeCompare(b.at ?? "") || a.pipeline.localeCompare(b.pipeline))
  })

export const formatRuns = (runs: ReadonlyArray<RunEntry>): string => {
  if (runs.length === 0) return "no completed run in this store"
  const rows = runs.map((r) => [
    r.pipeline,
    r.at ?? "(before run lists)",
    r.hash,
    String(r.stages),
    [...(r.latest ? ["latest"] : []), ...r.pins.map((p) => `pinned as ${p}`)].join(", ") || "-"
  ])
  return alignTable(["pipeline", "completed", "run manifest", "stages", "notes"], rows)
}
