/**
 * The same collapse-shaped DAG as ../shared/anchors/snakemake-chain/Snakefile: generations of train -> sample -> mix,
 * each a trivial step that appends a line to its input, so a cached rerun measures only the orchestration.
 */
import { Effect, Schema } from "effect"
import type { ArtifactType } from "../../src/artifact/type.ts"
import * as Pipeline from "../../src/pipeline/pipeline.ts"
import { defineStage } from "../../src/pipeline/stage.ts"

const Text: ArtifactType<string> = {
  name: "text",
  env: {},
  encode: (s) => new TextEncoder().encode(s),
  decode: (b) => new TextDecoder("utf-8", { fatal: true }).decode(b)
}

const step = (kind: string, line: string) =>
  defineStage({
    kind: `chain/${kind}`,
    version: 1,
    params: Schema.Struct({}),
    inputs: { in: Text },
    outputs: { out: Text },
    run: (_p, { in: text }) => Effect.succeed({ out: `${text}${line}\n` })
  })({})

const seed = defineStage({
  kind: "chain/seed",
  version: 1,
  params: Schema.Struct({}),
  inputs: {},
  outputs: { out: Text },
  run: () => Effect.succeed({ out: "seed\n" })
})({})

export const chain = (generations: number) =>
  Pipeline.make(`chain-${generations}`, (p) => {
    const start = p.add(seed, {})
    p.generations(generations, { corpus: start.out }, (g, prev) => {
      const model = g.add(step("train", "model"), { in: prev.corpus }, { name: "train" })
      const sample = g.add(step("sample", "sample"), { in: model.out }, { name: "sample" })
      return { corpus: g.add(step("mix", ""), { in: sample.out }, { name: "mix" }).out }
    })
  })
