/**
 * Downstream probes and tasks (issue #16), below the engine: the linear probe on separable data, the scores on hand
 * examples, the sliding windows and the pooled hidden states against direct forward passes, the fine-tune, and the
 * task stages' splits (stratified, seeded, era passages only from the addresses given).
 */
import assert from "node:assert/strict"
import { before, describe, it } from "node:test"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Schema } from "effect"
import { type TaskExample, Task, type TaskValue } from "../src/artifact/task.ts"
import { splitByHash } from "../src/artifact/split.ts"
import { selectBackend } from "../src/lm/neural/backend.ts"
import { bindHidden, transformer } from "../src/lm/neural/families.ts"
import { pooledHidden, uploadWeights } from "../src/lm/probe/features.ts"
import { classify, fineTune } from "../src/lm/probe/finetune.ts"
import { crossValidateL2, stratifiedFolds } from "../src/lm/probe/crossval.ts"
import { fitLogistic, predictLogistic } from "../src/lm/probe/logistic.ts"
import { accuracy, macroF1, pairedComparison, wilsonInterval } from "../src/lm/probe/scores.ts"
import { slidingWindows } from "../src/lm/probe/windows.ts"
import { EOS_ID, fitTokenizer } from "../src/lm/tokenizer.ts"
import { toSafetensors } from "../src/lm/neural/transformer.ts"
import { DEFAULT_L2_GRID, DownstreamParams } from "../src/stages/downstream-params.ts"
import { downstream } from "../src/stages/downstream-run.ts"
import { loadSotu } from "../src/stages/sources.ts"
import { cutText, eraTask, messageText, passages, stratifiedSplit } from "../src/stages/tasks.ts"
import { seededDraws } from "../src/lm/neural/weights.ts"

before(async () => {
  assert.equal((await selectBackend({ prefer: "wasm" })).name, "wasm")
})

/** Two Gaussian clouds in 8 dimensions, centres 6 standard deviations apart along one axis: linearly separable. */
const clouds = (n: number, seed: number) => {
  const { normal } = seededDraws(seed)
  const d = 8
  const x = new Float64Array(n * d)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    y[i] = i % 2
    for (let j = 0; j < d; j++) x[i * d + j] = normal() + (j === 3 ? (y[i] === 1 ? 3 : -3) : 0)
  }
  return { x, y, d }
}

describe("the linear probe", () => {
  const options = { l2: 0.001, iterations: 300, lr: 0.05, seed: 7 }

  it("reaches 100% on held-out points of separable data", () => {
    const train = clouds(200, 1), test = clouds(200, 2)
    const m = fitLogistic(train.x, train.y, 200, train.d, 2, options)
    assert.equal(accuracy(test.y, predictLogistic(m, test.x, 200)), 1)
    assert.ok(m.loss < 0.1, `training objective ${m.loss}`)
  })

  it("is deterministic: the same weights, to the bit, twice; another seed starts elsewhere", () => {
    const train = clouds(100, 3)
    const bytes = (seed: number) => {
      const m = fitLogistic(train.x, train.y, 100, train.d, 2, { ...options, seed })
      return Buffer.concat([Buffer.from(m.weights.buffer), Buffer.from(m.bias.buffer)])
    }
    assert.ok(bytes(7).equals(bytes(7)))
    assert.ok(!bytes(7).equals(bytes(8)))
  })

  it("separates three classes", () => {
    const { normal } = seededDraws(5)
    const n = 150, d = 4
    const x = new Float64Array(n * d), y = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      y[i] = i % 3
      for (let j = 0; j < d; j++) x[i * d + j] = normal() * 0.3 + (j === y[i] ? 3 : 0)
    }
    const m = fitLogistic(x, y, n, d, 3, options)
    assert.equal(accuracy(y, predictLogistic(m, x, n)), 1)
  })

  it("refuses one class, labels outside the classes and a ragged matrix", () => {
    const { x, y, d } = clouds(10, 1)
    assert.throws(() => fitLogistic(x, y, 10, d, 1, options), /at least 2 classes/)
    assert.throws(() => fitLogistic(x, Int32Array.from(y, (v) => v * 5), 10, d, 2, options), /label 5 outside 0..1/)
    assert.throws(() => fitLogistic(x.subarray(1), y, 10, d, 2, options), /expected 10 rows of 8/)
  })
})

