/**
 * The researcher's daily loop (#11): run, change a parameter, plan, rerun, compare, report on an earlier run, trace
 * a node of an arm that shares stages with another, pin a run, gc. End to end through the CLI.
 */
import assert from "node:assert/strict"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { ouro, ROOT, tempDir } from "./support/cli.ts"

/**
 * Two (or more) arms that share their first generation's training and sampling (same keys): the second arm
 * filters its synthetic corpus before mixing. `temperature` sets generation 1's sampling temperature per arm.
 */
const writeArms = (
  dir: string,
  o: { readonly arms?: ReadonlyArray<string>; readonly temperature?: Readonly<Record<string, number>> } = {}
): string => {
  const file = join(dir, "arms.ts")
  writeFileSync(
    file,
    `
import { Evaluate, Filter, Mix, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"

const temperature: Record<string, number> = ${JSON.stringify(o.temperature ?? {})}
export default Pipeline.make("arms", (p) => {
  const real = p.add(Seed.corpus({ source: ${
      JSON.stringify(join(ROOT, "data/shakespeare-sample.txt"))
    }, testFraction: 0.2, seed: 7 }), {})
  const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
  for (const arm of ${JSON.stringify(o.arms ?? ["replace", "replace-filtered"])}) {
    p.scope({ arm }, (s) =>
      s.generations(2, { corpus: real.train, pool: real.train }, (g, prev) => {
        const { model } = g.add(Train.ngram({ order: 2 }), { corpus: prev.corpus, tokenizer })
        const t = g.index === 1 ? (temperature[arm] ?? 1) : 1
        let synthetic = g.add(Sample.text({ documents: 30, maxLength: 40, temperature: t, seed: g.index }), { model, tokenizer }).corpus
        if (arm.endsWith("-filtered")) synthetic = g.add(Filter.length({ minWords: 12 }), { corpus: synthetic }).corpus
        g.add(Evaluate.lm({ selfBleuDocs: 10, selfBleuLength: 30 }), { model, tokenizer, test: real.test, sample: synthetic })
        return g.add(Mix.replace(), { real: real.train, previous: prev.pool, synthetic })
      }))
  }
})
`
  )
  return file
}

