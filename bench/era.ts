/**
 * bench/era: what the era task (Tasks.era) leaves a probe to find, at several passage lengths and period widths
 * (issue #16: no trained generation of the neural experiment beats the untrained model on it). For each variant
 * `period:passageChars` (20 passages from each held-out address, 30% of them held out, as pipelines/downstream.ts):
 *   - the majority class's share of the test split;
 *   - the text-statistics references: the linear probe (lm/probe/logistic.ts, its L2 by the stage's 5-fold
 *     cross-validation) on a passage's character frequencies, and on its frequencies of the 100 commonest words;
 *   - with --store (a store where pipelines/downstream.ts or pipelines/neural-collapse.ts has run): the same probe on
 *     the mean-pooled final hidden states (lm/probe/features.ts) of the untrained model and of generation 1.
 * The held-out addresses are the seed's (Seed.corpus defaults: sotu, testFraction 0.1, seed 1).
 *   node --import tsx bench/era.ts [--store DIR] [--variants 50:63,50:511,100:255,100:511] [--stride 64]
 */
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { Tokenizer } from "../src/artifact/artifacts.ts"
import { Model } from "../src/artifact/model.ts"
import { splitByHash } from "../src/artifact/split.ts"
import type { TaskExample } from "../src/artifact/task.ts"
import { lastRuns } from "../src/cli/inspect.ts"
import { storeInProcess } from "../src/engine/layers.ts"
import { usePlannedBackend } from "../src/lm/neural/backend.ts"
import { netFromSafetensors } from "../src/lm/neural/families.ts"
import { crossValidateL2 } from "../src/lm/probe/crossval.ts"
import { pooledHidden } from "../src/lm/probe/features.ts"
import { fitLogistic, predictLogistic } from "../src/lm/probe/logistic.ts"
import { DEFAULT_L2_GRID } from "../src/stages/downstream-params.ts"
import { sequences } from "../src/stages/downstream-run.ts"
import { loadSotu } from "../src/stages/sources.ts"
import { eraTask } from "../src/stages/tasks.ts"
import { readArtifact } from "../src/store/read.ts"

const { values } = parseArgs({
  options: {
    store: { type: "string" },
    variants: { type: "string", default: "50:63,50:511,100:255,100:511" },
    stride: { type: "string", default: "64" }
  },
  strict: true
})
const variants = values.variants.split(",").map((v) => {
  const [period, chars] = v.split(":").map(Number)
  if (!(period > 0 && chars > 0)) throw new Error(`--variants: ${v} is not period:passageChars`)
  return { period, chars }
})
const stride = Number(values.stride)

const all = await loadSotu()
const isTest = splitByHash(all.map((d) => d.id), 0.1, 1)
const heldOut = all.filter((_, i) => isTest[i])

/** The stage's linear probe: L2 by 5-fold CV on the training split over the default grid, then refitted. */
const probe = (
  xTrain: Float64Array,
  yTrain: Int32Array,
  xTest: Float64Array,
  test: ReadonlyArray<TaskExample>,
  d: number,
  k: number
) => {
  const o = { iterations: 300, lr: 0.05, seed: 1 }
  const n = yTrain.length
  const { l2 } = crossValidateL2(xTrain, yTrain, n, d, k, { ...o, grid: DEFAULT_L2_GRID, folds: 5 })
  const predicted = predictLogistic(fitLogistic(xTrain, yTrain, n, d, k, { ...o, l2 }), xTest, test.length)
  const right = test.filter((e, i) => predicted[i] === e.label).length
  return `${(right / test.length).toFixed(3)} (L2 ${l2})`
}

/** Frequencies of `vocab`'s units in each text (a unit's count over the text's units). */
const frequencies = (texts: ReadonlyArray<string>, vocab: ReadonlyArray<string>, units: (t: string) => string[]) => {
  const index = new Map(vocab.map((v, i) => [v, i]))
  const x = new Float64Array(texts.length * vocab.length)
  texts.forEach((t, r) => {
    const u = units(t)
    for (const w of u) {
      const j = index.get(w)
      if (j !== undefined) x[r * vocab.length + j] += 1 / u.length
    }
  })
  return x
}
const chars = (t: string) => [...t.toLowerCase()]
const words = (t: string) => t.toLowerCase().split(/[^a-z]+/).filter((w) => w !== "")

