/**
 * Lineage: where an artifact's bytes came from. Starting at a blob (or a stage record), each artifact is traced to
 * the record that produced it and through that record's inputs back to records with no inputs (the seeds). The
 * result is a DAG value; formatters render it as an indented tree, W3C PROV-JSON, or Graphviz DOT.
 */
import { Effect, Option } from "effect"
import { ArtifactCorrupt, NotFound, type StoreError } from "../errors/index.ts"
import { canonicalJson, isSha256, type Sha256 } from "../hash/index.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import type { OutputEntry, StageRecord } from "../store/record.ts"

export interface LineageNode {
  readonly key: Sha256
  readonly kind: string
  readonly version: number
  readonly params: StageRecord["params"]
  /** The pipeline node path that first computed it. */
  readonly node: string
  readonly outputs: Readonly<Record<string, OutputEntry>>
  /** Every input of the record, `external:` fingerprints included. */
  readonly inputs: Readonly<Record<string, Sha256>>
  readonly timings: StageRecord["timings"]
}

export interface LineageArtifact {
  readonly hash: Sha256
  /** The artifact type named by the producing record; undefined when no record produced it. */
  readonly artifact: string | undefined
  /** The record shown as its producer; undefined for bytes no stage record produced. */
  readonly producedBy: Sha256 | undefined
  /** Other records that produced the same bytes (not traced), sorted. */
  readonly alsoProducedBy: ReadonlyArray<Sha256>
  /** Whether the blob is in the store now. */
  readonly stored: boolean
}

export interface Lineage {
  /** The blob hash or record key asked about. */
  readonly root: Sha256
  readonly rootKind: "artifact" | "stage"
  /** Dependencies before dependents (a topological order). */
  readonly nodes: ReadonlyArray<LineageNode>
  /** Producers' outputs after their inputs; the root artifact last. */
  readonly artifacts: ReadonlyArray<LineageArtifact>
  /** Things a reader should know: unreadable records skipped, cycles cut. */
  readonly notes: ReadonlyArray<string>
}

const isExternal = (input: string) => input.startsWith("external:")
const short = (h: string) => h.slice(0, 12)
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
const tracedInputs = (inputs: Readonly<Record<string, Sha256>>) =>
  Object.entries(inputs).filter(([name]) => !isExternal(name)).sort(([a], [b]) => cmp(a, b))
const sortedEntries = <A>(o: Readonly<Record<string, A>>) => Object.entries(o).sort(([a], [b]) => cmp(a, b))

/**
 * Which of several records producing the same bytes is shown: one that does not itself consume those bytes
 * (an identity-like stage, e.g. a filter that kept everything, would loop), then the earliest run (the bytes'
 * first appearance), then the smallest key.
 */
const rankProducers = (hash: Sha256, candidates: ReadonlyArray<StageRecord>): StageRecord[] =>
  [...candidates].sort((a, b) => {
    const selfA = Object.values(a.inputs).includes(hash) ? 1 : 0
    const selfB = Object.values(b.inputs).includes(hash) ? 1 : 0
    return selfA - selfB || cmp(a.timings.startedAt, b.timings.startedAt) || cmp(a.key, b.key)
  })

type Core = Omit<Lineage, "artifacts"> & { readonly artifacts: ReadonlyArray<Omit<LineageArtifact, "stored">> }

type Frame =
  | { readonly t: "artifact"; readonly hash: Sha256; expanded: boolean; producer: StageRecord | undefined }
  | { readonly t: "record"; readonly record: StageRecord; expanded: boolean }