const manifestOf = (stdout: string) => /run manifest ([0-9a-f]{64})/.exec(stdout)?.[1] ?? ""
const lineOf = (stdout: string, path: string) => stdout.split("\n").find((l) => l.split(/\s+/)[1] === path) ?? ""
const keyOf = (stdout: string) => /key\s+([0-9a-f]{64})/.exec(stdout)?.[1] ?? ""
const ok = (r: { code: number; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, r.stderr + r.stdout)
  return r.stdout
}
const refuses = (r: { code: number; stdout: string; stderr: string }, message: RegExp) => {
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.stderr}${r.stdout}`)
  assert.match(r.stderr, message)
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace")
}

describe("the researcher's daily loop", () => {
  let dir = ""
  let file = ""
  let runA = ""
  let runB = ""
  before(() => {
    dir = tempDir("ouro-loop-")
    file = writeArms(dir)
    runA = manifestOf(ok(ouro(dir, "run", file, "--quiet")))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("plan prints the summary first, then one line per stage; --verbose adds the details", () => {
    const planned = ok(ouro(dir, "plan", file)).trimEnd().split("\n")
    assert.match(planned[0], /^20 stages: 20 cached, 0 will run, 0 pending/)
    const stages = planned.slice(1).filter((l) => l.trim() !== "")
    assert.equal(stages.length, 20, planned.join("\n"))
    for (const l of stages) assert.match(l, /^(cached|run|pending)\s+\S+/)
    assert.ok(stages.some((l) => l.split(/\s+/)[1] === "arm=replace-filtered/g1/sample-text"))
    const verbose = ok(ouro(dir, "plan", file, "--verbose"))
    assert.match(verbose, /^20 stages: 20 cached/)
    assert.match(verbose, /arm=replace-filtered\/g1\/sample-text\s+sample\/text\s+[0-9a-f]{12}/)
  })

  it("a stage shared by two arms can be addressed under either arm's path (show, lineage, report)", () => {
    assert.match(ok(ouro(dir, "ls", "arms")), /arm=replace-filtered\/g1\/sample-text\.corpus/)
    const first = ok(ouro(dir, "show", "arms/arm=replace/g1/sample-text"))
    const shared = ok(ouro(dir, "show", "arms/arm=replace-filtered/g1/sample-text"))
    assert.match(shared, /corpus: 30 documents/)
    assert.equal(keyOf(shared), keyOf(first))
    const traced = ok(ouro(dir, "lineage", "arms/arm=replace-filtered/g2/evaluate-lm"))
    for (
      const stage of [
        "arm=replace-filtered/g2/filter-length",
        "arm=replace-filtered/g1/mix-replace",
        "arm=replace-filtered/g1/sample-text"
      ]
    ) {
      assert.ok(traced.includes(stage), `${stage} in\n${traced}`)
    }
    const out = join(dir, "shared.html")
    ok(ouro(dir, "report", "arms", "-o", out))
    assert.ok(readFileSync(out, "utf8").includes("arm=replace-filtered/g1/sample-text"))
  })

  it("lineage follows the requested node's own inputs, and names byte-identical twins once", () => {
    // Mix.replace's corpus is byte-identical to its synthetic input: g2's training corpus still comes from g1's mix.
    const traced = ok(ouro(dir, "lineage", "arms/arm=replace/g2/evaluate-lm"))
    assert.ok(traced.includes("arm=replace/g1/mix-replace"), traced)
    assert.ok(!traced.includes("arm=replace-filtered"), `only the requested arm's ancestry:\n${traced}`)
    const mentions = traced.split("\n").filter((l) => /same bytes/.test(l))
    const hashes = mentions.map((l) => /([0-9a-f]{12}) /.exec(l.trim().replace(/^\S+: /, ""))?.[1])
    assert.equal(new Set(hashes).size, hashes.length, `each twin mentioned once:\n${mentions.join("\n")}`)
    assert.ok(mentions.length > 0, traced)
  })

  it("plan gives the real reason for a node that never ran under its own path but whose twin did", () => {
    const edited = writeArms(dir, {
      arms: ["replace", "replace-filtered", "hot"],
      temperature: { "replace-filtered": 0.9, hot: 0.8 }
    })
    const planned = ok(ouro(dir, "plan", edited))
    assert.match(
      lineOf(planned, "arm=replace-filtered/g1/sample-text"),
      /^run\s+\S+\s+params field temperature 1 -> 0\.9/
    )
    assert.match(lineOf(planned, "arm=hot/g1/train-ngram"), /^cached/)
    assert.match(lineOf(planned, "arm=hot/g1/sample-text"), /^run\s+\S+\s+params field temperature 1 -> 0\.8/)
    assert.doesNotMatch(planned, /new stage/)
    const verbose = ok(ouro(dir, "plan", edited, "--verbose"))
    assert.match(verbose, /compared with arm=replace(-filtered)?\/g1\/sample-text/)
  })

  it("report, show and lineage of an earlier run's hash are of that run", () => {
    const edited = writeArms(dir, { temperature: { "replace-filtered": 0.9 } })
    runB = manifestOf(ok(ouro(dir, "run", edited, "--quiet")))
    assert.notEqual(runB, runA)
    const out = join(dir, "a.html")
    assert.match(ok(ouro(dir, "report", runA.slice(0, 12), "-o", out)), /report written/)
    const html = readFileSync(out, "utf8")
    assert.ok(html.includes(runA), "the report names the run it was asked for")
    assert.ok(!html.includes(runB), "and not the latest one")
    const latest = join(dir, "b.html")
    ok(ouro(dir, "report", "arms", "-o", latest))
    assert.ok(readFileSync(latest, "utf8").includes(runB))

    const shownA = ok(ouro(dir, "show", `${runA.slice(0, 12)}/arm=replace-filtered/g1/sample-text`))
    assert.match(shownA, /"temperature":1[,}]/)
    const shownB = ok(ouro(dir, "show", "arms/arm=replace-filtered/g1/sample-text"))
    assert.match(shownB, /"temperature":0\.9/)
    const run = ok(ouro(dir, "show", runA.slice(0, 12)))
    assert.match(run, /run of pipeline arms: 20 stages/)
    assert.match(run, /arm=replace-filtered[\s\S]*gen\s+ppl/, "the run's own metrics table")
    const traced = ok(ouro(dir, "lineage", `${runA.slice(0, 12)}/arm=replace-filtered/g2/evaluate-lm`))
    assert.match(traced, /"temperature":1[,}]/)
    assert.doesNotMatch(traced, /"temperature":0\.9/)
    refuses(ouro(dir, "lineage", runA), /is a run manifest .*: ask for the lineage of one of its nodes/)
    refuses(ouro(dir, "show", `${runA.slice(0, 12)}/no/such/node`), /^ouro: .*no node no\/such\/node in run/m)
  })

  it("diff of two runs: the stages whose key differs and why, and the metrics side by side", () => {
    const d = ok(ouro(dir, "diff", runA, runB))
    assert.match(d, /arm=replace-filtered\/g1\/sample-text\s+params field temperature 1 -> 0\.9/)
    assert.match(d, /arm=replace-filtered\/g1\/evaluate-lm\s+input sample changed/)
    assert.doesNotMatch(d, /^arm=replace\/g1\/sample-text/m, "unchanged stages are not listed")
    assert.match(d, /arm=replace-filtered\s+1\s+perplexity\s+[\d.]+\s+[\d.]+\s+[+-]?[\d.]+/)
    assert.match(d, /arm=replace\s+1\s+perplexity\s+([\d.]+)\s+\1\s+0\b/)
    // A pipeline file against a run: the file's plan, before it runs.
    const edited = writeArms(dir, { temperature: { "replace-filtered": 0.5 } })
    const planned = ok(ouro(dir, "diff", runB, edited))
    assert.match(planned, /arm=replace-filtered\/g1\/sample-text\s+params field temperature 0\.9 -> 0\.5/)
    writeArms(dir, { temperature: { "replace-filtered": 0.9 } })
    assert.match(ok(ouro(dir, "diff", "arms", runB)), /no stage differs/)
    refuses(ouro(dir, "diff", "nope", runB), /^ouro: nope: /m)
  })

  it("runs lists a pipeline's runs; a pinned run survives gc, unpinned it goes", () => {
    const runs = ok(ouro(dir, "runs", "arms"))
    assert.ok(runs.includes(runA.slice(0, 12)) && runs.includes(runB.slice(0, 12)), runs)
    assert.match(runs, /\d{4}-\d\d-\d\dT\d\d:\d\d/)
    assert.match(runs.split("\n").find((l) => l.includes(runB.slice(0, 12))) ?? "", /latest/)
    refuses(ouro(dir, "pin", "nope"), /^ouro: nope: /m)
    assert.match(
      ok(ouro(dir, "pin", runA.slice(0, 12), "--name", "baseline")),
      new RegExp(`pinned run ${runA.slice(0, 12)}\\w* as baseline`)
    )
    assert.match(ok(ouro(dir, "runs", "arms")), new RegExp(`${runA.slice(0, 12)}.*baseline`))
    ok(ouro(dir, "gc", "--apply", "--grace-minutes", "0"))
    assert.match(
      ok(ouro(dir, "show", `${runA.slice(0, 12)}/arm=replace-filtered/g1/sample-text`)),
      /corpus: 30 documents/
    )
    ok(ouro(dir, "report", runA, "-o", join(dir, "pinned.html")))
    ok(ouro(dir, "verify"))
    refuses(ouro(dir, "unpin", "nope"), /^ouro: nope: /m)
    assert.match(ok(ouro(dir, "unpin", "baseline")), /unpinned baseline/)
    const swept = ok(ouro(dir, "gc", "--apply", "--grace-minutes", "0"))
    const [, blobs, records] = /removed (\d+) blobs .* and (\d+) stage records/.exec(swept)!.map(Number)
    assert.ok(blobs > 0 && records > 0, swept)
    refuses(ouro(dir, "show", runA), /no blob, stage record or ref/)
    ok(ouro(dir, "verify"))
    assert.ok(!ok(ouro(dir, "runs", "arms")).includes(runA.slice(0, 12)), "a collected run is no longer listed")
  })
})
