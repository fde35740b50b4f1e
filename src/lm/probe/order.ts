/** A seeded endless order over 0..n-1: one fresh Fisher-Yates permutation (xoroshiro128+) per pass. */
import { uniformInt } from "pure-rand/distribution/uniformInt"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"

export const seededOrder = (n: number, seed: number) => {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`an order over ${n} items`)
  const rng = xoroshiro128plus(seed)
  const perm = new Int32Array(n)
  let at = n
  const shuffle = () => {
    for (let i = 0; i < n; i++) perm[i] = i
    for (let i = n - 1; i > 0; i--) {
      const j = uniformInt(rng, 0, i)
      const t = perm[i]
      perm[i] = perm[j]
      perm[j] = t
    }
    at = 0
  }
  return {
    next(): number {
      if (at === n) shuffle()
      return perm[at++]
    }
  }
}
