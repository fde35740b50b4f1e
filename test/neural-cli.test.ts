import assert from "node:assert/strict"
import { rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { ouro, ouroEnv, ROOT, tempDir } from "./support/cli.ts"

/** A two-generation replace run with a tiny transformer on the shipped Shakespeare sample, as a user writes one. */
const writeNeuralPipeline = (dir: string, heads = 2): string => {
  const file = join(dir, "neural.ts")
  writeFileSync(
    file,
    `
import { Evaluate, Mix, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"

const model = { layers: 1, dModel: 16, heads: ${heads}, context: 16 }
export default Pipeline.make("neural", (p) => {
  const real = p.add(Seed.corpus({ source: ${
      JSON.stringify(join(ROOT, "data/shakespeare-sample.txt"))
    }, testFraction: 0.2, seed: 7 }), {})
  const { tokenizer } = p.add(Tokenize.chars({ lowercase: true }), { corpus: real.train })
  const untrained = p.add(Train.transformer({ model, steps: 0 }), { corpus: real.train, tokenizer }, { name: "untrained" })
  const baseline = p.add(Evaluate.perplexity({ maxTokens: 2000 }), { model: untrained.model, tokenizer, test: real.test }, { name: "baseline" })
  p.generations(2, { corpus: real.train, pool: real.train }, (g, prev) => {
    const { model: m } = g.add(Train.transformer({ model, steps: 25, batch: 8, seed: g.index }), { corpus: prev.corpus, tokenizer })
    const synthetic = g.add(Sample.neural({ documents: 20, maxLength: 200, tokens: 4000, seed: g.index }), { model: m, tokenizer }).corpus
    g.add(Evaluate.neural({ maxTokens: 2000, selfBleuDocs: 5, selfBleuLength: 30 }), { model: m, baseline: baseline.metrics, tokenizer, test: real.test, sample: synthetic })
    return g.add(Mix.replace(), { real: real.train, previous: prev.pool, synthetic })
  })
})
`
  )
  return file
}

const table = (stdout: string) => stdout.slice(0, stdout.indexOf("pipeline neural:"))

describe("neural stages through the ouro CLI", () => {
  let dir = ""
  let pipeline = ""
  let first = { code: 0, stdout: "", stderr: "" }
  before(() => {
    dir = tempDir("ouro-neural-")
    pipeline = writeNeuralPipeline(dir)
    first = ouro(dir, "run", pipeline)
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("trains, samples and evaluates, printing perplexity against the untrained baseline", () => {
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /pipeline neural: 12 stages, 12 ran, 0 cached/)
    const rows = first.stdout.split("\n").filter((l) => /^[012]\s/.test(l)).map((l) => l.trim().split(/\s+/))
    assert.equal(rows.length, 3, first.stdout)
    // generation 0 is the untrained model: a perplexity and no sample, so no diversity figures (the seven built-in
    // columns after ppl; columns of other metric keys follow them)
    assert.deepEqual(rows[0].slice(2, 9), ["-", "-", "-", "-", "-", "-", "-"])
    for (const [, ppl, baseline] of rows.slice(1).map((r) => r.map(Number))) {
      assert.ok(ppl > 1 && ppl < baseline, `trained perplexity ${ppl} below the untrained ${baseline}`)
      assert.equal(baseline, Number(rows[0][1]))
    }
    assert.match(first.stderr, /g1\/train-transformer: 25 steps on \d+ tokens: loss [\d.]+, validation [\d.]+/)
  })

  it("a second run computes nothing and prints the same table; show describes the model", () => {
    const again = ouro(dir, "run", pipeline)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /12 stages, 0 ran, 12 cached/)
    assert.equal(table(again.stdout), table(first.stdout))
    const shown = ouro(dir, "show", "neural/g1/train-transformer")
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(
      shown.stdout,
      /model: model\/transformer \{"vocab":\d+,"layers":1,"dModel":16,"heads":2,"context":16\}, 18 tensors, \d+ parameters/
    )
    assert.equal(ouro(dir, "verify").code, 0)
  })

  it("sampling on 1 or 3 threads ($OURO_DECODE_THREADS) writes the same corpus: the same run manifest", () => {
    const manifests = ["1", "3"].map((threads) => {
      const at = tempDir(`ouro-decode-threads-${threads}-`)
      try {
        const file = join(at, "sample.ts")
        writeFileSync(
          file,
          `
import { Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"

export default Pipeline.make("threads", (p) => {
  const real = p.add(Seed.corpus({ source: ${JSON.stringify(join(ROOT, "data/shakespeare-sample.txt"))} }), {})
  const { tokenizer } = p.add(Tokenize.chars({ lowercase: true }), { corpus: real.train })
  const { model } = p.add(Train.transformer({ model: { layers: 1, dModel: 16, heads: 2, context: 16 }, steps: 0 }), { corpus: real.train, tokenizer })
  p.add(Sample.neural({ documents: 30, maxLength: 40, tokens: 0, rows: 20, seed: 3 }), { model, tokenizer })
})
`
        )
        const r = ouroEnv({ OURO_DECODE_THREADS: threads }, at, "run", file)
        assert.equal(r.code, 0, r.stderr)
        assert.match(r.stderr, new RegExp(`sample-neural: 30 documents, \\d+ tokens, on ${threads} thread\\(s\\)`))
        return /run manifest ([0-9a-f]{64})/.exec(r.stdout)?.[1]
      } finally {
        rmSync(at, { recursive: true, force: true })
      }
    })
    assert.ok(manifests[0] !== undefined)
    assert.equal(manifests[1], manifests[0])
  })

  it("heads that do not divide dModel are refused when the pipeline is defined, naming the field", () => {
    const bad = writeNeuralPipeline(tempDir("ouro-neural-bad-"), 3)
    const r = ouro(dir, "plan", bad)
    assert.equal(r.code, 1)
    assert.match(
      r.stderr,
      /^ouro: .*stage untrained: invalid params for train\/transformer: .*heads \(3\) must divide dModel \(16\).*\["model"\]\["heads"\]/m
    )
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace")
  })

  it("ouro env names the backend, why, and what goes into the keys", () => {
    const r = ouro(dir, "env")
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /TF\.js backend for neural stages: wasm\n  why: @tensorflow\/tfjs-node: not installed/)
    assert.match(
      r.stdout,
      /in every neural stage's key: tfjs-backend=wasm, @tensorflow\/tfjs-core=\d+\.\d+\.\d+, @tensorflow\/tfjs-backend-wasm=\d+\.\d+\.\d+/
    )
  })

  it("the shipped neural pipelines define and plan, each with the untrained baseline", () => {
    const expected: Record<string, number> = {
      "paper-replace": 24,
      accumulate: 24,
      "real-fraction": 24,
      "neural-collapse": 44
    }
    for (const [name, stages] of Object.entries(expected)) {
      const r = ouro(dir, "plan", join(ROOT, "pipelines", `${name}.ts`))
      assert.equal(r.code, 0, `${name}: ${r.stderr}`)
      assert.match(r.stdout, new RegExp(`^${stages} stages: 0 cached`, "m"), name)
      assert.match(r.stdout, /arm=untrained\/evaluate-perplexity/, name)
    }
  })
})
