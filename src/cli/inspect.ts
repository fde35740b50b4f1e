/**
 * What `ouro show`, `ouro ls` and `ouro status` read: names resolved to blobs or records, and each artifact
 * rendered by sniffing its self-describing bytes (Parquet, safetensors, JSON with an "artifact" field).
 */
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { Effect, Option, Schema } from "effect"
import { corpusDocuments, decodeCorpus } from "../artifact/corpus.ts"
import { Curves, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { Model } from "../artifact/model.ts"
import { readSafetensors } from "../format/safetensors.ts"
import { ArtifactCorrupt, describe, NotFound } from "../errors/index.ts"
import { isSha256, type Sha256 } from "../hash/index.ts"
import { describeNgram } from "../lm/ngram.ts"
import { alignTable } from "../report/table.ts"
import { pipelineRef, sourceRef } from "../engine/refs.ts"
import { ArtifactStore, type ArtifactStoreShape } from "../store/ArtifactStore.ts"
import type { StageRecord } from "../store/record.ts"

export type Resolved =
  | { readonly _tag: "Blob"; readonly hash: Sha256; readonly via: string }
  | { readonly _tag: "Record"; readonly record: StageRecord; readonly via: string }

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
        return yield* new NotFound({ what: name, detail: `ambiguous prefix: matches ${blobs.length + keys.length} hashes` })
      }
      if (blobs.length === 1) return { _tag: "Blob", hash: blobs[0], via: name } satisfies Resolved
      if (keys.length === 1) {
        const record = yield* asRecord(keys[0])
        if (Option.isSome(record)) return { _tag: "Record", record: record.value, via: name } satisfies Resolved
      }
    }
    return yield* new NotFound({ what: name, detail: "no blob, stage record or ref by that name in the store" })
  })

const RunManifest = Schema.Struct({
  artifact: Schema.Literal("run"),
  pipeline: Schema.String,
  nodes: Schema.Array(Schema.Struct({
    path: Schema.String,
    kind: Schema.String,
    tags: Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number])),
    key: Schema.String,
    outputs: Schema.Record(Schema.String, Schema.String)
  }))
})
export type RunManifest = typeof RunManifest.Type
const decodeManifest = Schema.decodeUnknownOption(Schema.fromJsonString(RunManifest))

export const readManifest = (store: ArtifactStoreShape, hash: Sha256) =>
  store.getBlob(hash).pipe(Effect.map((bytes) => decodeManifest(new TextDecoder().decode(bytes))))

/** The last run of each pipeline, by name. */
export const lastRuns = Effect.gen(function*() {
  const store = yield* ArtifactStore
  const refs = yield* store.listRefs(pipelineRef(""))
  const out: Array<{ readonly name: string; readonly hash: Sha256; readonly manifest: RunManifest }> = []
  for (const ref of refs) {
    const manifest = yield* readManifest(store, ref.value)
    if (Option.isSome(manifest)) out.push({ name: ref.name.slice(pipelineRef("").length), hash: ref.value, manifest: manifest.value })
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
      return `tokenizer: ${t.kind}-level, ${t.vocab.length} types, lowercase ${t.lowercase}\n  first types: ${t.vocab.slice(0, 20).join(" ")}`
    }
    if (json.artifact === "curves") {
      return Curves.decode(bytes).map((c) =>
        `${c.title} (${c.assumption})\n` +
        alignTable(["gen", "predicted", "empirical mean", "95% interval"], c.points.map((p) => [
          String(p.generation), p.predicted.toPrecision(6), p.mean.toPrecision(6), `[${p.lo.toPrecision(6)}, ${p.hi.toPrecision(6)}]`
        ]))
      ).join("\n\n")
    }
    if (json.artifact === "run") {
      const m = decodeManifest(new TextDecoder().decode(bytes))
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
      catch: (e) => new ArtifactCorrupt({ hash, path: store.location, detail: `not a readable artifact: ${describe(e)}`, cause: e })
    })
  })

export const describeRecord = (r: StageRecord): string =>
  [
    `stage ${r.node} (${r.kind} v${r.version})`,
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
