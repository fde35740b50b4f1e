/**
 * Issue #11, "the researcher's daily loop": what a researcher meets running, reading and scripting experiments every
 * day, through the real `ouro` command (and, where only a terminal or a browser shows it, through the piece that
 * draws it).
 */
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { after, before, describe, it } from "node:test"
import { tableFromArrays, tableToIPC } from "apache-arrow"
import { Effect } from "effect"
import { Table as WasmTable, writeParquet } from "parquet-wasm"
import { progressLayer } from "../src/cli/progress.ts"
import { Progress } from "../src/engine/Progress.ts"
import { Seed } from "../src/stages/seed.ts"
import { seriesRows } from "../src/report/charts.ts"
import type { ArmReport, ReportData } from "../src/report/data.ts"
import { renderReport } from "../src/report/html.ts"
import { summarize } from "../src/report/summary.ts"
import { metricsTables } from "../src/report/table.ts"
import { launchBrowser } from "./support/browser.ts"
import { ouro, ROOT, tempDir as ouroDir } from "./support/cli.ts"

/** A user's project with ouroboros and effect installed: their own stages import Effect and Schema. */
const tempDir = (prefix: string): string => {
  const dir = ouroDir(prefix)
  symlinkSync(join(ROOT, "node_modules", "effect"), join(dir, "node_modules", "effect"), "dir")
  return dir
}

const SAMPLE = join(ROOT, "data/shakespeare-sample.txt")

/** A user's own metric stage, as README's "In a project of your own" writes one. */
const MEAN_LENGTH = `
const MeanLength = defineStage({
  kind: "user/mean-length", version: 1,
  params: Schema.Struct({}),
  inputs: { corpus: Corpus },
  outputs: { metrics: Metrics },
  run: (_p, { corpus }) => Effect.sync(() => {
    const { texts } = corpusDocuments(corpus)
    return { metrics: { values: { "mean-chars": texts.reduce((a, t) => a + t.length, 0) / Math.max(1, texts.length) } } }
  })
})
`

/** One arm, 2 generations, one seed, two metric stages per generation (Evaluate.lm and the user's), a baseline scope. */
const loopPipeline = `
import { Effect, Schema } from "effect"
import { Corpus, corpusDocuments, defineStage, Evaluate, Metrics, Mix, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"
${MEAN_LENGTH}
export default Pipeline.make("loop", (p) => {
  const real = p.add(Seed.corpus({ source: ${JSON.stringify(SAMPLE)}, testFraction: 0.2, seed: 7 }), {})
  const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
  p.scope({ arm: "untrained" }, (u) => { u.add(MeanLength({}), { corpus: real.test }) })
  p.scope({ arm: "replace" }, (s) =>
    s.generations(2, { corpus: real.train, pool: real.train }, (g, prev) => {
      const { model } = g.add(Train.ngram({ order: 2 }), { corpus: prev.corpus, tokenizer })
      const synthetic = g.add(Sample.text({ documents: 20, maxLength: 40, seed: g.index }), { model, tokenizer }).corpus
      g.add(Evaluate.lm({ selfBleuDocs: 10, selfBleuLength: 20 }), { model, tokenizer, test: real.test, sample: synthetic })
      g.add(MeanLength({}), { corpus: synthetic })
      return g.add(Mix.replace(), { real: real.train, previous: prev.pool, synthetic })
    }))
})
`

