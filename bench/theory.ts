/**
 * Theory check on real text: exact Wright-Fisher prediction of unigram collapse, and the bigram predictions, against
 * seeded simulations. Words of tinyshakespeare (lowercased, split on non-letters). Run: node --import tsx bench/theory.ts
 * Optional args: N generations seeds (defaults 20000 20 30).
 */
import { readFileSync } from "node:fs"
import { bigramPrediction, simulateBigram } from "../src/theory/bigram.ts"
import { summarizeRuns, type RunSummary } from "../src/theory/statistics.ts"
import { exactUnigramPrediction, simulateUnigram } from "../src/theory/wright-fisher.ts"

const arg = (
  i: number,
  dflt: number
): number => (process.argv[2 + i] === undefined ? dflt : Number(process.argv[2 + i]))
const N = arg(0, 20_000)
const G = arg(1, 20)
const SEEDS = arg(2, 30)
const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1)

const words = readFileSync("/work/shared/data/tinyshakespeare/input.txt", "utf8")
  .toLowerCase()
  .split(/[^a-z]+/)
  .filter((w) => w.length > 0)
const ids = new Map<string, number>()
// N + 1 words: the unigram uses the first N, the bigram all N + 1 (N transitions).
const tokens = words.slice(0, N + 1).map((w) => {
  const id = ids.get(w) ?? ids.size
  ids.set(w, id)
  return id
})
const counts = new Array<number>(ids.size).fill(0)
for (const t of tokens.slice(0, N)) counts[t]++

const f = (x: number, d: number, w: number): string => x.toFixed(d).padStart(w)
const band = (s: RunSummary, d: number): string => `[${s.lo.toFixed(d)}, ${s.hi.toFixed(d)}]`
const pband = (s: RunSummary, d: number): string => `[${s.percentileLo.toFixed(d)}, ${s.percentileHi.toFixed(d)}]`
const inside = (x: number, s: RunSummary): string => (x >= s.lo - 1e-9 && x <= s.hi + 1e-9 ? "yes" : "NO")
const rel = (pred: number, s: RunSummary): string => `${(((pred - s.mean) / s.mean) * 100).toFixed(2).padStart(7)}%`

console.log(
  `tinyshakespeare, first ${N} words: ${counts.filter((c) => c > 0).length} unigram types; ${G} generations, ` +
    `${SEEDS} seeds (1..${SEEDS}).`
)
console.log("band = 95% t-interval of the mean over seeds; p-band = 2.5-97.5% percentiles of single runs.\n")

// --- Unigram: exact vs simulation
const exact = exactUnigramPrediction(counts, G)
const uni = seeds.map((s) => simulateUnigram(counts, G, s))
const uTypes = summarizeRuns(uni.map((r) => r.map((x) => x.survivingTypes)))
const uH = summarizeRuns(uni.map((r) => r.map((x) => x.entropy)))
console.log(`UNIGRAM (N = ${N}): exact expectation vs simulation`)
console.log(
  "gen |  E[types] |  sim mean | band               | in | p-band        ||  E[H] bits | sim mean | band             | in | p-band"
)
for (let g = 0; g <= G; g++) {
  const e = exact[g]
  const t = uTypes[g]
  const h = uH[g]
  console.log(
    `${f(g, 0, 3)} | ${f(e.expectedSurvivingTypes, 2, 9)} | ${f(t.mean, 2, 9)} | ${band(t, 1).padEnd(18)} | ${
      inside(e.expectedSurvivingTypes, t).padEnd(2)
    } | ${pband(t, 0).padEnd(13)} || ` +
      `${f(e.expectedEntropy, 5, 10)} | ${f(h.mean, 5, 8)} | ${band(h, 4).padEnd(16)} | ${
        inside(e.expectedEntropy, h).padEnd(2)
      } | ${pband(h, 3)}`
  )
}
const missT = exact.filter((e, g) => inside(e.expectedSurvivingTypes, uTypes[g]) === "NO").length
const missH = exact.filter((e, g) => inside(e.expectedEntropy, uH[g]) === "NO").length
// The band covers the truth with 95% per generation; all G at once needs Bonferroni's level 1 - 0.05/G.
const bonf = 1 - 0.05 / Math.max(1, G)
const missTB = summarizeRuns(uni.map((r) => r.map((x) => x.survivingTypes)), bonf).filter(
  (s, g) => inside(exact[g].expectedSurvivingTypes, s) === "NO"
).length
const missHB = summarizeRuns(uni.map((r) => r.map((x) => x.entropy)), bonf).filter(
  (s, g) => inside(exact[g].expectedEntropy, s) === "NO"
).length
const z = (x: number, s: RunSummary): number => (x - s.mean) / (s.sd / Math.sqrt(s.runs))
const maxZ = (xs: number[], ss: RunSummary[]): string =>
  Math.max(...xs.slice(1).map((x, i) => Math.abs(z(x, ss[i + 1])))).toFixed(2)
console.log(
  `outside the 95% band: types ${missT}/${G + 1} generations, entropy ${missH}/${G + 1}; ` +
    `outside the Bonferroni ${(bonf * 100).toFixed(2)}% band: types ${missTB}, entropy ${missHB}; ` +
    `max |pred - mean|/se: types ${maxZ(exact.map((e) => e.expectedSurvivingTypes), uTypes)}, ` +
    `entropy ${maxZ(exact.map((e) => e.expectedEntropy), uH)}\n`
)

// --- Bigram: predictions vs simulation
const pooled = bigramPrediction(tokens, G, "pooled")
const perCtx = bigramPrediction(tokens, G, "per-context")
const bi = seeds.map((s) => simulateBigram(tokens, G, s))
const bTypes = summarizeRuns(bi.map((r) => r.map((x) => x.survivingBigrams)))
const bH = summarizeRuns(bi.map((r) => r.map((x) => x.entropyRate)))
console.log(`BIGRAM (N = ${N} transitions): pooled / per-context predictions vs simulation; dev = (pred - mean)/mean`)
console.log(
  "gen | pooled E[bi] |   dev   | per-ctx E[bi] |   dev   |  sim mean | band               || pooled E[H] |   dev   | per-ctx E[H] |   dev   | sim mean | band"
)
for (let g = 0; g <= G; g++) {
  const t = bTypes[g]
  const h = bH[g]
  console.log(
    `${f(g, 0, 3)} | ${f(pooled[g].expectedSurvivingBigrams, 2, 12)} | ${
      rel(pooled[g].expectedSurvivingBigrams, t)
    } | ` +
      `${f(perCtx[g].expectedSurvivingBigrams, 2, 13)} | ${rel(perCtx[g].expectedSurvivingBigrams, t)} | ${
        f(t.mean, 2, 9)
      } | ${band(t, 1).padEnd(18)} || ` +
      `${f(pooled[g].expectedEntropyRate, 5, 11)} | ${rel(pooled[g].expectedEntropyRate, h)} | ${
        f(perCtx[g].expectedEntropyRate, 5, 12)
      } | ` +
      `${rel(perCtx[g].expectedEntropyRate, h)} | ${f(h.mean, 5, 8)} | ${band(h, 4)}`
  )
}
