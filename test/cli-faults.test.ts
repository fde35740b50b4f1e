/**
 * The CLI under faults (issue #10): signals while a synchronous stage computes, a user stage that throws, pipelines
 * too large to define, and pipeline files that do not load.
 */
import assert from "node:assert/strict"
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { PipelineInvalid } from "../src/errors/index.ts"
import * as Pipeline from "../src/pipeline/pipeline.ts"
import { PIPELINE_LIMITS } from "../src/pipeline/pipeline.ts"
import { alignTable } from "../src/report/table.ts"
import { ouro, ROOT, tempDir } from "./support/cli.ts"
import { startOuro } from "./support/cli-async.ts"
import { Source } from "./support/toy.ts"

const src = (rel: string) => JSON.stringify(join(ROOT, rel))

/** A pipeline of one stage that spins the CPU for `ms` without yielding. */
const writeBusyPipeline = (dir: string, ms: number): string => {
  const file = join(dir, "busy.ts")
  writeFileSync(
    file,
    `
import { Pipeline } from ${src("src/index.ts")}
import { Busy } from ${src("test/support/faulty.ts")}
export default Pipeline.make("busy", (p) => { p.add(Busy({ ms: ${ms} }), {}) })
`
  )
  return file
}

describe("signals stop a run promptly while a synchronous stage computes", () => {
  const dirs: string[] = []
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

  for (const jobs of ["1", "2"]) {
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      // The stage spins for 2 minutes; "promptly" is within 10 s of the signal: far less than the stage has left,
      // and loose enough for a loaded machine (the bounds are about an ignored signal, not about speed).
      it(`--jobs ${jobs}, ${signal} after "run": exit ${code} within 10 s, and the store verifies clean`, {
        timeout: 240_000
      }, async () => {
        const dir = tempDir("ouro-signal-")
        dirs.push(dir)
        const pipeline = writeBusyPipeline(dir, 120_000)
        const running = startOuro(dir, "run", pipeline, "--jobs", jobs)
        // Whatever happens, the child does not outlive the test.
        const guard = setTimeout(() => running.child.kill("SIGKILL"), 180_000)
        try {
          await running.waitFor("run", 120_000)
          // Let the stage get going (on a worker, past its start-up) before the signal.
          await new Promise((r) => setTimeout(r, 1500))
          const sent = Date.now()
          running.child.kill(signal)
          const exit = await running.exit
          assert.equal(exit.signal, null, `killed by ${exit.signal}; stderr:\n${exit.stderr}`)
          assert.equal(exit.code, code, exit.stderr)
          assert.ok(exit.at - sent < 10_000, `exit took ${exit.at - sent} ms after ${signal}`)
          assert.doesNotMatch(exit.stdout + exit.stderr, /^\s+at /m, "no stack trace")
        } finally {
          clearTimeout(guard)
        }
        const verified = ouro(dir, "verify")
        assert.equal(verified.code, 0, verified.stdout + verified.stderr)
        assert.deepEqual(readdirSync(join(dir, ".ouroboros", "tmp")), [], "no temp file left behind")
      })
    }
  }

  it("a quick run computes the same bytes with --jobs 1 and --jobs 2", () => {
    const dir = tempDir("ouro-signal-same-")
    dirs.push(dir)
    const pipeline = writeBusyPipeline(dir, 10)
    const one = ouro(dir, "run", pipeline, "--jobs", "1", "--store", join(dir, "one"))
    const two = ouro(dir, "run", pipeline, "--jobs", "2", "--store", join(dir, "two"))
    assert.equal(one.code, 0, one.stderr)
    assert.equal(two.code, 0, two.stderr)
    const manifest = (s: string) => /run manifest ([0-9a-f]{64})/.exec(s)?.[1]
    assert.ok(manifest(one.stdout) !== undefined)
    assert.equal(manifest(one.stdout), manifest(two.stdout))
  })
})

describe("a user stage that throws: one ouro line naming the stage, no stack trace", () => {
  const dir = tempDir("ouro-throws-")
  after(() => rmSync(dir, { recursive: true, force: true }))
  const pipeline = join(dir, "throws.ts")
  writeFileSync(
    pipeline,
    `
import { Pipeline } from ${src("src/index.ts")}
import { Throws } from ${src("test/support/faulty.ts")}
export default Pipeline.make("throws", (p) => { p.add(Throws({ message: "kaboom in user code" }), {}, { name: "bad" }) })
`
  )
  for (const jobs of ["1", "2"]) {
    it(`--jobs ${jobs}: stderr is exactly "ouro: stage bad (toy/throws) failed: kaboom in user code", exit 1`, () => {
      const r = ouro(dir, "run", pipeline, "--jobs", jobs, "--quiet")
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.equal(r.stderr, "ouro: stage bad (toy/throws) failed: kaboom in user code\n")
      assert.doesNotMatch(r.stdout, /kaboom|^\s+at /m, "nothing about it on stdout")
    })
  }
})

