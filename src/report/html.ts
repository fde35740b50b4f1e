/**
 * The experiment report as one self-contained HTML page: inline CSS, inline SVG plots (charts.ts's specs and dag.ts's
 * pictures, rendered by svg.ts), the numbers behind them, samples, artifacts and theory checks. No scripts, fonts or
 * requests; the same ReportData gives the same bytes.
 */
import type { TopLevelSpec } from "vega-lite"
import {
  armChart,
  armsChart,
  FONT,
  STYLE_FIELDS,
  lossCurveChart,
  rankFrequencyChart,
  seriesRows,
  theoryChart
} from "./charts.ts"
import { dagPictures } from "./dag.ts"
import type {
  ArmReport,
  ArtifactRow,
  GenerationReport,
  ReferenceReport,
  ReportData,
  SeedSummary,
  TheoryCurve
} from "./data.ts"
import { escapeHtml, fmt, fmtBytes, slug } from "./format.ts"
import { clippedNote, clipSummary, downstreamKey, metricInfo, metricKeys, orderMetricKeys } from "./metric-info.ts"
import { renderDot, renderVega } from "./svg.ts"

export { escapeHtml }

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
.unk { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11px; color: #8a4b00; background: #fff1dd; border-radius: 3px; padding: 0 2px; }
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

const summaryCell = (key: string, raw: SeedSummary | undefined): string => {
  if (raw === undefined) return "<td>–</td>"
  const s = clipSummary(key, raw)
  return `<td title="${escapeHtml(s.values.map(fmt).join(", "))}">${fmt(s.mean)}${
    s.lo === s.hi ? "" : ` <span class="meta">[${fmt(s.lo)}, ${fmt(s.hi)}]${s.clipped ? "*" : ""}</span>`
  }</td>`
}

/** Whether a band of `keys` in the arm reaches past its metric's range, so is drawn clipped. */
const clippedIn = (arms: ReadonlyArray<ArmReport>, keys: ReadonlyArray<string>): boolean =>
  arms.some((a) =>
    a.generations.some((g) => keys.some((k) => g.metrics[k] !== undefined && clipSummary(k, g.metrics[k]).clipped))
  )

/** A plot's caption remark, with "band clipped to [0, 1]" added when a band of `keys` is. */
const clipSub = (arms: ReadonlyArray<ArmReport>, keys: ReadonlyArray<string>, sub?: string): string | undefined =>
  clippedIn(arms, keys)
    ? (sub === undefined ? `(${clippedNote(keys[0])})` : sub.replace(/\)$/, `; ${clippedNote(keys[0])})`))
    : sub

const metricsTable = (arm: ArmReport): string => {
  const keys = metricKeys(arm)
  const head = `<tr><th>generation</th><th>seeds</th>${
    keys.map((k) => `<th>${escapeHtml(metricInfo(k).label)}</th>`).join("")
  }</tr>`
  const body = arm.generations
    .map((g) =>
      `<tr><td>${g.generation}</td><td>${g.seeds}</td>${keys.map((k) => summaryCell(k, g.metrics[k])).join("")}</tr>`
    )
    .join("\n")
  const clipped = clippedIn([arm], keys) ? "; * clipped to the metric's range, [0, 1]" : ""
  return `<details><summary>the numbers behind these plots: mean over seeds [95% interval${clipped}]</summary><div class="scroll"><table>${head}\n${body}</table></div></details>`
}

/** The reference measurements (scopes outside the generations) as one table: scope, then each metric. */
const referencesTable = (refs: ReadonlyArray<ReferenceReport>): string => {
  const keys = orderMetricKeys(refs.flatMap((r) => Object.keys(r.metrics)))
  const head = `<tr><th class="l">scope</th><th>seeds</th>${
    keys.map((k) => `<th>${escapeHtml(metricInfo(k).label)}</th>`).join("")
  }</tr>`
  const body = refs
    .map((r) =>
      `<tr><td class="l">${escapeHtml(r.name)}</td><td>${r.seeds}</td>${
        keys.map((k) => summaryCell(k, r.metrics[k])).join("")
      }</tr>`
    )
    .join("\n")
  return `<div class="scroll"><table>${head}\n${body}</table></div>`
}

/**
 * A sample's text for the page: a character-level tokenizer decodes <unk> as U+FFFD, which a browser draws as '�'
 * (a broken byte, to a reader); it is shown as a visible <unk> token instead.
 */
const sampleHtml = (text: string): string =>
  escapeHtml(text).replace(/\uFFFD/g, `<span class="unk" title="a token outside the vocabulary">&lt;unk&gt;</span>`)

