/**
 * Pictures as inline SVG: Vega-Lite specs compiled to Vega and rendered headless, dot graphs laid out by Graphviz
 * (compiled to wasm). Each picture's ids are scoped by a prefix, so that many pictures can share one HTML page.
 */
import type { Graphviz } from "@hpcc-js/wasm-graphviz"
import type { TopLevelSpec } from "vega-lite"

/**
 * SVG ids live in one namespace per HTML document, and both vega ("clip1") and Graphviz ("node1") number theirs from
 * the same start in every picture: prefix each picture's ids so that `url(#…)` resolves inside its own picture.
 */
const scopeIds = (svg: string, prefix: string): string =>
  svg
    .replace(/\sid="([^"]+)"/g, (_, id: string) => ` id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}-${id})`)
    .replace(/(xlink:)?href="#([^"]+)"/g, (_, x: string | undefined, id: string) => `${x ?? ""}href="#${prefix}-${id}"`)

/** A Vega-Lite spec as SVG. Call one at a time: vega's SVG def counters are global (reset here per picture). */
export const renderVega = async (spec: TopLevelSpec, prefix: string): Promise<string> => {
  // Imported here, not at the top: vega is only for reports (loading it costs every command's start-up), and the
  // bundled CLI (CommonJS) cannot require() it, an ES module with top-level await.
  const [vega, { compile }] = await Promise.all([import("vega"), import("vega-lite")])
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
const loadGraphviz = (): Promise<
  Graphviz
> => (graphviz ??= import("@hpcc-js/wasm-graphviz").then((m) => m.Graphviz.load()))

/** Graphviz's SVG without its XML prologue, doctype and comments, which do not belong inside HTML. */
export const renderDot = async (dot: string, prefix: string): Promise<string> => {
  const gv = await loadGraphviz()
  const svg = gv.dot(dot, "svg")
  const start = svg.indexOf("<svg")
  return scopeIds(svg.slice(start).replace(/<!--[\s\S]*?-->\n?/g, ""), prefix)
}