describe("pipelines too large to define are refused when defined", () => {
  it(`generations(1e6): a PipelineInvalid naming the limit of ${PIPELINE_LIMITS.generations}, at once`, () => {
    const started = Date.now()
    assert.throws(
      () =>
        Pipeline.make("huge", (p) => {
          const s = p.add(Source({ text: "a" }), {})
          p.generations(1e6, s, (_g, prev) => prev)
        }),
      (e: unknown) =>
        e instanceof PipelineInvalid && /generations/.test(e.message) &&
        e.message.includes(String(PIPELINE_LIMITS.generations))
    )
    assert.ok(Date.now() - started < 1000)
  })

  it(`more than ${PIPELINE_LIMITS.nodes} nodes: a PipelineInvalid naming the limit`, () => {
    assert.throws(
      () =>
        Pipeline.make("wide", (p) => {
          for (let i = 0; i <= PIPELINE_LIMITS.nodes; i++) p.add(Source({ text: "a" }), {}, { name: `n${i}` })
        }),
      (e: unknown) =>
        e instanceof PipelineInvalid && /nodes/.test(e.message) && e.message.includes(String(PIPELINE_LIMITS.nodes))
    )
  })

  it("ouro run of generations(1e6): one ouro line, exit 1, within seconds", () => {
    const dir = tempDir("ouro-huge-")
    try {
      const file = join(dir, "huge.ts")
      writeFileSync(
        file,
        `
import { Pipeline } from ${src("src/index.ts")}
import { Source } from ${src("test/support/toy.ts")}
export default Pipeline.make("huge", (p) => {
  const s = p.add(Source({ text: "a" }), {})
  p.generations(1e6, s, (g, prev) => prev)
})
`
      )
      const started = Date.now()
      const r = ouro(dir, "run", file)
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^ouro: pipeline huge: generations\(n\): .*10000.*\n$/)
      assert.ok(Date.now() - started < 20_000)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a table of a million rows aligns (no Math.max over a spread of every row)", () => {
    const rows = Array.from({ length: 1_000_000 }, (_, i) => [String(i), "x"])
    const text = alignTable(["n", "v"], rows)
    assert.equal(text.split("\n").length, 1_000_002)
  })
})

describe("pipeline files that do not load, and names that are not names", () => {
  const dir = tempDir("ouro-load-")
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("a syntax error: ouro: FILE:LINE:COL: esbuild's message", () => {
    const file = join(dir, "syntax.ts")
    writeFileSync(
      file,
      `import { Pipeline } from ${src("src/index.ts")}\nexport default Pipeline.make("x", (p) => {\n  const a = ;\n})\n`
    )
    const r = ouro(dir, "plan", file)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^ouro: \S*syntax\.ts:3:12: Unexpected ";"\n$/)
  })

  it("a pipeline file outside any \"type\": \"module\" package loads as ES module TypeScript", () => {
    const bare = mkdtempSync(join(tmpdir(), "ouro-bare-")) // no package.json here nor above
    try {
      const file = join(bare, "bare.ts")
      writeFileSync(
        file,
        `
import { Pipeline } from ${src("src/index.ts")}
import { Source, Upper } from ${src("test/support/toy.ts")}
import { suffix } from "./helper.ts"
const name: string = "bare"
export default Pipeline.make(name, (p) => {
  const s = p.add(Source({ text: "a" }), {})
  p.add(Upper({ suffix }), { in: s.out })
})
`
      )
      writeFileSync(join(bare, "helper.ts"), `export const suffix: string = "!"\n`)
      for (const jobs of ["1", "2"]) {
        const r = ouro(bare, "run", file, "--jobs", jobs, "--store", join(bare, `store${jobs}`))
        assert.equal(r.code, 0, r.stderr)
        assert.match(r.stdout, /pipeline bare: 2 stages, 2 ran/)
      }
    } finally {
      rmSync(bare, { recursive: true, force: true })
    }
  })

  const refused = (what: string, build: () => unknown, bad: string) =>
    it(`${what} ${JSON.stringify(bad)}: a PipelineInvalid naming it`, () => {
      assert.throws(build, (e: unknown) => e instanceof PipelineInvalid && e.message.includes(JSON.stringify(bad)))
    })
  for (const bad of [".", "..", "a/b"]) {
    refused("pipeline name", () => Pipeline.make(bad, (p) => p.add(Source({ text: "a" }), {})), bad)
    refused("node name", () => Pipeline.make("ok", (p) => p.add(Source({ text: "a" }), {}, { name: bad })), bad)
    refused("scope", () => Pipeline.make("ok", (p) => p.scope(bad, (s) => s.add(Source({ text: "a" }), {}))), bad)
  }

  it("ouro run of a pipeline named \"..\": refused when defined, not a store ref error", () => {
    const file = join(dir, "dots.ts")
    writeFileSync(
      file,
      `
import { Pipeline } from ${src("src/index.ts")}
import { Source } from ${src("test/support/toy.ts")}
export default Pipeline.make("..", (p) => { p.add(Source({ text: "a" }), {}) })
`
    )
    const r = ouro(dir, "run", file)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^ouro: pipeline \.\.: pipeline name "\.\." /)
  })
})
