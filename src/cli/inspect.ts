/**
 * What `ouro show`, `ouro ls` and `ouro status` read: names resolved to blobs or records, and each artifact
 * rendered by sniffing its self-describing bytes (Parquet, safetensors, JSON with an "artifact" field).
 */
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { Effect, Option } from "effect"
import { corpusDocuments, decodeCorpus } from "../artifact/corpus.ts"
import { Curves, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { Model } from "../artifact/model.ts"
import { readSafetensors } from "../format/safetensors.ts"
import { ArtifactCorrupt, describe, NotFound } from "../errors/index.ts"
import { isSha256, type Sha256 } from "../hash/index.ts"
import { isRefName } from "../store/refName.ts"
import { describeNgram } from "../lm/ngram.ts"
import { alignTable } from "../report/table.ts"
import { pipelineRef, sourceRef } from "../engine/refs.ts"
import { decodeManifest, readManifest, type RunManifest } from "../engine/manifest.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { readArtifact } from "../store/read.ts"
import type { StageRecord } from "../store/record.ts"

/** A node of a completed run, by its path: where a record was addressed as `<pipeline or run>/<path>`. */
export interface RunNode {
  readonly run: Sha256
  readonly manifest: RunManifest
  readonly path: string
}

export type Resolved =
  | { readonly _tag: "Blob"; readonly hash: Sha256; readonly via: string }
  | { readonly _tag: "Record"; readonly record: StageRecord; readonly via: string; readonly at?: RunNode }

/** A run manifest by its full hash or a unique prefix of it (6 characters or more); none if `name` is neither. */
export const findRun = (name: string) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    if (!/^[0-9a-f]{6,64}$/.test(name)) return Option.none<{ readonly hash: Sha256; readonly manifest: RunManifest }>()
    const blobs = isSha256(name)
      ? [name]
      : (yield* store.listBlobs).filter((b) => b.hash.startsWith(name)).map((b) => b.hash)
    const runs: Array<{ readonly hash: Sha256; readonly manifest: RunManifest }> = []
    for (const hash of blobs) {
      const manifest = yield* readManifest(store, hash).pipe(Effect.orElseSucceed(() => Option.none<RunManifest>()))
      if (Option.isSome(manifest)) runs.push({ hash, manifest: manifest.value })
    }
    if (runs.length > 1) {
      return yield* new NotFound({ what: name, detail: `ambiguous prefix: matches ${runs.length} run manifests` })
    }
    return Option.fromNullishOr(runs[0])
  })

/** The run a pipeline name (its last run) or a run hash (prefix) names; none if it names neither. */
export const runOf = (name: string) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const last = isRefName(pipelineRef(name)) ? yield* store.getRef(pipelineRef(name)) : Option.none<string>()
    if (Option.isSome(last)) {
      const manifest = yield* readManifest(store, last.value)
      if (Option.isSome(manifest)) return Option.some({ hash: last.value, manifest: manifest.value })
    }
    return yield* findRun(name)
  })

/**
 * `<pipeline>/<path>` (its last run) or `<run hash or prefix>/<path>`: the record that node of that run has,
 * whichever node computed it (a stage shared by several arms has the same record at each of their paths).
 */
const resolveRunNode = (name: string) =>
  Effect.gen(function*() {
    const slash = name.indexOf("/")
    if (slash <= 0) return Option.none<Resolved>()
    const head = name.slice(0, slash)
    const path = name.slice(slash + 1)
    const run = yield* runOf(head)
    if (Option.isNone(run)) return Option.none<Resolved>()
    const { hash, manifest } = run.value
    const node = manifest.nodes.find((n) => n.path === path)
    if (node === undefined) {
      // A pipeline's node refs may know a node its last completed run does not have (a run that stopped half way).
      if (!hash.startsWith(head)) return Option.none<Resolved>()
      return yield* new NotFound({
        what: name,
        detail: `no node ${path} in run ${hash.slice(0, 12)} of pipeline ${manifest.pipeline}`
      })
    }
    const store = yield* ArtifactStore
    const record = yield* store.getRecord(node.key)
    if (Option.isNone(record)) {
      return yield* new NotFound({
        what: name,
        detail: `the record of ${path} in run ${hash.slice(0, 12)} (key ${node.key}) is not in the store`
      })
    }
    return Option.some<Resolved>({ _tag: "Record", record: record.value, via: name, at: { run: hash, manifest, path } })
  })

