import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, it } from "node:test"
import { Effect, Schema } from "effect"
import { execute } from "../src/engine/execute.ts"
import { plan } from "../src/engine/plan.ts"
import { localInProcess } from "../src/engine/layers.ts"
import type { Progress } from "../src/engine/Progress.ts"
import type { StageRunner } from "../src/engine/StageRunner.ts"
import type { ArtifactStore } from "../src/store/ArtifactStore.ts"
import { PipelineInvalid } from "../src/errors/index.ts"
import * as Pipeline from "../src/pipeline/pipeline.ts"
import { defineStage } from "../src/pipeline/stage.ts"
import { calls, Concat, Lower, Source, Text, Upper } from "./support/toy.ts"

let dir = ""
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ouro-engine-"))
  calls.clear()
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const run = <A, E>(eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>) =>
  Effect.runPromise(eff.pipe(Effect.provide(localInProcess(dir))))

const chain = (suffix: string, lowerSuffix = "x") =>
  Pipeline.make("toy", (p) => {
    const src = p.add(Source({ text: "seed" }), {})
    p.generations(3, { text: src.out }, (g, prev) => {
      const up = g.add(Upper({ suffix: g.index === 2 ? suffix : "!" }), { in: prev.text })
      const low = g.add(Lower({ suffix: lowerSuffix }), { in: up.out })
      return { text: g.add(Concat({}), { a: low.out, b: prev.text }).out }
    })
  })

describe("engine", () => {
  it("runs every stage once, then a rerun runs nothing and gives the same manifest", async () => {
    const first = await run(execute(chain("!")))
    assert.equal(first.nodes.filter((n) => n.status === "ran").length, 10)
    assert.equal(calls.get("toy/upper"), 3)
    const before = new Map(calls)
    const entries = await run(plan(chain("!")))
    assert.deepEqual(entries.map((e) => e.status), Array(10).fill("cached"))
    const second = await run(execute(chain("!")))
    assert.deepEqual(calls, before)
    assert.ok(second.nodes.every((n) => n.status === "cached"))
    assert.equal(second.manifest, first.manifest)
  })

  it("a changed param reruns that stage and its dependents, and plan says why", async () => {
    await run(execute(chain("!")))
    const entries = await run(plan(chain("?")))
    const byPath = new Map(entries.map((e) => [e.node.path, e]))
    assert.equal(byPath.get("g1/toy-upper")!.status, "cached")
    assert.equal(byPath.get("g2/toy-upper")!.status, "run")
    assert.deepEqual(byPath.get("g2/toy-upper")!.reasons, ["params field suffix \"!\" -> \"?\""])
    assert.equal(byPath.get("g2/toy-lower")!.status, "pending")
    assert.match(byPath.get("g2/toy-lower")!.reasons.join(";"), /input in will be recomputed by g2\/toy-upper/)
    calls.clear()
    const result = await run(execute(chain("?")))
    const ran = result.nodes.filter((n) => n.status === "ran").map((n) => n.node.path)
    assert.deepEqual(ran, [
      "g2/toy-upper",
      "g2/toy-lower",
      "g2/toy-concat",
      "g3/toy-upper",
      "g3/toy-lower",
      "g3/toy-concat"
    ])
  })

  it("early cutoff: an upstream rerun that reproduces its bytes leaves everything below cached", async () => {
    await run(execute(chain("!", "x")))
    calls.clear()
    // Lower's output lowercases its suffix: "X" and "x" give the same bytes.
    const result = await run(execute(chain("!", "X")))
    const ran = result.nodes.filter((n) => n.status === "ran").map((n) => n.node.path)
    assert.deepEqual(ran, ["g1/toy-lower", "g2/toy-lower", "g3/toy-lower"])
    assert.equal(calls.get("toy/concat"), undefined)
  })

  it("plan names a version bump and an env change as reasons", async () => {
    const upper = (version: number, env: Record<string, string>) =>
      defineStage({
        kind: "toy/upper",
        version,
        params: Schema.Struct({ suffix: Schema.String }),
        inputs: { in: Text },
        outputs: { out: Text },
        env,
        run: (p, i) => Effect.succeed({ out: i.in.toUpperCase() + p.suffix })
      })({ suffix: "" })
    const make = (version: number, env: Record<string, string>) =>
      Pipeline.make("versions", (p) => p.add(upper(version, env), { in: p.add(Source({ text: "a" }), {}).out }))
    await run(execute(make(1, { lib: "1.0" })))
    const bumped = await run(plan(make(2, { lib: "1.0" })))
    assert.deepEqual(bumped[1].reasons, ["version bumped 1 -> 2"])
    const moved = await run(plan(make(1, { lib: "1.1" })))
    assert.deepEqual(moved[1].reasons, ["env lib \"1.0\" -> \"1.1\""])
    assert.equal(moved[0].status, "cached")
  })

  it("nodes with the same key compute once", async () => {
    const twins = Pipeline.make("twins", (p) => {
      const src = p.add(Source({ text: "a" }), {})
      p.scope({ arm: "one" }, (s) => s.add(Upper({ suffix: "" }), { in: src.out }))
      p.scope({ arm: "two" }, (s) => s.add(Upper({ suffix: "" }), { in: src.out }))
    })
    const result = await run(execute(twins))
    assert.equal(calls.get("toy/upper"), 1)
    assert.deepEqual(result.nodes.map((n) => n.status), ["ran", "ran", "shared"])
  })

  it("refuses bad pipelines at definition time, naming the stage and the field", () => {
    assert.throws(
      () => Pipeline.make("bad", (p) => p.add(Source({ text: 3 }), {})),
      (e: unknown) =>
        e instanceof PipelineInvalid &&
        /stage toy-source: invalid params for toy\/source: Expected string at \["text"\]/.test(e.message)
    )
    assert.throws(
      () =>
        Pipeline.make(
          "bad",
          (p) => p.add(Upper({ suffix: "far too long" }), { in: p.add(Source({ text: "" }), {}).out })
        ),
      (e: unknown) => e instanceof PipelineInvalid && /at \["suffix"\]/.test(e.message)
    )
    assert.throws(
      () => Pipeline.make("bad", (p) => p.add(Upper({ suffix: "" }), {} as never)),
      /missing input in \(a text\)/
    )
    assert.throws(
      () =>
        Pipeline.make("cyclic", (p) => {
          p.add(Upper({ suffix: "" }), { in: p.ref("b", "out", Text) }, { name: "a" })
          p.add(Upper({ suffix: "" }), { in: p.ref("a", "out", Text) }, { name: "b" })
        }),
      /cycle: (a -> b -> a|b -> a -> b)/
    )
    assert.throws(
      () => Pipeline.make("dangling", (p) => p.add(Upper({ suffix: "" }), { in: p.ref("nowhere", "out", Text) })),
      /input in refers to nowhere, which is not a node/
    )
  })
})
