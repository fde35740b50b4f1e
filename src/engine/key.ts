/** What a node's key is made of, and why a node's key differs from the one it had last time. */
import { Effect } from "effect"
import { StageFailed } from "../errors/index.ts"
import type { PipelineNode } from "../pipeline/pipeline.ts"
import { canonicalJson, stageKey, type KeyMaterial, type Sha256 } from "../hash/index.ts"
import type { StageRecord } from "../store/record.ts"
import { CODE_INPUT, type Stage } from "../pipeline/stage.ts"

export const keyMaterial = (stage: Stage, inputs: Readonly<Record<string, Sha256>>): KeyMaterial => {
  if (stage.params._tag === "Invalid") throw new Error(`unreachable: invalid params for ${stage.kind}`)
  return { kind: stage.kind, version: stage.version, params: stage.params.encoded, inputs, env: stage.env }
}

export const keyOf = (stage: Stage, inputs: Readonly<Record<string, Sha256>>): Sha256 =>
  stageKey(keyMaterial(stage, inputs))

/** The record of a node's run: its key material, what it produced, and when and how long it ran. */
export const stageRecord = (
  node: PipelineNode,
  key: Sha256,
  inputs: Readonly<Record<string, Sha256>>,
  outputs: StageRecord["outputs"],
  startedAt: Date
): StageRecord => {
  const material = keyMaterial(node.stage, inputs)
  return {
    key,
    kind: material.kind,
    version: material.version,
    params: material.params as StageRecord["params"],
    inputs: material.inputs,
    outputs,
    env: material.env,
    node: node.path,
    timings: { startedAt: startedAt.toISOString(), ms: Date.now() - startedAt.getTime() }
  }
}

/**
 * The key a stored record's own contents hash to: its key material is what the planner hashed when it ran (see
 * execute.ts), so an intact record's key is this. Throws if the contents have no canonical encoding.
 */
export const recordKey = (record: Pick<StageRecord, "kind" | "version" | "params" | "inputs" | "env">): Sha256 =>
  stageKey({
    kind: record.kind,
    version: record.version,
    params: record.params,
    inputs: record.inputs,
    env: record.env
  })

/** A stage's external fingerprints, named as the inputs they become in its key. */
export const externalInputs = (node: PipelineNode) =>
  node.stage.external().pipe(
    Effect.map((ext) => Object.fromEntries(Object.entries(ext).map(([name, hash]) => [`external:${name}`, hash]))),
    Effect.mapError((e) => new StageFailed({ node: node.path, kind: node.stage.kind, detail: e.detail }))
  )

/** The key input of a file a command stage reads: "external:file:<path>". */
const FILE_INPUT = "external:file:"

const short = (h: string) => h.slice(0, 12)
const show = (v: unknown) => (v === undefined ? "absent" : canonicalJson(v))

/** Leaf paths at which two JSON values differ: "sampling.temperature". */
export const jsonDiff = (a: unknown, b: unknown, path = ""): string[] => {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    return keys.flatMap((k) => jsonDiff(a[k], b[k], path === "" ? k : `${path}.${k}`))
  }
  return show(a) === show(b) ? [] : [`${path === "" ? "(root)" : path} ${show(b)} -> ${show(a)}`]
}

/**
 * Why `material` does not match `previous` (the record this node had last time). `pending` names inputs whose
 * hash is not known yet because the node producing them will run first.
 */
export const explain = (
  material: Omit<KeyMaterial, "inputs"> & { readonly inputs: Readonly<Record<string, Sha256 | undefined>> },
  previous: StageRecord | undefined,
  pending: Readonly<Record<string, string>>
): string[] => {
  const reasons: string[] = []
  for (const [input, producer] of Object.entries(pending)) {
    reasons.push(`input ${input} will be recomputed by ${producer}`)
  }
  if (previous === undefined) return [...reasons, "new stage (never run before)"]
  if (previous.kind !== material.kind) reasons.push(`kind changed ${previous.kind} -> ${material.kind}`)
  if (previous.version !== material.version) reasons.push(`version bumped ${previous.version} -> ${material.version}`)
  for (const d of jsonDiff(material.params, previous.params)) reasons.push(`params field ${d}`)
  for (const [input, hash] of Object.entries(material.inputs)) {
    if (hash !== undefined && previous.inputs[input] !== hash) {
      // A file a command stage reads (its script, a config): named by its path.
      if (input === `external:${CODE_INPUT}`) reasons.push("code of run changed (the stage's run function's source)")
      else if (input.startsWith(FILE_INPUT)) {
        reasons.push(
          `file ${input.slice(FILE_INPUT.length)} ${previous.inputs[input] === undefined ? "added" : "changed"}`
        )
      } else reasons.push(`input ${input} changed ${short(previous.inputs[input] ?? "none")} -> ${short(hash)}`)
    }
  }
  for (const d of jsonDiff(material.env, previous.env)) reasons.push(`env ${d}`)
  return reasons
}
