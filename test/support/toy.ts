/** Toy stages over a text artifact, for engine tests that should not depend on the language-model code. */
import { Effect, Schema } from "effect"
import type { ArtifactType } from "../../src/artifact/type.ts"
import { defineStage } from "../../src/pipeline/stage.ts"

export const Text: ArtifactType<string> = {
  name: "text",
  env: {},
  encode: (s) => new TextEncoder().encode(s),
  decode: (b) => new TextDecoder("utf-8", { fatal: true }).decode(b)
}

/** Counts calls per kind, so tests can see exactly what ran. */
export const calls = new Map<string, number>()
const count = (k: string) => calls.set(k, (calls.get(k) ?? 0) + 1)

export const Source = defineStage({
  kind: "toy/source",
  version: 1,
  params: Schema.Struct({ text: Schema.String }),
  inputs: {},
  outputs: { out: Text },
  run: (p) => Effect.sync(() => (count("toy/source"), { out: p.text }))
})

export const Upper = defineStage({
  kind: "toy/upper",
  version: 1,
  params: Schema.Struct({ suffix: Schema.String.check(Schema.isMaxLength(8)) }),
  inputs: { in: Text },
  outputs: { out: Text },
  run: (p, i) => Effect.sync(() => (count("toy/upper"), { out: i.in.toUpperCase() + p.suffix }))
})

/** Output ignores its param's case: changing "x" to "X" reproduces identical bytes (for early cutoff). */
export const Lower = defineStage({
  kind: "toy/lower",
  version: 1,
  params: Schema.Struct({ suffix: Schema.String }),
  inputs: { in: Text },
  outputs: { out: Text },
  run: (p, i) => Effect.sync(() => (count("toy/lower"), { out: (i.in + p.suffix).toLowerCase() }))
})

export const Concat = defineStage({
  kind: "toy/concat",
  version: 1,
  params: Schema.Struct({}),
  inputs: { a: Text, b: Text },
  outputs: { out: Text },
  run: (_p, i) => Effect.sync(() => (count("toy/concat"), { out: i.a + i.b }))
})
