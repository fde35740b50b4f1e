/**
 * The worker-thread pool (src/engine/workers.ts) when a stage is interrupted: its thread is retired, and a stage
 * waiting in line for a thread gets a fresh one. Regression: the waiting stage was never woken (only a thread handed
 * back wakes a waiter, and a retired one is not handed back), which hung cluster workers whose shards moved.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { it } from "node:test"
import { Context, Effect, Fiber, Layer } from "effect"
import { layerSilent } from "../src/engine/Progress.ts"
import { StageRunner } from "../src/engine/StageRunner.ts"
import { layerWorkers } from "../src/engine/workers.ts"
import { loadPipeline } from "../src/pipeline/load.ts"
import { ROOT } from "./support/cli.ts"

const SLOW = join(ROOT, "test/fixtures/cluster/slow.ts")

it(
  "a stage waiting for the only worker thread runs when the stage on it is interrupted",
  { timeout: 180_000 },
  async () => {
    const store = mkdtempSync(join(tmpdir(), "ouro-pool-"))
    try {
      const outcome = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const pipeline = yield* loadPipeline(SLOW)
        const context = yield* Layer.build(
          layerWorkers({ pipelineFile: SLOW, store }, 1).pipe(Layer.provide(layerSilent))
        )
        const runner = Context.get(context, StageRunner)
        const node = (path: string) => pipeline.nodes.find((n) => n.path === path)!
        const seed = yield* runner.run(node("seed-corpus"), {})
        const inputs = { corpus: seed.train.hash }
        const first = yield* Effect.forkChild(runner.run(node("seed=1/fixture-spin"), inputs))
        const second = yield* Effect.forkChild(runner.run(node("seed=2/fixture-spin"), inputs))
        yield* Effect.sleep("500 millis")
        yield* Fiber.interrupt(first)
        return yield* Fiber.join(second).pipe(Effect.timeout("150 seconds"))
      })))
      assert.equal(outcome.corpus.artifact, "corpus")
    } finally {
      rmSync(store, { recursive: true, force: true })
    }
  }
)