/** The walk itself, pure. Iterative, so that long generation chains cannot overflow the stack. */
const walk = (records: ReadonlyMap<Sha256, StageRecord>, root: Sha256, rootKind: Lineage["rootKind"]): Core => {
  const producers = new Map<Sha256, StageRecord[]>()
  for (const r of records.values()) {
    for (const out of Object.values(r.outputs)) {
      const list = producers.get(out.hash) ?? []
      if (!list.includes(r)) list.push(r)
      producers.set(out.hash, list)
    }
  }
  const ranked = new Map<Sha256, StageRecord[]>()
  const rankedFor = (hash: Sha256) => {
    let r = ranked.get(hash)
    if (r === undefined) ranked.set(hash, (r = rankProducers(hash, producers.get(hash) ?? [])))
    return r
  }

  const nodes: LineageNode[] = []
  const nodeState = new Map<Sha256, "open" | "done">()
  const artifacts = new Map<Sha256, Omit<LineageArtifact, "stored">>()
  const openArtifacts = new Set<Sha256>()
  const notes: string[] = []
  const typeOf = (record: StageRecord | undefined, hash: Sha256) =>
    record === undefined ? undefined : Object.values(record.outputs).find((o) => o.hash === hash)?.artifact

  const stack: Frame[] = rootKind === "stage"
    ? [{ t: "record", record: records.get(root)!, expanded: false }]
    : [{ t: "artifact", hash: root, expanded: false, producer: undefined }]
  while (stack.length > 0) {
    const top = stack[stack.length - 1]
    if (top.t === "artifact") {
      if (!top.expanded) {
        if (artifacts.has(top.hash) || openArtifacts.has(top.hash)) {
          stack.pop()
          continue
        }
        openArtifacts.add(top.hash)
        top.expanded = true
        const candidates = rankedFor(top.hash)
        // A producer already on the path would make a cycle (records with inconsistent timings): take the next.
        top.producer = candidates.find((r) => nodeState.get(r.key) !== "open")
        if (top.producer === undefined && candidates.length > 0) {
          notes.push(`artifact ${short(top.hash)}: every record producing it is on its own lineage; the cycle is cut here`)
        }
        if (top.producer !== undefined && !nodeState.has(top.producer.key)) {
          stack.push({ t: "record", record: top.producer, expanded: false })
        }
        continue
      }
      stack.pop()
      openArtifacts.delete(top.hash)
      const producer = top.producer
      artifacts.set(top.hash, {
        hash: top.hash,
        artifact: typeOf(producer, top.hash),
        producedBy: producer?.key,
        alsoProducedBy: rankedFor(top.hash).map((r) => r.key).filter((k) => k !== producer?.key).sort(cmp)
      })
      continue
    }
    const { record } = top
    if (!top.expanded) {
      if (nodeState.has(record.key)) {
        stack.pop()
        continue
      }
      nodeState.set(record.key, "open")
      top.expanded = true
      // Reversed so that the first input (by name) is walked first.
      for (const [, hash] of tracedInputs(record.inputs).reverse()) stack.push({ t: "artifact", hash, expanded: false, producer: undefined })
      continue
    }
    stack.pop()
    nodeState.set(record.key, "done")
    nodes.push({
      key: record.key,
      kind: record.kind,
      version: record.version,
      params: record.params,
      node: record.node,
      outputs: record.outputs,
      inputs: record.inputs,
      timings: record.timings
    })
  }
  if (rootKind === "stage") {
    // The record asked about is by definition the producer of its outputs.
    const record = records.get(root)!
    for (const [, out] of sortedEntries(record.outputs)) {
      if (artifacts.has(out.hash)) continue
      artifacts.set(out.hash, {
        hash: out.hash,
        artifact: out.artifact,
        producedBy: record.key,
        alsoProducedBy: rankedFor(out.hash).map((r) => r.key).filter((k) => k !== record.key).sort(cmp)
      })
    }
  }
  return { root, rootKind, nodes, artifacts: [...artifacts.values()], notes }
}

/**
 * The lineage of a blob (by full hash) or of a stage record (by full key). Reads every record once to index
 * which record produced which bytes; unreadable records are skipped and named in `notes`.
 */
export const lineage = (target: string): Effect.Effect<Lineage, StoreError | ArtifactCorrupt | NotFound, ArtifactStore> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const records = new Map<Sha256, StageRecord>()
    const unreadable = new Map<Sha256, ArtifactCorrupt>()
    for (const key of yield* store.listRecordKeys) {
      const r = yield* store.getRecord(key).pipe(
        Effect.catchTag("ArtifactCorrupt", (e) => Effect.sync(() => (unreadable.set(key, e), Option.none<StageRecord>())))
      )
      if (Option.isSome(r)) records.set(key, r.value)
    }
    const bad = unreadable.get(target)
    if (bad !== undefined) return yield* bad
    let rootKind: Lineage["rootKind"]
    if (records.has(target)) rootKind = "stage"
    else if (
      [...records.values()].some((r) => Object.values(r.outputs).some((o) => o.hash === target)) ||
      (isSha256(target) && (yield* store.hasBlob(target)))
    ) rootKind = "artifact"
    else return yield* new NotFound({ what: target, detail: "no blob or stage record with this hash in the store" })

    const core = walk(records, target, rootKind)
    const artifacts: LineageArtifact[] = []
    for (const a of core.artifacts) artifacts.push({ ...a, stored: yield* store.hasBlob(a.hash) })
    const notes = [...core.notes]
    if (unreadable.size > 0) {
      notes.push(`${unreadable.size} unreadable stage record(s) skipped: ${[...unreadable.keys()].map(short).join(", ")}`)
    }
    return { ...core, artifacts, notes } satisfies Lineage
  })

