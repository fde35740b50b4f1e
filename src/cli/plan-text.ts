/**
 * `ouro plan` as a person reads it: the summary line first, then one line per stage (status, path, the first
 * reason); with `verbose`, each stage's kind and key, and every reason on a line of its own.
 */
import type { PlanEntry } from "../engine/plan.ts"
import { columns } from "./columns.ts"

const short = (h: string | undefined) => (h === undefined ? "-" : h.slice(0, 12))

export const planSummary = (entries: ReadonlyArray<PlanEntry>): string => {
  const count = (s: string) => entries.filter((e) => e.status === s).length
  return `${entries.length} stages: ${count("cached")} cached, ${count("run")} will run, ${
    count("pending")
  } pending (run unless their inputs come out unchanged)`
}

export const renderPlan = (entries: ReadonlyArray<PlanEntry>, options: { readonly verbose?: boolean } = {}): string => {
  if (options.verbose !== true) {
    const rows = entries.map((e) => [e.status, e.node.path, e.reasons[0] ?? ""])
    return [planSummary(entries), "", ...columns(rows)].join("\n")
  }
  const heads = columns(entries.map((e) => [e.status, e.node.path, e.node.stage.kind, short(e.key)]))
  const lines = entries.flatMap((e, i) => [heads[i], ...e.reasons.map((r) => `    ${r}`)])
  return [planSummary(entries), "", ...lines].join("\n")
}
