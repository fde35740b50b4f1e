/**
 * `--json`: what plan, ls, status, show and verify print for a script, each exactly one JSON document on stdout (and
 * nothing else there). The shapes are documented in README ("For scripts: --json") and versioned by `format`: a field
 * may be added, none renamed or removed without a new format.
 */
import type { PlanEntry } from "../engine/plan.ts"
import type { VerifyReport } from "../audit/verify.ts"
import type { StageRecord } from "../store/record.ts"
import type { RunManifest } from "./inspect.ts"

export const JSON_FORMAT = 1

/** The one document, on one line of stdout. */
export const jsonLine = (kind: string, body: object): string => JSON.stringify({ format: JSON_FORMAT, kind, ...body })

/** `ouro plan --json`. */
export const planJson = (pipeline: string, entries: ReadonlyArray<PlanEntry>): string => {
  const count = (s: string) => entries.filter((e) => e.status === s).length
  return jsonLine("plan", {
    pipeline,
    counts: { stages: entries.length, cached: count("cached"), run: count("run"), pending: count("pending") },
    stages: entries.map((e) => ({
      path: e.node.path,
      kind: e.node.stage.kind,
      status: e.status,
      key: e.key ?? null,
      reasons: [...e.reasons]
    }))
  })
}

interface LastRun {
  readonly name: string
  readonly hash: string
  readonly manifest: RunManifest
}

/** `ouro ls --json`: each pipeline's last run and every artifact it made. */
export const lsJson = (runs: ReadonlyArray<LastRun>): string =>
  jsonLine("ls", {
    pipelines: runs.map((r) => ({
      name: r.name,
      run: r.hash,
      artifacts: r.manifest.nodes.flatMap((n) =>
        Object.entries(n.outputs).map(([output, hash]) => ({ stage: n.path, output, kind: n.kind, hash }))
      )
    }))
  })

/** `ouro status --json`. */
export const statusJson = (o: {
  readonly store: string
  readonly blobs: number
  readonly bytes: number
  readonly records: number
  readonly strays: number
  readonly runs: ReadonlyArray<LastRun>
}): string =>
  jsonLine("status", {
    store: o.store,
    blobs: o.blobs,
    bytes: o.bytes,
    records: o.records,
    strays: o.strays,
    pipelines: o.runs.map((r) => ({ name: r.name, run: r.hash, stages: r.manifest.nodes.length }))
  })

/** `ouro show --json` of a stage record: the record as stored, and each output's description. */
export const showRecordJson = (via: string, record: StageRecord, described: Readonly<Record<string, string>>): string =>
  jsonLine("show", {
    via,
    type: "record",
    record,
    outputs: Object.fromEntries(
      Object.entries(record.outputs).map(([name, o]) => [name, { ...o, text: described[name] ?? "" }])
    )
  })

/** `ouro show --json` of a blob: its hash, size and description. */
export const showBlobJson = (via: string, hash: string, bytes: number, text: string): string =>
  jsonLine("show", { via, type: "blob", hash, bytes, text })

/** `ouro verify --json`: the counts, every problem, and whether the store is clean. */
export const verifyJson = (store: string, report: VerifyReport, clean: boolean): string =>
  jsonLine("verify", {
    store,
    clean,
    checked: { blobs: report.blobs, records: report.records, refs: report.refs },
    corrupt: report.corrupt,
    missing: report.missing
  })
