/**
 * Evaluate.downstream through the engine (issue #16): a tiny neural pipeline with both tasks and both probes, the
 * untrained baseline one node computed once and copied into every generation's metrics; a rerun computes nothing;
 * pipelines/downstream.ts keeps every node of the neural pipeline it extends; bad input fails with one clear line.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { Effect } from "effect"
import { canonicalJson } from "../src/hash/index.ts"
import { localInProcess } from "../src/engine/layers.ts"
import type { Progress } from "../src/engine/Progress.ts"
import type { StageRunner } from "../src/engine/StageRunner.ts"
import {
  ArtifactStore,
  Evaluate,
  execute,
  Metrics,
  Pipeline,
  Predictions,
  type RunResult,
  Seed,
  Task,
  Tasks,
  Tokenize,
  Train
} from "../src/index.ts"
import { selectBackend } from "../src/lm/neural/backend.ts"
import { ouro, ROOT, tempDir } from "./support/cli.ts"

const TINY = { layers: 1, dModel: 16, heads: 2, context: 16 }

before(async () => {
  assert.equal((await selectBackend({ prefer: "wasm" })).name, "wasm")
})

const dir = mkdtempSync(join(tmpdir(), "ouro-downstream-"))
after(() => rmSync(dir, { recursive: true, force: true }))

const run = <A, E>(eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>, store: string) =>
  Effect.runPromise(eff.pipe(Effect.provide(localInProcess(join(dir, store)))))

const probesOf = [
  { task: "spam", probe: "linear" },
  { task: "era", probe: "finetune" }
] as const
const COMMON = { stride: 8, batch: 16, maxTokens: 48, iterations: 50 }
const settings = (
  probe: "linear" | "finetune"
) => (probe === "finetune" ? { ...COMMON, steps: 2, examples: 4 } : COMMON)

const tiny = Pipeline.make("downstream-tiny", (p) => {
  const real = p.add(Seed.corpus({ source: "sotu", maxDocuments: 30, testFraction: 0.3, seed: 1 }))
  const { tokenizer } = p.add(Tokenize.chars({ lowercase: true, minCount: 5 }), { corpus: real.train })
  const tasks = {
    spam: p.add(Tasks.spam({ perClass: 6, maxChars: 64 })).task,
    era: p.add(Tasks.era({ period: 10, passageChars: 64, perAddress: 3 }), { addresses: real.test }).task
  }
  const baselines = p.scope({ arm: "untrained" }, (u) => {
    const { model } = u.add(Train.transformer({ steps: 0, model: TINY, seed: 1 }), { corpus: real.train, tokenizer })
    return probesOf.map((t) =>
      u.add(Evaluate.downstream({ ...t, ...settings(t.probe) }), { model, tokenizer, task: tasks[t.task] }, {
        name: `${t.task}-${t.probe}`
      })
    )
  })
  p.scope({ arm: "a" }, (a) =>
    a.generations(2, { corpus: real.train }, (g, prev) => {
      const { model } = g.add(
        Train.transformer({ steps: 3, batch: 4, shards: 1, model: TINY, seed: g.index }),
        { corpus: prev.corpus, tokenizer }
      )
      probesOf.forEach((t, i) =>
        g.add(
          Evaluate.downstream({ ...t, ...settings(t.probe), baseline: true }),
          {
            model,
            tokenizer,
            task: tasks[t.task],
            baseline: baselines[i].metrics,
            baselinePredictions: baselines[i].predictions
          },
          { name: `${t.task}-${t.probe}` }
        )
      )
      return prev
    }))
})

/** The bytes of output `output` of node `path` in a run. */
const outputOf = async (result: RunResult, path: string, output: string, store: string) => {
  const node = result.nodes.find((n) => n.node.path === path)
  assert.ok(node !== undefined, path)
  return run(
    Effect.gen(function*() {
      return yield* (yield* ArtifactStore).getBlob(node.outputs[output].hash)
    }),
    store
  )
}

const metricsOf = async (result: RunResult, path: string, store: string) =>
  Metrics.decode(await outputOf(result, path, "metrics", store)).values

const predictionsOf = async (result: RunResult, path: string, store: string) =>
  Predictions.decode(await outputOf(result, path, "predictions", store))

