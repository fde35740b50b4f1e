/**
 * A realistic synthetic ReportData for the report tests: 3 arms × 6 generations × 3 seeds. "replace" collapses
 * (perplexity climbs toward the uniform baseline, diversity falls, the Zipf tail shrinks), "accumulate" stays flat,
 * "real-fraction" drifts slowly. Deterministic: noise comes from a seeded integer generator.
 */
import { createHash } from "node:crypto"
import type {
  ArmReport,
  DagEdge,
  DagNode,
  GenerationReport,
  ReportData,
  SeedSummary,
  TheoryCurve
} from "../../src/report/data.ts"

/** mulberry32: a tiny seeded generator, enough for fixture noise. */
const generator = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sha = (s: string): string => createHash("sha256").update(s).digest("hex")

/** t quantile at 0.975 for 2 degrees of freedom (3 seeds). */
const T_975_2 = 4.302652729911275

export const summarize = (values: ReadonlyArray<number>): SeedSummary => {
  const n = values.length
  const mean = values.reduce((a, b) => a + b, 0) / n
  if (n < 2) return { mean, lo: mean, hi: mean, values }
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1))
  const half = (T_975_2 * sd) / Math.sqrt(n)
  return { mean, lo: mean - half, hi: mean + half, values }
}

export const ARMS = ["replace", "accumulate", "real-fraction"] as const
type Arm = (typeof ARMS)[number]
export const GENERATIONS = 6
export const SEEDS = [1, 2, 3] as const
const VOCAB = 4000

/** How far an arm has collapsed at generation g, 0 (healthy) to 1 (fully). */
const collapse = (arm: Arm, g: number): number =>
  arm === "replace"
    ? 1 - Math.exp(-0.45 * (g - 1))
    : arm === "real-fraction"
    ? 0.35 * (1 - Math.exp(-0.3 * (g - 1)))
    : 0.02 * (g - 1)

const SAMPLES: Readonly<Record<Arm, ReadonlyArray<string>>> = {
  replace: [
    "Mr. Speaker, Mr. President, members of the Congress: the state of our Union is strong & our people are free.",
    "The people of the Congress & the Union are strong, and the people of the world <b>know</b> it.",
    "The people of the Union are the people of the Union, and <script>alert('collapse')</script> the people are.",
    "the people of the the people of the the people of the Union & the people",
    "the people the people the people the people the people the people",
    "the the the the the the the the the the the the the the"
  ],
  accumulate: [
    "Mr. Speaker, Mr. President, members of the Congress: the state of our Union is strong & our people are free.",
    "We have met in a time of trial; the nation's credit & its farms, its schools and its soldiers ask our care.",
    "Tonight I report on the budget <tariffs & trade> and on the peace we have kept with our neighbours.",
    "The railroads, the mails and the treasury, each \"in good order\", await the judgment of the Congress.",
    "<script>document.title = 'pwned'</script> We shall not falter, and we shall not fail.",
    "Our commerce grows, our harbours fill, and the frontier moves west & north with every season."
  ],
  "real-fraction": [
    "Mr. Speaker, Mr. President, members of the Congress: the state of our Union is strong & our people are free.",
    "The state of the Union is strong, and the Congress & the people will keep it so.",
    "The people of the Union are strong, and the Congress of the people is strong <i>too</i>.",
    "The people of the Union & the Congress of the Union are the people of the Congress.",
    "The people of the Union are strong; the Union of the people is the people of the Union.",
    "The Union of the people & the people of the Union <script>x()</script> are the people."
  ]
}

const generationReport = (arm: Arm, g: number): GenerationReport => {
  const c = collapse(arm, g)
  const noise = generator(ARMS.indexOf(arm) * 1000 + g)
  const jitter = (scale: number) => (noise() - 0.5) * 2 * scale
  const perSeed = (f: () => number) => summarize(SEEDS.map(f))
  const metrics: Record<string, SeedSummary> = {
    perplexity: perSeed(() => 180 * Math.exp(c * Math.log(VOCAB / 180)) * (1 + jitter(0.05))),
    baseline_perplexity: summarize(SEEDS.map(() => VOCAB)),
    distinct_1: perSeed(() => 0.18 * (1 - 0.85 * c) + jitter(0.006)),
    distinct_2: perSeed(() => 0.62 * (1 - 0.8 * c) + jitter(0.015)),
    rep_4: perSeed(() => 0.04 + 0.55 * c + jitter(0.02)),
    self_bleu: perSeed(() => 0.22 + 0.6 * c + jitter(0.02)),
    unigram_entropy: perSeed(() => 9.1 * (1 - 0.6 * c) + jitter(0.1)),
    vocab_coverage: perSeed(() => 0.93 * (1 - 0.7 * c) + jitter(0.01))
  }
  // A Zipf law cut where the sample's vocabulary ends: the tail is what collapse takes first.
  const types = Math.max(20, Math.round(VOCAB * (1 - 0.97 * c)))
  const rankFrequency = Array.from({ length: types }, (_, i) => ({
    rank: i + 1,
    frequency: Math.max(1, Math.round(40_000 / (i + 1) ** (1.05 + 0.35 * c)))
  }))
  return { generation: g, seeds: SEEDS.length, metrics, rankFrequency, sampleText: SAMPLES[arm][g - 1] }
}