describe("the linear probe's L2, by cross-validation on the training split", () => {
  const cv = { grid: [0.001, 0.01, 0.1, 1, 10], folds: 5, iterations: 200, lr: 0.05, seed: 1 }

  it("deals stratified folds: sizes within one row, each class spread evenly, seeded, by labels alone", () => {
    const labels = Int32Array.from({ length: 53 }, (_, i) => (i < 31 ? 0 : i < 47 ? 1 : 2))
    const folds = stratifiedFolds(labels, 3, 5, 7)
    const sizes = [0, 1, 2, 3, 4].map((f) => folds.filter((x) => x === f).length)
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${sizes}`)
    for (const c of [0, 1, 2]) {
      const perFold = [0, 1, 2, 3, 4].map((f) => folds.filter((x, i) => x === f && labels[i] === c).length)
      assert.ok(Math.max(...perFold) - Math.min(...perFold) <= 1, `class ${c}: ${perFold}`)
    }
    assert.deepEqual(stratifiedFolds(labels, 3, 5, 7), folds)
    assert.notDeepEqual(stratifiedFolds(labels, 3, 5, 8), folds)
    assert.throws(() => stratifiedFolds(labels.subarray(0, 4), 3, 5, 7), /at least 5 training examples/)
    assert.throws(() => stratifiedFolds(labels, 3, 1, 7), /at least 2 folds/)
  })

  it("picks a small L2 on separable data and the largest on labels that are noise; the same bits twice", () => {
    const { x, y, d } = clouds(100, 1)
    const separable = crossValidateL2(x, y, 100, d, 2, cv)
    assert.ok(separable.l2 <= 0.1, `separable: ${JSON.stringify(separable.scores)}`)
    const { uniform } = seededDraws(9)
    const noise = Int32Array.from({ length: 100 }, () => (uniform() < 0.5 ? 0 : 1))
    const random = crossValidateL2(x, noise, 100, d, 2, cv)
    assert.equal(random.l2, 10, `noise: ${JSON.stringify(random.scores)}`)
    assert.deepEqual(crossValidateL2(x, noise, 100, d, 2, cv), random)
    assert.deepEqual(random.scores.map((s) => s.l2), cv.grid)
  })

  it("in the stage: the L2 chosen and its cross-validated scores depend on the training examples alone", async () => {
    const ex = (prefix: string, n: number, seed: number): TaskExample[] => {
      const { uniform } = seededDraws(seed)
      return Array.from({ length: n }, (_, i) => {
        const label = i % 2
        const mark = label === 1 ? "x" : "o"
        const text = Array.from({ length: 12 }, () => (uniform() < 0.3 ? mark : "abcde"[Math.floor(uniform() * 5)]))
          .join("")
        return { id: `${prefix}${String(i).padStart(3, "0")}`, text, label }
      })
    }
    const train = ex("a", 30, 1)
    const tokenizer = fitTokenizer(["abcdexo"], { kind: "char", lowercase: true, minCount: 1 })
    const config = { vocab: tokenizer.vocab.length, layers: 1, dModel: 8, heads: 2, context: 16 }
    const model = {
      family: "neural" as const,
      artifact: "model/transformer",
      bytes: toSafetensors(config, transformer.initParams(config, 2))
    }
    const params = Schema.decodeUnknownSync(DownstreamParams)({ task: "spam", stride: 8, batch: 16, iterations: 100 })
    assert.equal(
      params.l2,
      undefined,
      "not given: cross-validation, and nothing of the linear probe's in a key it does not use"
    )
    const ctx = { node: "test", kind: "evaluate/downstream", log: () => Effect.void, status: () => {} }
    const probe = async (t: { train: TaskExample[]; test: TaskExample[] }) =>
      (await downstream(params, { model, tokenizer, task: { name: "spam", classes: ["ham", "spam"], ...t } }, ctx))
        .metrics.values
    const chosen = (v: Record<string, number>) => [v.spam_linear_l2, v.spam_linear_cv_loss, v.spam_linear_cv_accuracy]
    const a = await probe({ train, test: ex("t", 10, 2) })
    const b = await probe({ train, test: ex("u", 24, 3) })
    assert.equal(a.spam_linear_test_examples, 10)
    assert.equal(b.spam_linear_test_examples, 24)
    assert.equal(a.spam_linear_train_examples, 30)
    assert.ok(DEFAULT_L2_GRID.includes(a.spam_linear_l2), `${a.spam_linear_l2}`)
    assert.deepEqual(chosen(b), chosen(a))
    // Another training split is another cross-validation.
    const c = await probe({ train: ex("a", 30, 4), test: ex("t", 10, 2) })
    assert.notDeepEqual(chosen(c), chosen(a))
    // Against a baseline: its predictions must be of these very test examples.
    const task = { name: "spam", classes: ["ham", "spam"], train, test: ex("t", 10, 2) }
    const base = await downstream(params, { model, tokenizer, task }, ctx)
    const against = await downstream(params, {
      model,
      tokenizer,
      task,
      baseline: base.metrics,
      baselinePredictions: base.predictions
    }, ctx)
    assert.equal(against.metrics.values.spam_linear_minus_baseline, 0, "the same model against itself")
    assert.equal(against.metrics.values.spam_linear_mcnemar_p, 1)
    const other = { ...base.predictions, ids: base.predictions.ids.map((id) => `${id}x`) }
    await assert.rejects(
      downstream(params, { model, tokenizer, task, baseline: base.metrics, baselinePredictions: other }, ctx),
      /the baseline's predictions are of other examples \(task spam, 10 of them\), not of spam's 10 test examples/
    )
    // Each probe's params are its own: the linear probe's L2 settings are no fine-tune's, and the reverse.
    const tune = Schema.decodeUnknownSync(DownstreamParams)({ task: "spam", probe: "finetune", l2Grid: [0.1, 1] })
    await assert.rejects(
      downstream(tune, { model, tokenizer, task }, ctx),
      /l2, l2Grid and folds are the linear probe's, not a fine-tune's \(its head's L2 is initL2\)/
    )
  })
})

describe("scores", () => {
  it("macro-F1 on a hand example", () => {
    // truth:     0 0 0 1 1 2
    // predicted: 0 0 1 1 2 2
    // class 0: TP 2, FP 0, FN 1 -> 4/5; class 1: TP 1, FP 1, FN 1 -> 2/4; class 2: TP 1, FP 1, FN 0 -> 2/3
    const truth = [0, 0, 0, 1, 1, 2], predicted = [0, 0, 1, 1, 2, 2]
    assert.ok(Math.abs(macroF1(truth, predicted, 3) - (4 / 5 + 1 / 2 + 2 / 3) / 3) < 1e-12)
    assert.ok(Math.abs(accuracy(truth, predicted) - 4 / 6) < 1e-12)
    // A class never true and never predicted has no F1 and is left out; one true but never predicted counts 0.
    assert.equal(macroF1([0, 0, 1], [0, 0, 0], 4), (2 * 2 / (2 * 2 + 1) + 0) / 2)
  })

  it("the Wilson interval matches known values and stays in [0, 1]", () => {
    const { lo, hi } = wilsonInterval(0.5, 100)
    assert.ok(Math.abs(lo - 0.4038) < 1e-4 && Math.abs(hi - 0.5962) < 1e-4, `${lo} ${hi}`)
    const all = wilsonInterval(1, 20)
    assert.equal(all.hi, 1)
    assert.ok(Math.abs(all.lo - 0.8389) < 1e-4, `${all.lo}`)
    assert.equal(wilsonInterval(0, 20).lo, 0)
  })

  it("a paired comparison: McNemar's exact p and Agresti and Min's interval on known counts", () => {
    // 20 examples: a right and b wrong on 10, the reverse on 2, both right on 5, both wrong on 3.
    const truth = Array.from({ length: 20 }, () => 1)
    const a = [...Array(10).fill(1), ...Array(2).fill(0), ...Array(5).fill(1), ...Array(3).fill(0)]
    const b = [...Array(10).fill(0), ...Array(2).fill(1), ...Array(5).fill(1), ...Array(3).fill(0)]
    const c = pairedComparison(truth, a, b)
    assert.equal(c.better, 10)
    assert.equal(c.worse, 2)
    assert.equal(c.difference, 0.4)
    // 2 · (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158 / 4096
    assert.ok(Math.abs(c.p - 158 / 4096) < 1e-12, `${c.p}`)
    // (10.5 - 2.5) / 22 ± 1.96 · √(13 - 8²/22) / 22
    assert.ok(Math.abs(c.lo - 0.08061) < 1e-4 && Math.abs(c.hi - 0.64666) < 1e-4, `${c.lo} ${c.hi}`)
    // Swapped, the mirror image; no discordant pair at all, p = 1.
    const d = pairedComparison(truth, b, a)
    assert.ok(d.difference === -0.4 && Math.abs(d.p - c.p) < 1e-15 && Math.abs(d.lo + c.hi) < 1e-12)
    assert.equal(pairedComparison(truth, a, a).p, 1)
    // Thousands of discordant pairs do not underflow: an even split stays near p = 1.
    const n = 3000, t = Array(n).fill(1)
    const x = Array.from({ length: n }, (_, i) => i % 2), y = x.map((v) => 1 - v)
    assert.ok(pairedComparison(t, x, y).p > 0.9)
    assert.throws(() => pairedComparison([1, 0], [1], [1, 0]), /2 labels against 1 and 2 predictions/)
  })
})

describe("sliding windows", () => {
  it("count every position once, each after at least W - stride others once past the first window", () => {
    for (const [length, window, stride] of [[1, 16, 4], [16, 16, 4], [17, 16, 4], [100, 16, 5], [100, 16, 16]]) {
      const seen = new Array<number>(length).fill(0)
      for (const w of slidingWindows(0, length, window, stride)) {
        assert.ok(w.start >= 0 && w.start + w.length <= length)
        for (let j = w.from; j < w.length; j++) {
          seen[w.start + j]++
          if (w.start > 0) assert.ok(j >= Math.min(window, length) - stride, `context of ${w.start + j}`)
        }
      }
      assert.deepEqual(seen, new Array<number>(length).fill(1), `${length}/${window}/${stride}`)
    }
  })
})

describe("pooled hidden states", () => {
  const config = { vocab: 12, layers: 1, dModel: 8, heads: 2, context: 8 }
  const net = bindHidden(transformer, config, transformer.initParams(config, 3))
  const hidden = (ids: Int32Array): Float32Array => {
    const w = uploadWeights(net, net.params)
    const h = tf.tidy(() => net.hiddenTensors(w, ids, 1))
    const out = h.dataSync() as Float32Array
    h.dispose()
    for (const t of Object.values(w)) t.dispose()
    return out
  }

  it("of a text within the context: the mean over its positions of one forward pass, the <eos> left out", () => {
    const seq = Int32Array.of(EOS_ID, 3, 4, 5, 6)
    const h = hidden(seq)
    const [pooled] = [pooledHidden(net, [seq], { stride: 4, batch: 4 })]
    for (let k = 0; k < 8; k++) {
      let mean = 0
      for (let j = 1; j < seq.length; j++) mean += h[j * 8 + k]
      mean /= seq.length - 1
      assert.ok(Math.abs(pooled[k] - mean) < 1e-6, `feature ${k}: ${pooled[k]} vs ${mean}`)
    }
  })

  it("the head's logits are the hidden states times the head (the split forward pass is the old one)", () => {
    const ids = Int32Array.of(EOS_ID, 2, 3, 4)
    const h = hidden(ids)
    const logits = net.logits(ids, 1)
    const w = net.params["head.w"], b = net.params["head.b"]
    for (let j = 0; j < 4; j++) {
      for (let v = 0; v < 12; v++) {
        let z = b[v]
        for (let k = 0; k < 8; k++) z += h[j * 8 + k] * w[k * 12 + v]
        assert.ok(Math.abs(z - logits[j * 12 + v]) < 1e-4)
      }
    }
  })

  it("of texts longer than the context: batched windows agree with windows one at a time, in any batch size", () => {
    const seqs = [20, 9, 3, 31].map((n, s) =>
      Int32Array.from({ length: n }, (_, i) => (i === 0 ? EOS_ID : 2 + ((i * 7 + s) % 10)))
    )
    const one = pooledHidden(net, seqs, { stride: 3, batch: 1 })
    const many = pooledHidden(net, seqs, { stride: 3, batch: 64 })
    for (let i = 0; i < one.length; i++) assert.ok(Math.abs(one[i] - many[i]) < 1e-5)
    assert.throws(() => pooledHidden(net, [Int32Array.of(EOS_ID)], { stride: 3, batch: 4 }), /no tokens/)
  })

  it("a fine-tune started from a linear probe classifies as that probe before its first step", () => {
    const seqs = Array.from(
      { length: 24 },
      (_, s) => Int32Array.from({ length: 5 + (s % 7) }, (_, i) => (i === 0 ? EOS_ID : 2 + ((i * 3 + s * 5) % 10)))
    )
    const labels = seqs.map((_, s) => s % 2)
    const o = { stride: 4, batch: 16 }
    const features = pooledHidden(net, seqs, o)
    const probe = fitLogistic(features, labels, 24, 8, 2, { l2: 0.001, iterations: 100, lr: 0.05, seed: 1 })
    const tuned = fineTune(net, seqs, labels, 2, { ...o, steps: 0, examples: 8, lr: 0.001, seed: 1, head: probe })
    assert.deepEqual(classify(net, tuned, seqs, 2, o), predictLogistic(probe, features, 24))
  })

  it("the fine-tune learns a token-marked task, and is deterministic", () => {
    // Class 1 texts contain token 11, class 0 texts token 10; the rest is shared noise.
    const make = (n: number, seed: number) => {
      const { uniform } = seededDraws(seed)
      const seqs: Int32Array[] = [], labels: number[] = []
      for (let i = 0; i < n; i++) {
        const label = i % 2
        const len = 6 + Math.floor(uniform() * 10)
        seqs.push(
          Int32Array.from(
            { length: len },
            (_, j) => (j === 0 ? EOS_ID : j % 3 === 0 ? 10 + label : 2 + Math.floor(uniform() * 8))
          )
        )
        labels.push(label)
      }
      return { seqs, labels }
    }
    const train = make(40, 1), test = make(40, 2)
    const o = { steps: 40, examples: 8, lr: 0.01, seed: 4, stride: 4, batch: 16 }
    const a = fineTune(net, train.seqs, train.labels, 2, o)
    const b = fineTune(net, train.seqs, train.labels, 2, o)
    assert.deepEqual(a.losses, b.losses)
    assert.ok(Buffer.from(a.head.w.buffer).equals(Buffer.from(b.head.w.buffer)))
    assert.ok(a.losses.at(-1)! < a.losses[0], `loss ${a.losses[0]} -> ${a.losses.at(-1)}`)
    const predicted = classify(net, a, test.seqs, 2, o)
    assert.ok(accuracy(test.labels, predicted) >= 0.9, `accuracy ${accuracy(test.labels, predicted)}`)
    // The network's own weights are untouched.
    assert.notDeepEqual(a.params["h0.attn.qkv.w"], net.params["h0.attn.qkv.w"])
    assert.deepEqual(net.params["h0.attn.qkv.w"], transformer.initParams(config, 3)["h0.attn.qkv.w"])
  })
})

describe("task splits", () => {
  const examples = (counts: ReadonlyArray<number>): TaskExample[] =>
    counts.flatMap((n, label) => Array.from({ length: n }, (_, i) => ({ id: `c${label}-${i}`, text: "x", label })))

  it("are stratified: each class split in the same proportion, both sides non-empty", () => {
    const { train, test } = stratifiedSplit(examples([100, 30, 2]), ["a", "b", "c"], 0.3, 1)
    const count = (xs: TaskExample[], label: number) => xs.filter((e) => e.label === label).length
    assert.deepEqual([0, 1, 2].map((l) => count(test, l)), [30, 9, 1])
    assert.deepEqual([0, 1, 2].map((l) => count(train, l)), [70, 21, 1])
  })

  it("are seeded and independent of the examples' order", () => {
    const xs = examples([20, 20])
    const a = stratifiedSplit(xs, ["a", "b"], 0.25, 3)
    const b = stratifiedSplit([...xs].reverse(), ["a", "b"], 0.25, 3)
    const c = stratifiedSplit(xs, ["a", "b"], 0.25, 4)
    assert.deepEqual(a, b)
    assert.notDeepEqual(a.test.map((e) => e.id), c.test.map((e) => e.id))
  })

  it("refuse a class with fewer than two examples", () => {
    assert.throws(() => stratifiedSplit(examples([5, 1]), ["a", "b"], 0.3, 1), /class b has 1 example\(s\)/)
  })

  it("the Task codec refuses one class, an empty split, a label outside the classes", () => {
    const ok: TaskValue = {
      name: "t",
      classes: ["a", "b"],
      train: examples([2, 2]),
      test: [{ id: "z", text: "y", label: 1 }]
    }
    assert.deepEqual(Task.decode(Task.encode(ok)), ok)
    assert.ok(Buffer.from(Task.encode(ok)).equals(Buffer.from(Task.encode(ok))))
    assert.throws(() => Task.encode({ ...ok, classes: ["a"] }), /1 class\(es\) \(a\); a classifier needs at least 2/)
    assert.throws(() => Task.encode({ ...ok, test: [] }), /the test split is empty/)
    assert.throws(() => Task.encode({ ...ok, test: [{ id: "z", text: "y", label: 2 }] }), /label 2, not a class/)
  })
})

describe("the tasks' texts", () => {
  it("a message without its headers is its subject and body", () => {
    const raw = "From a@b  Thu\nReceived: from x\n\tby y\nSubject: Cheap pills\nTo: c@d\n\nBuy now.\nReally.\n"
    assert.equal(messageText(raw, "strip"), "Cheap pills\nBuy now.\nReally.")
    assert.equal(messageText(raw, "keep"), raw.trim())
    assert.equal(cutText("one two three four", 10), "one two")
  })

  it("era passages come only from the addresses given: the seed split's held-out ones", async () => {
    const docs = await loadSotu()
    const isTest = splitByHash(docs.map((d) => d.id), 0.1, 1) // pipelines/neural.ts's Seed.corpus split
    const heldOut = docs.filter((_, i) => isTest[i])
    const training = new Set(docs.filter((_, i) => !isTest[i]).map((d) => d.id))
    const task = eraTask(heldOut, {
      period: 50,
      start: 1790,
      passageChars: 256,
      perAddress: 8,
      testFraction: 0.3,
      seed: 1
    })
    const addresses = new Set(heldOut.map((d) => d.id))
    for (const e of [...task.train, ...task.test]) {
      const address = e.id.slice(0, e.id.indexOf("#"))
      assert.ok(addresses.has(address) && !training.has(address), e.id)
      assert.ok(
        heldOut.find((d) => d.id === address)!.text.replace(/\s+/g, " ").includes(e.text),
        `${e.id}: its own text`
      )
      const year = Number(address.slice(0, 4))
      const [from, to] = task.classes[e.label].split("-").map(Number)
      assert.ok(year >= from && year <= to, `${e.id} in ${task.classes[e.label]}`)
    }
    assert.ok(task.classes.length >= 2)
    Task.encode(task) // a usable task
    // The same again: deterministic.
    assert.deepEqual(
      eraTask(heldOut, { period: 50, start: 1790, passageChars: 256, perAddress: 8, testFraction: 0.3, seed: 1 }),
      task
    )
  })

  it("era: one period only is refused, as is an address without a year", () => {
    const docs = [{ id: "1790_a", text: "x ".repeat(400) }, { id: "1801_b", text: "y ".repeat(400) }]
    const p = { period: 1000, start: 1790, passageChars: 20, perAddress: 4, testFraction: 0.3, seed: 1 }
    assert.throws(() => eraTask(docs, p), /every address is of one period \(1790-2789\)/)
    assert.throws(() => eraTask([{ id: "speech", text: "z" }], p), /address speech has no year/)
    assert.deepEqual(passages("a bb ccc dddd", 4), ["a bb", "ccc dddd"])
  })
})

describe("the report's downstream section", () => {
  it("draws each probe's accuracy per arm, the untrained model dashed, one-seed bands from the Wilson interval", async () => {
    const { renderReport } = await import("../src/report/html.ts")
    const { metricInfo } = await import("../src/report/metric-info.ts")
    const one = (v: number) => ({ mean: v, lo: v, hi: v, values: [v] })
    const gen = (g: number, acc: number) => ({
      generation: g,
      seeds: 1,
      metrics: {
        spam_linear_accuracy: one(acc),
        spam_linear_accuracy_lo: one(acc - 0.1),
        spam_linear_accuracy_hi: one(acc + 0.1),
        baseline_spam_linear_accuracy: one(0.5),
        baseline_spam_linear_accuracy_lo: one(0.4),
        baseline_spam_linear_accuracy_hi: one(0.6),
        spam_linear_minus_baseline: one(acc - 0.5),
        spam_linear_minus_baseline_lo: one(acc - 0.6),
        spam_linear_minus_baseline_hi: one(acc - 0.4)
      },
      rankFrequency: [],
      sampleText: ""
    })
    const html = await renderReport({
      pipeline: "p",
      manifest: "0".repeat(64),
      arms: [{ name: "arm=replace", generations: [gen(1, 0.8), gen(2, 0.7)] }, {
        name: "arm=accumulate",
        generations: [gen(1, 0.8), gen(2, 0.8)]
      }],
      dag: { nodes: [], edges: [] },
      artifacts: [],
      theory: []
    })
    assert.match(html, /<section id="downstream"><h2>Downstream tasks<\/h2>/)
    assert.match(html, /data-plot="downstream:spam_linear"/)
    assert.match(html, /spam: linear probe accuracy on held-out examples/)
    assert.match(html, /dashed grey: the untrained model/)
    assert.match(html, /data-plot="downstream-paired:spam_linear"/)
    assert.match(html, /spam: linear probe, accuracy minus the untrained model(?:'|&#39;|&#x27;|&apos;)s/)
    assert.match(html, /with one seed, the 95% Wilson interval over the test examples/)
    assert.equal(metricInfo("baseline_era_finetune_macro_f1").label, "untrained: era, fine-tune: macro-F1")
    assert.deepEqual(metricInfo("spam_linear_accuracy").range, [0, 1])
    assert.equal(
      metricInfo("spam_finetune_mcnemar_p").label,
      "spam, fine-tune: McNemar's exact p against the untrained model"
    )
    assert.equal(metricInfo("era_linear_minus_baseline").range, undefined, "a difference runs from -1 to 1")
  })
})