describe("Evaluate.downstream in a pipeline", () => {
  it("probes every generation against the untrained model, computed once; a rerun computes nothing", async () => {
    const first = await run(execute(tiny), "s")
    const ran = first.nodes.filter((n) => n.status === "ran").map((n) => n.node.path)
    for (const t of probesOf) {
      const name = `${t.task}-${t.probe}`
      const untrained = first.nodes.filter((n) => n.node.path === `arm=untrained/${name}`)
      assert.equal(untrained.length, 1, "one baseline node per task and probe")
      assert.ok(ran.includes(`arm=untrained/${name}`))
      const base = await metricsOf(first, `arm=untrained/${name}`, "s")
      const prefix = `${t.task}_${t.probe}`
      for (const g of [1, 2]) {
        const m = await metricsOf(first, `arm=a/g${g}/${name}`, "s")
        for (const k of ["accuracy", "accuracy_lo", "accuracy_hi", "macro_f1"]) {
          assert.equal(m[`baseline_${prefix}_${k}`], base[`${prefix}_${k}`], `g${g} ${k}: the baseline's own value`)
        }
        const acc = m[`${prefix}_accuracy`]
        assert.ok(acc >= 0 && acc <= 1 && m[`${prefix}_accuracy_lo`] <= acc && acc <= m[`${prefix}_accuracy_hi`])
        assert.ok(m[`${prefix}_macro_f1`] >= 0 && m[`${prefix}_macro_f1`] <= 1)
        assert.ok(m[`${prefix}_test_examples`] >= 2)
        // Paired with the untrained model's predictions on the same examples.
        const mine = await predictionsOf(first, `arm=a/g${g}/${name}`, "s")
        const theirs = await predictionsOf(first, `arm=untrained/${name}`, "s")
        assert.deepEqual(mine.ids, theirs.ids)
        assert.equal(mine.ids.length, m[`${prefix}_test_examples`])
        const right = (p: typeof mine) => p.predicted.filter((x, i) => x === p.truth[i]).length
        assert.equal(right(mine) / mine.ids.length, acc)
        const better = mine.ids.filter((_, i) =>
          mine.predicted[i] === mine.truth[i] && theirs.predicted[i] !== theirs.truth[i]
        ).length
        assert.equal(m[`${prefix}_better`], better)
        assert.equal(m[`${prefix}_minus_baseline`], (right(mine) - right(theirs)) / mine.ids.length)
        assert.ok(m[`${prefix}_minus_baseline_lo`] <= m[`${prefix}_minus_baseline_hi`])
        assert.ok(m[`${prefix}_mcnemar_p`] > 0 && m[`${prefix}_mcnemar_p`] <= 1)
      }
    }
    // The task artifacts: the era task's classes are decades of the held-out addresses (1790-1819 here).
    const era = first.nodes.find((n) => n.node.path === "task-era")!
    const task = Task.decode(
      await run(
        Effect.gen(function*() {
          return yield* (yield* ArtifactStore).getBlob(era.outputs.task.hash)
        }),
        "s"
      )
    )
    assert.ok(
      task.classes.length >= 2 && task.classes.every((c) => /^17[89]\d-|^18[01]\d-/.test(c)),
      task.classes.join()
    )

    const second = await run(execute(tiny), "s")
    assert.deepEqual(second.nodes.filter((n) => n.status !== "cached").map((n) => n.node.path), [])
  })

  it("a model whose vocabulary is not the tokenizer's fails the stage with that sentence", async () => {
    const bad = Pipeline.make("downstream-bad", (p) => {
      const real = p.add(Seed.corpus({ source: "sotu", maxDocuments: 30, testFraction: 0.3, seed: 1 }))
      const { tokenizer } = p.add(Tokenize.chars({ lowercase: true, minCount: 5 }), { corpus: real.train })
      const other = p.add(Tokenize.chars({ lowercase: false, minCount: 1 }), { corpus: real.train }, { name: "other" })
      const task = p.add(Tasks.spam({ perClass: 4, maxChars: 32 })).task
      const { model } = p.add(Train.transformer({ steps: 0, model: TINY, seed: 1 }), { corpus: real.train, tokenizer })
      p.add(Evaluate.downstream({ task: "spam", ...COMMON }), { model, tokenizer: other.tokenizer, task })
    })
    await assert.rejects(run(execute(bad), "s"), /the model's vocabulary \(\d+\) is not the tokenizer's \(\d+\)/)
  })
})

