/**
 * The report's plots as Vega-Lite specs: a metric per generation as a mean line with its 95% band over seeds (one
 * arm's metrics, or one metric across arms), each generation's rank–frequency curve, and a theory curve against the
 * experiment. Pure data; svg.ts renders them.
 */
import type { TopLevelSpec } from "vega-lite"
import type { ArmReport, SeedSummary, TheoryCurve } from "./data.ts"
import { maxOf, minOf } from "./extent.ts"
import { clipSummary, metricInfo } from "./metric-info.ts"

/** One point of a line: a series' mean over seeds at a generation, with its 95% interval. */
export interface SeriesRow {
  generation: number
  series: string
  mean: number
  lo: number
  hi: number
}

/** Chart rows for `keys`, each series named `label(key)` (by default the metric's label). */
export const seriesRows = (
  arm: ArmReport,
  keys: ReadonlyArray<string>,
  positive: boolean,
  label: (key: string) => string = (k) => metricInfo(k).label
): SeriesRow[] =>
  arm.generations.flatMap((g) =>
    keys.flatMap((k) => {
      const raw: SeedSummary | undefined = g.metrics[k]
      if (raw === undefined || ![raw.mean, raw.lo, raw.hi].every(Number.isFinite)) return []
      // A fraction's band stops at 0 and 1 (a t-interval near them reaches past).
      const s = clipSummary(k, raw)
      // A log axis cannot show values <= 0; drop such a point rather than break the plot.
      if (positive && (s.mean <= 0 || s.lo <= 0)) return []
      return [{ generation: g.generation, series: label(k), mean: s.mean, lo: s.lo, hi: s.hi }]
    })
  )

/** Fields a chart's rows carry only to be drawn (a band's colour): not numbers of the experiment. */
export const STYLE_FIELDS: ReadonlySet<string> = new Set(["bandColor"])

// ---------------------------------------------------------------------------------------------------------------
// Layout and axes

/** The page's font, which the plots share. */
export const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
const WIDTH = 360
const HEIGHT = 170

const CONFIG = {
  font: FONT,
  // The width given is the whole picture's, axes included, so that plots side by side scale alike in the page.
  autosize: { type: "fit-x" as const, contains: "padding" as const },
  background: "white",
  view: { stroke: "#e3e3e3" },
  axis: {
    labelFontSize: 11,
    titleFontSize: 11,
    titleFontWeight: "normal" as const,
    titleColor: "#333",
    gridColor: "#eeeeee"
  },
  legend: {
    orient: "bottom" as const,
    labelLimit: 320,
    labelFontSize: 11,
    titleFontSize: 11,
    titleFontWeight: "normal" as const,
    symbolStrokeWidth: 2
  },
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
  for (let d = lo; d <= hi; d++) {
    for (const s of steps) if (d < hi || s === 1) ticks.push(Number((s * 10 ** d).toPrecision(6)))
  }
  return ticks
}

const logY = (values: ReadonlyArray<number>) => ({
  type: "quantitative" as const,
  scale: { type: "log" as const },
  axis: { values: logTicks(values) }
})

const linearY = () => ({ type: "quantitative" as const, scale: { zero: false } })

/** The y encoding of a band (lo to hi) or a line (mean) over `rows`: log-scaled, with ticks that fit, or linear. */
const yOver = (
  rows: ReadonlyArray<SeriesRow>,
  log: boolean
) => (log ? logY(rows.flatMap((r) => [r.lo, r.hi, r.mean])) : linearY())

type Y = ReturnType<typeof yOver>

/**
 * The 95% interval as a band from lo to hi per generation, over the rows that pass `filter` (a Vega expression): the
 * band layer of every plot with one (meanBandChart's and theoryChart's).
 */
const bandLayer = (
  gens: ReadonlyArray<number>,
  y: Y,
  yTitle: string,
  opacity: number,
  fill: { readonly field: "bandColor"; readonly type: "nominal"; readonly scale: null } | { readonly value: string },
  filter?: string
) => ({
  ...(filter === undefined ? {} : { transform: [{ filter }] }),
  mark: { type: "area" as const, opacity },
  encoding: { x: generationAxis(gens), y: { ...y, field: "lo", title: yTitle }, y2: { field: "hi" }, fill }
})

