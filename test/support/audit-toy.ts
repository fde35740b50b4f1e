/** A toy stage whose output is its input, byte for byte: the case where several records produce the same blob. */
import { Effect, Schema } from "effect"
import { defineStage } from "../../src/pipeline/stage.ts"
import { Text } from "./toy.ts"

export const Keep = defineStage({
  kind: "toy/keep",
  version: 1,
  params: Schema.Struct({}),
  inputs: { in: Text },
  outputs: { out: Text },
  run: (_p, i) => Effect.succeed({ out: i.in })
})
