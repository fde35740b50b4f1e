/** A stage that emits a corpus given literally in its params, so stage tests control their inputs exactly. */
import { Effect, Schema } from "effect"
import { Corpus } from "../../src/artifact/artifacts.ts"
import { corpusFromDocuments } from "../../src/artifact/corpus.ts"
import { defineStage } from "../../src/pipeline/stage.ts"

const docs = defineStage({
  kind: "test/docs",
  version: 1,
  params: Schema.Struct({ docs: Schema.Array(Schema.Struct({ id: Schema.String, text: Schema.String })) }),
  inputs: {},
  outputs: { corpus: Corpus },
  run: (p) => Effect.sync(() => ({ corpus: corpusFromDocuments(p.docs) }))
})

export interface Doc {
  readonly id: string
  readonly text: string
}

export const Docs = (list: ReadonlyArray<Doc>) => docs({ docs: list })