/** A line's row: a `SeriesRow` with its band's colour, and any fields the line's colour and dash are keyed by. */
interface BandRow extends SeriesRow {
  readonly bandColor: string
}

/** Values of a row's field and what each maps to, in legend order. */
interface FieldScale<T> {
  readonly field: string
  readonly domain: ReadonlyArray<string>
  readonly range: ReadonlyArray<T>
}

interface MeanBandChart {
  readonly rows: ReadonlyArray<BandRow>
  readonly width: number
  readonly height: number
  readonly yTitle: string
  readonly log: boolean
  /** The line colours (and the legend, drawn as strokes). */
  readonly color: FieldScale<string>
  /** The line dashes; `legend: false` keeps them out of the legend (where the caption says which line is dashed). */
  readonly dash: FieldScale<ReadonlyArray<number>> & { readonly legend: boolean }
  /** A further field that splits lines of one colour (and dash) apart. */
  readonly detail?: string
  /** The colour legend laid out one entry per line (many or long series names), so none is cut off. */
  readonly verticalLegend?: boolean
  readonly bandOpacity: number
  /** Which rows get a band (a Vega expression); every row by default. */
  readonly bandFilter?: string
  readonly pointSize: number
}

/**
 * The mean-and-band plot, which every chart of a metric over generations is: per series, the mean per generation as
 * a line with points and the 95% interval over seeds as a band around it. Band colours come straight from each row
 * (no scale, so no legend): the legend then shows the lines alone.
 */
