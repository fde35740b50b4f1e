/**
 * The pipeline DAG as pictures, in Graphviz's dot language: every stage in clusters by scope and generation, an
 * excerpt of a large DAG, and a schematic that folds the DAG onto its stage kinds. Pure text: svg.ts renders it.
 */
import type { DagEdge, DagNode, ReportData } from "./data.ts"

/**
 * Up to this many nodes, and with at most one scope, the report draws the whole DAG; otherwise one scope's first
 * generations, since every scope repeats the same shape (which the schematic shows).
 */
export const FULL_DAG_LIMIT = 40
/** How many generations of one scope the excerpt of a large DAG shows. */
export const EXCERPT_GENERATIONS = 3

const dotString = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")}"`

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
const generationOf = (path: string): string | undefined =>
  dirname(path).split("/").find((s) => GENERATION_SEGMENT.test(s))
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
    add(
      dirname(n.path),
      `${dotString(n.path)} [label=${dotString(`${basename(n.path)}\n${n.kind}`)} tooltip=${
        dotString(`${n.path}\nkey ${n.key}`)
      }]`
    )
  }
  const ghosts = new Set<string>()
  const wires: string[] = []
  for (const e of edges) {
    const dir = dirname(e.to)
    if (generationOf(e.from) === undefined && generationOf(e.to) !== undefined) {
      const ghost = `ref:${dir}:${e.from}`
      if (!ghosts.has(ghost)) {
        ghosts.add(ghost)
        add(
          dir,
          `${dotString(ghost)} [label=${dotString(e.from)} tooltip=${
            dotString(e.from)
          } style="rounded,dashed" color="#b8b8b8" fillcolor="white" fontcolor="#777777" fontsize=9]`
        )
      }
      wires.push(
        `${dotString(ghost)} -> ${dotString(e.to)} [label=${dotString(e.input)} color="#b8b8b8" fontcolor="#8a8a8a"]`
      )
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
    if (dir !== "" && own.length === 0 && kids.length === 1) {
      return emit(kids[0], `${label}/${kids[0].slice(dir.length + 1)}`)
    }
    const inner = [...own, ...kids.flatMap((k) => emit(k, dir === "" ? k : k.slice(dir.length + 1)))]
    if (dir === "") return inner
    return [
      `subgraph cluster_${clusterId++} {`,
      `label=${dotString(label)} style="rounded" color="#cccccc" fontcolor="#555555"`,
      ...inner,
      "}"
    ]
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
): {
  nodes: ReadonlyArray<DagNode>
  edges: ReadonlyArray<DagEdge>
  scope: string
  generations: ReadonlyArray<string>
} => {
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
    lines.push(
      `${dotString(w.from)} -> ${dotString(w.to)} [label=${
        dotString(w.next ? `${w.input} (next gen.)` : w.input)
      }${attrs}]`
    )
  }
  lines.push("}")
  return { dot: lines.join("\n"), boxes: boxes.size }
}

/** One picture of the DAG: its plot id, title, dot source and caption (plain text). */
export interface DagPicture {
  readonly id: string
  readonly title: string
  readonly dot: string
  readonly caption: string
}

/** The pipeline section's pictures: a schematic when folding helps, and the DAG in full or an excerpt of it. */
export const dagPictures = (dag: ReportData["dag"]): ReadonlyArray<DagPicture> => {
  const { nodes, edges } = dag
  const pictures: DagPicture[] = []
  const schematic = schematicDot(nodes, edges)
  if (schematic.boxes < nodes.length) {
    pictures.push({
      id: "dag-schematic",
      title: "Pipeline, schematic",
      dot: schematic.dot,
      caption:
        `The ${nodes.length} stages and ${edges.length} wires folded onto ${schematic.boxes} boxes by stripping scope ` +
        `segments (arm=…, seed=…) and generation indices (g1, g2, …) from each path. ×n: how many stages a box stands ` +
        `for; dashed red wires feed the next generation; labels name the input.`
    })
  }
  const scopes = new Set(nodes.map((n) => scopeOf(n.path)).filter((sc) => sc !== ""))
  if (nodes.length <= FULL_DAG_LIMIT && scopes.size <= 1) {
    pictures.push({
      id: "dag",
      title: "Pipeline DAG, every stage",
      dot: fullDot(nodes, edges),
      caption:
        `All ${nodes.length} stages and ${edges.length} wires, in boxes by scope and generation; grey dashed boxes ` +
        `stand for the shared stages that feed every generation; labels name the input.`
    })
  } else {
    const part = excerpt(nodes, edges)
    const where = part.scope === "" ? "" : ` of ${part.scope}`
    pictures.push({
      id: "dag",
      title: `Pipeline DAG, excerpt: ${
        part.generations.length > 0 ? `generations ${part.generations.join(", ")}` : "the stages"
      }${where}`,
      dot: fullDot(part.nodes, part.edges),
      caption:
        `${part.nodes.length} of the ${nodes.length} stages: the shared ones and the first ${part.generations.length} ` +
        `generation(s)${where}; the other scopes and generations are wired alike (see the schematic). Grey dashed ` +
        `boxes stand for the shared stages; every stage is listed in the artifacts table.`
    })
  }
  return pictures
}