// ---------------------------------------------------------------------------------------------------------------
// Relations shared by the PROV and DOT renderings.

interface Usage {
  readonly activity: Sha256
  readonly entity: Sha256
  readonly role: string
}

/** used (activity ← entity) and generated (entity ← activity) edges, in a deterministic order. */
const relations = (l: Lineage) => {
  const byHash = new Map(l.artifacts.map((a) => [a.hash, a]))
  const used: Usage[] = []
  const generated: Usage[] = []
  for (const n of l.nodes) {
    for (const [role, hash] of tracedInputs(n.inputs)) if (byHash.has(hash)) used.push({ activity: n.key, entity: hash, role })
    for (const [role, out] of sortedEntries(n.outputs)) {
      // Only the producer shown for these bytes generated them here; other records making the same bytes are noted.
      if (byHash.get(out.hash)?.producedBy === n.key) generated.push({ activity: n.key, entity: out.hash, role })
    }
  }
  return { used, generated }
}

// ---------------------------------------------------------------------------------------------------------------
// Text

/** An indented tree from the root back to the seeds; a stage already printed is referenced "(see above)". */
export const formatLineageText = (l: Lineage): string => {
  const byHash = new Map(l.artifacts.map((a) => [a.hash, a]))
  const byKey = new Map(l.nodes.map((n) => [n.key, n]))
  const printed = new Set<Sha256>()
  const lines: string[] = []
  const stageLabel = (n: LineageNode) => `${n.node} (${n.kind} v${n.version}, ${canonicalJson(n.params)})`

  const artifactLine = (hash: Sha256) => {
    const a = byHash.get(hash)
    const parts = [short(hash), a?.artifact ?? "(unknown type)"]
    if (a !== undefined && !a.stored) parts.push("[blob missing]")
    if (a !== undefined && a.alsoProducedBy.length > 0) {
      parts.push(`(same bytes also from ${a.alsoProducedBy.length} other record(s): ${a.alsoProducedBy.map(short).join(", ")}; shown: the earliest run)`)
    }
    return parts.join(" ")
  }

  const printStage = (n: LineageNode, indent: string) => {
    if (printed.has(n.key)) {
      lines.push(`${indent}← ${n.node} (${n.kind} v${n.version}) ${short(n.key)} (see above)`)
      return
    }
    printed.add(n.key)
    const inputs = tracedInputs(n.inputs)
    const externals = Object.entries(n.inputs).filter(([name]) => isExternal(name)).sort(([a], [b]) => cmp(a, b))
    lines.push(`${indent}← ${stageLabel(n)} ${short(n.key)}${inputs.length === 0 ? " [seed]" : ""}`)
    for (const [name, hash] of externals) lines.push(`${indent}    ${name} ${short(hash)}`)
    for (const [name, hash] of inputs) printArtifact(hash, `${name}: `, `${indent}    `)
  }

  const printArtifact = (hash: Sha256, label: string, indent: string) => {
    lines.push(`${indent}${label}${artifactLine(hash)}`)
    const producer = byHash.get(hash)?.producedBy
    const n = producer === undefined ? undefined : byKey.get(producer)
    if (n === undefined) lines.push(`${indent}  (no stage record produced it)`)
    else printStage(n, `${indent}  `)
  }

  if (l.rootKind === "artifact") printArtifact(l.root, "", "")
  else {
    const n = byKey.get(l.root)!
    lines.push(`stage ${stageLabel(n)} ${short(n.key)}`)
    for (const [name, out] of sortedEntries(n.outputs)) lines.push(`  → ${name}: ${artifactLine(out.hash)}`)
    printStage(n, "")
  }
  for (const note of l.notes) lines.push(`note: ${note}`)
  return lines.join("\n")
}

// ---------------------------------------------------------------------------------------------------------------
// W3C PROV-JSON (https://www.w3.org/Submission/prov-json/)

export const PROV_PREFIX = "urn:ouroboros:"
export const entityId = (hash: Sha256) => `ouro:sha256-${hash}`
export const activityId = (key: Sha256) => `ouro:stage-${key}`