/** A full hash, a unique hash prefix (of a blob or a record key), or a ref name with or without its folder. */
export const resolveName = (name: string) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const asRecord = (key: string) => store.getRecord(key)
    if (isSha256(name)) {
      if (yield* store.hasBlob(name)) return { _tag: "Blob", hash: name, via: name } satisfies Resolved
      const record = yield* asRecord(name)
      if (Option.isSome(record)) return { _tag: "Record", record: record.value, via: name } satisfies Resolved
    }
    const atRun = yield* resolveRunNode(name)
    if (Option.isSome(atRun)) return atRun.value
    for (const ref of [name, `nodes/${name}`, `pipelines/${name}`]) {
      const value = yield* store.getRef(ref).pipe(Effect.orElseSucceed(() => Option.none<string>()))
      if (Option.isNone(value)) continue
      const record = yield* asRecord(value.value)
      if (Option.isSome(record)) return { _tag: "Record", record: record.value, via: ref } satisfies Resolved
      return { _tag: "Blob", hash: value.value, via: ref } satisfies Resolved
    }
    if (/^[0-9a-f]{6,63}$/.test(name)) {
      const blobs = (yield* store.listBlobs).filter((b) => b.hash.startsWith(name)).map((b) => b.hash)
      const keys = (yield* store.listRecordKeys).filter((k) => k.startsWith(name))
      if (blobs.length + keys.length > 1) {
        return yield* new NotFound({
          what: name,
          detail: `ambiguous prefix: matches ${blobs.length + keys.length} hashes`
        })
      }
      if (blobs.length === 1) return { _tag: "Blob", hash: blobs[0], via: name } satisfies Resolved
      if (keys.length === 1) {
        const record = yield* asRecord(keys[0])
        if (Option.isSome(record)) return { _tag: "Record", record: record.value, via: name } satisfies Resolved
      }
    }
    return yield* new NotFound({ what: name, detail: "no blob, stage record or ref by that name in the store" })
  })

export { readManifest, type RunManifest } from "../engine/manifest.ts"

/** The metrics a run's stages computed, by their tags (for metricsTables). */
export const manifestMetrics = (manifest: RunManifest) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const rows: Array<
      { readonly tags: RunManifest["nodes"][number]["tags"]; readonly values: Readonly<Record<string, number>> }
    > = []
    for (const n of manifest.nodes) {
      const record = yield* store.getRecord(n.key)
      if (Option.isNone(record)) continue
      for (const out of Object.values(record.value.outputs)) {
        if (out.artifact === "metrics") {
          rows.push({ tags: n.tags, values: (yield* readArtifact(Metrics, out.hash)).values })
        }
      }
    }
    return rows
  })

/** The last run of each pipeline, by name. */
export const lastRuns = Effect.gen(function*() {
  const store = yield* ArtifactStore
  const refs = yield* store.listRefs(pipelineRef(""))
  const out: Array<{ readonly name: string; readonly hash: Sha256; readonly manifest: RunManifest }> = []
  for (const ref of refs) {
    const manifest = yield* readManifest(store, ref.value)
    if (Option.isSome(manifest)) {
      out.push({ name: ref.name.slice(pipelineRef("").length), hash: ref.value, manifest: manifest.value })
    }
  }
  return out
})

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s)

