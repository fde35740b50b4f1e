/**
 * bench/claims: checks the main job's story against the numbers `ouro metrics` exports, and prints each claim with
 * PASS or FAIL and the numbers behind it (mean over seeds, 95% t-interval of the mean). Exit code 1 if any fails.
 *   node --import tsx bench/claims.ts                 runs `ouro metrics pipelines/story.ts --format csv` ($OURO_STORE)
 *   node --import tsx bench/claims.ts metrics.csv     reads a CSV written by `ouro metrics --format csv`
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { summarize } from "../src/report/summary.ts"

const ROOT = resolve(import.meta.dirname, "..")

/** RFC 4180 records: quoted fields may hold commas, quotes ("") and newlines. */
export const parseCsv = (text: string): string[][] => {
  const records: string[][] = []
  let record: string[] = []
  let field = ""
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === "\"" && text[i + 1] === "\"") field += text[++i]
      else if (c === "\"") quoted = false
      else field += c
    } else if (c === "\"") quoted = true
    else if (c === ",") {
      record.push(field)
      field = ""
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++
      record.push(field)
      records.push(record)
      record = []
      field = ""
    } else field += c
  }
  if (field !== "" || record.length > 0) records.push([...record, field])
  return records
}

type Row = Readonly<Record<string, string>>

const rowsOf = (csv: string): Row[] => {
  const [header, ...body] = parseCsv(csv)
  if (header === undefined) throw new Error("claims: the CSV is empty")
  for (const column of ["arm", "seed", "generation", "perplexity", "baseline_perplexity"]) {
    if (!header.includes(column)) throw new Error(`claims: the CSV has no column ${column}`)
  }
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])))
}

/** Per generation, the summary of a metric over seeds in one arm. */
const series = (rows: ReadonlyArray<Row>, arm: string, metric: string) => {
  const byGen = new Map<number, number[]>()
  for (const r of rows) {
    if (r.arm !== arm || r[metric] === undefined || r[metric] === "") continue
    const g = Number(r.generation)
    byGen.set(g, [...(byGen.get(g) ?? []), Number(r[metric])])
  }
  const gens = [...byGen.keys()].sort((a, b) => a - b)
  if (gens.length === 0) throw new Error(`claims: no ${metric} for arm ${arm}`)
  return gens.map((g) => ({ generation: g, ...summarize(byGen.get(g)!) }))
}

const f = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toFixed(4))
const band = (s: { mean: number; lo: number; hi: number }) => `${f(s.mean)} [${f(s.lo)}, ${f(s.hi)}]`

export interface Claim {
  readonly claim: string
  readonly pass: boolean
  readonly numbers: string
}

export const REPETITION = ["compression_ratio", "repeated_3gram_share", "word_rep_4", "rep_4"]

export const checkClaims = (csv: string): Claim[] => {
  const rows = rowsOf(csv)
  const ppl = (arm: string) => series(rows, arm, "perplexity")
  const last = <A>(xs: ReadonlyArray<A>) => xs[xs.length - 1]
  const replace = ppl("replace")
  const accumulate = ppl("accumulate")
  const subsample = ppl("accumulate-subsample")
  const fraction = ppl("real-fraction")
  const quality = ppl("quality")
  const untrained = series(rows, "replace", "baseline_perplexity")[0].mean
  const claims: Claim[] = []
  const rises = replace.every((s, i) => i === 0 || s.mean > replace[i - 1].mean)
  claims.push({
    claim: "replace: real-text perplexity rises at every generation",
    pass: rises,
    numbers: replace.map((s) => f(s.mean)).join(" → ")
  })
  const reached = Math.log(last(replace).mean / replace[0].mean) / Math.log(untrained / replace[0].mean)
  claims.push({
    claim: "replace: by the last generation, at least 1/3 of the log distance from generation 1 to the untrained model",
    pass: reached >= 1 / 3,
    numbers: `fraction reached ${reached.toFixed(3)} (gen 1 ${f(replace[0].mean)}, gen ${last(replace).generation} ${
      f(last(replace).mean)
    }, untrained ${f(untrained)})`
  })
  const drift = accumulate.map((s) => s.mean / accumulate[0].mean - 1)
  const worst = Math.max(...drift.map(Math.abs))
  claims.push({
    claim: "accumulate: within 10% of generation 1 at every generation",
    pass: worst <= 0.1,
    numbers: `largest change ${(100 * worst).toFixed(1)}% (${accumulate.map((s) => f(s.mean)).join(" → ")})`
  })
  claims.push({
    claim: "accumulate-subsample ends strictly between accumulate and replace",
    pass: last(accumulate).mean < last(subsample).mean && last(subsample).mean < last(replace).mean,
    numbers: `accumulate ${f(last(accumulate).mean)} < accumulate-subsample ${f(last(subsample).mean)} < replace ${
      f(last(replace).mean)
    }`
  })
  claims.push({
    claim: "real-fraction ends below replace",
    pass: last(fraction).mean < last(replace).mean,
    numbers: `real-fraction ${f(last(fraction).mean)} vs replace ${f(last(replace).mean)}`
  })
  claims.push({
    claim: "quality ends below replace",
    pass: last(quality).mean < last(replace).mean,
    numbers: `quality ${f(last(quality).mean)} vs replace ${f(last(replace).mean)}`
  })
  claims.push({
    claim: "last generation: the 95% bands of replace and accumulate do not overlap",
    pass: last(replace).lo > last(accumulate).hi || last(accumulate).lo > last(replace).hi,
    numbers: `replace ${band(last(replace))}, accumulate ${band(last(accumulate))}`
  })
  const header = parseCsv(csv)[0]
  const measures = REPETITION.filter((m) => header.includes(m)).map((m) => {
    const s = series(rows, "replace", m)
    const first = s[0], end = last(s)
    return { m, first, end, shows: end.mean > first.mean && end.lo > first.hi }
  })
  claims.push({
    claim: "replace: a repetition measure rises, its last-generation band excluding generation 1's",
    pass: measures.some((x) => x.shows),
    numbers: measures.map((x) => `${x.m} ${band(x.first)} → ${band(x.end)} ${x.shows ? "shows it" : "does not"}`).join(
      "; "
    )
  })
  return claims
}

const readCsv = (arg: string | undefined): string => {
  if (arg === "-") return readFileSync(0, "utf8")
  if (arg !== undefined) return readFileSync(arg, "utf8")
  return execFileSync(process.execPath, [
    join(ROOT, "bin/ouro.js"),
    "metrics",
    join(ROOT, "pipelines/story.ts"),
    "--format",
    "csv"
  ], {
    encoding: "utf8",
    maxBuffer: 1 << 28
  })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const claims = checkClaims(readCsv(process.argv[2]))
  for (const c of claims) console.log(`${c.pass ? "PASS" : "FAIL"}  ${c.claim}\n      ${c.numbers}`)
  const failed = claims.filter((c) => !c.pass).length
  console.log(failed === 0 ? `all ${claims.length} claims hold` : `${failed} of ${claims.length} claims fail`)
  if (failed > 0) process.exitCode = 1
}
