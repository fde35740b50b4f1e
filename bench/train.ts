/**
 * Training throughput against the PyTorch anchor (../shared/anchors/torch_tiny_lm.py), same shape, same machine, same
 * run: character vocabulary of tinyshakespeare, dModel 64, 2 layers, 4 heads, context 64, batch 32, AdamW.
 * Installs Debian's python3-torch when no python3 here imports torch. Each variant runs in its own process, right
 * after a torch run of its own (the pair shares the machine's load at that moment; ratios are per pair).
 *   node --import tsx bench/train.ts [--steps 50] [--only fast,fast-2-threads]
 */
import { spawnSync } from "node:child_process"
import { readFileSync, realpathSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import type { AdamWConfig } from "../src/lm/neural/adamw.ts"

const ROOT = resolve(import.meta.dirname, "..")
const CORPUS = "../shared/data/tinyshakespeare/input.txt"
const ANCHOR = "../shared/anchors/torch_tiny_lm.py"
const SHAPE = { dModel: 64, layers: 2, heads: 4, context: 64, batch: 32 }
const WARMUP = 3

const { values } = parseArgs({
  options: { steps: { type: "string", default: "50" }, only: { type: "string" }, variant: { type: "string" } },
  strict: true
})
const steps = Number(values.steps)

type ImplName =
  | "reference"
  | "dense"
  | "embedding"
  | "attention-js"
  | "attention-wasm"
  | "loss"
  | "elementwise"
  | "fast-js"
  | "fast"
interface Variant {
  readonly name: string
  readonly impl: ImplName
  readonly shards: number
  readonly note: string
}
const VARIANTS: ReadonlyArray<Variant> = [
  {
    name: "reference",
    impl: "reference",
    shards: 1,
    note: "plain tf ops: one-hot embedding, tf matMul, batched-matMul attention"
  },
  { name: "+dense", impl: "dense", shards: 1, note: "reference + dense layers with untransposed 2-D matMul gradients" },
  { name: "+embedding", impl: "embedding", shards: 1, note: "reference + gather with a JS scatter-add gradient" },
  {
    name: "+attention-js",
    impl: "attention-js",
    shards: 1,
    note: "reference + causal attention in JS on fused QKV rows"
  },
  {
    name: "+attention-wasm",
    impl: "attention-wasm",
    shards: 1,
    note: "reference + causal attention, wasm SIMD kernels (WAT)"
  },
  { name: "+loss", impl: "loss", shards: 1, note: "reference + fused softmax cross-entropy gradient" },
  {
    name: "+elementwise",
    impl: "elementwise",
    shards: 1,
    note: "reference + GELU and LayerNorm as one JS pass each way"
  },
  { name: "fast-js-attn", impl: "fast-js", shards: 1, note: "all five levers, attention in JS" },
  { name: "fast", impl: "fast", shards: 1, note: "all five levers, attention in wasm SIMD" },
  { name: "fast-2-threads", impl: "fast", shards: 2, note: "all five + data parallel over 2 worker threads" }
]

/** One variant, in this process: prints one JSON line. */
const runVariant = async (v: Variant): Promise<void> => {
  const { selectBackend } = await import("../src/lm/neural/backend.ts")
  const T = await import("../src/lm/neural/transformer.ts")
  const { optimizerState } = await import("../src/lm/neural/adamw.ts")
  const { sampleBatch, uniformStream } = await import("../src/lm/neural/train.ts")
  const { createParallelTrainer } = await import("../src/lm/neural/parallel.ts")
  const backend = await selectBackend()
  const impl: Record<ImplName, typeof T.FAST> = {
    reference: T.REFERENCE,
    dense: { ...T.REFERENCE, dense: "custom" },
    embedding: { ...T.REFERENCE, embedding: "custom" },
    "attention-js": { ...T.REFERENCE, attention: "js" },
    "attention-wasm": { ...T.REFERENCE, attention: "wasm" },
    "fast-js": { ...T.FAST, attention: "js" },
    loss: { ...T.REFERENCE, loss: "custom" },
    elementwise: { ...T.REFERENCE, elementwise: "js" },
    fast: T.FAST
  }
  const text = readFileSync(join(ROOT, CORPUS), "utf8")
  const chars = [...new Set(text)].sort()
  const index = new Map(chars.map((c, i) => [c, i]))
  const tokens = Int32Array.from(text, (ch) => index.get(ch) ?? 0)
  const config = {
    vocab: chars.length,
    layers: SHAPE.layers,
    dModel: SHAPE.dModel,
    heads: SHAPE.heads,
    context: SHAPE.context
  }
  // as the anchor: AdamW(lr=3e-3, weight_decay=0.01), constant lr
  const adamw: AdamWConfig = {
    lr: 3e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0.01,
    warmup: 0,
    schedule: "constant",
    totalSteps: 1,
    minLrFraction: 1
  }
  const trainer = await createParallelTrainer(config, optimizerState(T.initParams(config, 0)), {
    shards: v.shards,
    backend: backend.name,
    impl: impl[v.impl]
  })
  const next = uniformStream(0)
  const step = async () => {
    const b = sampleBatch(tokens, SHAPE.batch, SHAPE.context, next)
    return trainer.step(b.inputs, b.targets, SHAPE.batch, adamw)
  }
  for (let i = 0; i < WARMUP; i++) await step()
  const t0 = performance.now()
  let loss = NaN
  for (let i = 0; i < steps; i++) loss = await step()
  const seconds = (performance.now() - t0) / 1000
  await trainer.close()
  console.log(JSON.stringify({
    backend: backend.name,
    params: T.countParams(config),
    tokens_per_s: Math.round((steps * SHAPE.batch * SHAPE.context) / seconds),
    final_loss: Number(loss.toFixed(4))
  }))
}

const lastJson = (out: string): Record<string, unknown> => {
  const line = out.trim().split("\n").filter((l) => l.startsWith("{")).pop()
  if (line === undefined) throw new Error(`no JSON line in output:\n${out}`)
  return JSON.parse(line) as Record<string, unknown>
}

/**
 * Debian's PyTorch finds its BLAS through the libblas.so.3 alternative, which is the netlib reference BLAS unless an
 * optimised one is installed: with it the anchor ran 4k tokens/s here, 20x slower than it should. So the bench
 * installs OpenBLAS too, and prints which BLAS the anchor got.
 */
const pythonWithTorch = (): string => {
  const candidates = ["/usr/bin/python3", "python3"]
  const found = () => candidates.find((p) => spawnSync(p, ["-c", "import torch"], { stdio: "ignore" }).status === 0)
  const blas = () => realpathOr("/usr/lib/x86_64-linux-gnu/libblas.so.3")
  if (found() === undefined || !blas().includes("openblas")) {
    console.log(
      "installing Debian's python3-torch and OpenBLAS (apt-get install -y python3-torch libopenblas0-pthread) ..."
    )
    spawnSync("apt-get", ["install", "-y", "python3-torch", "libopenblas0-pthread"], {
      stdio: ["ignore", "ignore", "inherit"]
    })
  }
  const now = found()
  if (now === undefined) throw new Error("bench/train: could not install python3-torch")
  console.log(`torch's BLAS: ${blas()}`)
  return now
}

const realpathOr = (path: string): string => {
  try {
    return realpathSync(path)
  } catch {
    return `${path} (missing)`
  }
}

const torch = (python: string): number => {
  const args = [
    ANCHOR,
    "--corpus",
    CORPUS,
    "--steps",
    String(steps),
    "--threads",
    "1",
    "--d-model",
    String(SHAPE.dModel),
    "--layers",
    String(SHAPE.layers),
    "--heads",
    String(SHAPE.heads),
    "--context",
    String(SHAPE.context),
    "--batch",
    String(SHAPE.batch)
  ]
  const r = spawnSync(python, args, { cwd: ROOT, encoding: "utf8" })
  if (r.status !== 0) throw new Error(`torch anchor failed: ${r.stderr}`)
  const j = lastJson(r.stdout)
  console.log(`torch (1 thread): ${JSON.stringify(j)}`)
  return Number(j["tokens_per_s"])
}

const main = () => {
  const only = values.only?.split(",")
  const chosen = VARIANTS.filter((v) => only === undefined || only.includes(v.name))
  console.log(
    `bench/train: ${cpus().length} cores, load ${
      loadavg().map((l) => l.toFixed(2)).join(" ")
    }, ${steps} steps after ${WARMUP} warm-up, shape ${JSON.stringify(SHAPE)}`
  )
  const python = pythonWithTorch()
  // Each variant runs right after its own torch run: load from other work on the machine moves both alike.
  const results: Array<{ v: Variant; tps: number; torch: number; loss: unknown; backend: unknown }> = []
  for (const v of chosen) {
    const anchor = torch(python)
    const r = spawnSync(process.execPath, [
      "--import",
      "tsx",
      join(ROOT, "bench", "train.ts"),
      "--variant",
      v.name,
      "--steps",
      String(steps)
    ], { cwd: ROOT, encoding: "utf8" })
    if (r.status !== 0) throw new Error(`variant ${v.name} failed:\n${r.stderr.slice(-3000)}`)
    const j = lastJson(r.stdout)
    results.push({ v, tps: Number(j["tokens_per_s"]), torch: anchor, loss: j["final_loss"], backend: j["backend"] })
    console.log(`  ${v.name}: ${JSON.stringify(j)}`)
  }
  const base = results.find((r) => r.v.name === "reference")?.tps
  // torch swings with the machine's load far more than the wasm runs do: the median of all its runs is the steadier yardstick
  const sorted = results.map((r) => r.torch).sort((a, b) => a - b)
  const median = (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2
  console.log(
    `\ntorch 1 thread over ${sorted.length} runs: min ${Math.round(sorted[0])}, median ${Math.round(median)}, max ${
      Math.round(sorted[sorted.length - 1])
    } tokens/s`
  )
  console.log(
    "variant          backend  tokens/s  torch (paired)  ratio paired  ratio median  vs reference  final loss  what"
  )
  for (const r of results) {
    const speedup = base === undefined ? "" : `${(r.tps / base).toFixed(2)}x`
    console.log(
      `${r.v.name.padEnd(16)} ${String(r.backend).padEnd(8)} ${String(r.tps).padStart(8)}  ${
        String(Math.round(r.torch)).padStart(14)
      }  ${(r.tps / r.torch).toFixed(3).padStart(12)}  ${(r.tps / median).toFixed(3).padStart(12)}  ${
        speedup.padStart(12)
      }  ${String(r.loss).padStart(10)}  ${r.v.note}`
    )
  }
  const best = results.reduce((a, b) => (b.tps > a.tps ? b : a))
  console.log(
    `\nbest: ${best.v.name} ${best.tps} tokens/s; ratio to torch's median ${
      (best.tps / median).toFixed(3)
    }, to its paired run ${(best.tps / best.torch).toFixed(3)} (goal >= 0.25)`
  )
}

if (values.variant !== undefined) {
  const v = VARIANTS.find((x) => x.name === values.variant)
  if (v === undefined) throw new Error(`unknown variant ${values.variant}`)
  await runVariant(v)
} else {
  main()
}