export type ProvAttributes = Record<string, string | number | boolean>

export interface ProvDocument {
  readonly prefix: Record<string, string>
  readonly entity: Record<string, ProvAttributes>
  readonly activity: Record<string, ProvAttributes>
  readonly used: Record<string, ProvAttributes>
  readonly wasGeneratedBy: Record<string, ProvAttributes>
  readonly wasDerivedFrom: Record<string, ProvAttributes>
}

export const toProvJson = (l: Lineage): ProvDocument => {
  const entity: Record<string, ProvAttributes> = {}
  for (const a of l.artifacts) {
    entity[entityId(a.hash)] = {
      "prov:type": "ouro:Artifact",
      "ouro:artifact": a.artifact ?? "unknown",
      "ouro:hash": a.hash,
      "ouro:stored": a.stored
    }
  }
  const activity: Record<string, ProvAttributes> = {}
  for (const n of l.nodes) {
    const attrs: ProvAttributes = {
      "prov:type": n.kind,
      "prov:startTime": n.timings.startedAt,
      "prov:endTime": new Date(Date.parse(n.timings.startedAt) + n.timings.ms).toISOString(),
      "ouro:key": n.key,
      "ouro:version": n.version,
      "ouro:node": n.node,
      "ouro:params": canonicalJson(n.params)
    }
    const externals = Object.fromEntries(Object.entries(n.inputs).filter(([name]) => isExternal(name)))
    if (Object.keys(externals).length > 0) attrs["ouro:external"] = canonicalJson(externals)
    activity[activityId(n.key)] = attrs
  }
  const { used: uses, generated } = relations(l)
  const used: Record<string, ProvAttributes> = {}
  const usageIds = new Map<Sha256, Array<{ id: string; entity: Sha256 }>>()
  uses.forEach((u, i) => {
    const id = `_:u${i + 1}`
    used[id] = { "prov:activity": activityId(u.activity), "prov:entity": entityId(u.entity), "prov:role": u.role }
    usageIds.set(u.activity, [...(usageIds.get(u.activity) ?? []), { id, entity: u.entity }])
  })
  const wasGeneratedBy: Record<string, ProvAttributes> = {}
  const wasDerivedFrom: Record<string, ProvAttributes> = {}
  let d = 0
  generated.forEach((g, i) => {
    const id = `_:g${i + 1}`
    wasGeneratedBy[id] = { "prov:entity": entityId(g.entity), "prov:activity": activityId(g.activity), "prov:role": g.role }
    for (const u of usageIds.get(g.activity) ?? []) {
      wasDerivedFrom[`_:d${++d}`] = {
        "prov:generatedEntity": entityId(g.entity),
        "prov:usedEntity": entityId(u.entity),
        "prov:activity": activityId(g.activity),
        "prov:generation": id,
        "prov:usage": u.id
      }
    }
  })
  return { prefix: { ouro: PROV_PREFIX }, entity, activity, used, wasGeneratedBy, wasDerivedFrom }
}

// ---------------------------------------------------------------------------------------------------------------
// Graphviz DOT

const dotString = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`

/** Boxes for stages, ellipses for artifacts; edges input → stage → output. */
export const toDot = (l: Lineage): string => {
  const lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="monospace"];']
  for (const a of l.artifacts) {
    const label = `${short(a.hash)}\n${a.artifact ?? "unknown"}${a.stored ? "" : "\n(missing)"}`
    const extra = a.hash === l.root ? ", penwidth=2" : ""
    lines.push(`  ${dotString(`a:${a.hash}`)} [shape=ellipse, label=${dotString(label)}${extra}];`)
  }
  for (const n of l.nodes) {
    const label = `${n.node}\n${n.kind} v${n.version}\n${short(n.key)}`
    const extra = n.key === l.root ? ", penwidth=2" : ""
    lines.push(`  ${dotString(`s:${n.key}`)} [shape=box, label=${dotString(label)}${extra}];`)
  }
  const { used, generated } = relations(l)
  for (const u of used) lines.push(`  ${dotString(`a:${u.entity}`)} -> ${dotString(`s:${u.activity}`)} [label=${dotString(u.role)}];`)
  for (const g of generated) lines.push(`  ${dotString(`s:${g.activity}`)} -> ${dotString(`a:${g.entity}`)} [label=${dotString(g.role)}];`)
  lines.push("}")
  return lines.join("\n") + "\n"
}
