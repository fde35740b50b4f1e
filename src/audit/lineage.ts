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
  /** The pipeline node path: the one asked about's ancestor in a run's lineage, else the one that first computed it. */
  readonly node: string
  readonly outputs: Readonly<Record<string, OutputEntry>>
  /** Every input of the record, `external:` fingerprints included. */
  readonly inputs: Readonly<Record<string, Sha256>>
  readonly timings: StageRecord["timings"]
  /** In a run's lineage: the record each traced input came from (its own upstream node), by input name. */
  readonly sources?: Readonly<Record<string, Sha256>>
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
  /** Set when this is a node's own ancestry in a run (its inputs followed along the run's wiring). */
  readonly of?: { readonly run: Sha256; readonly path: string }
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
    if (r === undefined) ranked.set(hash, r = rankProducers(hash, producers.get(hash) ?? []))
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
          notes.push(
            `artifact ${short(top.hash)}: every record producing it is on its own lineage; the cycle is cut here`
          )
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
      for (const [, hash] of tracedInputs(record.inputs).reverse()) {
        stack.push({ t: "artifact", hash, expanded: false, producer: undefined })
      }
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
/** Every record of the store, and those that cannot be read. */
const readRecords = Effect.gen(function*() {
  const store = yield* ArtifactStore
  const records = new Map<Sha256, StageRecord>()
  const unreadable = new Map<Sha256, ArtifactCorrupt>()
  for (const key of yield* store.listRecordKeys) {
    const r = yield* store.getRecord(key).pipe(
      Effect.catchTag("ArtifactCorrupt", (e) => Effect.sync(() => (unreadable.set(key, e), Option.none<StageRecord>())))
    )
    if (Option.isSome(r)) records.set(key, r.value)
  }
  return { records, unreadable }
})

const unreadableNote = (unreadable: ReadonlyMap<Sha256, unknown>) =>
  unreadable.size > 0
    ? [`${unreadable.size} unreadable stage record(s) skipped: ${[...unreadable.keys()].map(short).join(", ")}`]
    : []

export const lineage = (
  target: string
): Effect.Effect<Lineage, StoreError | ArtifactCorrupt | NotFound, ArtifactStore> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const { records, unreadable } = yield* readRecords
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
    return { ...core, artifacts, notes: [...core.notes, ...unreadableNote(unreadable)] } satisfies Lineage
  })

// ---------------------------------------------------------------------------------------------------------------
// A node's own ancestry in a run

/** A run as lineage needs it: its manifest's nodes in order (dependencies first), each with its key and outputs. */
export interface RunNodes {
  readonly hash: Sha256
  readonly nodes: ReadonlyArray<
    { readonly path: string; readonly key: Sha256; readonly outputs: Readonly<Record<string, Sha256>> }
  >
}

/** Which node of a run each traced input of a node came from: path → input name → the producing node's path. */
export type Wiring = ReadonlyMap<string, Readonly<Record<string, string>>>

/**
 * The wiring of a run. `structure` (from the pipeline file, by path: input name → source path and output) is
 * taken where it agrees with the run (the source's output there has the bytes the record read); elsewhere, and
 * without it, an input comes from the latest node before its consumer in the run that produced those bytes.
 */
export const runWiring = (
  run: RunNodes,
  records: ReadonlyMap<Sha256, StageRecord>,
  structure:
    | ReadonlyMap<string, Readonly<Record<string, { readonly path: string; readonly output: string }>>>
    | undefined
): Wiring => {
  const byPath = new Map(run.nodes.map((n) => [n.path, n]))
  const wiring = new Map<string, Record<string, string>>()
  run.nodes.forEach((n, i) => {
    const record = records.get(n.key)
    if (record === undefined) return
    const wires: Record<string, string> = {}
    for (const [name, hash] of tracedInputs(record.inputs)) {
      const source = structure?.get(n.path)?.[name]
      if (source !== undefined && byPath.get(source.path)?.outputs[source.output] === hash) {
        wires[name] = source.path
        continue
      }
      for (let j = i - 1; j >= 0; j--) {
        if (Object.values(run.nodes[j].outputs).includes(hash)) {
          wires[name] = run.nodes[j].path
          break
        }
      }
    }
    wiring.set(n.path, wires)
  })
  return wiring
}