const textProbe = (
  train: ReadonlyArray<TaskExample>,
  test: ReadonlyArray<TaskExample>,
  k: number,
  units: (t: string) => string[],
  size: number
) => {
  const counts = new Map<string, number>()
  for (const e of train) for (const u of units(e.text)) counts.set(u, (counts.get(u) ?? 0) + 1)
  const vocab = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, size).map(([u]) => u)
  const y = Int32Array.from(train, (e) => e.label)
  return probe(
    frequencies(train.map((e) => e.text), vocab, units),
    y,
    frequencies(test.map((e) => e.text), vocab, units),
    test,
    vocab.length,
    k
  )
}

/** The untrained and generation-1 models and the tokenizer of the last neural run in `store`. */
const modelsOf = (store: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const runs = yield* lastRuns
      const run = runs.find((r) => r.name === "downstream") ?? runs.find((r) => r.name === "neural-collapse")
      if (run === undefined) {
        return yield* Effect.fail(new Error(`${store}: neither downstream nor neural-collapse has run there`))
      }
      const hash = (path: string, output: string) => {
        const node = run.manifest.nodes.find((n) => n.path === path)
        const h = node?.outputs[output]
        if (h === undefined) throw new Error(`${store}: run ${run.name} has no ${path}.${output}`)
        return h
      }
      const tokenizer = yield* readArtifact(Tokenizer, hash("tokenize-fit", "tokenizer"))
      const models = {
        untrained: yield* readArtifact(Model, hash("arm=untrained/train-transformer", "model")),
        "generation 1": yield* readArtifact(Model, hash("arm=replace/g1/train-transformer", "model"))
      }
      return { run: run.name, tokenizer, models }
    }).pipe(Effect.provide(storeInProcess(store, "read")))
  )

const neural = values.store === undefined ? undefined : await modelsOf(values.store)
if (neural !== undefined) await usePlannedBackend()
console.log(
  `bench/era: ${heldOut.length} held-out addresses; linear probe accuracy on the test split` +
    (neural === undefined ? "" : `; models of run ${neural.run} in ${values.store}, windows of stride ${stride}`)
)
for (const v of variants) {
  const task = eraTask(heldOut, {
    period: v.period,
    start: 1790,
    passageChars: v.chars,
    perAddress: 20,
    testFraction: 0.3,
    seed: 1
  })
  const k = task.classes.length
  const counts = new Array<number>(k).fill(0)
  for (const e of task.test) counts[e.label]++
  const cells = [
    `majority ${(Math.max(...counts) / task.test.length).toFixed(3)}`,
    `characters ${textProbe(task.train, task.test, k, chars, 64)}`,
    `words ${textProbe(task.train, task.test, k, words, 100)}`
  ]
  if (neural !== undefined) {
    // Each passage whole (the stage reads a text's first maxTokens tokens): windows cover what the context does not.
    const whole = Number.MAX_SAFE_INTEGER
    const train = sequences(neural.tokenizer, task.train, whole), test = sequences(neural.tokenizer, task.test, whole)
    const y = Int32Array.from(task.train, (e) => e.label)
    for (const [name, model] of Object.entries(neural.models)) {
      if (model.family !== "neural") throw new Error(`${name}: a ${model.family} model has no hidden states`)
      const net = netFromSafetensors(model.bytes)
      const options = { stride, batch: 32 }
      const features = probe(
        pooledHidden(net, train, options),
        y,
        pooledHidden(net, test, options),
        task.test,
        net.hiddenWidth,
        k
      )
      cells.push(`${name} ${features}`)
    }
  }
  console.log(
    `  period ${v.period}, ${v.chars} chars (${k} classes, ${task.train.length} train / ${task.test.length} test): ${
      cells.join(" | ")
    }`
  )
}
