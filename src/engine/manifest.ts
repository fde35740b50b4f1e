/**
 * A run manifest: the blob a completed run writes, naming every node's path, kind, tags, key and output hashes (no
 * timings, so the same results give the same bytes). Encoded here, by execute and by anything that must know which
 * manifest a computed pipeline amounts to, and decoded here, by everything that reads one back.
 */
import { Effect, Option, Schema } from "effect"
import { canonicalJson, sha256, type Sha256 } from "../hash/index.ts"
import type { ArtifactStoreShape } from "../store/ArtifactStore.ts"

export const RunManifest = Schema.Struct({
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
export type ManifestNode = RunManifest["nodes"][number]

const decode = Schema.decodeUnknownOption(Schema.fromJsonString(RunManifest))

/** The manifest's bytes: canonical JSON, so equal runs give equal bytes. */
export const encodeManifest = (pipeline: string, nodes: ReadonlyArray<ManifestNode>): Uint8Array =>
  new TextEncoder().encode(canonicalJson({ artifact: "run", pipeline, nodes }))

export const manifestHash = (pipeline: string, nodes: ReadonlyArray<ManifestNode>): Sha256 =>
  sha256(encodeManifest(pipeline, nodes))

export const decodeManifest = (bytes: Uint8Array): Option.Option<RunManifest> =>
  bytes[0] === 0x7b ? decode(new TextDecoder().decode(bytes)) : Option.none()

/** The manifest in a blob; none if the blob is something else. */
export const readManifest = (store: ArtifactStoreShape, hash: Sha256) =>
  store.getBlob(hash).pipe(Effect.map(decodeManifest))
