import { strict as assert } from "node:assert"
import { createHash } from "node:crypto"
import { describe, it } from "node:test"
import fc from "fast-check"
import { hashUnit, splitByHash } from "../src/artifact/split.ts"

const ids = (n: number) => Array.from({ length: n }, (_, i) => `doc-${i}`)
const count = (xs: ReadonlyArray<boolean>) => xs.filter((x) => x).length

describe("splitByHash", () => {
  it("maps sha256 of `${seed}:${id}` to [0, 1)", () => {
    const digest = createHash("sha256").update("7:abc").digest()
    const expected = Number(digest.readBigUInt64BE(0) >> 11n) / 2 ** 53
    assert.equal(hashUnit(7, "abc"), expected)
    for (const id of ids(200)) {
      const u = hashUnit(1, id)
      assert.ok(u >= 0 && u < 1, `${id}: ${u}`)
    }
  })

  it("is deterministic and pinned to known values", () => {
    const a = splitByHash(ids(50), 0.3, 1)
    assert.deepEqual(splitByHash(ids(50), 0.3, 1), a)
    // Golden: changing this changes every experiment's test set.
    assert.equal(a.map((t) => (t ? "1" : "0")).join(""), GOLDEN_50_03_1)
  })

  it("depends on each id alone, not on order or on the other documents", () => {
    const all = ids(300)
    const full = splitByHash(all, 0.2, 9)
    const reversed = splitByHash([...all].reverse(), 0.2, 9).reverse()
    assert.deepEqual(reversed, full)
    const firstHalf = splitByHash(all.slice(0, 150), 0.2, 9)
    assert.deepEqual(firstHalf, full.slice(0, 150))
  })

  it("changes with the seed", () => {
    assert.notDeepEqual(splitByHash(ids(100), 0.5, 1), splitByHash(ids(100), 0.5, 2))
  })

  it("gives roughly the requested fraction on many documents", () => {
    const flags = splitByHash(ids(20_000), 0.1, 3)
    const fraction = count(flags) / flags.length
    // Binomial sd = sqrt(0.1*0.9/20000) ≈ 0.0021; 5 sd.
    assert.ok(Math.abs(fraction - 0.1) < 0.0107, `fraction ${fraction}`)
  })

  it("puts everything in train at 0 and in test at 1", () => {
    assert.equal(count(splitByHash(ids(100), 0, 1)), 0)
    assert.equal(count(splitByHash(ids(100), 1, 1)), 100)
    assert.deepEqual(splitByHash([], 0.5, 1), [])
    assert.deepEqual(splitByHash(["only"], 0.999, 1), [hashUnit(1, "only") < 0.999])
  })

  it("keeps both sides non-empty with >= 2 documents and 0 < fraction < 1", () => {
    // A tiny fraction would leave test empty: the smallest hash moves to test.
    const two = ["a", "b"]
    const tiny = splitByHash(two, 1e-12, 5)
    assert.equal(count(tiny), 1)
    const smallest = hashUnit(5, "a") < hashUnit(5, "b") ? 0 : 1
    assert.equal(tiny[smallest], true)
    // A fraction near 1 would leave train empty: the largest hash moves to train.
    const huge = splitByHash(two, 1 - 1e-12, 5)
    assert.equal(count(huge), 1)
    assert.equal(huge[smallest], true)
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string(), { minLength: 2, maxLength: 12 }),
        fc.double({ min: 1e-9, max: 1 - 1e-9, noNaN: true }),
        fc.integer(),
        (xs, f, seed) => {
          const flags = splitByHash(xs, f, seed)
          const n = count(flags)
          return n >= 1 && n <= xs.length - 1
        }
      ),
      { numRuns: 300, seed: 42 }
    )
  })

  it("gives duplicate ids the same side", () => {
    const flags = splitByHash(["x", "y", "x", "z", "x"], 0.5, 11)
    assert.equal(flags[0], flags[2])
    assert.equal(flags[0], flags[4])
  })

  it("rejects a fraction outside [0, 1] and a non-integer seed", () => {
    assert.throws(() => splitByHash(ids(3), -0.1, 1), /testFraction must be in \[0, 1\], got -0.1/)
    assert.throws(() => splitByHash(ids(3), 1.5, 1), RangeError)
    assert.throws(() => splitByHash(ids(3), Number.NaN, 1), RangeError)
    assert.throws(() => splitByHash(ids(3), 0.5, 1.5), /seed must be a safe integer, got 1.5/)
  })
})

const GOLDEN_50_03_1 = "00101100100010001010000000100001000100000000111000"