/**
 * The DAG of the n-gram collapse pipeline, shaped as the real one: a shared seed corpus and tokenizer, then per arm
 * and seed one train → sample → evaluate, mix chain per generation. (3 arms × 3 seeds × 10 generations = 362 nodes.)
 */
export const pipelineDag = (
  arms: ReadonlyArray<string>,
  seeds: ReadonlyArray<number>,
  generations: number
): { nodes: DagNode[]; edges: DagEdge[] } => {
  const nodes: DagNode[] = []
  const edges: DagEdge[] = []
  const node = (path: string, kind: string) => nodes.push({ path, kind, key: sha(`key:${path}`) })
  const edge = (from: string, to: string, input: string) => edges.push({ from, to, input })
  node("seed-corpus", "seed/corpus")
  node("tokenize-fit", "tokenize/fit")
  edge("seed-corpus", "tokenize-fit", "corpus")
  for (const arm of arms) {
    const mix = `mix-${arm}`
    for (const seed of seeds) {
      let corpus = "seed-corpus"
      let pool = "seed-corpus"
      for (let g = 1; g <= generations; g++) {
        const dir = `arm=${arm}/seed=${seed}/g${g}`
        node(`${dir}/train-ngram`, "train/ngram")
        node(`${dir}/sample-text`, "sample/text")
        node(`${dir}/evaluate-lm`, "evaluate/lm")
        node(`${dir}/${mix}`, `mix/${arm}`)
        edge(corpus, `${dir}/train-ngram`, "corpus")
        edge("tokenize-fit", `${dir}/train-ngram`, "tokenizer")
        edge(`${dir}/train-ngram`, `${dir}/sample-text`, "model")
        edge("tokenize-fit", `${dir}/sample-text`, "tokenizer")
        edge(`${dir}/train-ngram`, `${dir}/evaluate-lm`, "model")
        edge("tokenize-fit", `${dir}/evaluate-lm`, "tokenizer")
        edge("seed-corpus", `${dir}/evaluate-lm`, "test")
        edge(`${dir}/sample-text`, `${dir}/evaluate-lm`, "sample")
        edge("seed-corpus", `${dir}/${mix}`, "real")
        edge(pool, `${dir}/${mix}`, "previous")
        edge(`${dir}/sample-text`, `${dir}/${mix}`, "synthetic")
        corpus = `${dir}/${mix}`
        pool = `${dir}/${mix}`
      }
    }
  }
  return { nodes, edges }
}

const OUTPUTS: Readonly<Record<string, ReadonlyArray<readonly [string, string]>>> = {
  "seed/corpus": [["train", "corpus"], ["test", "corpus"]],
  "tokenize/fit": [["tokenizer", "tokenizer"]],
  "train/ngram": [["model", "model"]],
  "sample/text": [["corpus", "corpus"]],
  "evaluate/lm": [["metrics", "metrics"]]
}

const theory = (): TheoryCurve[] => {
  const noise = generator(77)
  const types: TheoryCurve = {
    title: "Surviving word types under resampling",
    quantity: "surviving types",
    assumption:
      "Each generation draws N = 20,000 tokens i.i.d. from the previous generation's unigram distribution (a neutral " +
      "Wright–Fisher process); a type once lost never returns.",
    points: Array.from({ length: GENERATIONS }, (_, i) => {
      const g = i + 1
      const predicted = VOCAB / (1 + 0.55 * (g - 1))
      const mean = predicted * (1 + (noise() - 0.5) * 0.08)
      const half = 0.05 * predicted
      return { generation: g, predicted, mean, lo: mean - half, hi: mean + half }
    })
  }
  const entropy: TheoryCurve = {
    title: "Unigram entropy: exact expectation vs samples",
    quantity: "entropy (bits)",
    assumption:
      "The expected entropy of the unigram marginal under multinomial resampling, computed exactly from the binomial chain of each type's count.",
    points: Array.from({ length: GENERATIONS }, (_, i) => {
      const g = i + 1
      const predicted = 9.1 - 0.42 * (g - 1)
      const mean = predicted + (noise() - 0.5) * 0.2
      const half = 0.12 + 0.02 * g
      return { generation: g, predicted, mean, lo: mean - half, hi: mean + half }
    })
  }
  return [types, entropy]
}

/** The fixture, with a DAG of `dagShape` (default: the three arms, one seed, two generations: 26 nodes). */
export const reportFixture = (
  dagShape: {
    readonly arms: ReadonlyArray<string>
    readonly seeds: ReadonlyArray<number>
    readonly generations: number
  } = {
    arms: ARMS,
    seeds: [1],
    generations: 2
  }
): ReportData => {
  const arms: ArmReport[] = ARMS.map((arm) => ({
    name: `arm=${arm}`,
    generations: Array.from({ length: GENERATIONS }, (_, i) => generationReport(arm, i + 1))
  }))
  const dag = pipelineDag(dagShape.arms, dagShape.seeds, dagShape.generations)
  const artifacts = dag.nodes.flatMap((n) =>
    (OUTPUTS[n.kind] ?? [["corpus", "corpus"]]).map(([output, artifact]) => {
      const hash = sha(`blob:${n.path}:${output}`)
      return { stage: n.path, output, artifact, hash, bytes: 1000 + (parseInt(hash.slice(0, 6), 16) % 5_000_000) }
    })
  )
  return {
    pipeline: "ngram-collapse",
    manifest: sha("manifest:ngram-collapse"),
    arms,
    dag,
    artifacts,
    theory: theory()
  }
}
