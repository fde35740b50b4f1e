/** Stages and a CLI runner for test/audit-faults.test.ts: outputs that do not decode, stages that stall or fail. */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import { Metrics, type MetricsValue } from "../../src/artifact/artifacts.ts"
import { StageFailed } from "../../src/errors/index.ts"
import { defineStage } from "../../src/pipeline/stage.ts"
import { ROOT } from "./cli.ts"
import { Text } from "./toy.ts"

/** A metrics output that encodes (canonical JSON) but does not decode (a metric must be a finite number). */
export const BadMetrics = defineStage({
  kind: "toy/bad-metrics",
  version: 1,
  params: Schema.Struct({}),
  inputs: {},
  outputs: { m: Metrics },
  run: () => Effect.succeed({ m: { values: { x: "str" } } as unknown as MetricsValue })
})

/** A well-formed metrics output. */
export const GoodMetrics = defineStage({
  kind: "toy/good-metrics",
  version: 1,
  params: Schema.Struct({ x: Schema.Finite }),
  inputs: {},
  outputs: { m: Metrics },
  run: (p) => Effect.succeed({ m: { values: { x: p.x } } })
})

/**
 * A text source that, in the process running it, sleeps OURO_TEST_SLOW_MS and fails when OURO_TEST_FAIL is set:
 * the same key (and record) whether it stalls, fails or not.
 */
export const Flaky = defineStage({
  kind: "toy/flaky",
  version: 1,
  params: Schema.Struct({ text: Schema.String }),
  inputs: {},
  outputs: { out: Text },
  run: (p, _i, ctx) =>
    Effect.gen(function*() {
      const ms = Number(process.env.OURO_TEST_SLOW_MS ?? 0)
      if (ms > 0) {
        yield* ctx.log("sleeping")
        yield* Effect.sleep(ms)
      }
      if (process.env.OURO_TEST_FAIL !== undefined) {
        return yield* new StageFailed({ node: ctx.node, kind: "toy/flaky", detail: "failing as asked" })
      }
      return { out: p.text }
    })
})

/** A pipeline file in `dir` made of one Flaky stage. */
export const writeFlakyPipeline = (dir: string): string => {
  const file = join(dir, "flaky.ts")
  writeFileSync(
    file,
    `
import { Pipeline } from ${JSON.stringify(join(ROOT, "src/index.ts"))}
import { Flaky } from ${JSON.stringify(join(ROOT, "test/support/faults.ts"))}

export default Pipeline.make("flaky", (p) => {
  p.add(Flaky({ text: "hello" }), {})
})
`
  )
  return file
}

export interface Spawned {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `ouro` in a child process with extra environment variables; `whenStarted` is polled every 50 ms and, once it
 * says true, `signal` is sent to the child.
 */
export const ouroWith = (
  cwd: string,
  env: Readonly<Record<string, string>>,
  args: ReadonlyArray<string>,
  interrupt?: { readonly whenStarted: () => boolean; readonly signal: NodeJS.Signals }
): Promise<Spawned> =>
  new Promise((done) => {
    const { OURO_STORE: _ignored, ...inherited } = process.env
    const child = spawn(process.execPath, [join(ROOT, "bin", "ouro.js"), ...args], {
      cwd,
      env: { ...inherited, ...env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    let timer: NodeJS.Timeout | undefined
    if (interrupt !== undefined) {
      timer = setInterval(() => {
        if (!interrupt.whenStarted()) return
        clearInterval(timer)
        child.kill(interrupt.signal)
      }, 50)
    }
    child.on("exit", (code, signal) => {
      clearInterval(timer)
      done({ code, signal, stdout, stderr })
    })
  })
