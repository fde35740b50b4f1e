import assert from "node:assert/strict"
import { describe, it } from "node:test"
import fc from "fast-check"
import { bigramCounts, bigramEntropyRate, bigramPrediction, simulateBigram } from "../src/theory/bigram.ts"
import {
  binomialPmf,
  binomialRow,
  binomialTransition,
  denseBinomialTransition,
  exactUnigramPrediction,
  marginalPath,
  pointMass,
  simulateUnigram,
  stepCountDistribution,
  type CountDistribution
} from "../src/theory/wright-fisher.ts"
import { studentTQuantile, summarizeRuns } from "../src/theory/statistics.ts"

const close = (a: number, b: number, tol: number, what = ""): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} != ${b} (tol ${tol})`)
const sum = (xs: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < xs.length; i++) s += xs[i]
  return s
}
const moment = (d: CountDistribution, f: (k: number) => number): number => {
  let s = 0
  for (let i = 0; i < d.p.length; i++) s += d.p[i] * f(d.lo + i)
  return s
}

/** Exact C(N,k) j^k (N-j)^(N-k) / N^N as a double, through BigInt (200 fractional bits). */
const exactPmf = (N: number, j: number, k: number): number => {
  let C = 1n
  for (let i = 1; i <= k; i++) C = (C * BigInt(N - i + 1)) / BigInt(i)
  const num = C * BigInt(j) ** BigInt(k) * BigInt(N - j) ** BigInt(N - k)
  return Number((num << 200n) / BigInt(N) ** BigInt(N)) / 2 ** 200
}

// 30 types, N = 200, Zipf-like.
const SMALL = [37, 25, 18, 14, 12, 10, 9, 8, 7, 6, 6, 5, 5, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]

describe("binomial transition", () => {
  it("N = 2 by hand: rows [1,0,0], [1/4,1/2,1/4], [0,0,1]; a singleton survives one generation w.p. 3/4, two w.p. 5/8", () => {
    const P = denseBinomialTransition(2)
    const want = [
      [1, 0, 0],
      [0.25, 0.5, 0.25],
      [0, 0, 1]
    ]
    P.forEach((row, j) => row.forEach((v, k) => close(v, want[j][k], 1e-15, `P[${j}][${k}]`)))
    const path = marginalPath(2, 1, 2)
    close(path.survival[0], 1, 0)
    close(path.survival[1], 3 / 4, 1e-15)
    // P(0 after 2) = 1/4 + (1/2)(1/4) = 3/8.
    close(path.survival[2], 5 / 8, 1e-15)
  })

  it("matches exact rational values to 1e-13 relative (N = 30, every j, k)", () => {
    const N = 30
    for (let j = 0; j <= N; j++) {
      const row = binomialRow(N, j, 0)
      for (let k = 0; k <= N; k++) {
        const want = exactPmf(N, j, k)
        const got = k >= row.lo && k < row.lo + row.values.length ? row.values[k - row.lo] : 0
        if (want === 0) assert.equal(got, 0)
        else assert.ok(Math.abs(got / want - 1) < 1e-13, `P[${j}][${k}] = ${got}, exact ${want}`)
        const direct = binomialPmf(k, N, j / N)
        if (want > 0) assert.ok(Math.abs(direct / want - 1) < 1e-13, `binomialPmf(${k}, ${N}, ${j}/${N})`)
      }
    }
  })

  it("rows sum to 1 within 1e-12, up to N = 1000 (every row)", () => {
    for (const N of [1, 2, 3, 10, 100, 1000]) {
      binomialTransition(N).forEach((row, j) => close(sum(row.values), 1, 1e-12, `N=${N} row ${j}`))
    }
  })

  it("any row: sums to 1, mean j, variance j(N-j)/N (fast-check, N <= 20000)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }).chain((N) => fc.tuple(fc.constant(N), fc.integer({ min: 0, max: N }))),
        ([N, j]) => {
          const row = binomialRow(N, j)
          let s = 0
          let m1 = 0
          let m2 = 0
          row.values.forEach((v, i) => {
            const k = row.lo + i
            s += v
            m1 += v * k
            m2 += v * k * k
          })
          close(s, 1, 1e-12, "sum")
          close(m1, j, 1e-9 * Math.max(1, j), "mean")
          close(m2 - m1 * m1, (j * (N - j)) / N, 1e-7 * Math.max(1, j), "variance")
        }
      ),
      { numRuns: 60, seed: 7 }
    )
  })
})

describe("count-distribution propagation", () => {
  it("keeps mass 1, the mean c0 (ML re-estimation is a martingale), and decays heterozygosity as (1 - 1/N)^g", () => {
    // E[c_g (N - c_g)] = (1 - 1/N)^g c0 (N - c0): Wright-Fisher heterozygosity decay (Ewens 2004, eq. 1.52).
    const N = 200
    const c0 = 37
    let d = pointMass(c0)
    for (let g = 1; g <= 30; g++) {
      d = stepCountDistribution(N, d)
      close(sum(d.p), 1, 1e-12, `mass g=${g}`)
      close(moment(d, (k) => k), c0, 1e-9, `mean g=${g}`)
      const het = moment(d, (k) => k * (N - k))
      close(het / ((1 - 1 / N) ** g * c0 * (N - c0)), 1, 1e-10, `heterozygosity g=${g}`)
    }
  })
})

describe("exactUnigramPrediction", () => {
  it("generation 0 is the data; one generation has the closed form Σ_i 1 - (1 - c_i/N)^N", () => {
    const N = sum(SMALL)
    const pred = exactUnigramPrediction(SMALL, 3)
    assert.equal(pred.length, 4)
    close(pred[0].expectedSurvivingTypes, SMALL.length, 1e-12)
    close(pred[0].expectedEntropy, -SMALL.reduce((h, c) => h + (c / N) * Math.log2(c / N), 0), 1e-12)
    close(pred[1].expectedSurvivingTypes, SMALL.reduce((s, c) => s + 1 - (1 - c / N) ** N, 0), 1e-10)
  })

  it("ignores zero counts; a single type survives with certainty", () => {
    assert.deepEqual(
      exactUnigramPrediction([0, 5, 0], 2).map((p) => p.expectedSurvivingTypes),
      [1, 1, 1]
    )
    assert.throws(() => exactUnigramPrediction([0, 0], 1), /sum to at least 1/)
  })

  it("expected surviving types and expected entropy never increase (fast-check)", () => {
    // Types: E[1{c' > 0}] <= 1 only drops. Entropy: H is concave and E[c'/N | c] = c/N, so Jensen gives E[H'] <= H.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 12 }), (counts) => {
        fc.pre(sum(counts) > 0)
        const pred = exactUnigramPrediction(counts, 8)
        for (let g = 1; g < pred.length; g++) {
          assert.ok(pred[g].expectedSurvivingTypes <= pred[g - 1].expectedSurvivingTypes + 1e-9)
          assert.ok(pred[g].expectedEntropy <= pred[g - 1].expectedEntropy + 1e-9)
        }
      }),
      { numRuns: 40, seed: 11 }
    )
  })

  it("lies in the 95% t-interval of the Monte-Carlo mean at every generation (400 seeds, N = 200, 30 types)", () => {
    const G = 10
    const pred = exactUnigramPrediction(SMALL, G)
    const runs = Array.from({ length: 400 }, (_, s) => simulateUnigram(SMALL, G, s + 1))
    const types = summarizeRuns(runs.map((r) => r.map((x) => x.survivingTypes)))
    const entropy = summarizeRuns(runs.map((r) => r.map((x) => x.entropy)))
    for (let g = 0; g <= G; g++) {
      const t = pred[g].expectedSurvivingTypes
      const h = pred[g].expectedEntropy
      assert.ok(
        t >= types[g].lo - 1e-9 && t <= types[g].hi + 1e-9,
        `types g=${g}: ${t} not in [${types[g].lo}, ${types[g].hi}]`
      )
      assert.ok(
        h >= entropy[g].lo - 1e-9 && h <= entropy[g].hi + 1e-9,
        `entropy g=${g}: ${h} not in [${entropy[g].lo}, ${entropy[g].hi}]`
      )
      assert.ok(t >= types[g].percentileLo && t <= types[g].percentileHi)
    }
  })
})

describe("simulateUnigram", () => {
  it("starts at the data, is deterministic per seed, and never revives a type", () => {
    const a = simulateUnigram(SMALL, 15, 42)
    assert.deepEqual(a, simulateUnigram(SMALL, 15, 42))
    assert.notDeepEqual(a, simulateUnigram(SMALL, 15, 43))
    assert.equal(a[0].survivingTypes, SMALL.length)
    for (let g = 1; g < a.length; g++) assert.ok(a[g].survivingTypes <= a[g - 1].survivingTypes)
  })
})

describe("summarizeRuns", () => {
  it("Student t quantiles match tables", () => {
    const table: Array<[number, number, number]> = [
      [0.975, 1, 12.706204736174704],
      [0.975, 2, 4.302652729749464],
      [0.975, 10, 2.2281388519862744],
      [0.975, 29, 2.045229642132703],
      [0.975, 120, 1.979930405082423],
      [0.995, 5, 4.032142983557536]
    ]
    for (const [p, nu, t] of table) {
      close(studentTQuantile(p, nu), t, 1e-9 * t, `t(${p}, ${nu})`)
      close(studentTQuantile(1 - p, nu), -t, 1e-9 * t)
    }
  })

  it("t-interval of the mean and type-7 percentiles", () => {
    const [s] = summarizeRuns([[1], [2], [3]])
    close(s.mean, 2, 0)
    close(s.sd, 1, 1e-15)
    const half = 4.302652729749464 / Math.sqrt(3)
    close(s.lo, 2 - half, 1e-9)
    close(s.hi, 2 + half, 1e-9)
    close(s.percentileLo, 1.05, 1e-12) // h = 2·0.025
    close(s.percentileHi, 2.95, 1e-12)
    const [same] = summarizeRuns([[5], [5]])
    assert.deepEqual([same.lo, same.hi], [5, 5])
    assert.throws(() => summarizeRuns([[1, 2], [3]]), /differ in length/)
  })
})

describe("bigram", () => {
  // A small deterministic "text": repeated phrases, so some contexts branch.
  const text = (
    "the cat sat on the mat the dog sat on the log a cat and a dog sat on a mat " +
    "the cat saw the dog and the dog saw a cat on the log the end"
  ).split(" ")
  const ids = new Map<string, number>()
  const tokens = text.map((w) => {
    const id = ids.get(w) ?? ids.size
    ids.set(w, id)
    return id
  })

  it("counts and entropy rate by hand", () => {
    // 0→1, 1→0, 0→2: context 0 has two successors (1 bit), context 1 one (0 bits); H = (2/3)·1.
    const c = bigramCounts([0, 1, 0, 2])
    assert.equal(c.N, 3)
    assert.equal(c.pairs.size, 3)
    assert.equal(c.contexts.get(0), 2)
    close(bigramEntropyRate(c), 2 / 3, 1e-15)
  })

  it("simulation: data at generation 0, deterministic per seed, surviving bigrams never increase", () => {
    const a = simulateBigram(tokens, 12, 5)
    assert.deepEqual(a, simulateBigram(tokens, 12, 5))
    assert.notDeepEqual(a, simulateBigram(tokens, 12, 6))
    const c0 = bigramCounts(tokens)
    assert.equal(a[0].survivingBigrams, c0.pairs.size)
    close(a[0].entropyRate, bigramEntropyRate(c0), 1e-15)
    for (let g = 1; g < a.length; g++) assert.ok(a[g].survivingBigrams <= a[g - 1].survivingBigrams)
    // Restarts: the last token (2) has no row; the walk must still record N transitions and terminate.
    const r = simulateBigram([0, 1, 0, 2], 20, 1)
    assert.equal(r.length, 21)
    for (const x of r) assert.ok(x.survivingBigrams >= 1 && x.survivingBigrams <= 3)
  })

  it("predictions: equal to the data at generation 0, and non-increasing (both models)", () => {
    const c0 = bigramCounts(tokens)
    for (const model of ["pooled", "per-context"] as const) {
      const p = bigramPrediction(tokens, 10, model)
      assert.equal(p.length, 11)
      close(p[0].expectedSurvivingBigrams, c0.pairs.size, 1e-9)
      close(p[0].expectedEntropyRate, bigramEntropyRate(c0), 1e-12)
      for (let g = 1; g < p.length; g++) {
        assert.ok(p[g].expectedSurvivingBigrams <= p[g - 1].expectedSurvivingBigrams + 1e-9, `${model} bigrams g=${g}`)
        assert.ok(p[g].expectedEntropyRate <= p[g - 1].expectedEntropyRate + 1e-9, `${model} entropy g=${g}`)
      }
    }
  })
})
