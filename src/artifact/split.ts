/**
 * Deterministic train/test split by hashing document ids.
 *
 * Each document's side depends only on its own id and the seed (not on the other documents or their order), so
 * adding documents to a corpus does not move existing ones, except for the non-empty-sides guarantee below.
 */
import { createHash } from "node:crypto"

const TWO_POW_53 = 2 ** 53

/** sha256(`${seed}:${id}`) mapped to [0, 1) with 53 bits of the digest. */
export const hashUnit = (seed: number, id: string): number => {
  const digest = createHash("sha256").update(`${seed}:${id}`, "utf8").digest()
  return Number(digest.readBigUInt64BE(0) >> 11n) / TWO_POW_53
}

/**
 * Returns one flag per id, true = test. A document is in the test set when its hash unit is below `testFraction`.
 *
 * Guarantee: with at least 2 documents and 0 < testFraction < 1, both sides are non-empty. If the hash puts every
 * document on one side, the single document closest to the threshold moves across: the smallest hash joins an empty
 * test side, the largest hash joins an empty train side (ties broken by the lower index). testFraction 0 puts
 * everything in train, 1 everything in test.
 */
export const splitByHash = (ids: ReadonlyArray<string>, testFraction: number, seed: number): boolean[] => {
  if (!(testFraction >= 0 && testFraction <= 1)) {
    throw new RangeError(`splitByHash: testFraction must be in [0, 1], got ${testFraction}`)
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`splitByHash: seed must be a safe integer, got ${seed}`)
  const units = ids.map((id) => hashUnit(seed, id))
  const test = units.map((u) => u < testFraction)
  if (ids.length >= 2 && testFraction > 0 && testFraction < 1) {
    const tests = test.reduce((n, t) => (t ? n + 1 : n), 0)
    if (tests === 0) test[argBest(units, (a, b) => a < b)] = true
    else if (tests === ids.length) test[argBest(units, (a, b) => a > b)] = false
  }
  return test
}

/** Index of the first element that no later element beats. */
const argBest = (xs: ReadonlyArray<number>, better: (a: number, b: number) => boolean): number => {
  let best = 0
  for (let i = 1; i < xs.length; i++) if (better(xs[i], xs[best])) best = i
  return best
}
