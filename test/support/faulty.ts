/** Stages that misbehave, for test/cli-faults.test.ts: a busy synchronous loop, and a run that throws. */
import { Effect, Schema } from "effect"
import { defineStage } from "../../src/pipeline/stage.ts"
import { Text } from "./toy.ts"

/** Spins the CPU for `ms` milliseconds without yielding (as a long synchronous computation does), then outputs `ms`. */
export const Busy = defineStage({
  kind: "toy/busy",
  version: 1,
  params: Schema.Struct({ ms: Schema.Number }),
  inputs: {},
  outputs: { out: Text },
  run: (p) =>
    Effect.sync(() => {
      const end = Date.now() + p.ms
      let spins = 0
      while (Date.now() < end) spins++
      return { out: `busy ${p.ms} ms (${spins > 0 ? "spun" : "idle"})` }
    })
})

/** A user stage whose run throws, as buggy user code does. */
export const Throws = defineStage({
  kind: "toy/throws",
  version: 1,
  params: Schema.Struct({ message: Schema.String }),
  inputs: {},
  outputs: { out: Text },
  run: (p) =>
    Effect.sync((): { out: string } => {
      throw new Error(p.message)
    })
})