/** The walk along a run's wiring, pure and iterative; node and artifact order as in `walk`. */
const walkRun = (records: ReadonlyMap<Sha256, StageRecord>, run: RunNodes, root: string, wiring: Wiring): Core => {
  const byPath = new Map(run.nodes.map((n) => [n.path, n]))
  const producers = new Map<Sha256, Sha256[]>()
  for (const r of records.values()) {
    for (const out of Object.values(r.outputs)) {
      const list = producers.get(out.hash) ?? []
      if (!list.includes(r.key)) list.push(r.key)
      producers.set(out.hash, list)
    }
  }
  const nodes: LineageNode[] = []
  const artifacts = new Map<Sha256, Omit<LineageArtifact, "stored">>()
  const notes: string[] = []
  const state = new Map<string, "open" | "done">()
  const doneKeys = new Set<Sha256>()
  const typeOf = (key: Sha256 | undefined, hash: Sha256) =>
    Object.values((key === undefined ? undefined : records.get(key))?.outputs ?? {}).find((o) => o.hash === hash)
      ?.artifact ??
      (producers.get(hash) ?? []).map((k) =>
        Object.values(records.get(k)!.outputs).find((o) => o.hash === hash)?.artifact
      ).find((a) => a !== undefined)
  const addArtifact = (hash: Sha256, producer: Sha256 | undefined) => {
    if (artifacts.has(hash)) return
    artifacts.set(hash, {
      hash,
      artifact: typeOf(producer, hash),
      producedBy: producer,
      alsoProducedBy: (producers.get(hash) ?? []).filter((k) => k !== producer).sort(cmp)
    })
  }
  const stack: Array<{ readonly path: string; expanded: boolean }> = [{ path: root, expanded: false }]
  while (stack.length > 0) {
    const top = stack[stack.length - 1]
    const entry = byPath.get(top.path)
    const record = entry === undefined ? undefined : records.get(entry.key)
    if (!top.expanded) {
      if (state.has(top.path)) {
        stack.pop()
        continue
      }
      state.set(top.path, "open")
      top.expanded = true
      const wires = wiring.get(top.path) ?? {}
      for (const [name] of tracedInputs(record?.inputs ?? {}).reverse()) {
        const source = wires[name]
        if (source !== undefined && !state.has(source)) stack.push({ path: source, expanded: false })
      }
      continue
    }
    stack.pop()
    state.set(top.path, "done")
    if (record === undefined) {
      notes.push(
        `${top.path}: its stage record ${
          entry === undefined ? "" : short(entry.key) + " "
        }is not in the store (or unreadable)`
      )
      continue
    }
    if (doneKeys.has(record.key)) continue
    doneKeys.add(record.key)
    const wires = wiring.get(top.path) ?? {}
    const sources: Record<string, Sha256> = {}
    for (const [name] of tracedInputs(record.inputs)) {
      const key = wires[name] === undefined ? undefined : byPath.get(wires[name])?.key
      if (key !== undefined && records.has(key)) sources[name] = key
    }
    nodes.push({
      key: record.key,
      kind: record.kind,
      version: record.version,
      params: record.params,
      node: top.path,
      outputs: record.outputs,
      inputs: record.inputs,
      timings: record.timings,
      sources
    })
    for (const [name, hash] of tracedInputs(record.inputs)) addArtifact(hash, sources[name])
  }
  const rootRecord = records.get(byPath.get(root)!.key)
  if (rootRecord !== undefined) {
    for (const [, out] of sortedEntries(rootRecord.outputs)) addArtifact(out.hash, rootRecord.key)
  }
  return { root: byPath.get(root)!.key, rootKind: "stage", nodes, artifacts: [...artifacts.values()], notes }
}

/**
 * The lineage of one node of a run, by its path: its own inputs followed back along the run's wiring to the seeds,
 * each stage shown at its path in this run. Bytes other records also produced (a stage shared by two arms, an
 * identity-like mix) are named as twins, not followed.
 */