describe("the daily loop: one run, read back", () => {
  let dir = ""
  let file = ""
  let first = { code: 0, stdout: "", stderr: "" }
  before(() => {
    dir = tempDir("ouro-loop-")
    file = join(dir, "loop.ts")
    writeFileSync(file, loopPipeline)
    first = ouro(dir, "run", file, "--jobs", "1")
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("5: one seed and two metric stages per generation is '1 seed' in the table and the report", () => {
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /^arm=replace \(1 seed; mean\)$/m)
    assert.doesNotMatch(first.stdout, /2 seeds/)
    const out = join(dir, "report.html")
    const r = ouro(dir, "report", "loop", "-o", out)
    assert.equal(r.code, 0, r.stderr)
    const html = readFileSync(out, "utf8")
    assert.match(html, /2 generations, 1 seed\(s\) each/)
    assert.doesNotMatch(html, /2 seed\(s\)/)
  })

  it("6: a metric written by the user's own stage is a column of the table, after the built-in ones", () => {
    assert.equal(first.code, 0, first.stderr)
    const header = first.stdout.split("\n").find((l) => l.startsWith("gen ") && l.includes("ppl")) ?? ""
    assert.match(
      header,
      /^gen\s+ppl\s+baseline\s+distinct-1\s+distinct-2\s+rep-4\s+self-BLEU\s+entropy\s+coverage\s+mean-chars\s+sample_tokens$/
    )
  })

  it("7: a scope without generations (the untrained baseline) is no arm of the report: no section, no empty samples", () => {
    const out = join(dir, "report-7.html")
    const r = ouro(dir, "report", "loop", "-o", out)
    assert.equal(r.code, 0, r.stderr)
    const html = readFileSync(out, "utf8")
    assert.doesNotMatch(html, /data-arm="arm=untrained"/)
    assert.match(html, /<section id="arm-replace"/)
    // Its number is still in the report, as a reference measurement.
    assert.match(html, /id="references"[\s\S]*arm=untrained[\s\S]*mean-chars/)
  })

  it("missing piece 7: report --figures DIR writes each figure as SVG and PNG, with the numbers it plots as CSV", () => {
    const out = join(dir, "report-figures.html")
    const figs = join(dir, "figs", "paper")
    const r = ouro(dir, "report", "loop", "-o", out, "--figures", figs)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /\d+ figures written to .*paper/)
    const html = readFileSync(out, "utf8")
    const ids = [...html.matchAll(/data-plot="([^"]+)"/g)].map((m) => m[1])
    assert.ok(ids.includes("perplexity:arm=replace"), ids.join(" "))
    const files = readdirSync(figs).sort()
    for (const id of ids) {
      const name = id.replace(/:/g, "--").replace(/[^A-Za-z0-9.-]+/g, "-").replace(/^-+|-+$/g, "")
      const svg = readFileSync(join(figs, `${name}.svg`), "utf8")
      assert.match(svg, /^<\?xml [^>]*>\n<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, `${name}.svg stands alone`)
      const png = readFileSync(join(figs, `${name}.png`))
      assert.deepEqual(
        [...png.subarray(0, 8)],
        [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
        `${name}.png is a PNG`
      )
      assert.ok(png.readUInt32BE(16) > 300 && png.readUInt32BE(20) > 100, `${name}.png has a size`)
      if (!id.startsWith("dag")) assert.ok(files.includes(`${name}.csv`), `${name}.csv`)
    }
    // The numbers behind the perplexity plot: one row per generation, mean and interval, as the table has them.
    const csv = readFileSync(join(figs, "perplexity--arm-replace.csv"), "utf8").trimEnd().split("\n")
    assert.equal(csv[0], "generation,series,mean,lo,hi")
    assert.equal(csv.filter((l) => l.startsWith("1,model,") || l.startsWith("2,model,")).length, 2, csv.join("\n"))
    // A file where the folder should be: one clear line, nothing written.
    writeFileSync(join(dir, "not-a-folder"), "x")
    const bad = ouro(dir, "report", "loop", "-o", join(dir, "unwritten.html"), "--figures", join(dir, "not-a-folder"))
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^ouro: .*not-a-folder.*\n$/)
    assert.ok(!readdirSync(dir).includes("unwritten.html"))
  })

  it("3: --json on plan, ls, status, show and verify: exactly one JSON document on stdout, of the documented shape", () => {
    const json = (...args: string[]) => {
      const r = ouro(dir, ...args, "--json")
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`)
      assert.equal(r.stdout.trimEnd().split("\n").length, 1, `${args.join(" ")}: one line`)
      const doc = JSON.parse(r.stdout) as Record<string, unknown>
      assert.equal(doc.format, 1)
      assert.equal(doc.kind, args[0])
      return doc
    }
    const plan = json("plan", file) as {
      pipeline: string
      counts: Record<string, number>
      stages: Array<Record<string, unknown>>
    }
    assert.equal(plan.pipeline, "loop")
    assert.deepEqual(plan.counts, { stages: plan.stages.length, cached: plan.stages.length, run: 0, pending: 0 })
    assert.deepEqual(Object.keys(plan.stages[0]), ["path", "kind", "status", "key", "reasons"])
    assert.match(String(plan.stages[0].key), /^[0-9a-f]{64}$/)
    const ls = json("ls") as {
      pipelines: Array<{ name: string; run: string; artifacts: Array<Record<string, string>> }>
    }
    assert.deepEqual(ls.pipelines.map((p) => p.name), ["loop"])
    const train = ls.pipelines[0].artifacts.find((x) => x.stage === "arm=replace/g1/train-ngram")!
    assert.deepEqual(Object.keys(train), ["stage", "output", "kind", "hash"])
    const status = json("status") as Record<string, unknown>
    assert.deepEqual(Object.keys(status), [
      "format",
      "kind",
      "store",
      "blobs",
      "bytes",
      "records",
      "strays",
      "pipelines"
    ])
    const show = json("show", "loop/arm=replace/g1/evaluate-lm") as {
      type: string
      record: { key: string }
      outputs: Record<string, { hash: string; text: string }>
    }
    assert.equal(show.type, "record")
    assert.match(show.outputs.metrics.text, /^metrics\n/)
    const blob = json("show", show.outputs.metrics.hash) as Record<string, unknown>
    assert.equal(blob.type, "blob")
    const verify = json("verify") as {
      clean: boolean
      checked: Record<string, number>
      corrupt: unknown[]
      missing: unknown[]
    }
    assert.equal(verify.clean, true)
    assert.deepEqual(verify.corrupt, [])
  })

  it("12: ls of a pipeline that never ran names it and exits 1; a usage error exits 2", () => {
    const r = ouro(dir, "ls", "nopipeline")
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.equal(
      r.stderr,
      "ouro: nopipeline: no pipeline by that name has run in this store (pipelines that have: loop)\n"
    )
    assert.equal(r.stdout, "")
    const usage = ouro(dir, "ls", "--bogus")
    assert.equal(usage.code, 2, usage.stdout + usage.stderr)
    assert.match(usage.stderr, /Unrecognized flag: --bogus/)
    const head = ouro(dir, "show", "loop/seed-corpus", "--head", "-1")
    assert.equal(head.code, 2, head.stdout + head.stderr)
  })

  it("13: --quiet is global (every command); --log-level none silences the progress lines too", () => {
    for (const args of [["ls", "--quiet"], ["--quiet", "status"], ["verify", "--quiet"]]) {
      const r = ouro(dir, ...args)
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`)
    }
    const edited = file.replace(/loop\.ts$/, "loop-13.ts")
    writeFileSync(edited, loopPipeline.replace("documents: 20", "documents: 21"))
    const r = ouro(dir, "run", edited, "--log-level", "none")
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, "", "no progress lines")
    assert.match(r.stdout, /pipeline loop: \d+ stages, [1-9]\d* ran/)
  })
})

