/**
 * Train.hf, Evaluate.hf and Sample.hf (#12): a GPT-Neo from the shipped TinyStories-1M config, trained from scratch
 * by transformers + PyTorch as a command stage, stored as a Files artifact, scored and sampled by its own stages.
 * Needs `pip install torch pyarrow transformers` (CI installs them); skips, saying so, only when
 * `python3 -c "import transformers, torch"` fails.
 */
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { Cause, Effect, Exit } from "effect"
import { decodeFiles } from "../src/artifact/files.ts"
import { localInProcess } from "../src/engine/layers.ts"
import {
  ArtifactStore,
  Corpus,
  corpusDocuments,
  describe as describeError,
  Evaluate,
  execute,
  Metrics,
  Pipeline,
  Progress,
  type RunResult,
  Sample,
  Seed,
  StageRunner,
  Tokenize,
  Train
} from "../src/index.ts"
import { readArtifact } from "../src/store/read.ts"
import { ROOT } from "./support/cli.ts"

const check = spawnSync("python3", ["-c", "import transformers, torch, pyarrow"], { encoding: "utf8" })
const NO_HF = check.error !== undefined
  ? "python3 is not on PATH"
  : check.status !== 0
  ? `python3 -c "import transformers, torch, pyarrow" fails (${
    (check.stderr.trim().split("\n").at(-1) ?? "").trim()
  }): pip install torch pyarrow transformers`
  : undefined

const runIn = <A, E>(store: string, eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>) =>
  Effect.runPromiseExit(eff.pipe(Effect.provide(localInProcess(store))))

const build = () =>
  Pipeline.make("hf", (b) => {
    const real = b.add(
      Seed.corpus({ source: join(ROOT, "data/shakespeare-sample.txt"), testFraction: 0.2, seed: 7 }),
      {}
    )
    const { tokenizer } = b.add(Tokenize.chars({ minCount: 1 }), { corpus: real.train })
    const { model } = b.add(Train.hf({ steps: 30, batch: 8, context: 32, validation: { every: 15 } }), {
      corpus: real.train,
      tokenizer
    })
    b.add(Evaluate.hf({ maxTokens: 2000 }), { model, tokenizer, test: real.test })
    b.add(Sample.hf({ documents: 3, maxLength: 40, seed: 2 }), { model, tokenizer })
  })

describe("Train.hf: a Hugging Face config trained from scratch, scored and sampled", {
  skip: NO_HF ?? false,
  timeout: 900_000
}, () => {
  let dir = ""
  let first: RunResult
  before(() => (dir = mkdtempSync(join(tmpdir(), "ouro-hf-"))))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const output = (r: RunResult, path: string, name: string) =>
    r.nodes.find((n) => n.node.path === path)!.outputs[name].hash

  it("trains a GPT-Neo from the TinyStories-1M config into a Files artifact, scores it and samples from it", async () => {
    const exit = await runIn(join(dir, "a"), execute(build()))
    assert.ok(Exit.isSuccess(exit), Exit.isFailure(exit) ? describeError(Cause.squash(exit.cause)) : "")
    first = exit.value
    const store = join(dir, "a")
    const read = <A>(type: Parameters<typeof readArtifact<A>>[0], hash: string) =>
      Effect.runPromise(readArtifact(type, hash).pipe(Effect.provide(localInProcess(store))))
    const { readFile } = await import("node:fs/promises")
    const hash = output(first, "train-hf", "model")
    const tree = decodeFiles(await readFile(join(store, "blobs", hash.slice(0, 2), hash)))
    const names = tree.map((f) => f.path).sort()
    assert.ok(
      names.includes("config.json") && names.includes("model.safetensors") && names.includes("training.json"),
      names.join(" ")
    )
    const config = JSON.parse(new TextDecoder().decode(tree.find((f) => f.path === "config.json")!.bytes))
    assert.equal(config.model_type, "gpt_neo")
    assert.equal(config.num_layers, 8)
    assert.equal(config.hidden_size, 64)
    const tokenizer = first.nodes.find((n) => n.node.path === "tokenize-fit")!.outputs["tokenizer"].hash
    const vocab = (await read(Tokenize.chars({}).outputs.tokenizer, tokenizer)).vocab.length
    assert.equal(config.vocab_size, vocab, "the config's vocabulary is the tokenizer's")
    const training = JSON.parse(new TextDecoder().decode(tree.find((f) => f.path === "training.json")!.bytes))
    assert.equal(training.curve.length, 2)
    assert.ok(training.curve[1][1] < training.curve[0][1] + 0.5, "the loss is not rising")
    const metrics = (await read(Metrics, output(first, "evaluate-hf-perplexity", "metrics"))).values
    assert.ok(Number.isFinite(metrics.perplexity) && metrics.perplexity > 1, String(metrics.perplexity))
    assert.ok(metrics.perplexity < vocab, `better than uniform over ${vocab} characters: ${metrics.perplexity}`)
    const sample = corpusDocuments(await read(Corpus, output(first, "sample-hf", "corpus")))
    assert.equal(sample.ids.length, 3)
    assert.deepEqual(sample.ids, ["s2-0", "s2-1", "s2-2"])
  })

  it("is deterministic on the CPU: the same params in a fresh store give the same model, metrics and sample bytes", async () => {
    assert.ok(first !== undefined, "the first run ran")
    const exit = await runIn(join(dir, "b"), execute(build()))
    assert.ok(Exit.isSuccess(exit), Exit.isFailure(exit) ? describeError(Cause.squash(exit.cause)) : "")
    for (
      const [path, name] of [["train-hf", "model"], ["evaluate-hf-perplexity", "metrics"], ["sample-hf", "corpus"]]
    ) {
      assert.equal(output(exit.value, path, name), output(first, path, name), `${path}.${name}`)
    }
  })
})