export const runNodeLineage = (
  run: RunNodes,
  path: string,
  structure?: ReadonlyMap<string, Readonly<Record<string, { readonly path: string; readonly output: string }>>>
): Effect.Effect<Lineage, StoreError | NotFound, ArtifactStore> =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    if (!run.nodes.some((n) => n.path === path)) {
      return yield* new NotFound({ what: path, detail: `no node by that path in run ${short(run.hash)}` })
    }
    const { records, unreadable } = yield* readRecords
    const core = walkRun(records, run, path, runWiring(run, records, structure))
    const artifacts: LineageArtifact[] = []
    for (const a of core.artifacts) artifacts.push({ ...a, stored: yield* store.hasBlob(a.hash) })
    return {
      ...core,
      artifacts,
      notes: [...core.notes, ...unreadableNote(unreadable)],
      of: { run: run.hash, path }
    } satisfies Lineage
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
  // In a run's lineage, a stage some node's input came from generated those bytes there.
  const sourced = new Set(
    l.nodes.flatMap((n) => Object.entries(n.sources ?? {}).map(([name, key]) => `${key} ${n.inputs[name]}`))
  )
  for (const n of l.nodes) {
    for (const [role, hash] of tracedInputs(n.inputs)) {
      if (byHash.has(hash)) used.push({ activity: n.key, entity: hash, role })
    }
    for (const [role, out] of sortedEntries(n.outputs)) {
      // Only the producer shown for these bytes generated them here; other records making the same bytes are noted.
      if (byHash.get(out.hash)?.producedBy === n.key || sourced.has(`${n.key} ${out.hash}`)) {
        generated.push({ activity: n.key, entity: out.hash, role })
      }
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

  // Byte-identical twins (other records that made the same bytes) are named once, where the bytes first appear.
  const named = new Set<Sha256>()
  const artifactLine = (hash: Sha256) => {
    const a = byHash.get(hash)
    const parts = [short(hash), a?.artifact ?? "(unknown type)"]
    if (a !== undefined && !a.stored) parts.push("[blob missing]")
    if (a !== undefined && a.alsoProducedBy.length > 0 && !named.has(hash)) {
      named.add(hash)
      const shown = l.of === undefined ? "; shown: the earliest run" : ""
      parts.push(
        `(same bytes also from ${a.alsoProducedBy.length} other record(s): ${
          a.alsoProducedBy.map(short).join(", ")
        }${shown})`
      )
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
    for (const [name, hash] of inputs) printArtifact(hash, `${name}: `, `${indent}    `, n.sources?.[name])
  }

  const printArtifact = (hash: Sha256, label: string, indent: string, source?: Sha256) => {
    lines.push(`${indent}${label}${artifactLine(hash)}`)
    const producer = source ?? byHash.get(hash)?.producedBy
    const n = producer === undefined ? undefined : byKey.get(producer)
    if (n === undefined) lines.push(`${indent}  (no stage record produced it)`)
    else printStage(n, `${indent}  `)
  }

  if (l.rootKind === "artifact") printArtifact(l.root, "", "")
  else {
    const n = byKey.get(l.root)!
    lines.push(`stage ${stageLabel(n)} ${short(n.key)}${l.of === undefined ? "" : ` in run ${short(l.of.run)}`}`)
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
    wasGeneratedBy[id] = {
      "prov:entity": entityId(g.entity),
      "prov:activity": activityId(g.activity),
      "prov:role": g.role
    }
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

const dotString = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")}"`

/** Boxes for stages, ellipses for artifacts; edges input → stage → output. */
export const toDot = (l: Lineage): string => {
  const lines = ["digraph lineage {", "  rankdir=LR;", "  node [fontname=\"monospace\"];"]
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
  for (const u of used) {
    lines.push(`  ${dotString(`a:${u.entity}`)} -> ${dotString(`s:${u.activity}`)} [label=${dotString(u.role)}];`)
  }
  for (const g of generated) {
    lines.push(`  ${dotString(`s:${g.activity}`)} -> ${dotString(`a:${g.entity}`)} [label=${dotString(g.role)}];`)
  }
  lines.push("}")
  return lines.join("\n") + "\n"
}