/** A human view of an artifact's bytes. */
export const describeBlob = (bytes: Uint8Array, options: { readonly head: number }): string => {
  const magic = new TextDecoder().decode(bytes.subarray(0, 4))
  if (magic === "PAR1") {
    const { ids, texts } = corpusDocuments(decodeCorpus(bytes))
    const words = texts.reduce((n, t) => n + (t.match(/\S+/g)?.length ?? 0), 0)
    const head = ids.slice(0, options.head).map((id, i) => `  ${id}: ${clip(texts[i].replace(/\s+/g, " "), 160)}`)
    return [`corpus: ${ids.length} documents, ${words} words`, ...head].join("\n")
  }
  if (bytes[0] === 0x7b) {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as { readonly artifact?: unknown }
    if (json.artifact === "metrics") {
      const m = Metrics.decode(bytes)
      return `metrics\n${alignTable(["metric", "value"], Object.entries(m.values).map(([k, v]) => [k, String(v)]))}`
    }
    if (json.artifact === "tokenizer") {
      const t = Tokenizer.decode(bytes)
      return `tokenizer: ${t.kind}-level, ${t.vocab.length} types, lowercase ${t.lowercase}\n  first types: ${
        t.vocab.slice(0, 20).join(" ")
      }`
    }
    if (json.artifact === "curves") {
      return Curves.decode(bytes).map((c) =>
        `${c.title} (${c.assumption})\n` +
        alignTable(
          ["gen", "predicted", "empirical mean", "95% interval"],
          c.points.map((p) => [
            String(p.generation),
            p.predicted.toPrecision(6),
            p.mean.toPrecision(6),
            `[${p.lo.toPrecision(6)}, ${p.hi.toPrecision(6)}]`
          ])
        )
      ).join("\n\n")
    }
    if (json.artifact === "run") {
      const m = decodeManifest(bytes)
      if (Option.isSome(m)) {
        return `run of pipeline ${m.value.pipeline}: ${m.value.nodes.length} stages\n` +
          alignTable(["stage", "kind", "key"], m.value.nodes.map((n) => [n.path, n.kind, n.key.slice(0, 12)]))
      }
    }
    return `JSON artifact ${JSON.stringify(json.artifact ?? "unknown")}, ${bytes.length} bytes`
  }
  const model = Model.decode(bytes)
  if (model.family === "neural") {
    const file = readSafetensors(bytes)
    let params = 0
    for (const t of file.tensors.values()) params += t.shape.reduce((a, b) => a * b, 1)
    const { artifact, config, ...rest } = file.metadata
    return [
      `${artifact} ${config ?? ""}, ${file.tensors.size} tensors, ${params} parameters`,
      ...Object.entries(rest).map(([k, v]) => `  ${k}: ${v}`)
    ].join("\n")
  }
  const s = describeNgram(model.ngram)
  return [
    `model: ${s.order}-gram, vocabulary ${s.vocabSize}, smoothing ${JSON.stringify(s.smoothing)}`,
    `  n-grams per order: ${s.ngrams.join(", ")}`,
    `  training tokens: ${s.trainingTokens}`
  ].join("\n")
}

/** A blob read and described; bytes that hash right but are no artifact are reported, not thrown. */
export const showBlob = (hash: Sha256, options: { readonly head: number }) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const bytes = yield* store.getBlob(hash)
    return yield* Effect.try({
      try: () => describeBlob(bytes, options),
      catch: (e) =>
        new ArtifactCorrupt({ hash, path: store.location, detail: `not a readable artifact: ${describe(e)}`, cause: e })
    })
  })

export const describeRecord = (r: StageRecord, at?: RunNode): string =>
  [
    at === undefined
      ? `stage ${r.node} (${r.kind} v${r.version})`
      : `stage ${at.path} (${r.kind} v${r.version}) of run ${at.run.slice(0, 12)}` +
        (at.path === r.node ? "" : `: the same stage as ${r.node}, which computed it`),
    `  key     ${r.key}`,
    `  params  ${JSON.stringify(r.params)}`,
    ...Object.entries(r.inputs).map(([k, v]) => `  input   ${k} = ${v}`),
    ...Object.entries(r.outputs).map(([k, v]) => `  output  ${k} = ${v.hash} (${v.artifact}, ${v.bytes} bytes)`),
    `  env     ${JSON.stringify(r.env)}`,
    `  ran     ${r.timings.startedAt} in ${r.timings.ms} ms`
  ].join("\n")

/** Remembers the file a pipeline was run from (the `sources/<name>` ref). */
export const rememberSource = (name: string, file: string) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const path = resolve(file)
    const known = yield* store.getRef(sourceRef(name))
    if (Option.isNone(known) || known.value !== path) yield* store.setRef(sourceRef(name), path)
  })
/** A pipeline file, the name of a pipeline run on this store, or (a prefix of) one of its run manifests' hashes. */
export const pipelineFileOf = (target: string) =>
  Effect.gen(function*() {
    if (existsSync(target)) return target
    const store = yield* ArtifactStore
    const byName = yield* store.getRef(sourceRef(target))
    if (Option.isSome(byName)) return byName.value
    const found = yield* resolveName(target).pipe(Effect.option)
    if (Option.isSome(found) && found.value._tag === "Blob") {
      const manifest = yield* readManifest(store, found.value.hash).pipe(Effect.orElseSucceed(() => Option.none()))
      if (Option.isSome(manifest)) {
        const file = yield* store.getRef(sourceRef(manifest.value.pipeline))
        if (Option.isSome(file)) return file.value
      }
    }
    return yield* new NotFound({
      what: target,
      detail: "neither a pipeline file, nor the name of a pipeline run on this store, nor one of its run manifests"
    })
  })