describe("the daily loop: progress lines", () => {
  it("8: 'done' shows the stage's compute time, and the queue wait apart when it is significant", () => {
    const dir = tempDir("ouro-wait-")
    try {
      const file = join(dir, "wait.ts")
      writeFileSync(
        file,
        `
import { Effect, Schema } from "effect"
import { defineStage, Metrics, Pipeline } from "ouroboros"
const Nap = defineStage({
  kind: "user/nap", version: 1, params: Schema.Struct({ ms: Schema.Number }), inputs: {}, outputs: { metrics: Metrics },
  run: (p) => Effect.sleep(p.ms).pipe(Effect.as({ metrics: { values: { ms: p.ms } } }))
})
export default Pipeline.make("wait", (p) => {
  p.add(Nap({ ms: 2500 }), {}, { name: "slow" })
  p.add(Nap({ ms: 1 }), {}, { name: "quick" })
})
`
      )
      const r = ouro(dir, "run", file, "--jobs", "1")
      assert.equal(r.code, 0, r.stderr)
      const done = (name: string) =>
        r.stderr.split("\n").find((l) => l.startsWith("  done") && l.includes(` ${name} `)) ?? ""
      // Its record's time (the first stage on a fresh worker also pays for the worker's start).
      const slow = /^ {2}done {4}slow {2}(\d+\.\d\d) s$/.exec(done("slow"))
      assert.ok(slow !== null && Number(slow[1]) >= 2.5, `slow: ${JSON.stringify(done("slow"))}`)
      // The quick stage waited for the slow one's worker: its compute time is a few ms, and the wait is said apart.
      const quick = /^ {2}done {4}quick {2}(\d+\.\d\d) s \(waited (\d+\.\d) s\)$/.exec(done("quick"))
      assert.ok(quick !== null, `quick: ${JSON.stringify(done("quick"))}\n${r.stderr}`)
      assert.ok(Number(quick[1]) < 1, `compute time ${quick[1]} s`)
      assert.ok(Number(quick[2]) >= 2, `wait ${quick[2]} s`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("10: a status line too long for the terminal keeps its numbers and cuts the path in the middle", async () => {
    const written: string[] = []
    const terminal = { isTTY: true, columns: 100, write: (s: string) => (written.push(s), true) }
    const path = "ngram-collapse/arm=replace-with-filter-dedup/seed=3/g7/train-transformer"
    const line = "step 120/250  loss 2.314  1234 tok/s  ETA 0:42"
    await Effect.runPromise(
      Effect.gen(function*() {
        const progress = yield* Progress
        yield* progress.emit({ _tag: "Status", path, line })
      }).pipe(Effect.provide(progressLayer({ quiet: false, out: terminal })))
    )
    const shown = written.join("").replace(/\r\x1b\[K/g, "")
    assert.ok(shown.length <= 99, `${shown.length} characters: ${shown}`)
    assert.ok(shown.endsWith(`: ${line}`), shown)
    assert.match(shown, /^\s*ngram-collapse\/.*….*train-transformer: /)
  })
})

describe("the daily loop: a user stage's code", () => {
  it("missing piece 5: editing a user stage's run without a version bump reruns it, and plan says its code changed", () => {
    const dir = tempDir("ouro-code-")
    try {
      const file = join(dir, "code.ts")
      const pipeline = (minChars: string) => `
import { Effect, Schema } from "effect"
import { Corpus, corpusDocuments, corpusFromDocuments, defineStage, Pipeline, Seed } from "ouroboros"
const LongOnly = defineStage({
  kind: "user/long-only", version: 1,
  params: Schema.Struct({}),
  inputs: { corpus: Corpus },
  outputs: { corpus: Corpus },
  run: (_p, { corpus }) => Effect.sync(() => {
    const { ids, texts } = corpusDocuments(corpus)
    return { corpus: corpusFromDocuments(ids.flatMap((id, i) => texts[i].length >= ${minChars} ? [{ id, text: texts[i] }] : [])) }
  })
})
export default Pipeline.make("code", (p) => {
  const real = p.add(Seed.corpus({ source: ${JSON.stringify(SAMPLE)}, testFraction: 0.2, seed: 7 }), {})
  p.add(LongOnly({}), { corpus: real.train })
})
`
      writeFileSync(file, pipeline("20"))
      const first = ouro(dir, "run", file, "--jobs", "1")
      assert.equal(first.code, 0, first.stderr)
      const before = ouro(dir, "show", "code/user-long-only", "--json")
      assert.equal(before.code, 0, before.stderr)
      // The code's text is the same whichever way ouro started (its bundle, or its TypeScript sources through tsx):
      // the same key, so the stage is cached.
      const { OURO_STORE: _s, ...env } = process.env
      const fromSource = spawnSync(process.execPath, [join(ROOT, "bin", "ouro.js"), "plan", file, "--json"], {
        cwd: dir,
        encoding: "utf8",
        env: { ...env, OURO_STARTUP: "source" }
      })
      assert.equal(fromSource.status, 0, fromSource.stderr)
      assert.equal(JSON.parse(fromSource.stdout).counts.cached, 2, fromSource.stdout)
      // The same params, the same version: only the code of run differs.
      writeFileSync(file, pipeline("200"))
      const plan = ouro(dir, "plan", file, "--verbose")
      assert.equal(plan.code, 0, plan.stderr)
      const line = plan.stdout.split("\n").find((l) => l.includes("user-long-only")) ?? ""
      assert.match(line, /run/, plan.stdout)
      assert.match(plan.stdout, /code of run changed/, plan.stdout)
      assert.doesNotMatch(plan.stdout.split("\n").find((l) => l.includes("seed-corpus")) ?? "", /code/)
      const second = ouro(dir, "run", file, "--jobs", "1")
      assert.equal(second.code, 0, second.stderr)
      const after = ouro(dir, "show", "code/user-long-only", "--json")
      assert.notEqual(
        JSON.parse(after.stdout).record.key,
        JSON.parse(before.stdout).record.key,
        "a new key for the new code"
      )
      assert.notDeepEqual(JSON.parse(after.stdout).record.outputs, JSON.parse(before.stdout).record.outputs)
      // And back: the first code's result is found again by its key, nothing computes.
      writeFileSync(file, pipeline("20"))
      const third = ouro(dir, "run", file, "--jobs", "1")
      assert.equal(third.code, 0, third.stderr)
      assert.match(third.stderr + third.stdout, /0 computed|2 cached|cached 2/, third.stderr + third.stdout)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("the daily loop: where sources are", () => {
  it("9: a relative source path resolves against the pipeline file's directory, not the current one", () => {
    const dir = tempDir("ouro-rel-")
    try {
      mkdirSync(join(dir, "exp"))
      writeFileSync(join(dir, "exp", "tiny.txt"), "one document here.\n\nanother document there.\n\na third one.\n")
      writeFileSync(
        join(dir, "exp", "rel.ts"),
        `
import { Pipeline, Seed } from "ouroboros"
export default Pipeline.make("rel", (p) => { p.add(Seed.corpus({ source: "./tiny.txt", testFraction: 0.4 }), {}) })
`
      )
      const r = ouro(dir, "run", "exp/rel.ts")
      assert.equal(r.code, 0, r.stderr)
      const shown = ouro(dir, "show", "rel/seed-corpus")
      assert.match(shown.stdout, /"source":"\.\/tiny\.txt"/, "the key holds the path as written")
      assert.match(shown.stdout, /train: corpus: \d documents/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("9: the params (so the keys) of an absolute path and of the default source are unchanged", () => {
    assert.deepEqual(Seed.corpus({ source: SAMPLE }).params, {
      _tag: "Valid",
      encoded: { source: SAMPLE, split: "paragraph", testFraction: 0.1, seed: 1, maxDocuments: 0 }
    })
    assert.deepEqual(Seed.corpus().params, {
      _tag: "Valid",
      encoded: { source: "sotu", split: "paragraph", testFraction: 0.1, seed: 1, maxDocuments: 0 }
    })
  })

  it("15: a text-only Parquet corpus (Hugging Face's `text` column) and one with other column names are read", () => {
    const dir = tempDir("ouro-parquet-")
    try {
      const parquet = (columns: Record<string, string[]>) =>
        writeParquet(WasmTable.fromIPCStream(tableToIPC(tableFromArrays(columns), "stream")))
      const texts = ["the first document.", "a second one.", "and a third.", "a fourth, at last."]
      writeFileSync(join(dir, "hf.parquet"), parquet({ text: texts }))
      writeFileSync(join(dir, "mapped.parquet"), parquet({ doc_id: ["d1", "d2", "d3", "d4"], content: texts }))
      writeFileSync(
        join(dir, "pq.ts"),
        `
import { Pipeline, Seed } from "ouroboros"
export default Pipeline.make("pq", (p) => {
  p.add(Seed.corpus({ source: ${JSON.stringify(join(dir, "hf.parquet"))}, testFraction: 0.25 }), {}, { name: "hf" })
  p.add(Seed.corpus({ source: ${
          JSON.stringify(join(dir, "mapped.parquet"))
        }, testFraction: 0.25, columns: { text: "content", id: "doc_id" } }), {}, { name: "mapped" })
})
`
      )
      const r = ouro(dir, "run", "pq.ts")
      assert.equal(r.code, 0, r.stderr)
      const hf = ouro(dir, "show", "pq/hf", "--head", "10")
      assert.match(hf.stdout, /(train|test): corpus: \d documents/)
      // Ids from the row index, zero-padded as a text file's are, so they sort in file order.
      assert.match(hf.stdout, /\n {2}hf:00000[0-3]: /)
      const mapped = ouro(dir, "show", "pq/mapped", "--head", "10")
      assert.match(mapped.stdout, /\n {2}d[1-4]: (the|a|and) /)
      // A column named but missing is refused, naming it.
      writeFileSync(
        join(dir, "bad.ts"),
        `
import { Pipeline, Seed } from "ouroboros"
export default Pipeline.make("bad", (p) => { p.add(Seed.corpus({ source: ${
          JSON.stringify(join(dir, "hf.parquet"))
        }, columns: { text: "body" } }), {}) })
`
      )
      const bad = ouro(dir, "run", "bad.ts")
      assert.equal(bad.code, 1)
      assert.match(bad.stderr, /column "body" missing \(found: text\)/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("the daily loop: bounded metrics", () => {
  const bounded = [0.97, 0.99, 0.62] // mean 0.86; a t-interval over 3 seeds reaches far above 1
  it("14: the table clips a bounded metric's interval to [0, 1] and says so", () => {
    const rows = bounded.map((v, i) => ({
      tags: { seed: i + 1, generation: 1 },
      values: { rep_4: v, perplexity: 100 + v }
    }))
    const table = metricsTables(rows)
    const cell = /^1\s+\S+\s+(.+)$/m.exec(table)![1]
    const [lo, hi] = /\[(\S+), (\S+)\]/.exec(cell)!.slice(1).map(Number)
    assert.ok(lo >= 0 && hi <= 1, `rep-4 cell ${cell}`)
    assert.match(table, /clipped to \[0, 1\]/)
  })

  it("14: the report clips the band of a bounded metric to [0, 1] and says so in the caption", async () => {
    const s = summarize(bounded)
    assert.ok(s.hi > 1, "the fixture's raw interval goes above 1")
    const arm: ArmReport = {
      name: "arm=replace",
      generations: [1, 2].map((generation) => ({
        generation,
        seeds: 3,
        metrics: { rep_4: s, self_bleu: s, perplexity: summarize([10, 11, 12]) },
        rankFrequency: [],
        sampleText: "x"
      }))
    }
    for (const r of seriesRows(arm, ["rep_4", "self_bleu"], false)) assert.ok(r.lo >= 0 && r.hi <= 1, JSON.stringify(r))
    const html = await renderReport({
      pipeline: "b",
      manifest: "0".repeat(64),
      arms: [arm],
      dag: { nodes: [], edges: [] },
      artifacts: [],
      theory: []
    })
    const rep = /<figure class="plot" data-plot="rep:arm=replace"><figcaption>([^<]*(<span[^>]*>[^<]*<\/span>)?)/.exec(
      html
    )
    assert.ok(rep !== null)
    assert.match(rep[1], /band clipped to \[0, 1\]/)
    assert.doesNotMatch(html, /\[0\.\d+, 1\.[0-9]*[1-9]/, "no interval above 1 in the numbers either")
  })
})

describe("the daily loop: the report's samples", () => {
  it("7: a character model's <unk> (decoded as U+FFFD) is shown as a visible <unk> token, not '\uFFFD'", async () => {
    const arm: ArmReport = {
      name: "arm=replace",
      generations: [{
        generation: 1,
        seeds: 1,
        metrics: { perplexity: summarize([9]) },
        rankFrequency: [],
        sampleText: "the \uFFFDnion is strong"
      }]
    }
    const html = await renderReport({
      pipeline: "u",
      manifest: "0".repeat(64),
      arms: [arm],
      dag: { nodes: [], edges: [] },
      artifacts: [],
      theory: []
    })
    assert.ok(!html.includes("\uFFFD"), "a U+FFFD reached the page")
    assert.match(html, /the <span class="unk"[^>]*>&lt;unk&gt;<\/span>nion is strong/)
  })
})

describe("the daily loop: the report's overview in a browser", () => {
  it(
    "7: five arms with long names: every legend entry whole and visible, each arm its own colour, the baseline apart",
    { timeout: 120_000 },
    async () => {
      const names = [
        "accumulate-subsample-2000",
        "accumulate-everything",
        "replace-with-filter-dedup",
        "real-fraction-0.1-and-more",
        "replace"
      ].map((n) => `arm=${n}`)
      const arms: ArmReport[] = names.map((name, a) => ({
        name,
        generations: [1, 2, 3, 4].map((generation) => ({
          generation,
          seeds: 1,
          metrics: {
            perplexity: summarize([100 + 20 * a * generation]),
            baseline_perplexity: summarize([900]),
            distinct_2: summarize([0.5 - 0.05 * a * generation])
          },
          rankFrequency: [],
          sampleText: `sample of ${name}`
        }))
      }))
      const data: ReportData = {
        pipeline: "five",
        manifest: "0".repeat(64),
        arms,
        dag: { nodes: [], edges: [] },
        artifacts: [],
        theory: []
      }
      const dir = mkdtempSync(join(tmpdir(), "ouro-legend-"))
      const file = join(dir, "report.html")
      writeFileSync(file, await renderReport(data))
      const { browser } = await launchBrowser()
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
        await page.goto(pathToFileURL(file).href, { waitUntil: "load" })
        for (const id of ["perplexity:arms", "distinct-2:arms"]) {
          const legend = await page.$eval(`figure[data-plot="${id}"]`, (fig) => {
            const box = fig.getBoundingClientRect()
            const labels = [...fig.querySelectorAll(".role-legend-label text")].map((t) => {
              const b = t.getBoundingClientRect()
              return {
                text: t.textContent ?? "",
                inside: b.left >= box.left - 0.5 && b.right <= box.right + 0.5 && b.top >= box.top &&
                  b.bottom <= box.bottom && b.width > 0
              }
            })
            const symbols = [...fig.querySelectorAll(".role-legend-symbol path")].map((p) =>
              p.getAttribute("stroke") ?? p.getAttribute("fill") ?? ""
            )
            // A solid line is drawn with the dash [1, 0]: the dashed ones are the others.
            const dashed = [...fig.querySelectorAll(".role-mark path[stroke-dasharray]")]
              .filter((p) => !/^1[ ,]+0$/.test(p.getAttribute("stroke-dasharray") ?? ""))
              .map((p) => p.getAttribute("stroke") ?? "")
            return { labels, symbols, dashed }
          })
          const baseline = id === "perplexity:arms" ? ["untrained baseline"] : []
          assert.deepEqual(legend.labels.map((l) => l.text), [...names, ...baseline], `${id}: legend labels`)
          for (const l of legend.labels) assert.ok(l.inside, `${id}: legend entry ${l.text} is cut off`)
          assert.equal(
            new Set(legend.symbols).size,
            names.length + baseline.length,
            `${id}: colours ${legend.symbols.join(" ")}`
          )
          const armColours = legend.symbols.slice(0, names.length)
          for (const d of legend.dashed) {
            assert.ok(
              !armColours.includes(d),
              `${id}: the dashed baseline is drawn in an arm's colour ${d}`
            )
          }
          if (id === "perplexity:arms") assert.ok(legend.dashed.length > 0, "the baseline is drawn")
        }
      } finally {
        await browser.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }
  )
})
