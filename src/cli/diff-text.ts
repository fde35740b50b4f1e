/** `ouro diff` as text: the stages that differ and why, the nodes one side lacks, then the metrics side by side. */
import type { Diff } from "../audit/diff.ts"
import { columns } from "./columns.ts"

const number = (x: number | undefined) => (x === undefined ? "-" : String(Number(x.toPrecision(6))))

const change = (a: number | undefined, b: number | undefined) => {
  if (a === undefined || b === undefined) return "-"
  const d = b - a
  if (d === 0) return "0"
  const sign = d > 0 ? "+" : ""
  const relative = a === 0 ? "" : ` (${sign}${Number(((d / Math.abs(a)) * 100).toPrecision(3))}%)`
  return `${sign}${Number(d.toPrecision(4))}${relative}`
}

export const formatDiff = (d: Diff): string => {
  const out: string[] = [`a: ${d.a.label}, pipeline ${d.a.pipeline}`, `b: ${d.b.label}, pipeline ${d.b.pipeline}`, ""]
  if (d.changed.length === 0 && d.onlyA.length === 0 && d.onlyB.length === 0) {
    out.push("no stage differs: every node has the same key")
  } else {
    out.push(`${d.changed.length} stage${d.changed.length === 1 ? "" : "s"} whose key differs (a -> b):`)
    out.push(...columns(d.changed.map((c) => [c.path, c.reasons.join("; ")])))
    if (d.onlyA.length > 0) out.push("", `only in a: ${d.onlyA.join(", ")}`)
    if (d.onlyB.length > 0) out.push("", `only in b: ${d.onlyB.join(", ")}`)
  }
  if (d.metrics.length > 0) {
    out.push("", "metrics (mean over seeds):")
    const rows = d.metrics.map((
      m
    ) => [m.arm, String(m.generation), m.metric, number(m.a), number(m.b), change(m.a, m.b)])
    out.push(...columns([["arm", "gen", "metric", "a", "b", "change"], ...rows]))
  }
  return out.join("\n")
}
