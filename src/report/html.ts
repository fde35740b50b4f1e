/**
 * The experiment report as one self-contained HTML page: inline CSS, inline SVG plots rendered on Node with
 * Vega-Lite (compiled to Vega, rendered headless) and the pipeline DAG laid out by Graphviz (compiled to wasm).
 * No scripts, fonts or requests; the same ReportData gives the same bytes.
 */
import { Graphviz } from "@hpcc-js/wasm-graphviz"
import * as vega from "vega"
import { compile, type TopLevelSpec } from "vega-lite"
import type { ArmReport, ArtifactRow, DagEdge, DagNode, ReportData, SeedSummary, TheoryCurve } from "./data.ts"
import { maxOf, minOf } from "./extent.ts"

// ---------------------------------------------------------------------------------------------------------------
// Text

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;"))

const fmt = (x: number): string => {
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  return a >= 1000 ? x.toFixed(0) : a >= 100 ? x.toFixed(1) : a >= 10 ? x.toFixed(2) : a >= 0.01 || a === 0 ? x.toFixed(3) : x.toExponential(2)
}

const fmtBytes = (n: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`
}

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9=.-]+/g, "-").replace(/^-+|-+$/g, "") || "x"

// ---------------------------------------------------------------------------------------------------------------
// Metrics

interface MetricInfo {
  readonly key: string
  readonly label: string
  readonly color: string
}

const METRICS: ReadonlyArray<MetricInfo> = [
  { key: "perplexity", label: "perplexity", color: "#4c78a8" },
  { key: "baseline_perplexity", label: "baseline perplexity", color: "#8c8c8c" },
  { key: "distinct_1", label: "distinct-1", color: "#4c78a8" },
  { key: "distinct_2", label: "distinct-2", color: "#f58518" },
  { key: "rep_4", label: "rep-4", color: "#e45756" },
  { key: "self_bleu", label: "self-BLEU", color: "#54a24b" },
  { key: "unigram_entropy", label: "unigram entropy (bits)", color: "#b279a2" },
  { key: "vocab_coverage", label: "vocabulary coverage", color: "#9d755d" }
]
const metricInfo = (key: string): MetricInfo => METRICS.find((m) => m.key === key) ?? { key, label: key, color: "#72b7b2" }

/** The metric keys an arm reports, known ones first in a fixed order, then the rest sorted: a stable column order. */
const metricKeys = (arm: ArmReport): ReadonlyArray<string> => {
  const present = new Set(arm.generations.flatMap((g) => Object.keys(g.metrics)))
  const known = METRICS.map((m) => m.key).filter((k) => present.has(k))
  return [...known, ...[...present].filter((k) => !known.includes(k)).sort()]
}

interface SeriesRow {
  generation: number
  series: string
  mean: number
  lo: number
  hi: number
}

/** Chart rows for `keys`, each series named `label(key)` (by default the metric's label). */
const seriesRows = (
  arm: ArmReport,
  keys: ReadonlyArray<string>,
  positive: boolean,
  label: (key: string) => string = (k) => metricInfo(k).label
): SeriesRow[] =>
  arm.generations.flatMap((g) =>
    keys.flatMap((k) => {
      const s: SeedSummary | undefined = g.metrics[k]
      if (s === undefined || ![s.mean, s.lo, s.hi].every(Number.isFinite)) return []
      // A log axis cannot show values <= 0; drop such a point rather than break the plot.
      if (positive && (s.mean <= 0 || s.lo <= 0)) return []
      return [{ generation: g.generation, series: label(k), mean: s.mean, lo: s.lo, hi: s.hi }]
    })
  )

// ---------------------------------------------------------------------------------------------------------------
// Vega-Lite specs

const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
const WIDTH = 360
const HEIGHT = 170

const CONFIG = {
  font: FONT,
  // The width given is the whole picture's, axes included, so that plots side by side scale alike in the page.
  autosize: { type: "fit-x" as const, contains: "padding" as const },
  background: "white",
  view: { stroke: "#e3e3e3" },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: "normal" as const, titleColor: "#333", gridColor: "#eeeeee" },
  legend: { orient: "bottom" as const, labelLimit: 320, labelFontSize: 11, titleFontSize: 11, titleFontWeight: "normal" as const, symbolStrokeWidth: 2 },
  line: { strokeWidth: 2 }
}

const generationAxis = (gens: ReadonlyArray<number>) => {
  const lo = minOf(gens)
  const hi = maxOf(gens)
  return {
    field: "generation",
    type: "quantitative" as const,
    title: "generation",
    axis: { tickMinStep: 1, format: "d" },
    // Exactly the generations run, no padding to round numbers; a single generation gets a unit-wide axis.
    scale: { domain: lo < hi ? [lo, hi] : [lo - 0.5, hi + 0.5], nice: false }
  }
}

/**
 * Tick values for a log axis over `values`, on the decades vega's nice domain extends to: 1-2-5 steps for a short
 * range, 1-3 or whole decades for longer ones. Vega's own log ticks label every 1..9 multiple and crowd a small plot.
 */
const logTicks = (values: ReadonlyArray<number>): number[] => {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v))
  if (positive.length === 0) return []
  const lo = Math.floor(Math.log10(minOf(positive)))
  const hi = Math.ceil(Math.log10(maxOf(positive)))
  const decades = Math.max(1, hi - lo)
  const steps = decades <= 2 ? [1, 2, 5] : decades <= 3 ? [1, 3] : [1]
  const ticks: number[] = []
  for (let d = lo; d <= hi; d++) for (const s of steps) if (d < hi || s === 1) ticks.push(Number((s * 10 ** d).toPrecision(6)))
  return ticks
}

const logY = (values: ReadonlyArray<number>) => ({
  type: "quantitative" as const,
  scale: { type: "log" as const },
  axis: { values: logTicks(values) }
})

interface BandChart {
  readonly rows: ReadonlyArray<SeriesRow>
  readonly styles: ReadonlyArray<{ readonly series: string; readonly color: string; readonly dashed?: boolean }>
  readonly yTitle: string
  readonly log: boolean
}

/** Mean per generation as a line with points, the 95% interval over seeds as a band around it. */
const bandChart = (c: BandChart): TopLevelSpec => {
  const gens = c.rows.map((r) => r.generation)
  const y = c.log
    ? logY(c.rows.flatMap((r) => [r.lo, r.hi, r.mean]))
    : { type: "quantitative" as const, scale: { zero: false } }
  const color = {
    field: "series",
    type: "nominal" as const,
    title: null,
    scale: { domain: c.styles.map((s) => s.series), range: c.styles.map((s) => s.color) }
  }
  return {
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    data: { values: c.rows.map((r) => ({ ...r, bandColor: c.styles.find((st) => st.series === r.series)?.color ?? "#999999" })) },
    layer: [
      {
        mark: { type: "area", opacity: 0.18 },
        encoding: {
          x: generationAxis(gens),
          y: { ...y, field: "lo", title: c.yTitle },
          y2: { field: "hi" },
          // Colours straight from the row (no scale, so no legend): the legend then shows the lines alone.
          fill: { field: "bandColor", type: "nominal", scale: null }
        }
      },
      {
        mark: { type: "line", point: { filled: true, size: 28 } },
        encoding: {
          x: generationAxis(gens),
          y: { ...y, field: "mean", title: c.yTitle },
          color: { ...color, legend: { symbolType: "stroke" } },
          strokeDash: {
            field: "series",
            type: "nominal",
            title: null,
            scale: { domain: c.styles.map((s) => s.series), range: c.styles.map((s) => (s.dashed === true ? [6, 4] : [1, 0])) }
          }
        }
      }
    ]
  }
}

const ARM_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d"]
const armColor = (arms: ReadonlyArray<ArmReport>, arm: ArmReport): string => ARM_COLORS[arms.indexOf(arm) % ARM_COLORS.length]

/** One metric across arms: a line and band per arm; the baseline, where given, dashed in the arm's colour. */
const armsChart = (
  arms: ReadonlyArray<ArmReport>,
  key: string,
  baseline: string | undefined,
  yTitle: string,
  log: boolean
): TopLevelSpec => {
  const rows = arms.flatMap((arm) => [
    ...seriesRows(arm, [key], log).map((r) => ({ ...r, arm: arm.name, kind: "model", bandColor: armColor(arms, arm) })),
    ...(baseline === undefined
      ? []
      : seriesRows(arm, [baseline], log).map((r) => ({ ...r, arm: arm.name, kind: "untrained baseline", bandColor: armColor(arms, arm) })))
  ])
  const gens = rows.map((r) => r.generation)
  const y = log ? logY(rows.flatMap((r) => [r.lo, r.hi, r.mean])) : { type: "quantitative" as const, scale: { zero: false } }
  const color = {
    field: "arm",
    type: "nominal" as const,
    title: null,
    scale: { domain: arms.map((a) => a.name), range: arms.map((a) => armColor(arms, a)) }
  }
  return {
    width: WIDTH + 100,
    height: HEIGHT + 20,
    config: CONFIG,
    data: { values: rows },
    layer: [
      {
        transform: [{ filter: "datum.kind === 'model'" }],
        mark: { type: "area", opacity: 0.15 },
        encoding: { x: generationAxis(gens), y: { ...y, field: "lo", title: yTitle }, y2: { field: "hi" }, fill: { field: "bandColor", type: "nominal", scale: null } }
      },
      {
        mark: { type: "line", point: { filled: true, size: 24 } },
        encoding: {
          x: generationAxis(gens),
          y: { ...y, field: "mean", title: yTitle },
          color: { ...color, legend: { symbolType: "stroke" } },
          detail: { field: "kind" },
          strokeDash: {
            field: "kind",
            type: "nominal",
            title: null,
            scale: { domain: ["model", "untrained baseline"], range: [[1, 0], [6, 4]] },
            // The caption says which line is dashed: a second legend would not fit beside the arms'.
            legend: null
          }
        }
      }
    ]
  }
}

/**
 * A Zipf plot thins to about 40 ranks per decade plus the last rank (where the tail ends): a vocabulary of tens of
 * thousands of ranks per generation would otherwise make megabytes of SVG for the same picture.
 */
const thinRanks = (
  points: ReadonlyArray<{ readonly rank: number; readonly frequency: number }>
): ReadonlyArray<{ readonly rank: number; readonly frequency: number }> => {
  const positive = points.filter((p) => p.rank > 0 && p.frequency > 0)
  let lastBin = Number.NEGATIVE_INFINITY
  return positive.filter((p, i) => {
    const bin = Math.floor(Math.log10(p.rank) * 40)
    const keep = bin !== lastBin || i === positive.length - 1
    lastBin = bin
    return keep
  })
}

const rankFrequencyChart = (arm: ArmReport): TopLevelSpec => {
  const values = arm.generations.flatMap((g) =>
    thinRanks(g.rankFrequency).map((p) => ({ generation: g.generation, rank: p.rank, frequency: p.frequency }))
  )
  return {
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    data: { values },
    mark: { type: "line", strokeWidth: 1.5 },
    encoding: {
      x: { ...logY(values.map((v) => v.rank)), field: "rank", title: "rank" },
      y: { ...logY(values.map((v) => v.frequency)), field: "frequency", title: "frequency" },
      color: {
        field: "generation",
        type: "ordinal",
        title: "generation",
        scale: { scheme: { name: "viridis", extent: [0, 0.88] } },
        legend: { direction: "horizontal", columns: 10, symbolType: "stroke" }
      }
    }
  }
}

const theoryChart = (curve: TheoryCurve): TopLevelSpec => {
  const rows = curve.points.map((p) => ({ ...p }))
  const gens = rows.map((r) => r.generation)
  const y = { type: "quantitative" as const, scale: { zero: false } }
  const color = {
    type: "nominal" as const,
    title: null,
    scale: { domain: ["predicted", "empirical mean, 95% interval"], range: ["#f58518", "#4c78a8"] }
  }
  return {
    width: WIDTH + 100,
    height: HEIGHT,
    config: CONFIG,
    data: { values: rows },
    layer: [
      {
        mark: { type: "area", opacity: 0.18 },
        encoding: {
          x: generationAxis(gens),
          y: { ...y, field: "lo", title: curve.quantity },
          y2: { field: "hi" },
          fill: { value: "#4c78a8" }
        }
      },
      {
        mark: { type: "line", strokeWidth: 2 },
        encoding: { x: generationAxis(gens), y: { ...y, field: "predicted", title: curve.quantity }, color: { ...color, datum: "predicted" } }
      },
      {
        mark: { type: "point", filled: true, size: 40, opacity: 1 },
        encoding: {
          x: generationAxis(gens),
          y: { ...y, field: "mean", title: curve.quantity },
          color: { ...color, datum: "empirical mean, 95% interval" }
        }
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------------------------
// SVG rendering

/**
 * SVG ids live in one namespace per HTML document, and both vega ("clip1") and Graphviz ("node1") number theirs from
 * the same start in every picture: prefix each picture's ids so that `url(#…)` resolves inside its own picture.
 */
const scopeIds = (svg: string, prefix: string): string =>
  svg
    .replace(/\sid="([^"]+)"/g, (_, id: string) => ` id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}-${id})`)
    .replace(/(xlink:)?href="#([^"]+)"/g, (_, x: string | undefined, id: string) => `${x ?? ""}href="#${prefix}-${id}"`)