const meanBandChart = (c: MeanBandChart): TopLevelSpec => {
  const gens = c.rows.map((r) => r.generation)
  const y = yOver(c.rows, c.log)
  const color = {
    field: c.color.field,
    type: "nominal" as const,
    title: null,
    scale: { domain: [...c.color.domain], range: [...c.color.range] }
  }
  return {
    width: c.width,
    height: c.height,
    config: CONFIG,
    data: { values: [...c.rows] },
    layer: [
      bandLayer(gens, y, c.yTitle, c.bandOpacity, { field: "bandColor", type: "nominal", scale: null }, c.bandFilter),
      {
        mark: { type: "line", point: { filled: true, size: c.pointSize } },
        encoding: {
          x: generationAxis(gens),
          y: { ...y, field: "mean", title: c.yTitle },
          color: {
            ...color,
            legend: c.verticalLegend === true
              ? { symbolType: "stroke", direction: "vertical", columns: 1, labelLimit: c.width - 40 }
              : { symbolType: "stroke" }
          },
          ...(c.detail === undefined ? {} : { detail: { field: c.detail } }),
          strokeDash: {
            field: c.dash.field,
            type: "nominal",
            title: null,
            scale: { domain: [...c.dash.domain], range: c.dash.range.map((d) => [...d]) },
            ...(c.dash.legend ? {} : { legend: null })
          }
        }
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The plots

/** How one series of an arm's chart is drawn. */
export interface SeriesStyle {
  readonly series: string
  readonly color: string
  readonly dashed?: boolean
}

export interface ArmChart {
  readonly rows: ReadonlyArray<SeriesRow>
  readonly styles: ReadonlyArray<SeriesStyle>
  readonly yTitle: string
  readonly log: boolean
}

/** Metrics of one arm: a line and band per series, each in its style. */
export const armChart = (c: ArmChart): TopLevelSpec =>
  meanBandChart({
    rows: c.rows.map((r) => ({ ...r, bandColor: c.styles.find((st) => st.series === r.series)?.color ?? "#999999" })),
    width: WIDTH,
    height: HEIGHT,
    yTitle: c.yTitle,
    log: c.log,
    color: { field: "series", domain: c.styles.map((s) => s.series), range: c.styles.map((s) => s.color) },
    dash: {
      field: "series",
      domain: c.styles.map((s) => s.series),
      range: c.styles.map((s) => (s.dashed === true ? [6, 4] : [1, 0])),
      legend: true
    },
    bandOpacity: 0.18,
    pointSize: 28
  })

// Tableau 10 without its grey, which is the baseline's.
const ARM_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#ff9da6"]
const armColor = (arms: ReadonlyArray<ArmReport>, arm: ArmReport): string =>
  ARM_COLORS[arms.indexOf(arm) % ARM_COLORS.length]

/** The series name of the baseline's lines in the arms' chart, and its colour: no arm's. */
const BASELINE_SERIES = "untrained baseline"
const BASELINE_COLOR = "#8c8c8c"

/**
 * One metric across arms: a line and band per arm, each arm its own colour; the baseline, where given, dashed grey
 * (no band), one more entry of the legend. The legend lists one arm per line, so long names and many arms all show.
 */
export const armsChart = (
  arms: ReadonlyArray<ArmReport>,
  key: string,
  baseline: string | undefined,
  yTitle: string,
  log: boolean
): TopLevelSpec => {
  const rows = arms.flatMap((arm) => [
    ...seriesRows(arm, [key], log).map((r) => ({
      ...r,
      arm: arm.name,
      kind: "model",
      line: `${arm.name} model`,
      bandColor: armColor(arms, arm)
    })),
    ...(baseline === undefined
      ? []
      : seriesRows(arm, [baseline], log).map((r) => ({
        ...r,
        arm: BASELINE_SERIES,
        kind: BASELINE_SERIES,
        line: `${arm.name} baseline`,
        bandColor: BASELINE_COLOR
      })))
  ])
  const withBaseline = rows.some((r) => r.kind === BASELINE_SERIES)
  const names = arms.map((a) => a.name)
  return meanBandChart({
    rows,
    width: WIDTH + 100,
    height: HEIGHT + 20,
    yTitle,
    log,
    color: {
      field: "arm",
      domain: withBaseline ? [...names, BASELINE_SERIES] : names,
      range: [...arms.map((a) => armColor(arms, a)), ...(withBaseline ? [BASELINE_COLOR] : [])]
    },
    // The caption says which line is dashed: a second legend would repeat the colours'.
    dash: { field: "kind", domain: ["model", BASELINE_SERIES], range: [[1, 0], [6, 4]], legend: false },
    detail: "line",
    verticalLegend: true,
    bandOpacity: 0.15,
    bandFilter: "datum.kind === 'model'",
    pointSize: 24
  })
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

/** One colour per generation, from the first to the last (viridis, short of its palest yellow). */
const GENERATION_COLOUR = {
  field: "generation",
  type: "ordinal",
  title: "generation",
  scale: { scheme: { name: "viridis", extent: [0, 0.88] } },
  legend: { direction: "horizontal", columns: 10, symbolType: "stroke" }
} as const

/** Each generation's rank–frequency (Zipf) curve, log–log, coloured from the first generation to the last. */
export const rankFrequencyChart = (arm: ArmReport): TopLevelSpec => {
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
      color: GENERATION_COLOUR
    }
  }
}

/**
 * Each generation's training curve (first seed): loss against step, one colour per generation, the training loss
 * solid and the validation loss dashed.
 */
export const lossCurveChart = (arm: ArmReport): TopLevelSpec => {
  const values = arm.generations.flatMap((g) =>
    (g.lossCurve ?? []).flatMap((p) => [
      { generation: g.generation, step: p.step, split: "training", loss: p.train },
      ...(p.validation === undefined
        ? []
        : [{ generation: g.generation, step: p.step, split: "validation", loss: p.validation }])
    ])
  )
  return {
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    data: { values },
    mark: { type: "line", strokeWidth: 1.5 },
    encoding: {
      x: { field: "step", type: "quantitative", title: "step", scale: { nice: false } },
      y: { ...linearY(), field: "loss", title: "loss (nats per token)" },
      color: GENERATION_COLOUR,
      strokeDash: {
        field: "split",
        type: "nominal",
        title: null,
        scale: { domain: ["training", "validation"], range: [[1, 0], [4, 3]] }
      },
      detail: { field: "split" }
    }
  }
}

/** A theory curve against the experiment: the prediction as a line, the empirical means as points in their band. */
export const theoryChart = (curve: TheoryCurve): TopLevelSpec => {
  const rows = curve.points.map((p) => ({ ...p }))
  const gens = rows.map((r) => r.generation)
  const y = linearY()
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
      bandLayer(gens, y, curve.quantity, 0.18, { value: "#4c78a8" }),
      {
        mark: { type: "line", strokeWidth: 2 },
        encoding: {
          x: generationAxis(gens),
          y: { ...y, field: "predicted", title: curve.quantity },
          color: { ...color, datum: "predicted" }
        }
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
