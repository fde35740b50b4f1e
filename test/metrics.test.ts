import assert from "node:assert/strict"
import { describe, it } from "node:test"
import fc from "fast-check"
import { distinctN, repN, unigramEntropy, vocabCoverage } from "../src/metrics/diversity.ts"
import { selfBleu } from "../src/metrics/selfBleu.ts"

const docs = (...xs: number[][]): Int32Array[] => xs.map((x) => Int32Array.from(x))
const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`)

const docsArb = fc.array(fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 12 }), { maxLength: 8 })

describe("distinctN", () => {
  it("counts unique over total n-grams, never across documents", () => {
    const d = docs([2, 3, 2, 3], [2, 3])
    close(distinctN(d, 1), 2 / 6)
    close(distinctN(d, 2), 2 / 4)
    close(distinctN(d, 3), 2 / 2)
    assert.equal(distinctN(docs([2], [3]), 2), 0)
    assert.equal(distinctN([], 1), 0)
    assert.throws(() => distinctN(d, 0), /positive integer/)
  })

  it("lies in (0, 1] and ignores document order", () => {
    fc.assert(
      fc.property(docsArb, fc.integer({ min: 1, max: 4 }), (xs, n) => {
        const v = distinctN(docs(...xs), n)
        assert.ok(v >= 0 && v <= 1)
        assert.equal(distinctN(docs(...[...xs].reverse()), n), v)
      })
    )
  })
})

describe("repN", () => {
  it("averages 1 - unique/total per document over documents with an n-gram", () => {
    close(repN(docs([2, 3, 2, 3], [4, 5, 6], [7]), 2), (1 - 2 / 3 + 0) / 2)
    close(repN(docs([5, 5, 5, 5, 5]), 1), 1 - 1 / 5)
    assert.equal(repN(docs([1]), 4), 0)
  })
})

describe("unigramEntropy", () => {
  it("is the pooled Shannon entropy in bits", () => {
    close(unigramEntropy(docs([2, 2], [3, 4])), 1.5)
    close(unigramEntropy(docs([0, 1, 2, 3])), 2)
    assert.equal(unigramEntropy(docs([7, 7, 7])), 0)
    assert.equal(unigramEntropy([]), 0)
  })
})

describe("vocabCoverage", () => {
  it("is the share of the reference's types (no <unk>/<eos>) that occur", () => {
    close(vocabCoverage(docs([2, 4, 9, 0]), docs([0, 1, 2, 3], [4, 4])), 2 / 3)
    assert.equal(vocabCoverage(docs([2]), docs([0, 1])), 0)
    assert.equal(vocabCoverage([], docs([2, 3])), 0)
    assert.equal(vocabCoverage(docs([3, 2, 5]), docs([2, 3])), 1)
  })
})

describe("selfBleu", () => {
  // Expected values from NLTK 3.10.3: mean over i of sentence_bleu(others, docs[i],
  // smoothing_function=SmoothingFunction().method1), default weights (0.25,) * 4.
  it("matches NLTK sentence_bleu with method1 smoothing", () => {
    const a = docs([2, 3, 4, 5, 6, 7], [2, 3, 4, 5, 8, 9, 10], [3, 4, 5, 6, 7, 2, 3], [11, 12])
    close(selfBleu(a, { maxDocs: 100, maxLength: 100 }), 0.4844975687770635)
    const b = docs([2, 3, 4, 5, 2, 3, 4, 5], [2, 3, 4, 5], [5, 4, 3, 2, 2])
    close(selfBleu(b, { maxDocs: 100, maxLength: 100 }), 0.4082329492734608)
    // hand-checkable: p1 = p2 = p3 = 1, no 4-gram so p4 = 0.1 / 1, BP = 1: 0.1^(1/4)
    close(selfBleu(docs([2, 3, 4], [2, 3, 4]), { maxDocs: 100, maxLength: 100 }), Math.pow(0.1, 0.25))
  })

  it("uses only the first maxDocs documents, truncated to maxLength", () => {
    const a = [[2, 3, 4, 5, 6, 7], [2, 3, 4, 5, 8, 9, 10], [3, 4, 5, 6, 7, 2, 3], [11, 12]]
    const extra = [...docs(...a), ...docs([2, 3, 4, 5, 6, 7])]
    close(selfBleu(extra, { maxDocs: 4, maxLength: 100 }), 0.4844975687770635)
    const truncated = docs(...a.map((x) => x.slice(0, 4)))
    close(selfBleu(docs(...a), { maxDocs: 4, maxLength: 4 }), selfBleu(truncated, { maxDocs: 4, maxLength: 100 }))
    assert.notEqual(selfBleu(docs(...a), { maxDocs: 4, maxLength: 4 }), 0.4844975687770635)
    assert.equal(selfBleu(docs([2, 3]), { maxDocs: 10, maxLength: 10 }), 0)
  })

  it("is 1 for identical documents of length >= n, and in [0, 1]", () => {
    close(selfBleu(docs([2, 3, 4, 5, 6], [2, 3, 4, 5, 6], [2, 3, 4, 5, 6]), { maxDocs: 10, maxLength: 10 }), 1)
    fc.assert(
      fc.property(docsArb, (xs) => {
        const v = selfBleu(docs(...xs), { maxDocs: 10, maxLength: 10 })
        assert.ok(v >= 0 && v <= 1 + 1e-12, String(v))
      })
    )
  })

  it("stays cheap on a large corpus", () => {
    let x = 12345
    const big: Int32Array[] = []
    for (let d = 0; d < 2000; d++) {
      const doc = new Int32Array(300)
      for (let i = 0; i < doc.length; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0
        doc[i] = 2 + (x % 500)
      }
      big.push(doc)
    }
    const v = selfBleu(big, { maxDocs: 500, maxLength: 200 })
    const d1 = distinctN(big, 4)
    const r = repN(big, 4)
    assert.ok(v > 0 && v < 1 && d1 > 0.9 && r < 0.1)
  })
})