const renderVega = async (spec: TopLevelSpec, prefix: string): Promise<string> => {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" })
  try {
    // Keep vega's def counters per picture so the same data gives the same ids, however many reports came before.
    vega.resetSVGDefIds()
    return scopeIds(await view.toSVG(), prefix)
  } finally {
    view.finalize()
  }
}

let graphviz: Promise<Graphviz> | undefined
const loadGraphviz = (): Promise<Graphviz> => (graphviz ??= Graphviz.load())

/** Graphviz's SVG without its XML prologue, doctype and comments, which do not belong inside HTML. */
const renderDot = async (dot: string, prefix: string): Promise<string> => {
  const gv = await loadGraphviz()
  const svg = gv.dot(dot, "svg")
  const start = svg.indexOf("<svg")
  return scopeIds(svg.slice(start).replace(/<!--[\s\S]*?-->\n?/g, ""), prefix)
}

// ---------------------------------------------------------------------------------------------------------------
// The DAG

/**
 * Up to this many nodes, and with at most one scope, the report draws the whole DAG; otherwise one scope's first
 * generations, since every scope repeats the same shape (which the schematic shows).
 */
export const FULL_DAG_LIMIT = 40
/** How many generations of one scope the excerpt of a large DAG shows. */
export const EXCERPT_GENERATIONS = 3