describe("pipelines/downstream.ts", () => {
  it("holds every node of pipelines/neural-collapse.ts unchanged (same paths, kinds, params, env, wiring)", async () => {
    const neural = (await import("../pipelines/neural-collapse.ts")).default
    const downstream = (await import("../pipelines/downstream.ts")).default
    const describeNode = (p: typeof neural, n: (typeof neural.nodes)[number]) =>
      canonicalJson({
        kind: n.stage.kind,
        version: n.stage.version,
        env: n.stage.env,
        params: n.stage.params,
        inputs: Object.fromEntries(Object.entries(n.inputs).map(([k, v]) => [k, `${p.nodes[v.node].path}:${v.output}`]))
      })
    const ours = new Map(downstream.nodes.map((n) => [n.path, describeNode(downstream, n)]))
    for (const n of neural.nodes) assert.equal(ours.get(n.path), describeNode(neural, n), n.path)
    const extra = downstream.nodes.filter((n) => !neural.nodes.some((m) => m.path === n.path))
    assert.deepEqual(
      [...new Set(extra.map((n) => n.stage.kind))].sort(),
      ["evaluate/downstream", "task/era", "task/spam"]
    )
    // One untrained probe per task and probe; one per generation and arm.
    assert.equal(extra.filter((n) => n.path.startsWith("arm=untrained/")).length, 4)
    assert.equal(extra.length, 2 + 4 + 2 * 5 * 4)
  })
})

describe("bad input through the CLI: one ouro: line", () => {
  const cases = [
    {
      name: "a task with one class only",
      body: `p.add(Tasks.era({ period: 1000, passageChars: 64 }), { addresses: real.test })`,
      expect: /every address is of one period \(1790-2789\): a classifier needs at least 2 classes/
    },
    {
      name: "a model whose vocabulary does not match the tokenizer",
      body: `const { tokenizer } = p.add(Tokenize.chars({ lowercase: true, minCount: 5 }), { corpus: real.train })
  const other = p.add(Tokenize.chars({ minCount: 1 }), { corpus: real.train }, { name: "other" }).tokenizer
  const { model } = p.add(Train.transformer({ steps: 0, model: { layers: 1, dModel: 16, heads: 2, context: 16 } }), { corpus: real.train, tokenizer })
  p.add(Evaluate.downstream({ task: "spam" }), { model, tokenizer: other, task: p.add(Tasks.spam({ perClass: 3, maxChars: 32 })).task })`,
      expect: /downstream.*the model's vocabulary \(\d+\) is not the tokenizer's \(\d+\)/
    },
    {
      name: "an empty split",
      body: `p.add(Empty({}))`,
      expect: /task empty: the test split is empty/
    }
  ]
  for (const c of cases) {
    it(c.name, () => {
      const cwd = tempDir("ouro-downstream-bad-")
      symlinkSync(join(ROOT, "node_modules", "effect"), join(cwd, "node_modules", "effect"), "dir")
      try {
        writeFileSync(
          join(cwd, "bad.ts"),
          `import { Effect, Schema } from "effect"
import { defineStage, Evaluate, Pipeline, Seed, Task, Tasks, Tokenize, Train } from "ouroboros"
const Empty = defineStage({
  kind: "user/empty-task", version: 1, params: Schema.Struct({}), inputs: {}, outputs: { task: Task },
  run: () => Effect.succeed({ task: { name: "empty", classes: ["a", "b"], train: [{ id: "1", text: "x", label: 0 }, { id: "2", text: "y", label: 1 }], test: [] } })
})
export default Pipeline.make("bad", (p) => {
  const real = p.add(Seed.corpus({ source: "sotu", maxDocuments: 30, testFraction: 0.3, seed: 1 }))
  ${c.body}
})
`
        )
        const r = ouro(cwd, "run", "bad.ts", "--quiet")
        assert.equal(r.code, 1, r.stderr)
        const lines = r.stderr.trim().split("\n")
        assert.equal(lines.length, 1, r.stderr)
        assert.match(lines[0], /^ouro: /)
        assert.match(lines[0], c.expect)
      } finally {
        rmSync(cwd, { recursive: true, force: true })
      }
    })
  }
})
