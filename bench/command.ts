/**
 * Command stages: Train.torch against Train.transformer on the training bench's shape (bench/train.ts: the character
 * vocabulary of tinyshakespeare, dModel 64, 2 layers, 4 heads, context 64, batch 32, one thread each), both run as
 * stages by the engine in this run; and what a command stage costs beyond its program's compute (starting the
 * program, materialising its inputs, reading back and hashing its outputs).
 *   node --import tsx bench/command.ts [--steps 40]
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { Effect, Option, Schema } from "effect"
import { ArtifactStore, Command, Corpus, execute, Pipeline, Seed, Tokenize, Train } from "../src/index.ts"
import { localInProcess } from "../src/engine/layers.ts"
import { sha256 } from "../src/hash/index.ts"
import { runProcess } from "../src/command/process.ts"

const ROOT = resolve(import.meta.dirname, "..")
const CORPUS = resolve(ROOT, "../shared/data/tinyshakespeare/input.txt")
const SHAPE = { dModel: 64, layers: 2, heads: 4, context: 64 }
const BATCH = 32

const { values } = parseArgs({ options: { steps: { type: "string", default: "40" } }, strict: true })
const steps = Number(values.steps)

if (spawnSync("python3", ["-c", "import torch, pyarrow"]).status !== 0) {
  console.log("bench/command: skipped: python3 cannot import torch and pyarrow (pip install torch pyarrow numpy)")
  process.exit(0)
}

const store = mkdtempSync(join(tmpdir(), "ouro-bench-command-"))

/** A command stage that does nothing but copy its corpus input to its output: pure overhead. */
const copy = Command.stage({
  kind: "bench/copy",
  version: 1,
  params: Schema.Struct({ n: Schema.Int }),
  inputs: { corpus: Corpus },
  outputs: { corpus: Corpus },
  command: () => ["sh", "-c", "cp \"$OURO_INPUT_CORPUS\" \"$OURO_OUTPUT_CORPUS\""]
})

const train = { steps, batch: BATCH, shards: 1, model: SHAPE, validation: { fraction: 0 } }
const pipeline = Pipeline.make("bench-command", (p) => {
  const real = p.add(Seed.corpus({ source: CORPUS, testFraction: 0.1, seed: 1 }), {})
  const { tokenizer } = p.add(Tokenize.chars({ minCount: 1 }), { corpus: real.train })
  p.add(Train.transformer(train), { corpus: real.train, tokenizer }, { name: "ts" })
  p.add(Train.torch(train), { corpus: real.train, tokenizer }, { name: "torch" })
  p.add(Train.torch({ ...train, steps: 0 }), { corpus: real.train, tokenizer }, { name: "torch-0-steps" })
  p.add(copy({ n: 1 }), { corpus: real.train }, { name: "copy" })
})

const main = Effect.gen(function*() {
  const r = yield* execute(pipeline)
  // Each stage's own time, as its record has it (from the start of its computation to its outputs stored).
  const timings = new Map<string, number>()
  const records = yield* ArtifactStore
  for (const n of r.nodes) {
    const record = yield* records.getRecord(n.key)
    if (Option.isSome(record)) timings.set(n.node.path, record.value.timings.ms)
  }
  const ms = (path: string) => timings.get(path)!
  const out = (path: string, name: string) => r.nodes.find((n) => n.node.path === path)!.outputs[name]
  return { ms, out }
}).pipe(Effect.provide(localInProcess(store)))

console.log(
  `bench/command: ${cpus().length} cores, load ${
    loadavg().map((l) => l.toFixed(2)).join(" ")
  }, ${steps} steps, batch ${BATCH}, shape ${JSON.stringify(SHAPE)}, one thread each`
)
const { ms, out } = await Effect.runPromise(main)
const tokens = steps * BATCH * SHAPE.context
const tsMs = ms("ts"), torchMs = ms("torch"), torch0 = ms("torch-0-steps")
const computeMs = Math.max(1, torchMs - torch0)
console.log(
  `Train.transformer (TF.js ${process.env.OURO_BACKEND ?? "planned backend"}): ${tsMs.toFixed(0)} ms for the stage, ${
    Math.round(tokens / (tsMs / 1000))
  } tokens/s end to end`
)
console.log(
  `Train.torch: ${torchMs.toFixed(0)} ms for the stage, ${
    Math.round(tokens / (torchMs / 1000))
  } tokens/s end to end; ` +
    `${Math.round(tokens / (computeMs / 1000))} tokens/s of training (the stage minus the same stage at 0 steps, ${
      torch0.toFixed(0)
    } ms)`
)
console.log(
  `ratio torch/transformer: ${(tsMs / torchMs).toFixed(2)} end to end, ${
    (tsMs / computeMs).toFixed(2)
  } training only (TS stage time includes its own setup)`
)

// The overhead of a command stage, piece by piece, on the same corpus (1.1 MB of text, Parquet).
const corpusBytes = readFileSync(
  join(store, "blobs", out("copy", "corpus").hash.slice(0, 2), out("copy", "corpus").hash)
)
const time = (f: () => void, n = 5) => {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) f()
  return (performance.now() - t0) / n
}
const value = Corpus.decode(corpusBytes)
const materialise = time(() => void Corpus.encode(value))
const readBack = time(() => void sha256(Corpus.encode(Corpus.decode(corpusBytes))))
const spawnMs = await (async () => {
  const t0 = performance.now()
  for (let i = 0; i < 5; i++) {
    await Effect.runPromise(
      runProcess({
        argv: ["true"],
        cwd: tmpdir(),
        env: { PATH: process.env.PATH ?? "" },
        timeout: undefined,
        keepBytes: 1 << 20,
        onLine: () => {},
        onStatus: () => {}
      })
    )
  }
  return (performance.now() - t0) / 5
})()
const probe = (() => {
  const t0 = performance.now()
  spawnSync("python3", ["-c", "import torch"])
  return performance.now() - t0
})()
console.log(
  `command stage overhead: the whole copy stage ${ms("copy").toFixed(0)} ms (corpus ${
    (corpusBytes.length / 1e6).toFixed(2)
  } MB Parquet): ` +
    `start a program (sh watchdog + process group) ${spawnMs.toFixed(1)} ms, materialise the input ${
      materialise.toFixed(1)
    } ms, ` +
    `read back + validate + hash the output ${readBack.toFixed(1)} ms`
)
console.log(
  `  against Train.torch's stage: ${
    (((ms("copy")) / torchMs) * 100).toFixed(1)
  }% of it; python3 -c "import torch" alone ${probe.toFixed(0)} ms ` +
    `(${((probe / torchMs) * 100).toFixed(0)}% of the stage; paid by the probe once per process and by every run)`
)
rmSync(store, { recursive: true, force: true })