const dotString = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`

const GRAPH_ATTRS = [
  // size: at most the width of a figure in the page (inches); larger layouts are scaled down to it.
  `graph [fontname="Helvetica,Arial,sans-serif" fontsize=11 nodesep=0.25 ranksep=0.4 bgcolor="white" pad=0.2 size="11.4,80"]`,
  `node [fontname="Helvetica,Arial,sans-serif" fontsize=10 shape=box style="rounded,filled" fillcolor="#eef3f9" color="#4c78a8" margin="0.12,0.04" height=0.3]`,
  `edge [fontname="Helvetica,Arial,sans-serif" fontsize=9 color="#7a7a7a" fontcolor="#555555" arrowsize=0.6]`
]

const SCOPE_SEGMENT = /^[^=]+=.*$/
const GENERATION_SEGMENT = /^g\d+$/

const dirname = (path: string): string => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "")
const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1)
const generationOf = (path: string): string | undefined => dirname(path).split("/").find((s) => GENERATION_SEGMENT.test(s))
const scopeOf = (path: string): string =>
  dirname(path)
    .split("/")
    .filter((s) => SCOPE_SEGMENT.test(s))
    .join("/")

/**
 * Nodes in nested clusters by the folders of their paths (scope, then generation), so that each scope's generations
 * stack into one column. An input from a stage outside every generation (the seed corpus, the tokenizer) is drawn
 * from a grey reference box inside the consuming cluster: wired directly, those few stages feed every generation and
 * their wires would cross the whole picture.
 */
const fullDot = (nodes: ReadonlyArray<DagNode>, edges: ReadonlyArray<DagEdge>): string => {
  const members = new Map<string, string[]>()
  const add = (dir: string, line: string) => members.set(dir, [...(members.get(dir) ?? []), line])
  for (const n of nodes) {
    add(dirname(n.path), `${dotString(n.path)} [label=${dotString(`${basename(n.path)}\n${n.kind}`)} tooltip=${dotString(`${n.path}\nkey ${n.key}`)}]`)
  }
  const ghosts = new Set<string>()
  const wires: string[] = []
  for (const e of edges) {
    const dir = dirname(e.to)
    if (generationOf(e.from) === undefined && generationOf(e.to) !== undefined) {
      const ghost = `ref:${dir}:${e.from}`
      if (!ghosts.has(ghost)) {
        ghosts.add(ghost)
        add(dir, `${dotString(ghost)} [label=${dotString(e.from)} tooltip=${dotString(e.from)} style="rounded,dashed" color="#b8b8b8" fillcolor="white" fontcolor="#777777" fontsize=9]`)
      }
      wires.push(`${dotString(ghost)} -> ${dotString(e.to)} [label=${dotString(e.input)} color="#b8b8b8" fontcolor="#8a8a8a"]`)
    } else {
      wires.push(`${dotString(e.from)} -> ${dotString(e.to)} [label=${dotString(e.input)}]`)
    }
  }
  // The folder tree; a folder with one subfolder and no nodes of its own merges into it ("arm=x/seed=1").
  const children = new Map<string, Set<string>>()
  for (const dir of members.keys()) {
    let d = dir
    while (d !== "") {
      const parent = dirname(d)
      children.set(parent, (children.get(parent) ?? new Set<string>()).add(d))
      d = parent
    }
  }
  let clusterId = 0
  const emit = (dir: string, label: string): string[] => {
    const kids = [...(children.get(dir) ?? [])]
    const own = members.get(dir) ?? []
    if (dir !== "" && own.length === 0 && kids.length === 1) return emit(kids[0], `${label}/${kids[0].slice(dir.length + 1)}`)
    const inner = [...own, ...kids.flatMap((k) => emit(k, dir === "" ? k : k.slice(dir.length + 1)))]
    if (dir === "") return inner
    return [`subgraph cluster_${clusterId++} {`, `label=${dotString(label)} style="rounded" color="#cccccc" fontcolor="#555555"`, ...inner, "}"]
  }
  return ["digraph dag {", "rankdir=TB", ...GRAPH_ATTRS, ...emit("", ""), ...wires, "}"].join("\n")
}

/**
 * The part of a large DAG that shows its shape: the stages outside every scope, and the first scope's first
 * `EXCERPT_GENERATIONS` generations (numerically, not by string order).
 */
const excerpt = (
  nodes: ReadonlyArray<DagNode>,
  edges: ReadonlyArray<DagEdge>
): { nodes: ReadonlyArray<DagNode>; edges: ReadonlyArray<DagEdge>; scope: string; generations: ReadonlyArray<string> } => {
  const scope = nodes.map((n) => scopeOf(n.path)).find((s) => s !== "") ?? ""
  const gens = [...new Set(nodes.filter((n) => scopeOf(n.path) === scope).flatMap((n) => generationOf(n.path) ?? []))]
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    .slice(0, EXCERPT_GENERATIONS)
  const keep = new Set(
    nodes
      .filter((n) => {
        const s = scopeOf(n.path)
        const g = generationOf(n.path)
        const inGens = g === undefined || gens.includes(g)
        return scope === "" ? inGens : s === "" || (s === scope && inGens)
      })
      .map((n) => n.path)
  )
  return {
    nodes: nodes.filter((n) => keep.has(n.path)),
    edges: edges.filter((e) => keep.has(e.from) && keep.has(e.to)),
    scope,
    generations: gens
  }
}

/** A node's place in the schematic: its path without scope (`arm=…`, `seed=…`) and generation segments. */
const schematicName = (path: string): string =>
  path
    .split("/")
    .filter((s) => !SCOPE_SEGMENT.test(s) && !GENERATION_SEGMENT.test(s))
    .join("/") || path

interface Schematic {
  readonly dot: string
  readonly boxes: number
}

/**
 * The DAG folded onto its stage kinds: one box per schematic name (with how many stages it stands for), one wire per
 * distinct (from, to, input), dashed where it crosses from one generation into the next.
 */
const schematicDot = (nodes: ReadonlyArray<DagNode>, edges: ReadonlyArray<DagEdge>): Schematic => {
  const boxes = new Map<string, { count: number; kinds: Set<string> }>()
  for (const n of nodes) {
    const name = schematicName(n.path)
    const box = boxes.get(name) ?? { count: 0, kinds: new Set<string>() }
    box.count++
    box.kinds.add(n.kind)
    boxes.set(name, box)
  }
  const wires = new Map<string, { from: string; to: string; input: string; next: boolean }>()
  for (const e of edges) {
    const from = schematicName(e.from)
    const to = schematicName(e.to)
    const gFrom = generationOf(e.from)
    const gTo = generationOf(e.to)
    const next = gFrom !== undefined && gTo !== undefined && gFrom !== gTo
    wires.set(JSON.stringify([from, to, e.input, next]), { from, to, input: e.input, next })
  }
  const lines: string[] = ["digraph schematic {", "rankdir=LR", ...GRAPH_ATTRS]
  for (const [name, box] of boxes) {
    const kinds = [...box.kinds].sort().join(", ")
    lines.push(`${dotString(name)} [label=${dotString(`${name}\n${kinds}  ×${box.count}`)}]`)
  }
  for (const w of wires.values()) {
    const attrs = w.next
      ? ` style=dashed constraint=false color="#e45756" fontcolor="#b03a38"`
      : ""
    lines.push(`${dotString(w.from)} -> ${dotString(w.to)} [label=${dotString(w.next ? `${w.input} (next gen.)` : w.input)}${attrs}]`)
  }
  lines.push("}")
  return { dot: lines.join("\n"), boxes: boxes.size }
}

/** The pipeline section's figures: a schematic when folding helps, and the DAG in full or an excerpt of it. */
const dagFigures = async (dag: ReportData["dag"], nextPrefix: () => string): Promise<string> => {
  const { nodes, edges } = dag
  const figures: string[] = []
  const schematic = schematicDot(nodes, edges)
  if (schematic.boxes < nodes.length) {
    figures.push(
      dagFigure(
        "dag-schematic",
        "Pipeline, schematic",
        await renderDot(schematic.dot, nextPrefix()),
        `The ${nodes.length} stages and ${edges.length} wires folded onto ${schematic.boxes} boxes by stripping scope ` +
          `segments (arm=…, seed=…) and generation indices (g1, g2, …) from each path. ×n: how many stages a box stands ` +
          `for; dashed red wires feed the next generation; labels name the input.`
      )
    )
  }
  const scopes = new Set(nodes.map((n) => scopeOf(n.path)).filter((sc) => sc !== ""))
  if (nodes.length <= FULL_DAG_LIMIT && scopes.size <= 1) {
    figures.push(
      dagFigure(
        "dag",
        "Pipeline DAG, every stage",
        await renderDot(fullDot(nodes, edges), nextPrefix()),
        `All ${nodes.length} stages and ${edges.length} wires, in boxes by scope and generation; grey dashed boxes ` +
          `stand for the shared stages that feed every generation; labels name the input.`
      )
    )
  } else {
    const part = excerpt(nodes, edges)
    const where = part.scope === "" ? "" : ` of ${part.scope}`
    figures.push(
      dagFigure(
        "dag",
        `Pipeline DAG, excerpt: ${part.generations.length > 0 ? `generations ${part.generations.join(", ")}` : "the stages"}${where}`,
        await renderDot(fullDot(part.nodes, part.edges), nextPrefix()),
        `${part.nodes.length} of the ${nodes.length} stages: the shared ones and the first ${part.generations.length} ` +
          `generation(s)${where}; the other scopes and generations are wired alike (see the schematic). Grey dashed ` +
          `boxes stand for the shared stages; every stage is listed in the artifacts table.`
      )
    )
  }
  return figures.join("\n")
}

// ---------------------------------------------------------------------------------------------------------------
// HTML

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 ${FONT}; color: #222; background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #dde3ea; }
h3 { font-size: 15px; margin: 22px 0 8px; }
p { margin: 6px 0; }
code, .mono { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; font-size: 12px; }
nav { margin: 10px 0 0; font-size: 13px; }
nav a { color: #2f5d8a; margin-right: 14px; text-decoration: none; }
.meta { color: #555; font-size: 13px; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px; }
.plots.wide { grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); }
figure.plot { margin: 0; background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 10px 12px 8px; overflow: hidden; }
figure.plot figcaption { font-weight: 600; font-size: 13px; margin-bottom: 6px; }
figure.plot figcaption .sub { font-weight: normal; color: #666; }
figure.plot svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figure.dag { margin-bottom: 14px; }
.dag-scroll { overflow-x: auto; }
figure.plot .dag-scroll svg { max-width: none; }
.caption { color: #555; font-size: 12.5px; margin-top: 6px; }
.samples { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 10px; }
.sample { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 8px 10px; }
.sample h4 { margin: 0 0 4px; font-size: 12px; color: #555; font-weight: 600; }
.sample p { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font-family: Georgia, 'Times New Roman', serif; font-size: 13px; max-height: 11.5em; overflow: auto; }
table { border-collapse: collapse; background: #fff; font-size: 12.5px; }
th, td { border: 1px solid #e1e4e8; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f0f3f6; font-weight: 600; }
td.l, th.l { text-align: left; }
.scroll { max-height: 420px; overflow: auto; border: 1px solid #e1e4e8; }
.scroll table { border: 0; width: 100%; }
.scroll th { position: sticky; top: 0; }
details { margin: 10px 0; }
summary { cursor: pointer; color: #2f5d8a; font-size: 13px; }
.theory { display: grid; grid-template-columns: minmax(360px, 1fr) minmax(300px, 1fr); gap: 14px; align-items: start; margin-bottom: 18px; }
.assumption { background: #fff8e6; border-left: 3px solid #eeca3b; padding: 6px 10px; font-size: 13px; margin-top: 8px; }
.yes { color: #2e7d32; } .no { color: #b03a38; }
`

interface Plot {
  readonly id: string
  readonly title: string
  readonly sub?: string
  readonly spec: TopLevelSpec
}

/** Whether a plot has anything to draw: a metric present but never finite (or never positive on a log axis) has not. */
const hasPoints = (p: Plot): boolean => {
  const data = p.spec.data
  return data !== undefined && data !== null && "values" in data && Array.isArray(data.values) && data.values.length > 0
}

const figure = (id: string, title: string, svg: string, sub?: string): string =>
  `<figure class="plot" data-plot="${escapeHtml(id)}"><figcaption>${escapeHtml(title)}${
    sub === undefined ? "" : ` <span class="sub">${escapeHtml(sub)}</span>`
  }</figcaption>${svg}</figure>`

const dagFigure = (id: string, title: string, svg: string, caption: string): string =>
  `<figure class="plot dag" data-plot="${escapeHtml(id)}"><figcaption>${escapeHtml(title)}</figcaption>` +
  `<div class="dag-scroll">${svg}</div><p class="caption">${escapeHtml(caption)}</p></figure>`

const summaryCell = (s: SeedSummary | undefined): string =>
  s === undefined
    ? "<td>–</td>"
    : `<td title="${escapeHtml(s.values.map(fmt).join(", "))}">${fmt(s.mean)}${
        s.lo === s.hi ? "" : ` <span class="meta">[${fmt(s.lo)}, ${fmt(s.hi)}]</span>`
      }</td>`

const metricsTable = (arm: ArmReport): string => {
  const keys = metricKeys(arm)
  const head = `<tr><th>generation</th><th>seeds</th>${keys.map((k) => `<th>${escapeHtml(metricInfo(k).label)}</th>`).join("")}</tr>`
  const body = arm.generations
    .map((g) => `<tr><td>${g.generation}</td><td>${g.seeds}</td>${keys.map((k) => summaryCell(g.metrics[k])).join("")}</tr>`)
    .join("\n")
  return `<details><summary>the numbers behind these plots: mean over seeds [95% interval]</summary><div class="scroll"><table>${head}\n${body}</table></div></details>`
}

const samplesGrid = (arm: ArmReport): string =>
  `<div class="samples">${arm.generations
    .map((g) => `<article class="sample"><h4>generation ${g.generation}</h4><p>${escapeHtml(g.sampleText)}</p></article>`)
    .join("\n")}</div>`

const armPlots = (arm: ArmReport): ReadonlyArray<Plot> => {
  const keys = new Set(metricKeys(arm))
  const plots: Plot[] = []
  if (keys.has("perplexity")) {
    const withBaseline = keys.has("baseline_perplexity")
    plots.push({
      id: `perplexity:${arm.name}`,
      title: "Perplexity on real held-out text",
      sub: "(log scale)",
      spec: bandChart({
        rows: seriesRows(arm, withBaseline ? ["perplexity", "baseline_perplexity"] : ["perplexity"], true, (k) =>
          k === "perplexity" ? "model" : "untrained baseline"
        ),
        styles: [
          { series: "model", color: metricInfo("perplexity").color },
          ...(withBaseline ? [{ series: "untrained baseline", color: metricInfo("baseline_perplexity").color, dashed: true }] : [])
        ],
        yTitle: "perplexity",
        log: true
      })
    })
  }
  const group = (id: string, title: string, members: ReadonlyArray<string>, yTitle: string) => {
    const present = members.filter((k) => keys.has(k))
    if (present.length === 0) return
    plots.push({
      id: `${id}:${arm.name}`,
      title,
      spec: bandChart({
        rows: seriesRows(arm, present, false),
        styles: present.map((k) => ({ series: metricInfo(k).label, color: metricInfo(k).color })),
        yTitle,
        log: false
      })
    })
  }
  group("distinct", "Distinct-n of the synthetic sample", ["distinct_1", "distinct_2"], "distinct n-grams / n-grams")
  group("rep", "Repetition: rep-4", ["rep_4"], "repeated 4-grams / 4-grams")
  group("self-bleu", "Self-BLEU between sampled documents", ["self_bleu"], "self-BLEU")
  if (arm.generations.some((g) => g.rankFrequency.length > 0)) {
    plots.push({
      id: `rank-frequency:${arm.name}`,
      title: "Rank–frequency of each generation's sample",
      sub: "(log–log; first seed)",
      spec: rankFrequencyChart(arm)
    })
  }
  return plots
}

const artifactsTable = (rows: ReadonlyArray<ArtifactRow>): string => {
  const head = `<tr><th class="l">stage</th><th class="l">output</th><th class="l">type</th><th class="l">hash</th><th>size</th></tr>`
  const body = rows
    .map(
      (r) =>
        `<tr><td class="l mono">${escapeHtml(r.stage)}</td><td class="l">${escapeHtml(r.output)}</td><td class="l">${escapeHtml(r.artifact)}</td>` +
        `<td class="l mono" title="${escapeHtml(r.hash)}">${escapeHtml(r.hash.slice(0, 12))}</td><td title="${r.bytes} bytes">${fmtBytes(r.bytes)}</td></tr>`
    )
    .join("\n")
  return `<div class="scroll"><table>${head}\n${body}</table></div>`
}

const theoryTable = (curve: TheoryCurve): string => {
  const head = `<tr><th>generation</th><th>predicted</th><th>empirical mean</th><th>95% interval</th><th>inside</th></tr>`
  const body = curve.points
    .map((p) => {
      // A relative tolerance of 1e-9: at generation 0 the band is a single point, computed another way than the prediction.
      const tol = 1e-9 * Math.max(1, Math.abs(p.predicted))
      const inside = p.predicted >= p.lo - tol && p.predicted <= p.hi + tol
      return `<tr><td>${p.generation}</td><td>${fmt(p.predicted)}</td><td>${fmt(p.mean)}</td><td>[${fmt(p.lo)}, ${fmt(p.hi)}]</td><td class="${inside ? "yes" : "no"}">${inside ? "yes" : "no"}</td></tr>`
    })
    .join("\n")
  return `<div class="scroll"><table>${head}\n${body}</table></div>`
}

/** A unique, stable plot id per theory curve, from its title. */
const theoryIds = (curves: ReadonlyArray<TheoryCurve>): ReadonlyArray<string> => {
  const seen = new Map<string, number>()
  return curves.map((c) => {
    const base = `theory:${slug(c.title)}`
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    return n === 1 ? base : `${base}-${n}`
  })
}

/** The report as one HTML page. Rendering is sequential: vega's SVG def counters are global. */
export const renderReport = async (data: ReportData): Promise<string> => {
  let pictures = 0
  const nextPrefix = () => `p${++pictures}`
  const plot = async (p: Plot): Promise<string> =>
    hasPoints(p) ? figure(p.id, p.title, await renderVega(p.spec, nextPrefix()), p.sub) : ""

  const parts: string[] = []
  const nav: string[] = []

  // Overview: the arms against each other.
  if (data.arms.length > 0) {
    nav.push(`<a href="#overview">overview</a>`)
    const overview: string[] = []
    const has = (k: string) => data.arms.some((a) => metricKeys(a).includes(k))
    if (has("perplexity")) {
      overview.push(
        await plot({
          id: "perplexity:arms",
          title: "Perplexity on real text, all arms",
          sub: has("baseline_perplexity") ? "(log scale; dashed: the untrained model)" : "(log scale)",
          spec: armsChart(data.arms, "perplexity", has("baseline_perplexity") ? "baseline_perplexity" : undefined, "perplexity", true)
        })
      )
    }
    if (has("distinct_2")) {
      overview.push(
        await plot({
          id: "distinct-2:arms",
          title: "Distinct-2 of the synthetic sample, all arms",
          spec: armsChart(data.arms, "distinct_2", undefined, "distinct-2", false)
        })
      )
    }
    parts.push(`<section id="overview"><h2>Overview</h2><div class="plots wide">${overview.join("\n")}</div></section>`)
  }

  for (const arm of data.arms) {
    const id = `arm-${slug(arm.name.replace(/^arm=/, ""))}`
    nav.push(`<a href="#${escapeHtml(id)}">${escapeHtml(arm.name)}</a>`)
    const seeds = [...new Set(arm.generations.map((g) => g.seeds))].join("/")
    const figures: string[] = []
    for (const p of armPlots(arm)) figures.push(await plot(p))
    parts.push(
      `<section id="${escapeHtml(id)}" class="arm" data-arm="${escapeHtml(arm.name)}"><h2>${escapeHtml(arm.name)}</h2>` +
        `<p class="meta">${arm.generations.length} generations, ${escapeHtml(seeds)} seed(s) each; lines: mean over seeds, bands: 95% interval</p>` +
        `<div class="plots">${figures.join("\n")}</div>` +
        metricsTable(arm) +
        `<h3>Samples, generation by generation <span class="meta">(opening of the first document, first seed)</span></h3>` +
        samplesGrid(arm) +
        `</section>`
    )
  }

  if (data.dag.nodes.length > 0) {
    nav.push(`<a href="#pipeline">pipeline</a>`)
    parts.push(`<section id="pipeline"><h2>Pipeline</h2>${await dagFigures(data.dag, nextPrefix)}</section>`)
  }

  if (data.artifacts.length > 0) {
    nav.push(`<a href="#artifacts">artifacts</a>`)
    parts.push(
      `<section id="artifacts"><h2>Artifacts</h2><p class="meta">${data.artifacts.length} outputs; hover a hash for all of it.</p>${artifactsTable(data.artifacts)}</section>`
    )
  }

  if (data.theory.length > 0) {
    nav.push(`<a href="#theory">theory</a>`)
    const ids = theoryIds(data.theory)
    const blocks: string[] = []
    for (const [i, curve] of data.theory.entries()) {
      const fig = await plot({ id: ids[i], title: curve.title, sub: `(${curve.quantity})`, spec: theoryChart(curve) })
      blocks.push(
        `<div class="theory">${fig}<div>${theoryTable(curve)}<p class="assumption"><strong>Assumes:</strong> ${escapeHtml(curve.assumption)}</p></div></div>`
      )
    }
    parts.push(`<section id="theory"><h2>Theory against experiment</h2>${blocks.join("\n")}</section>`)
  }

  const title = `ouroboros report: ${data.pipeline}`
  return [
    "<!DOCTYPE html>",
    `<html lang="en"><head><meta charset="utf-8">`,
    // Proof of self-containedness: the page may load nothing; anything it tried would fail loudly in the console.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeHtml(title)}</title><style>${CSS}</style></head>`,
    `<body><main><header><h1>${escapeHtml(title)}</h1>`,
    `<p class="meta">run manifest <span class="mono" title="${escapeHtml(data.manifest)}">${escapeHtml(data.manifest.slice(0, 16))}</span> · ` +
      `${data.arms.length} arm(s) · every number read from the store</p>`,
    `<nav>${nav.join("")}</nav></header>`,
    ...parts,
    "</main></body></html>",
    ""
  ].join("\n")
}
