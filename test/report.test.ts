import assert from "node:assert/strict"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { describe, it } from "node:test"
import { encodeFiles } from "../src/artifact/files.ts"
import { writeSafetensors } from "../src/format/safetensors.ts"
import type { ReportData } from "../src/report/data.ts"
import { lossCurveOf } from "../src/report/gather.ts"
import { escapeHtml, renderReport } from "../src/report/html.ts"
import { launchBrowser } from "./support/browser.ts"
import { ARMS, reportFixture, summarize } from "./support/report-fixture.ts"

const OUTPUT = fileURLToPath(new URL("../test-output/", import.meta.url))

/** Every plot container: its data-plot id and its contents. */
const figures = (html: string): Array<{ id: string; body: string }> =>
  [...html.matchAll(/<figure class="plot[^"]*" data-plot="([^"]+)">([\s\S]*?)<\/figure>/g)].map((m) => ({
    id: m[1],
    body: m[2]
  }))

const expectedPlots = (arms: ReadonlyArray<string>): string[] => [
  "perplexity:arms",
  "distinct-2:arms",
  ...arms.flatMap((
    a
  ) => [`perplexity:arm=${a}`, `distinct:arm=${a}`, `rep:arm=${a}`, `self-bleu:arm=${a}`, `rank-frequency:arm=${a}`]),
  "dag-schematic",
  "dag",
  "theory:surviving-word-types-under-resampling",
  "theory:unigram-entropy-exact-expectation-vs-samples"
]

describe("report HTML", () => {
  it("has one plot per expected picture, each an SVG with drawn marks", async () => {
    const html = await renderReport(reportFixture())
    const figs = figures(html)
    assert.deepEqual(
      figs.map((f) => f.id),
      expectedPlots(ARMS)
    )
    for (const f of figs) {
      const svg = f.body.match(/<svg[\s\S]*<\/svg>/)
      assert.ok(svg !== null, `${f.id}: no svg`)
      assert.ok(/<(path|line|polygon|ellipse)\b[^>]*\b(d|points|x2|rx)="[^"]+/.test(svg[0]), `${f.id}: no drawn marks`)
      if (f.id.startsWith("dag")) assert.ok(svg[0].includes("class=\"node\""), `${f.id}: no nodes`)
      else assert.ok(/class="mark-(line|area|symbol)/.test(svg[0]), `${f.id}: no line, area or point marks`)
    }
    // Bands and lines: every per-generation metric plot draws both.
    for (const f of figs.filter((x) => /^(perplexity|distinct|rep|self-bleu):/.test(x.id))) {
      assert.ok(f.body.includes("mark-area"), `${f.id}: no band`)
      assert.ok(f.body.includes("mark-line"), `${f.id}: no line`)
    }
  })

  it("#11.7: draws each generation's training and validation loss curve (from the model's metadata)", async () => {
    const model = (curve: number[][]) =>
      writeSafetensors({ w: { dtype: "F32", shape: [1], data: new Float32Array([0]) } }, {
        training: JSON.stringify({ steps: 4, tokens: 100, validationTokens: 10, curve })
      })
    const first = lossCurveOf(model([[2, 3.5, 3.6], [4, 3.1, 3.3]]))
    assert.deepEqual(first, [{ step: 2, train: 3.5, validation: 3.6 }, { step: 4, train: 3.1, validation: 3.3 }])
    // Not a safetensors file (an n-gram model's JSON), or no curve in it: nothing to draw, no error.
    assert.deepEqual(lossCurveOf(new TextEncoder().encode(JSON.stringify({ artifact: "ngram" }))), [])
    assert.deepEqual(
      lossCurveOf(writeSafetensors({ w: { dtype: "F32", shape: [1], data: new Float32Array([0]) } })),
      []
    )
    // A model folder (Train.hf's Files artifact): its training.json.
    const folder = encodeFiles([
      { path: "config.json", mode: 0o644, bytes: new TextEncoder().encode("{}") },
      {
        path: "training.json",
        mode: 0o644,
        bytes: new TextEncoder().encode(JSON.stringify({ curve: [[10, 2.5, 2.7]] }))
      }
    ])
    assert.deepEqual(lossCurveOf(folder), [{ step: 10, train: 2.5, validation: 2.7 }])
    assert.deepEqual(lossCurveOf(encodeFiles([{ path: "config.json", mode: 0o644, bytes: new Uint8Array(2) }])), [])
    const second = lossCurveOf(model([[2, 3.9], [4, 3.7]]))
    const data = reportFixture()
    const arm = data.arms[0]
    const withCurves: ReportData = {
      ...data,
      arms: [
        {
          ...arm,
          generations: arm.generations.map((g, i) => ({ ...g, lossCurve: i === 0 ? first : i === 1 ? second : [] }))
        },
        ...data.arms.slice(1)
      ]
    }
    const figs = figures(await renderReport(withCurves))
    const loss = figs.filter((f) => f.id.startsWith("loss:"))
    assert.deepEqual(loss.map((f) => f.id), [`loss:${arm.name}`], "one loss plot, for the arm whose models have curves")
    assert.match(loss[0].body, /solid: training, dashed: validation/)
    // Three lines: generation 1's training and validation, generation 2's training (it has no validation points).
    assert.equal((loss[0].body.match(/<path[^>]*aria-roledescription="line mark"/g) ?? []).length, 3, loss[0].body)
    assert.match(loss[0].body, /stroke-dasharray="4,3"/, "the validation loss is dashed")
  })

  it("escapes text and contains no script", async () => {
    const html = await renderReport(reportFixture())
    assert.ok(!/<script/i.test(html), "a <script> tag reached the page")
    assert.ok(html.includes("&lt;script&gt;alert(&#39;collapse&#39;)&lt;/script&gt;"))
    assert.ok(html.includes("is strong &amp; our people are free."))
    assert.ok(html.includes("&lt;b&gt;know&lt;/b&gt;"))
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
  })

  it("is self-contained: no external references, unique ids", async () => {
    const html = await renderReport(reportFixture())
    assert.ok(!/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i.test(html), "an external src or href")
    assert.ok(!/url\(\s*["']?(https?:)?\/\//i.test(html) && !/@import/i.test(html), "an external CSS reference")
    for (const m of html.matchAll(/https?:\/\/[^\s"')]+/g)) {
      const before = html.slice(Math.max(0, (m.index ?? 0) - 14), m.index)
      assert.ok(/xmlns(:\w+)?="$/.test(before), `an http reference that is not an SVG namespace: ${m[0]}`)
    }
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1])
    assert.equal(new Set(ids).size, ids.length, "duplicate element ids across pictures")
    for (const m of html.matchAll(/url\(#([^)]+)\)/g)) assert.ok(ids.includes(m[1]), `dangling url(#${m[1]})`)
  })

  it("is deterministic, whatever was rendered before", async () => {
    const a = await renderReport(reportFixture())
    await renderReport(reportFixture({ arms: ARMS, seeds: [1, 2], generations: 4 }))
    const b = await renderReport(reportFixture())
    assert.equal(a, b)
    assert.ok(!/\d{4}-\d{2}-\d{2}T/.test(a), "a timestamp in the page")
  })

  it("draws a large DAG as a schematic plus one scope's first generations", async () => {
    const data = reportFixture({ arms: ARMS, seeds: [1, 2, 3], generations: 10 })
    assert.equal(data.dag.nodes.length, 362)
    const html = await renderReport(data)
    const byId = new Map(figures(html).map((f) => [f.id, f.body]))
    const schematic = byId.get("dag-schematic") ?? ""
    const excerpt = byId.get("dag") ?? ""
    assert.match(schematic, /The 362 stages and \d+ wires folded onto 8 boxes/)
    assert.equal(schematic.match(/class="node"/g)?.length, 8)
    assert.match(schematic, /train\/ngram(\s|&#160;)+×90/)
    assert.match(excerpt, /generations g1, g2, g3 of arm=replace\/seed=1/)
    // 2 shared stages + 3 generations × 4 stages, plus the grey stand-ins for the shared stages in each generation.
    assert.equal(excerpt.match(/class="node"/g)?.length, 2 + 3 * 4 + 3 * 2)
  })

  it("renders what is there: partial metrics, one seed, an empty report", async () => {
    const fixture = reportFixture()
    const one = summarize([250])
    const partial: ReportData = {
      ...fixture,
      arms: [
        {
          name: "arm=solo",
          generations: [1, 2, 3].map((g) => ({
            generation: g,
            seeds: 1,
            metrics: {
              perplexity: { ...one, mean: 250 * g, lo: 250 * g, hi: 250 * g },
              rep_4: summarize([0.1 * g]),
              self_bleu: summarize([Number.NaN])
            },
            rankFrequency: [],
            sampleText: `text ${g}`
          }))
        },
        {
          name: "arm=once",
          generations: [
            {
              generation: 1,
              seeds: 2,
              metrics: { distinct_2: summarize([0.5, 0.6]) },
              rankFrequency: [{ rank: 1, frequency: 3 }],
              sampleText: ""
            }
          ]
        }
      ],
      theory: []
    }
    const figs = figures(await renderReport(partial))
    assert.deepEqual(
      figs.map((f) => f.id),
      [
        "perplexity:arms",
        "distinct-2:arms",
        "perplexity:arm=solo",
        "rep:arm=solo",
        "distinct:arm=once",
        "rank-frequency:arm=once",
        "dag-schematic",
        "dag"
      ]
    )
    for (const f of figs) assert.ok(/<svg[\s\S]*<(path|line)\b/.test(f.body), `${f.id}: nothing drawn`)

    const empty: ReportData = {
      pipeline: "nothing",
      manifest: "0".repeat(64),
      arms: [],
      dag: { nodes: [], edges: [] },
      artifacts: [],
      theory: []
    }
    const html = await renderReport(empty)
    assert.equal(figures(html).length, 0)
    assert.match(html, /^<!DOCTYPE html>[\s\S]*<\/html>\n$/)
  })
})

describe("report in a browser", () => {
  it(
    "shows every plot with a non-empty picture, without console errors or requests",
    { timeout: 120_000 },
    async () => {
      const html = await renderReport(reportFixture())
      const dir = mkdtempSync(join(tmpdir(), "ouro-report-"))
      const file = join(dir, "report.html")
      writeFileSync(file, html)
      const { browser } = await launchBrowser()
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
        const problems: string[] = []
        const requests: string[] = []
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`)
        })
        page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`))
        page.on("request", (r) => requests.push(r.url()))
        await page.goto(pathToFileURL(file).href, { waitUntil: "load" })

        const boxes = await page.$$eval("figure.plot", (figs) =>
          figs.map((f) => {
            const svg = f.querySelector("svg")
            const box = svg?.getBoundingClientRect()
            const marks = svg?.querySelectorAll("path, line, polygon, ellipse") ?? []
            const drawn = [...marks].filter((m) => {
              const b = m.getBoundingClientRect()
              return b.width > 0 || b.height > 0
            }).length
            return { id: f.getAttribute("data-plot") ?? "", width: box?.width ?? 0, height: box?.height ?? 0, drawn }
          }))
        assert.deepEqual(
          boxes.map((b) => b.id),
          expectedPlots(ARMS)
        )
        for (const b of boxes) {
          assert.ok(b.width > 100 && b.height > 100, `${b.id}: svg is ${b.width}×${b.height}`)
          assert.ok(b.drawn > 0, `${b.id}: no visible marks`)
        }
        // The page must not overflow sideways: a plot wider than its box would.
        const overflow = Number(
          await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        )
        assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`)
        assert.deepEqual(problems, [])
        assert.deepEqual(requests, [pathToFileURL(file).href])

        mkdirSync(OUTPUT, { recursive: true })
        await page.screenshot({ path: join(OUTPUT, "report.png"), fullPage: true })
      } finally {
        await browser.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }
  )
})
