/** Seeded random generators for the theory's simulations: unrelated streams for nearby seeds. */
import { xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus"
import type { RandomGenerator } from "pure-rand/types/RandomGenerator"

/** murmur3's 32-bit finalizer: a bijection with full avalanche. */
const fmix32 = (x: number): number => {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) | 0
}

/**
 * xoroshiro128+ whose 128-bit state is spread from a 32-bit seed by fmix32 of seed + k·0x9e3779b9 (k = 1..4).
 * pure-rand's xoroshiro128plus(seed) sets the state to (-1, ~seed, seed, 0), so nearby seeds start in nearby states
 * and their first outputs are linear in the seed (first draws of uniformInt(0, 19999) for seeds 1, 2, 3: 3646, 3645,
 * 3644); multi-seed statistics want unrelated streams from the start, as the xoroshiro authors advise (seed through a
 * mixer). The four words are distinct images of a bijection, so at most one is 0: never the forbidden all-zero state.
 */
export const seededGenerator = (seed: number): RandomGenerator => {
  if (!Number.isInteger(seed) || seed < -0x80000000 || seed > 0xffffffff) {
    throw new Error(`seededGenerator: seed must be a 32-bit integer, got ${seed}`)
  }
  return xoroshiro128plusFromState([1, 2, 3, 4].map((k) => fmix32((seed + Math.imul(k, 0x9e3779b9)) | 0)))
}
