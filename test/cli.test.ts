import assert from "node:assert/strict"
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { readParquet } from "./support/parquet.ts"
import { ouro, ROOT, tempDir, writeTinyPipeline } from "./support/cli.ts"

const metricsOf = (stdout: string) => stdout.slice(0, stdout.indexOf("pipeline tiny:"))

describe("ouro CLI, end to end", () => {
  let dir = ""
  let pipeline = ""
  let firstRun = { code: 0, stdout: "", stderr: "" }
  before(() => {
    dir = tempDir("ouro-cli-")
    pipeline = writeTinyPipeline(dir)
    firstRun = ouro(dir, "run", pipeline)
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("runs a pipeline and prints a per-generation metrics table", () => {
    assert.equal(firstRun.code, 0, firstRun.stderr)
    assert.match(firstRun.stdout, /gen\s+ppl\s+baseline\s+distinct-1/)
    assert.match(firstRun.stdout, /pipeline tiny: 14 stages, 14 ran, 0 cached/)
  })

  it("a second run runs nothing, plan says everything is cached, and the metrics are the same", () => {
    const planned = ouro(dir, "plan", pipeline)
    assert.equal(planned.code, 0, planned.stderr)
    assert.match(planned.stdout, /14 stages: 14 cached, 0 will run, 0 pending/)
    const again = ouro(dir, "run", pipeline)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /14 stages, 0 ran, 14 cached/)
    assert.equal(metricsOf(again.stdout), metricsOf(firstRun.stdout))
  })

  it("changing one sampling param reruns exactly that stage and what depends on it, and plan says why", () => {
    const edited = writeTinyPipeline(dir, { g2Temperature: 0.7 })
    const planned = ouro(dir, "plan", edited)
    assert.equal(planned.code, 0, planned.stderr)
    const line = (path: string) => planned.stdout.split("\n").find((l) => l.split(/\s+/)[1] === path) ?? ""
    assert.match(line("g2/sample-text"), /^run .*params field temperature 1 -> 0\.7/)
    assert.match(line("g2/evaluate-lm"), /^pending .*input sample will be recomputed by g2\/sample-text/)
    assert.match(line("g2/mix-replace"), /^pending .*input synthetic will be recomputed by g2\/sample-text/)
    assert.match(line("g3/train-ngram"), /^pending .*input corpus will be recomputed by g2\/mix-replace/)
    assert.match(line("g2/train-ngram"), /^cached/)
    assert.match(line("g1/sample-text"), /^cached/)
    const rerun = ouro(dir, "run", edited)
    assert.equal(rerun.code, 0, rerun.stderr)
    const ran = rerun.stderr.split("\n").filter((l) => l.startsWith("  done")).map((l) => l.trim().split(/\s+/)[1])
      .sort()
    assert.deepEqual(ran, [
      "g2/evaluate-lm",
      "g2/mix-replace",
      "g2/sample-text",
      "g3/evaluate-lm",
      "g3/mix-replace",
      "g3/sample-text",
      "g3/train-ngram"
    ])
  })

  it("show prints a corpus head, a model summary and a metrics table; ls and status list the run", () => {
    const corpus = ouro(dir, "show", "tiny/g1/sample-text")
    assert.equal(corpus.code, 0, corpus.stderr)
    assert.match(corpus.stdout, /corpus: 40 documents, \d+ words/)
    const model = ouro(dir, "show", "tiny/g1/train-ngram")
    assert.match(model.stdout, /model: 2-gram, vocabulary \d+/)
    const metrics = ouro(dir, "show", "tiny/g1/evaluate-lm")
    assert.match(metrics.stdout, /perplexity\s+\d/)
    const ls = ouro(dir, "ls")
    assert.equal(ls.code, 0, ls.stderr)
    assert.match(ls.stdout, /g3\/mix-replace\.corpus\s+mix\/replace\s+[0-9a-f]{12}/)
    const hash = /g1\/sample-text\.corpus\s+\S+\s+([0-9a-f]{12})/.exec(ls.stdout)![1]
    const byPrefix = ouro(dir, "show", hash)
    assert.match(byPrefix.stdout, new RegExp(`^${hash}[0-9a-f]{52}\\ncorpus: 40 documents`))
    const status = ouro(dir, "status")
    assert.match(status.stdout, /pipeline tiny: last run [0-9a-f]{12}, 14 stages/)
  })

  it("stored corpora are Parquet that an independent reader (hyparquet) reads", async () => {
    const ls = ouro(dir, "ls")
    const hash = /g1\/sample-text\.corpus\s+\S+\s+([0-9a-f]{12})/.exec(ls.stdout)![1]
    const shard = join(dir, ".ouroboros", "blobs", hash.slice(0, 2))
    const file = readdirSync(shard).find((f) => f.startsWith(hash))!
    const rows = await readParquet(readFileSync(join(shard, file)))
    assert.equal(rows.length, 40)
    assert.ok(rows.every((r) => typeof r.id === "string" && typeof r.text === "string" && r.text.length > 0))
  })

  it("every command has --help", () => {
    for (const cmd of ["run", "plan", "status", "show", "ls"]) {
      const r = ouro(dir, cmd, "--help")
      assert.equal(r.code, 0)
      assert.match(r.stdout, /USAGE/)
    }
  })
})

describe("ouro CLI, bad input: one clear line, non-zero exit, store intact", () => {
  const dir = tempDir("ouro-bad-")
  after(() => rmSync(dir, { recursive: true, force: true }))
  const fails = (args: string[], message: RegExp) => {
    const r = ouro(dir, ...args)
    assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.stderr}`)
    assert.match(r.stderr, message)
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace")
    const staging = join(dir, ".ouroboros", "tmp")
    assert.ok(!existsSync(staging) || readdirSync(staging).length === 0, "no half-written file")
  }
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text)
    return join(dir, name)
  }
  const src = JSON.stringify("ouroboros")

  it("a missing pipeline file", () => fails(["run", "nope.ts"], /^ouro: nope\.ts: no such pipeline file$/m))
  it("a file without a default-exported pipeline", () =>
    fails(["run", write("nodefault.ts", "export const x = 1\n")], /nodefault\.ts: does not default-export a pipeline/))
  it("a file that does not compile", () =>
    fails(["plan", write("syntax.ts", "export default (\n")], /^ouro: \S*syntax\.ts:2:0: Unexpected end of file$/m))
  it("invalid params name the stage and the field path", () =>
    fails(
      [
        "plan",
        write(
          "params.ts",
          `import { Pipeline, Seed, Tokenize, Train } from ${src}
export default Pipeline.make("params", (p) => {
  const real = p.add(Seed.corpus({}), {})
  const { tokenizer } = p.add(Tokenize.words(), { corpus: real.train })
  p.add(Train.ngram({ order: 9 }), { corpus: real.train, tokenizer })
})`
        )
      ],
      /pipeline params, stage train-ngram: invalid params for train\/ngram: Expected a value between 1 and 5 at \["order"\]/
    ))
  it("a cycle", () =>
    fails(
      [
        "plan",
        write(
          "cycle.ts",
          `import { Corpus, Filter, Pipeline } from ${src}
export default Pipeline.make("cycle", (p) => {
  p.add(Filter.dedup(), { corpus: p.ref("b", "corpus", Corpus) }, { name: "a" })
  p.add(Filter.dedup(), { corpus: p.ref("a", "corpus", Corpus) }, { name: "b" })
})`
        )
      ],
      /pipeline cycle: cycle: a -> b -> a/
    ))
  it("a missing input", () =>
    fails(
      [
        "plan",
        write(
          "missing.ts",
          `import { Pipeline, Seed, Tokenize, Train } from ${src}
export default Pipeline.make("missing", (p) => {
  const real = p.add(Seed.corpus({}), {})
  p.add(Train.ngram(), { corpus: real.train } as never)
})`
        )
      ],
      /stage train-ngram: missing input tokenizer \(a tokenizer\)/
    ))
  it("a corrupt Parquet seed file", () => {
    const bad = write("bad.parquet", "PAR1 this is not parquet PAR1")
    const file = write(
      "corrupt.ts",
      `import { Pipeline, Seed } from ${src}
export default Pipeline.make("corrupt", (p) => { p.add(Seed.corpus({ source: ${JSON.stringify(bad)} }), {}) })`
    )
    fails(["run", file], /stage seed-corpus \(seed\/corpus\) failed: .*bad\.parquet: corpus:/)
  })
  it("a corrupt blob in the store is detected, named, and not used", () => {
    const pipeline = writeTinyPipeline(dir, { name: "victim" })
    const ok = ouro(dir, "run", pipeline)
    assert.equal(ok.code, 0, ok.stderr)
    const ls = ouro(dir, "ls", "victim")
    const hash = /g1\/train-ngram\.model\s+\S+\s+([0-9a-f]{12})/.exec(ls.stdout)![1]
    const shard = join(dir, ".ouroboros", "blobs", hash.slice(0, 2))
    const blob = join(shard, readdirSync(shard).find((f) => f.startsWith(hash))!)
    chmodSync(blob, 0o644)
    const bytes = readFileSync(blob)
    bytes[bytes.length - 1] ^= 0xff
    writeFileSync(blob, bytes)
    fails(["show", hash], new RegExp(`corrupt artifact ${hash}[0-9a-f]+ at .*: its bytes hash to [0-9a-f]{64}`))
  })
})