const samplesGrid = (arm: ArmReport): string =>
  `<div class="samples">${
    arm.generations
      .map((g) =>
        `<article class="sample"><h4>generation ${g.generation}</h4><p>${sampleHtml(g.sampleText)}</p></article>`
      )
      .join("\n")
  }</div>`

const armPlots = (arm: ArmReport): ReadonlyArray<Plot> => {
  const keys = new Set(metricKeys(arm))
  const plots: Plot[] = []
  if (keys.has("perplexity")) {
    const withBaseline = keys.has("baseline_perplexity")
    plots.push({
      id: `perplexity:${arm.name}`,
      title: "Perplexity on real held-out text",
      sub: "(log scale)",
      spec: armChart({
        rows: seriesRows(
          arm,
          withBaseline ? ["perplexity", "baseline_perplexity"] : ["perplexity"],
          true,
          (k) => k === "perplexity" ? "model" : "untrained baseline"
        ),
        styles: [
          { series: "model", color: metricInfo("perplexity").color },
          ...(withBaseline
            ? [{ series: "untrained baseline", color: metricInfo("baseline_perplexity").color, dashed: true }]
            : [])
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
      sub: clipSub([arm], present),
      spec: armChart({
        rows: seriesRows(arm, present, false),
        styles: present.map((k) => ({ series: metricInfo(k).label, color: metricInfo(k).color })),
        yTitle,
        log: false
      })
    })
  }
  group("distinct", "Distinct-n of the synthetic sample", ["distinct_1", "distinct_2"], "distinct n-grams / n-grams")
  group("rep", "Repetition: rep-4", ["rep_4", "word_rep_4", "repeated_3gram_share"], "repeated n-grams / n-grams")
  group("compression", "Repetition: compression ratio of the sample", ["compression_ratio"], "bytes / deflated bytes")
  group("self-bleu", "Self-BLEU between sampled documents", ["self_bleu"], "self-BLEU")
  if (arm.generations.some((g) => (g.lossCurve ?? []).length > 0)) {
    plots.push({
      id: `loss:${arm.name}`,
      title: "Training and validation loss of each generation's model",
      sub: "(first seed; solid: training, dashed: validation)",
      spec: lossCurveChart(arm)
    })
  }
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
  const head =
    `<tr><th class="l">stage</th><th class="l">output</th><th class="l">type</th><th class="l">hash</th><th>size</th></tr>`
  const body = rows
    .map(
      (r) =>
        `<tr><td class="l mono">${escapeHtml(r.stage)}</td><td class="l">${escapeHtml(r.output)}</td><td class="l">${
          escapeHtml(r.artifact)
        }</td>` +
        `<td class="l mono" title="${escapeHtml(r.hash)}">${
          escapeHtml(r.hash.slice(0, 12))
        }</td><td title="${r.bytes} bytes">${fmtBytes(r.bytes)}</td></tr>`
    )
    .join("\n")
  return `<div class="scroll"><table>${head}\n${body}</table></div>`
}

const theoryTable = (curve: TheoryCurve): string => {
  const head =
    `<tr><th>generation</th><th>predicted</th><th>empirical mean</th><th>95% interval</th><th>inside</th></tr>`
  const body = curve.points
    .map((p) => {
      // A relative tolerance of 1e-9: at generation 0 the band is a single point, computed another way than the prediction.
      const tol = 1e-9 * Math.max(1, Math.abs(p.predicted))
      const inside = p.predicted >= p.lo - tol && p.predicted <= p.hi + tol
      return `<tr><td>${p.generation}</td><td>${fmt(p.predicted)}</td><td>${fmt(p.mean)}</td><td>[${fmt(p.lo)}, ${
        fmt(p.hi)
      }]</td><td class="${inside ? "yes" : "no"}">${inside ? "yes" : "no"}</td></tr>`
    })
    .join("\n")
  return `<div class="scroll"><table>${head}\n${body}</table></div>`
}

/**
 * The downstream probes' (task, probe) pairs the arms report, in order of first appearance: each has
 * `<task>_<probe>_accuracy` and, where Evaluate.downstream read a baseline, `baseline_<task>_<probe>_accuracy`.
 */
const downstreamProbes = (arms: ReadonlyArray<ArmReport>): ReadonlyArray<string> => {
  const out: string[] = []
  for (const a of arms) {
    for (const k of metricKeys(a)) {
      const d = downstreamKey(k)
      if (d !== undefined && !d.baseline && d.score === "accuracy" && !out.includes(`${d.task}_${d.probe}`)) {
        out.push(`${d.task}_${d.probe}`)
      }
    }
  }
  return out
}

/**
 * Arms whose `prefix` accuracy (and its baseline's) has one seed per generation get the band of its 95% Wilson
 * interval over the test examples (`_accuracy_lo`, `_accuracy_hi`); with several seeds the band stays the one over
 * seeds. Returns the arms and whether any band is a Wilson one.
 */
const withWilsonBands = (arms: ReadonlyArray<ArmReport>, prefix: string) => {
  let wilson = false
  const band = (metrics: GenerationReport["metrics"], key: string): SeedSummary | undefined => {
    const s = metrics[key]
    if (s === undefined || s.values.length !== 1) return s
    const lo = metrics[`${key}_lo`], hi = metrics[`${key}_hi`]
    if (lo === undefined || hi === undefined) return s
    wilson = true
    return { ...s, lo: lo.mean, hi: hi.mean }
  }
  const out = arms.map((a) => ({
    ...a,
    generations: a.generations.map((g) => {
      const metrics: Record<string, SeedSummary> = { ...g.metrics }
      for (const key of [`${prefix}_accuracy`, `baseline_${prefix}_accuracy`, `${prefix}_minus_baseline`]) {
        const s = band(g.metrics, key)
        if (s !== undefined) metrics[key] = s
      }
      return { ...g, metrics }
    })
  }))
  return { arms: out, wilson }
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

/** A picture of the report as it was drawn: its id and caption, its SVG, and the rows a plot drew (none for a DAG). */
export interface RenderedFigure {
  readonly id: string
  readonly title: string
  readonly sub?: string
  readonly svg: string
  readonly rows?: ReadonlyArray<Readonly<Record<string, unknown>>>
}

/** The rows a plot's spec holds (each plot here has its data inline), without the fields only drawing needs. */
const rowsOf = (spec: TopLevelSpec): ReadonlyArray<Readonly<Record<string, unknown>>> => {
  const data = spec.data
  if (data === undefined || data === null || !("values" in data) || !Array.isArray(data.values)) return []
  return (data.values as ReadonlyArray<Readonly<Record<string, unknown>>>).map((row) =>
    Object.fromEntries(Object.entries(row).filter(([k]) => !STYLE_FIELDS.has(k)))
  )
}

/**
 * The report as one HTML page. Rendering is sequential: vega's SVG def counters are global. `onFigure` sees every
 * picture as it is drawn (`ouro report --figures` writes each to its own files).
 */
export const renderReport = async (
  data: ReportData,
  onFigure?: (figure: RenderedFigure) => void
): Promise<string> => {
  let pictures = 0
  const nextPrefix = () => `p${++pictures}`
  const plot = async (p: Plot): Promise<string> => {
    if (!hasPoints(p)) return ""
    const svg = await renderVega(p.spec, nextPrefix())
    onFigure?.({ id: p.id, title: p.title, ...(p.sub === undefined ? {} : { sub: p.sub }), svg, rows: rowsOf(p.spec) })
    return figure(p.id, p.title, svg, p.sub)
  }

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
          sub: has("baseline_perplexity") ? "(log scale; dashed grey: the untrained model)" : "(log scale)",
          spec: armsChart(
            data.arms,
            "perplexity",
            has("baseline_perplexity") ? "baseline_perplexity" : undefined,
            "perplexity",
            true
          )
        })
      )
    }
    if (has("distinct_2")) {
      overview.push(
        await plot({
          id: "distinct-2:arms",
          title: "Distinct-2 of the synthetic sample, all arms",
          sub: clipSub(data.arms, ["distinct_2"]),
          spec: armsChart(data.arms, "distinct_2", undefined, "distinct-2", false)
        })
      )
    }
    parts.push(`<section id="overview"><h2>Overview</h2><div class="plots wide">${overview.join("\n")}</div></section>`)
  }

  // Downstream tasks: each probe's accuracy per generation and arm, the untrained model's as a dashed line.
  const probes = downstreamProbes(data.arms)
  if (probes.length > 0) {
    nav.push(`<a href="#downstream">downstream</a>`)
    const figures: string[] = []
    let wilsonAny = false
    for (const prefix of probes) {
      const { arms, wilson } = withWilsonBands(data.arms, prefix)
      wilsonAny ||= wilson
      const d = downstreamKey(`${prefix}_accuracy`)!
      const key = `${prefix}_accuracy`
      const baseline = arms.some((a) => metricKeys(a).includes(`baseline_${key}`)) ? `baseline_${key}` : undefined
      figures.push(
        await plot({
          id: `downstream:${prefix}`,
          title: `${d.task}: ${d.probe === "linear" ? "linear probe" : "fine-tune"} accuracy on held-out examples`,
          sub: baseline === undefined ? undefined : "(dashed grey: the untrained model)",
          spec: armsChart(arms, key, baseline, "accuracy", false)
        })
      )
      // Where each generation was compared with the untrained model pair by pair: the difference, with its paired
      // interval as the band (above 0 everywhere it is drawn: better than the untrained model on these examples).
      const paired = `${prefix}_minus_baseline`
      if (arms.some((a) => metricKeys(a).includes(paired))) {
        figures.push(
          await plot({
            id: `downstream-paired:${prefix}`,
            title: `${d.task}: ${
              d.probe === "linear" ? "linear probe" : "fine-tune"
            }, accuracy minus the untrained model's`,
            sub: "(paired on the same held-out examples; band: the 95% paired interval; McNemar's p in the tables)",
            spec: armsChart(arms, paired, undefined, "accuracy difference", false)
          })
        )
      }
    }
    parts.push(
      `<section id="downstream"><h2>Downstream tasks</h2><p class="meta">each generation's model probed on labelled ` +
        `tasks (Evaluate.downstream): accuracy on the held-out examples; bands: ${
          wilsonAny ? "with one seed, the 95% Wilson interval over the test examples; else " : ""
        }the 95% interval over seeds. The numbers: each arm's table below.</p><div class="plots wide">${
          figures.join("\n")
        }</div></section>`
    )
  }

  const references = data.references ?? []
  if (references.length > 0) {
    nav.push(`<a href="#references">references</a>`)
    parts.push(
      `<section id="references"><h2>Reference measurements</h2><p class="meta">measured once, outside the generations ` +
        `(such as the untrained model): mean over seeds [95% interval]</p>${referencesTable(references)}</section>`
    )
  }

  for (const arm of data.arms) {
    const id = `arm-${slug(arm.name.replace(/^arm=/, ""))}`
    nav.push(`<a href="#${escapeHtml(id)}">${escapeHtml(arm.name)}</a>`)
    const seeds = [...new Set(arm.generations.map((g) => g.seeds))].join("/")
    const figures: string[] = []
    for (const p of armPlots(arm)) figures.push(await plot(p))
    parts.push(
      `<section id="${escapeHtml(id)}" class="arm" data-arm="${escapeHtml(arm.name)}"><h2>${
        escapeHtml(arm.name)
      }</h2>` +
        `<p class="meta">${arm.generations.length} generations, ${
          escapeHtml(seeds)
        } seed(s) each; lines: mean over seeds, bands: 95% interval</p>` +
        `<div class="plots">${figures.join("\n")}</div>` +
        metricsTable(arm) +
        // An arm whose metric stages read no sample has no samples to show, nor an empty section for them.
        (arm.generations.some((g) => g.sampleText !== "")
          ? `<h3>Samples, generation by generation <span class="meta">(opening of the first document, first seed)</span></h3>` +
            samplesGrid(arm)
          : "") +
        `</section>`
    )
  }

  if (data.dag.nodes.length > 0) {
    nav.push(`<a href="#pipeline">pipeline</a>`)
    const figures: string[] = []
    for (const d of dagPictures(data.dag)) {
      const svg = await renderDot(d.dot, nextPrefix())
      onFigure?.({ id: d.id, title: d.title, sub: d.caption, svg })
      figures.push(dagFigure(d.id, d.title, svg, d.caption))
    }
    parts.push(`<section id="pipeline"><h2>Pipeline</h2>${figures.join("\n")}</section>`)
  }

  if (data.artifacts.length > 0) {
    nav.push(`<a href="#artifacts">artifacts</a>`)
    parts.push(
      `<section id="artifacts"><h2>Artifacts</h2><p class="meta">${data.artifacts.length} outputs; hover a hash for all of it.</p>${
        artifactsTable(data.artifacts)
      }</section>`
    )
  }

  if (data.theory.length > 0) {
    nav.push(`<a href="#theory">theory</a>`)
    const ids = theoryIds(data.theory)
    const blocks: string[] = []
    for (const [i, curve] of data.theory.entries()) {
      const fig = await plot({ id: ids[i], title: curve.title, sub: `(${curve.quantity})`, spec: theoryChart(curve) })
      blocks.push(
        `<div class="theory">${fig}<div>${theoryTable(curve)}<p class="assumption"><strong>Assumes:</strong> ${
          escapeHtml(curve.assumption)
        }</p></div></div>`
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
    `<p class="meta">run manifest <span class="mono" title="${escapeHtml(data.manifest)}">${
      escapeHtml(data.manifest.slice(0, 16))
    }</span> · ` +
    `${data.arms.length} arm(s) · every number read from the store</p>`,
    `<nav>${nav.join("")}</nav></header>`,
    ...parts,
    "</main></body></html>",
    ""
  ].join("\n")
}
