/**
 * The report's pictures as files for a paper (`ouro report … --figures DIR`): each figure as a standalone SVG, the
 * same picture as a PNG (rasterised by resvg at twice its size), and the numbers the plot drew as CSV beside them.
 * File names come from the figure's id (`perplexity:arm=replace` → `perplexity--arm-replace`).
 */
import type { RenderedFigure } from "./html.ts"

export interface FigureFiles {
  /** The file name without its extension. */
  readonly name: string
  readonly svg: string
  readonly png: Uint8Array
  /** Absent for a picture that plots no numbers (the DAG). */
  readonly csv?: string
}

/** A figure id as a portable file name: letters, digits, dots and dashes ("perplexity:arm=x" → "perplexity--arm-x"). */
export const figureFileName = (id: string): string =>
  id.replace(/:/g, "--").replace(/[^A-Za-z0-9.-]+/g, "-").replace(/^-+|-+$/g, "") || "figure"

/** An SVG that stands on its own: the XML prologue and the namespaces a viewer needs outside HTML. */
export const standaloneSvg = (svg: string): string => {
  const start = svg.indexOf("<svg")
  let body = start >= 0 ? svg.slice(start) : svg
  if (!/^<svg[^>]*\sxmlns=/.test(body)) body = body.replace(/^<svg/, `<svg xmlns="http://www.w3.org/2000/svg"`)
  if (body.includes("xlink:") && !/^<svg[^>]*\sxmlns:xlink=/.test(body)) {
    body = body.replace(/^<svg/, `<svg xmlns:xlink="http://www.w3.org/1999/xlink"`)
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n${body}\n`
}

const csvCell = (v: unknown): string => {
  const text = v === undefined || v === null ? "" : typeof v === "number" ? String(v) : String(v)
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, "\"\"")}"` : text
}

/** Rows as CSV: the columns in the order they first appear, one line per row. */
export const rowsCsv = (rows: ReadonlyArray<Readonly<Record<string, unknown>>>): string => {
  const columns: string[] = []
  for (const row of rows) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k)
  return [columns.map(csvCell).join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(","))].join("\n") +
    "\n"
}

/** The files of every figure, in the report's order; names made unique should two ids map to the same one. */
export const figureFiles = async (figures: ReadonlyArray<RenderedFigure>): Promise<ReadonlyArray<FigureFiles>> => {
  // Loaded on demand: a native rasteriser that only this command needs.
  const { Resvg } = await import("@resvg/resvg-js")
  const seen = new Map<string, number>()
  return figures.map((f) => {
    const base = figureFileName(f.id)
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    const svg = standaloneSvg(f.svg)
    const png = new Resvg(svg, {
      background: "white",
      fitTo: { mode: "zoom", value: 2 },
      font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" }
    }).render().asPng()
    return {
      name: n === 1 ? base : `${base}-${n}`,
      svg,
      png: new Uint8Array(png),
      ...(f.rows === undefined ? {} : { csv: rowsCsv(f.rows) })
    }
  })
}
