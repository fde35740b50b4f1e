/**
 * Bad input, on purpose: params fuzzed against every built-in stage's Schema, malformed seed files, corrupt store
 * contents. Each must end as a clear, typed error (or be handled correctly), never as a crash, and must leave the
 * store intact. Every test title says how many cases it covers; the last test adds them up.
 */
import assert from "node:assert/strict"
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { after, before, describe, it } from "node:test"
import fc from "fast-check"
import { corpusFromDocuments, encodeCorpus } from "../src/artifact/corpus.ts"
import { execute, type RunResult } from "../src/engine/execute.ts"
import { plan } from "../src/engine/plan.ts"
import { PipelineInvalid } from "../src/errors/index.ts"
import { sha256 } from "../src/hash/index.ts"
import { Evaluate, Filter, Mix, Pipeline, Sample, Seed, type Stage, Tokenize, Train } from "../src/index.ts"
import type { ArtifactTypes } from "../src/artifact/type.ts"
import type { Builder, InputRefs, OutputRef } from "../src/pipeline/pipeline.ts"
import { lastRuns } from "../src/cli/inspect.ts"
import { ArtifactStore } from "../src/store/ArtifactStore.ts"
import { Effect } from "effect"
import {
  copyStore,
  describeOutcome,
  type Outcome,
  parquetBinaryText,
  parquetIntegerIds,
  parquetInvalidUtf8Text,
  parquetNullText,
  parquetRenamedColumns,
  problems,
  recordFiles,
  runIn,
  storeHealth
} from "./support/bad-input.ts"
import { type CliResult, ouro, ROOT, tempDir } from "./support/cli.ts"

const SAMPLE = join(ROOT, "data", "shakespeare-sample.txt")
const work = mkdtempSync(join(tmpdir(), "ouro-bad-input-"))
after(() => rmSync(work, { recursive: true, force: true }))

/** Cases per category, filled as the describe blocks are defined (titles are computed up front). */
const counted: Record<string, number> = {}
const count = (category: string, n: number): number => {
  counted[category] = (counted[category] ?? 0) + n
  return n
}

// =================================================================================================================
// 1. Params: fuzzed against every built-in stage constructor, and a few picked by hand.

type Check = (v: unknown) => boolean
const safeInt = (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Check => (v) =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max
const finite =
  (lo: number, hi: number, o: { readonly openLo?: boolean; readonly openHi?: boolean } = {}): Check => (v) =>
    typeof v === "number" && Number.isFinite(v) && (o.openLo ? v > lo : v >= lo) && (o.openHi ? v < hi : v <= hi)
const literal = (...xs: ReadonlyArray<string>): Check => (v) => typeof v === "string" && xs.includes(v)
const isPlainRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)
const exactKeys = (v: Record<string, unknown>, keys: ReadonlyArray<string>) =>
  Object.keys(v).length === keys.length && keys.every((k) => Object.hasOwn(v, k))
/** Train.ngram's smoothing: one of two exact shapes. */
const smoothing: Check = (v) =>
  isPlainRecord(v) &&
  ((v.kind === "kneser-ney" && exactKeys(v, ["kind", "discount"]) &&
    finite(0, 1, { openLo: true, openHi: true })(v.discount)) ||
    (v.kind === "add-k" && exactKeys(v, ["kind", "k"]) && typeof v.k === "number" && Number.isFinite(v.k) && v.k > 0))

interface Target {
  readonly label: string
  /** The node's default name, as messages show it. */
  readonly node: string
  readonly kind: string
  /** Every field of the params Schema, with what the README / the Schema's docs say is valid. */
  readonly fields: Readonly<Record<string, Check>>
  /** Valid arguments for the constructor. */
  readonly base: Readonly<Record<string, unknown>>
  readonly make: (raw: unknown) => Stage
  /** The params the constructor hands to the Schema (its defaults merged in), computed independently. */
  readonly effective: (raw: unknown) => Record<string, unknown>
  /** false for positional constructors, which cannot receive an extra key. */
  readonly objectArgument: boolean
}

const spread = (defaults: Record<string, unknown>) => (raw: unknown): Record<string, unknown> => ({
  ...defaults,
  ...(raw as object)
})
const asCtor = (f: unknown) => f as (raw: unknown) => Stage
const positional = (f: unknown) => f as (a: unknown, b: unknown) => Stage
const arg = (raw: unknown, key: string): unknown => (isPlainRecord(raw) ? raw[key] : undefined)

const TEMPERATURE = finite(0.05, 100)
const targets: ReadonlyArray<Target> = [
  {
    label: "Seed.corpus",
    node: "seed-corpus",
    kind: "seed/corpus",
    fields: {
      source: (v) => typeof v === "string" && v.length >= 1,
      split: literal("paragraph", "line", "file"),
      testFraction: finite(0, 1, { openLo: true, openHi: true }),
      seed: safeInt(),
      maxDocuments: safeInt(0)
    },
    base: { source: "sotu", testFraction: 0.1, seed: 1 },
    make: asCtor(Seed.corpus),
    effective: spread({ source: "sotu", split: "paragraph", testFraction: 0.1, seed: 1, maxDocuments: 0 }),
    objectArgument: true
  },
  {
    label: "Tokenize.words",
    node: "tokenize-fit",
    kind: "tokenize/fit",
    fields: {
      kind: literal("word", "char"),
      lowercase: (v) => typeof v === "boolean",
      minCount: safeInt(1),
      maxVocab: (v) => v === 0 || safeInt(3)(v)
    },
    base: { minCount: 2 },
    make: asCtor(Tokenize.words),
    effective: spread({ kind: "word", lowercase: true, minCount: 2, maxVocab: 0 }),
    objectArgument: true
  },
  {
    label: "Tokenize.chars",
    node: "tokenize-fit",
    kind: "tokenize/fit",
    fields: {
      kind: literal("word", "char"),
      lowercase: (v) => typeof v === "boolean",
      minCount: safeInt(1),
      maxVocab: (v) => v === 0 || safeInt(3)(v)
    },
    base: {},
    make: asCtor(Tokenize.chars),
    effective: spread({ kind: "char", lowercase: false, minCount: 1, maxVocab: 0 }),
    objectArgument: true
  },
  {
    label: "Train.ngram",
    node: "train-ngram",
    kind: "train/ngram",
    fields: { order: safeInt(1, 5), smoothing },
    base: { order: 3 },
    make: asCtor(Train.ngram),
    effective: spread({ order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 } }),
    objectArgument: true
  },
  {
    label: "Sample.text",
    node: "sample-text",
    kind: "sample/text",
    fields: {
      documents: safeInt(1),
      maxLength: safeInt(1),
      tokens: safeInt(0),
      temperature: TEMPERATURE,
      topK: safeInt(0),
      topP: finite(0, 1, { openLo: true }),
      seed: safeInt(-(2 ** 31), 2 ** 31 - 1)
    },
    base: { documents: 20, maxLength: 50, seed: 1 },
    make: asCtor(Sample.text),
    effective: spread({ temperature: 1, topK: 0, topP: 1, tokens: 0 }),
    objectArgument: true
  },
  {
    label: "Evaluate.lm",
    node: "evaluate-lm",
    kind: "evaluate/lm",
    fields: { selfBleuDocs: safeInt(2), selfBleuLength: safeInt(1) },
    base: {},
    make: asCtor(Evaluate.lm),
    effective: spread({ selfBleuDocs: 50, selfBleuLength: 200 }),
    objectArgument: true
  },
  {
    label: "Mix.accumulateSubsample",
    node: "mix-accumulate-subsample",
    kind: "mix/accumulate-subsample",
    fields: { size: safeInt(1), seed: safeInt() },
    base: { size: 100, seed: 0 },
    make: (raw) => positional(Mix.accumulateSubsample)(arg(raw, "size"), arg(raw, "seed")),
    effective: (raw) => ({ size: arg(raw, "size"), seed: arg(raw, "seed") ?? 0 }),
    objectArgument: false
  },
  {
    label: "Mix.realFraction",
    node: "mix-real-fraction",
    kind: "mix/real-fraction",
    fields: { fraction: finite(0, 1), seed: safeInt() },
    base: { fraction: 0.1, seed: 0 },
    make: (raw) => positional(Mix.realFraction)(arg(raw, "fraction"), arg(raw, "seed")),
    effective: (raw) => ({ fraction: arg(raw, "fraction"), seed: arg(raw, "seed") ?? 0 }),
    objectArgument: false
  },
  {
    label: "Filter.length",
    node: "filter-length",
    kind: "filter/length",
    fields: { minWords: safeInt(0), maxWords: safeInt(1) },
    base: { minWords: 5, maxWords: 500 },
    make: asCtor(Filter.length),
    effective: spread({ minWords: 0, maxWords: Number.MAX_SAFE_INTEGER }),
    objectArgument: true
  },
  {
    label: "Filter.repetition",
    node: "filter-repetition",
    kind: "filter/repetition",
    fields: { n: safeInt(1, 8), maxRate: finite(0, 1) },
    base: { maxRate: 0.5 },
    make: asCtor(Filter.repetition),
    effective: spread({ n: 4 }),
    objectArgument: true
  }
]

/** Adds `stage` to a pipeline whose other nodes (under "up/") give it a valid input of each type it reads. */
const wire = (p: Builder, stage: Stage): void => {
  const up = p.scope("up", (s) => {
    const real = s.add(Seed.corpus({ source: "sotu" }), {})
    const { tokenizer } = s.add(Tokenize.words(), { corpus: real.train })
    const { model } = s.add(Train.ngram(), { corpus: real.train, tokenizer })
    return { real, tokenizer, model }
  })
  const refs: Record<string, OutputRef> = {}
  for (const [name, type] of Object.entries(stage.inputs)) {
    refs[name] = type.name === "tokenizer"
      ? up.tokenizer
      : type.name === "model"
      ? up.model
      : name === "test"
      ? up.real.test
      : up.real.train
  }
  p.add<ArtifactTypes, ArtifactTypes>(stage, refs as InputRefs<ArtifactTypes>)
}

const garbage: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.anything({ maxDepth: 2 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      NaN,
      Infinity,
      -Infinity,
      -0,
      0,
      1,
      2,
      -1,
      0.5,
      1.5,
      1e300,
      -1e300,
      2 ** 31,
      2 ** 53,
      Number.MAX_VALUE,
      Number.MIN_VALUE
    )
  },
  { weight: 2, arbitrary: fc.integer({ min: -3, max: 12 }) },
  { weight: 2, arbitrary: fc.double() },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      undefined,
      null,
      true,
      false,
      "",
      "3",
      "line",
      "word",
      "char",
      "kneser-ney",
      "add-k",
      [],
      {},
      [3],
      { order: 3 }
    )
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      Symbol("param"),
      () => 3,
      new Date(0),
      new Map(),
      Object.create(null),
      new Number(3),
      3n
    )
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        kind: fc.constantFrom("kneser-ney", "add-k", "witten-bell"),
        discount: fc.oneof(fc.double(), fc.constant(0.5)),
        k: fc.oneof(fc.double(), fc.constant(1))
      },
      { requiredKeys: ["kind"] }
    )
  }
)

type Case = {
  readonly _tag: "edit"
  readonly remove: ReadonlyArray<string>
  readonly set: ReadonlyArray<readonly [string, unknown]>
} | { readonly _tag: "whole"; readonly value: unknown }

const caseArb = (t: Target): fc.Arbitrary<Case> => {
  const fieldNames = Object.keys(t.fields)
  const key = t.objectArgument
    ? fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...fieldNames) },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
      { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "toString", "", "a\"b", "ordre", "Seed") }
    )
    : fc.constantFrom(...fieldNames)
  const edit = fc.record({
    _tag: fc.constant("edit" as const),
    remove: fc.subarray(Object.keys(t.base), { maxLength: Math.min(2, Object.keys(t.base).length) }),
    set: fc.array(fc.tuple(key, garbage), { minLength: 1, maxLength: 3 })
  })
  return t.objectArgument
    ? fc.oneof({ weight: 5, arbitrary: edit }, {
      weight: 1,
      arbitrary: garbage.map((value): Case => ({ _tag: "whole", value }))
    })
    : edit
}

const rawOf = (t: Target, c: Case): unknown => {
  if (c._tag === "whole") return c.value
  const raw: Record<string, unknown> = { ...t.base }
  for (const k of c.remove) delete raw[k]
  // defineProperty, not assignment: "__proto__" must become an own key, as JSON.parse would make it.
  for (const [k, v] of c.set) {
    Object.defineProperty(raw, k, { value: v, enumerable: true, writable: true, configurable: true })
  }
  return raw
}

const at = (key: string) => `at [${JSON.stringify(key)}]`

const RUNS = 100

describe(`params fuzzed against every built-in stage's Schema (${count("params, fuzzed (fast-check runs)", RUNS * targets.length)} cases)`, () => {
  for (const t of targets) {
    it(`${t.label}: ${RUNS} fuzzed params, each valid or a PipelineInvalid naming the stage, the kind and every bad field`, () => {
      let runs = 0
      fc.assert(
        fc.property(caseArb(t), (c) => {
          runs++
          const raw = rawOf(t, c)
          const eff = t.effective(raw)
          const badFields = Object.entries(t.fields).filter(([k, ok]) => !ok(eff[k])).map(([k]) => k)
          const excess = Object.keys(eff).filter((k) => !Object.hasOwn(t.fields, k))
          const shouldPass = badFields.length === 0 && excess.length === 0
          let thrown: unknown = undefined
          try {
            Pipeline.make("fuzz", (p) => wire(p, t.make(raw)))
          } catch (e) {
            thrown = e
          }
          if (thrown === undefined) {
            assert.ok(
              shouldPass,
              `accepted, but these are invalid: ${[...badFields, ...excess.map((k) => `excess ${k}`)].join(", ")}`
            )
            return
          }
          assert.ok(
            thrown instanceof PipelineInvalid,
            `expected PipelineInvalid, got ${thrown instanceof Error ? thrown.stack : String(thrown)}`
          )
          assert.ok(!shouldPass, `rejected valid params: ${thrown.message}`)
          const prefix = `pipeline fuzz, stage ${t.node}: invalid params for ${t.kind}: `
          assert.ok(thrown.message.startsWith(prefix), thrown.message)
          for (const k of [...badFields, ...excess]) {
            assert.ok(thrown.message.includes(at(k)), `${thrown.message} does not name ${at(k)}`)
          }
          assert.ok(!thrown.message.includes("\n"), "one line")
        }),
        { seed: 42, numRuns: RUNS }
      )
      assert.equal(runs, RUNS)
    })
  }
})

/** Hand-picked params: what a user plausibly writes, with the exact message they should see. */
const pickedParams: ReadonlyArray<
  {
    readonly name: string
    readonly stage: () => Stage
    readonly node: string
    readonly kind: string
    readonly detail: string
  }
> = [
  {
    name: "order 9",
    stage: () => Train.ngram({ order: 9 }),
    node: "train-ngram",
    kind: "train/ngram",
    detail: "Expected a value between 1 and 5 at [\"order\"]"
  },
  {
    name: "order 2.5",
    stage: () => Train.ngram({ order: 2.5 }),
    node: "train-ngram",
    kind: "train/ngram",
    detail: "Expected an integer at [\"order\"]"
  },
  {
    name: "a misspelt key",
    stage: () => asCtor(Train.ngram)({ ordre: 3 }),
    node: "train-ngram",
    kind: "train/ngram",
    detail: "Expected no excess property at [\"ordre\"]"
  },
  {
    name: "a Kneser-Ney discount of 1",
    stage: () => Train.ngram({ smoothing: { kind: "kneser-ney", discount: 1 } }),
    node: "train-ngram",
    kind: "train/ngram",
    detail: "at [\"smoothing\"][\"discount\"]"
  },
  {
    name: "temperature 0",
    stage: () => Sample.text({ documents: 5, maxLength: 5, seed: 1, temperature: 0 }),
    node: "sample-text",
    kind: "sample/text",
    detail: "at [\"temperature\"]"
  },
  {
    name: "a seed beyond int32",
    stage: () => Sample.text({ documents: 5, maxLength: 5, seed: 2 ** 31 }),
    node: "sample-text",
    kind: "sample/text",
    detail: "at [\"seed\"]"
  },
  {
    name: "no documents count",
    stage: () => asCtor(Sample.text)({ maxLength: 5, seed: 1 }),
    node: "sample-text",
    kind: "sample/text",
    detail: "Missing key at [\"documents\"]"
  },
  {
    name: "an empty source",
    stage: () => Seed.corpus({ source: "" }),
    node: "seed-corpus",
    kind: "seed/corpus",
    detail: "at [\"source\"]"
  },
  {
    name: "an unknown split",
    stage: () => asCtor(Seed.corpus)({ split: "sentence" }),
    node: "seed-corpus",
    kind: "seed/corpus",
    detail: "Expected \"paragraph\" | \"line\" | \"file\" at [\"split\"]"
  },
  {
    name: "testFraction 1",
    stage: () => Seed.corpus({ testFraction: 1 }),
    node: "seed-corpus",
    kind: "seed/corpus",
    detail: "at [\"testFraction\"]"
  },
  {
    name: "realFraction 1.5",
    stage: () => Mix.realFraction(1.5),
    node: "mix-real-fraction",
    kind: "mix/real-fraction",
    detail: "Expected a value between 0 and 1 at [\"fraction\"]"
  },
  {
    name: "maxRate NaN",
    stage: () => Filter.repetition({ maxRate: NaN }),
    node: "filter-repetition",
    kind: "filter/repetition",
    detail: "at [\"maxRate\"]"
  },
  {
    name: "selfBleuDocs 1",
    stage: () => Evaluate.lm({ selfBleuDocs: 1 }),
    node: "evaluate-lm",
    kind: "evaluate/lm",
    detail: "at [\"selfBleuDocs\"]"
  },
  // The tokenizer itself refuses maxVocab 1 (it must hold <unk> and <eos>): the Schema should, at definition time.
  {
    name: "maxVocab 1",
    stage: () => Tokenize.words({ maxVocab: 1 }),
    node: "tokenize-fit",
    kind: "tokenize/fit",
    detail: "at [\"maxVocab\"]"
  }
]

describe(`params picked by hand (${count("params, hand-picked", pickedParams.length)} cases)`, () => {
  for (const c of pickedParams) {
    it(`${c.name}: PipelineInvalid when the pipeline is defined, naming the stage and the field`, () => {
      assert.throws(
        () => Pipeline.make("picked", (p) => wire(p, c.stage())),
        (e: unknown) => {
          assert.ok(e instanceof PipelineInvalid, String(e))
          assert.ok(e.message.startsWith(`pipeline picked, stage ${c.node}: invalid params for ${c.kind}: `), e.message)
          assert.ok(e.message.includes(c.detail), `${e.message} does not include ${c.detail}`)
          return true
        }
      )
    })
  }
})

// =================================================================================================================
// 2. Seed files: each run fails with a StageFailed of the seed node naming the file (or succeeds where it should),
//    and leaves the store clean: verify reports nothing, tmp/ is empty, no record was added by a failed run.

const seedDir = join(work, "seed-files")
mkdirSync(seedDir)
const seedStore = join(work, "seed-store")
const file = (name: string, content: string | Uint8Array): string => {
  const p = join(seedDir, name)
  writeFileSync(p, content)
  return p
}
const goodParquet = encodeCorpus(
  corpusFromDocuments(
    Array.from(
      { length: 40 },
      (_, i) => ({ id: `d${String(i).padStart(2, "0")}`, text: `document ${i} says ${"something ".repeat(i % 7 + 1)}` })
    )
  )
)
const withFooterLength = (n: number): Uint8Array => {
  const b = Uint8Array.from(goodParquet)
  new DataView(b.buffer).setUint32(b.length - 8, n, true)
  return b
}
const footerGarbage = (): Uint8Array => {
  const b = Uint8Array.from(goodParquet)
  const len = new DataView(b.buffer).getUint32(b.length - 8, true)
  b.fill(0xff, b.length - 8 - len, b.length - 8)
  return b
}
const bytes = (...parts: ReadonlyArray<string | ReadonlyArray<number>>): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))))
const HUGE = "word ".repeat(4_000_000) // one 20 MB line

interface SeedCase {
  readonly name: string
  readonly source: () => string
  readonly split?: "paragraph" | "line" | "file"
  readonly maxDocuments?: number
  /** What the message says after the file name; "ok" when the run should succeed. */
  readonly expect: RegExp | "ok"
  /** Also tokenize the train split, so the seed's output is read by a later stage. */
  readonly downstream?: boolean
}

const NOT_PARQUET = /corpus: (not a Parquet file|cannot read the Parquet (footer|data))/
const cut = (n: number) => goodParquet.subarray(0, n < 0 ? goodParquet.length + n : n)
const seedCases: ReadonlyArray<SeedCase> = [
  // Parquet, truncated or garbage
  {
    name: "a zero-byte .parquet",
    source: () => file("zero.parquet", new Uint8Array(0)),
    expect: /corpus: not a Parquet file \(0 bytes, too short\)/
  },
  { name: "a .parquet holding only PAR1", source: () => file("magic.parquet", cut(4)), expect: NOT_PARQUET },
  { name: "Parquet cut to 11 bytes", source: () => file("cut11.parquet", cut(11)), expect: NOT_PARQUET },
  { name: "Parquet cut to 12 bytes", source: () => file("cut12.parquet", cut(12)), expect: NOT_PARQUET },
  {
    name: "Parquet cut in half",
    source: () => file("half.parquet", cut(Math.floor(goodParquet.length / 2))),
    expect: NOT_PARQUET
  },
  { name: "Parquet without its last 8 bytes", source: () => file("cut-8.parquet", cut(-8)), expect: NOT_PARQUET },
  { name: "Parquet without its trailing magic", source: () => file("cut-4.parquet", cut(-4)), expect: NOT_PARQUET },
  { name: "Parquet without its last byte", source: () => file("cut-1.parquet", cut(-1)), expect: NOT_PARQUET },
  {
    name: "Parquet with its middle cut out (both magics kept)",
    source: () =>
      file(
        "middle.parquet",
        bytes([...goodParquet.subarray(0, 100)], [...goodParquet.subarray(goodParquet.length - 200)])
      ),
    expect: NOT_PARQUET
  },
  {
    name: "Parquet whose footer length is 2^31",
    source: () => file("footer-huge.parquet", withFooterLength(0x7fffffff)),
    expect: NOT_PARQUET
  },
  {
    name: "Parquet whose footer length is 0",
    source: () => file("footer-zero.parquet", withFooterLength(0)),
    expect: NOT_PARQUET
  },
  {
    name: "Parquet whose footer is all 0xff",
    source: () => file("footer-ff.parquet", footerGarbage()),
    expect: NOT_PARQUET
  },
  {
    name: "garbage between two PAR1 magics",
    source: () =>
      file("garbage.parquet", bytes("PAR1", Array.from({ length: 600 }, (_, i) => (i * 37 + 11) % 256), "PAR1")),
    expect: NOT_PARQUET
  },
  {
    name: "a text file named .parquet",
    source: () => file("text.parquet", "just some text\n\nand more text\n"),
    expect: /corpus: not a Parquet file \(no PAR1 magic at the start\)/
  },
  // Parquet, well-formed but not a corpus
  {
    name: "Parquet with 0 rows",
    source: () => file("empty.parquet", encodeCorpus(corpusFromDocuments([]))),
    expect: /no documents \(the corpus has 0 rows\)/
  },
  {
    name: "Parquet with columns title, body",
    source: () => file("renamed.parquet", parquetRenamedColumns()),
    // The text column is the one a corpus cannot do without (#11.15: ids are derived when there is no id column,
    // so a text-only Parquet file is a good corpus now: test/daily-loop-cli.test.ts).
    expect: /column "text" missing \(found: title, body\)/
  },
  {
    name: "Parquet with integer ids",
    source: () => file("intids.parquet", parquetIntegerIds()),
    expect: /column "id" has type Int32, expected Utf8/
  },
  {
    name: "Parquet with a binary text column",
    source: () => file("binary.parquet", parquetBinaryText()),
    expect: /column "text" has type Binary, expected Utf8/
  },
  {
    name: "Parquet with a null text",
    source: () => file("null.parquet", parquetNullText()),
    expect: /column "text" has 1 null value\(s\) \(first at row 1\)/
  },
  {
    name: "Parquet with invalid UTF-8 in a text",
    source: () => file("badutf8.parquet", parquetInvalidUtf8Text()),
    expect: /non UTF-8|invalid UTF-8/i
  },
  // Text files with no documents
  {
    name: "an empty .txt",
    source: () => file("empty.txt", ""),
    expect: /no documents \(the file has no non-blank text; split: paragraph\)/
  },
  { name: "a whitespace-only .txt", source: () => file("blank.txt", "  \n\t\n \r\n   \n\n"), expect: /no documents/ },
  {
    name: "a whitespace-only .txt, split by line",
    source: () => file("blank-lines.txt", " \n\n\t\n"),
    split: "line",
    expect: /no documents \(.*split: line\)/
  },
  {
    name: "CRLFs only, split by file",
    source: () => file("crlf.txt", "\r\n\r\n\r\n"),
    split: "file",
    expect: /no documents \(.*split: file\)/
  },
  { name: "a .txt holding only a BOM", source: () => file("bom.txt", "\ufeff"), expect: /no documents/ },
  // Invalid UTF-8, each at a known offset and line
  {
    name: "invalid UTF-8: 0xff",
    source: () => file("ff.txt", bytes("abc\n\nde", [0xff], " more\n")),
    expect: /invalid UTF-8 at byte offset 7, line 3 \(byte 0xff\)/
  },
  {
    name: "invalid UTF-8: a lone continuation byte",
    source: () => file("cont.txt", bytes("hello", [0x80], "\n\nworld\n")),
    expect: /invalid UTF-8 at byte offset 5, line 1 \(byte 0x80\)/
  },
  {
    name: "invalid UTF-8: an overlong slash",
    source: () => file("overlong.txt", bytes("one\ntwo\n\nthree ", [0xc0, 0xaf], "\n")),
    expect: /invalid UTF-8 at byte offset 15, line 4 \(byte 0xc0\)/
  },
  {
    name: "invalid UTF-8: an encoded surrogate",
    source: () => file("surrogate.txt", bytes("ab\n\ncd ", [0xed, 0xa0, 0x80], "\n")),
    expect: /invalid UTF-8 at byte offset 7, line 3 \(byte 0xed\)/
  },
  {
    name: "invalid UTF-8: a sequence cut at the end",
    source: () => file("cutseq.txt", bytes("price\n\n10 ", [0xe2, 0x82])),
    split: "line",
    expect: /invalid UTF-8 at byte offset 10, line 3 \(byte 0xe2\)/
  },
  {
    name: "invalid UTF-8: a code point above U+10FFFF",
    source: () => file("beyond.txt", bytes("x\n\ny ", [0xf4, 0x90, 0x80, 0x80])),
    split: "file",
    expect: /invalid UTF-8 at byte offset 5, line 3 \(byte 0xf4\)/
  },
  // Not a readable file
  { name: "a missing .txt", source: () => join(seedDir, "nope.txt"), expect: /ENOENT/ },
  { name: "a missing .parquet", source: () => join(seedDir, "nope.parquet"), expect: /ENOENT/ },
  {
    name: "a directory",
    source: () => (mkdirSync(join(seedDir, "adir.txt")), join(seedDir, "adir.txt")),
    expect: /EISDIR/
  },
  {
    name: "a symlink loop",
    source:
      () => (symlinkSync(join(seedDir, "loop-b.txt"), join(seedDir, "loop-a.txt")),
        symlinkSync(join(seedDir, "loop-a.txt"), join(seedDir, "loop-b.txt")),
        join(seedDir, "loop-a.txt")),
    expect: /ELOOP/
  },
  { name: "/dev/null", source: () => "/dev/null", expect: /no documents/ },
  // Too small to split
  {
    name: "one paragraph",
    source: () => file("one.txt", "just one paragraph\nover two lines\n"),
    expect: /has 1 document\(s\); a train\/test split needs 2/
  },
  {
    name: "one line, split by line",
    source: () => file("oneline.txt", "\n\n  only this line  \n\n"),
    split: "line",
    expect: /has 1 document\(s\); a train\/test split needs 2/
  },
  {
    name: "a one-row Parquet",
    source: () => file("onerow.parquet", encodeCorpus(corpusFromDocuments([{ id: "a", text: "x y z" }]))),
    expect: /has 1 document\(s\)/
  },
  {
    name: "maxDocuments 1",
    source: () => file("five.txt", "a\n\nb\n\nc\n\nd\n\ne\n"),
    maxDocuments: 1,
    expect: /has 1 document\(s\)/
  },
  // One enormous line
  {
    name: "one 20 MB line, split by line",
    source: () => file("huge.txt", HUGE),
    split: "line",
    expect: /has 1 document\(s\); a train\/test split needs 2/
  },
  {
    name: "one 20 MB line and a short one, split by line, then tokenized",
    source: () => file("huge2.txt", `${HUGE}\nand a short line\n`),
    split: "line",
    expect: "ok",
    downstream: true
  }
]

describe(`seed files: truncated or garbage Parquet, empty, invalid UTF-8, unreadable, too small, enormous (${count("seed files", seedCases.length)} cases)`, () => {
  for (const c of seedCases) {
    it(`${c.name}: ${c.expect === "ok" ? "runs" : "a StageFailed of seed-corpus naming the file"}, store intact`, async () => {
      const source = c.source()
      const pipeline = Pipeline.make("bad-seed", (p) => {
        const real = p.add(
          Seed.corpus({
            source,
            split: c.split ?? "paragraph",
            testFraction: 0.5,
            seed: 1,
            maxDocuments: c.maxDocuments ?? 0
          }),
          {}
        )
        if (c.downstream === true) p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
      })
      const records = recordFiles(seedStore)
      const outcome = await runIn(seedStore, execute(pipeline))
      if (c.expect === "ok") {
        assert.equal(outcome._tag, "ok", describeOutcome(outcome))
      } else {
        assert.equal(outcome._tag, "error", describeOutcome(outcome))
        if (outcome._tag !== "error") return
        assert.equal(outcome.error._tag, "StageFailed", outcome.error.message)
        assert.ok(
          outcome.error.message.startsWith("stage seed-corpus (seed/corpus) failed: "),
          `names the node: ${outcome.error.message}`
        )
        assert.ok(outcome.error.message.includes(source), `names the file: ${outcome.error.message}`)
        assert.match(outcome.error.message, c.expect)
        assert.ok(!outcome.error.message.includes("\n"), "one line")
        assert.deepEqual(recordFiles(seedStore), records, "a failed run adds no record")
      }
      const health = await storeHealth(seedStore)
      assert.deepEqual(problems(health.report), [])
      assert.deepEqual(health.staged, [], "tmp/ is empty")
    })
  }
})

/** Empty corpora further down a pipeline: a filter that keeps nothing. */
const emptyCases: ReadonlyArray<
  { readonly name: string; readonly node: string; readonly build: (p: Builder) => void; readonly expect: RegExp }
> = [
  {
    name: "training on an empty corpus",
    node: "train-ngram",
    build: (p) => {
      const real = p.add(Seed.corpus({ source: SAMPLE, testFraction: 0.2, seed: 7 }), {})
      const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
      const { corpus } = p.add(Filter.length({ minWords: 1_000_000 }), { corpus: real.train })
      p.add(Train.ngram({ order: 2 }), { corpus, tokenizer })
    },
    expect: /no documents/
  },
  {
    name: "evaluating on an empty test corpus",
    node: "evaluate-lm",
    build: (p) => {
      const real = p.add(Seed.corpus({ source: SAMPLE, testFraction: 0.2, seed: 7 }), {})
      const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
      const { model } = p.add(Train.ngram({ order: 2 }), { corpus: real.train, tokenizer })
      const { corpus: sample } = p.add(Sample.text({ documents: 5, maxLength: 20, seed: 1 }), { model, tokenizer })
      const { corpus: test } = p.add(Filter.length({ minWords: 1_000_000 }), { corpus: real.test })
      p.add(Evaluate.lm(), { model, tokenizer, test, sample })
    },
    expect: /test|empty|no documents|no tokens/i
  }
]

describe(`empty corpora down the pipeline (${count("empty corpora downstream", emptyCases.length)} cases)`, () => {
  const store = join(work, "empty-store")
  for (const c of emptyCases) {
    it(`${c.name}: a StageFailed of ${c.node}, store intact`, async () => {
      const outcome = await runIn(store, execute(Pipeline.make("empty", c.build)))
      assert.equal(outcome._tag, "error", describeOutcome(outcome))
      if (outcome._tag !== "error") return
      assert.equal(outcome.error._tag, "StageFailed", outcome.error.message)
      assert.ok(outcome.error.message.startsWith(`stage ${c.node} `), outcome.error.message)
      assert.match(outcome.error.message, c.expect)
      const health = await storeHealth(store)
      assert.deepEqual(problems(health.report), [])
      assert.deepEqual(health.staged, [])
    })
  }
})

// =================================================================================================================
// 3. Corrupt store contents. A pristine store holds seed -> tokenize -> train; each case damages a copy of it.
//    Each must surface as a clear error naming the damaged hash or key, or be handled: the run recomputes what was
//    damaged, gives the same outputs as on a pristine store, and leaves a store that verifies clean.

const victim = (o: { readonly minCount?: number; readonly order?: number } = {}) =>
  Pipeline.make("victim", (p) => {
    const real = p.add(Seed.corpus({ source: SAMPLE, testFraction: 0.2, seed: 7 }), {})
    const { tokenizer } = p.add(Tokenize.words({ minCount: o.minCount ?? 1 }), { corpus: real.train })
    p.add(Train.ngram({ order: o.order ?? 2 }), { corpus: real.train, tokenizer })
  })
type Variant = "same" | "newTokenizer" | "newModel"
const variants: Record<Variant, () => ReturnType<typeof victim>> = {
  same: () => victim(),
  newTokenizer: () => victim({ minCount: 2 }), // tokenize-fit runs again and reads seed-corpus.train
  newModel: () => victim({ order: 3 }) // train-ngram runs again and reads tokenize-fit.tokenizer
}

const pristine = join(work, "pristine")
const expected = new Map<Variant, Map<string, Record<string, string>>>()
let reference: RunResult | undefined
const outputsByPath = (r: RunResult) =>
  new Map(r.nodes.map((n) => [n.node.path, Object.fromEntries(Object.entries(n.outputs).map(([k, v]) => [k, v.hash]))]))
const ref = () => {
  if (reference === undefined) throw new Error("no pristine run")
  return reference
}
const keyOf = (path: string) => ref().nodes.find((n) => n.node.path === path)!.key
const hashOf = (path: string, output: string) => ref().nodes.find((n) => n.node.path === path)!.outputs[output].hash
const blobPath = (root: string, hash: string) => join(root, "blobs", hash.slice(0, 2), hash)
const recordPath = (root: string, key: string) => join(root, "records", key.slice(0, 2), `${key}.json`)
const rewrite = (p: string, f: (b: Buffer) => Uint8Array | string) => {
  chmodSync(p, 0o644)
  writeFileSync(p, f(readFileSync(p)))
}
const editRecord = (p: string, f: (json: Record<string, unknown>) => void) =>
  rewrite(p, (b) => {
    const json = JSON.parse(b.toString("utf8")) as Record<string, unknown>
    f(json)
    return JSON.stringify(json, null, 2)
  })
const flipByte = (at: number) => (b: Buffer) => {
  b[at] ^= 0x01
  return b
}
const outputEntry = (json: Record<string, unknown>, output: string) =>
  (json.outputs as Record<string, { hash: string; artifact: string; bytes: number }>)[output]
const putRaw = (root: string, content: Uint8Array): string => {
  const hash = sha256(content)
  mkdirSync(join(root, "blobs", hash.slice(0, 2)), { recursive: true })
  writeFileSync(blobPath(root, hash), content, { mode: 0o444 })
  return hash
}

interface StoreCase {
  readonly name: string
  /** Damages the store at `root`; returns the hash or key a clear error must name. */
  readonly damage: (root: string) => string
  readonly variant: Variant
  /** Also plan first: it must fail naming the id, or succeed. */
  readonly planFirst?: boolean
}

const storeCases: ReadonlyArray<StoreCase> = [
  {
    name: "a flipped byte in a corpus blob a later stage reads",
    variant: "newTokenizer",
    damage: (r) => (rewrite(blobPath(r, hashOf("seed-corpus", "train")), flipByte(100)), hashOf("seed-corpus", "train"))
  },
  {
    name: "a flipped byte in a corpus blob, its mtime restored (bit rot under the seal)",
    variant: "newTokenizer",
    damage: (r) => {
      const p = blobPath(r, hashOf("seed-corpus", "train"))
      const st = statSync(p)
      rewrite(p, flipByte(200))
      utimesSync(p, st.atime, st.mtime)
      chmodSync(p, 0o444)
      return hashOf("seed-corpus", "train")
    }
  },
  {
    name: "a flipped byte in a tokenizer blob a later stage reads",
    variant: "newModel",
    damage: (
      r
    ) => (rewrite(blobPath(r, hashOf("tokenize-fit", "tokenizer")), flipByte(50)), hashOf("tokenize-fit", "tokenizer"))
  },
  {
    name: "a corpus blob truncated to half",
    variant: "newTokenizer",
    damage: (
      r
    ) => (rewrite(blobPath(r, hashOf("seed-corpus", "train")), (b) => b.subarray(0, b.length >> 1)),
      hashOf("seed-corpus", "train"))
  },
  {
    name: "a corpus blob emptied",
    variant: "newTokenizer",
    damage: (
      r
    ) => (rewrite(blobPath(r, hashOf("seed-corpus", "train")), () => new Uint8Array(0)), hashOf("seed-corpus", "train"))
  },
  {
    name: "a corpus blob replaced by a directory",
    variant: "newTokenizer",
    damage: (r) => {
      const p = blobPath(r, hashOf("seed-corpus", "train"))
      rmSync(p, { force: true })
      mkdirSync(p)
      return hashOf("seed-corpus", "train")
    }
  },
  {
    name: "a truncated record",
    variant: "same",
    planFirst: true,
    damage: (
      r
    ) => (rewrite(recordPath(r, keyOf("tokenize-fit")), (b) => b.subarray(0, b.length >> 1)), keyOf("tokenize-fit"))
  },
  {
    name: "a record of binary garbage",
    variant: "same",
    planFirst: true,
    damage: (
      r
    ) => (rewrite(recordPath(r, keyOf("tokenize-fit")), () => Uint8Array.of(0, 0xff, 0xfe, 7)), keyOf("tokenize-fit"))
  },
  {
    name: "a record that is JSON but fails the schema",
    variant: "same",
    planFirst: true,
    damage: (r) => (editRecord(recordPath(r, keyOf("tokenize-fit")), (j) => (j.version = "one")), keyOf("tokenize-fit"))
  },
  {
    name: "a record naming another key",
    variant: "same",
    planFirst: true,
    damage: (
      r
    ) => (editRecord(recordPath(r, keyOf("train-ngram")), (j) => (j.key = "0".repeat(64))), keyOf("train-ngram"))
  },
  {
    name: "a record whose output blob is missing",
    variant: "same",
    planFirst: true,
    damage: (
      r
    ) => (rmSync(blobPath(r, hashOf("tokenize-fit", "tokenizer")), { force: true }),
      hashOf("tokenize-fit", "tokenizer"))
  },
  {
    name: "a record whose output names another stage's blob",
    variant: "newTokenizer",
    damage: (
      r
    ) => (editRecord(
      recordPath(r, keyOf("seed-corpus")),
      (j) => (outputEntry(j, "train").hash = hashOf("tokenize-fit", "tokenizer"))
    ),
      hashOf("tokenize-fit", "tokenizer"))
  },
  {
    name: "a record whose output has the wrong byte count",
    variant: "newTokenizer",
    damage: (
      r
    ) => (editRecord(recordPath(r, keyOf("seed-corpus")), (j) => (outputEntry(j, "train").bytes += 1)),
      hashOf("seed-corpus", "train"))
  },
  {
    name: "a record whose output is a well-hashed blob that is not a corpus",
    variant: "newTokenizer",
    damage: (r) => {
      const planted = putRaw(r, new TextEncoder().encode("PAR1 not a corpus at all PAR1"))
      editRecord(
        recordPath(r, keyOf("seed-corpus")),
        (j) => Object.assign(outputEntry(j, "train"), { hash: planted, bytes: 29 })
      )
      return planted
    }
  },
  {
    name: "a node ref pointing at a missing record",
    variant: "same",
    planFirst: true,
    damage: (
      r
    ) => (writeFileSync(join(r, "refs", "nodes", "victim", "tokenize-fit"), `${"f".repeat(64)}\n`), "f".repeat(64))
  },
  {
    name: "a node ref holding garbage",
    variant: "same",
    planFirst: true,
    damage: (
      r
    ) => (writeFileSync(join(r, "refs", "nodes", "victim", "train-ngram"), "not a key at all\n"), "not a key at all")
  },
  {
    name: "a pipeline ref pointing at a missing manifest",
    variant: "same",
    damage: (r) => (writeFileSync(join(r, "refs", "pipelines", "victim"), `${"e".repeat(64)}\n`), "e".repeat(64))
  }
]

const isClearStoreError = (o: Outcome<unknown>, id: string): boolean =>
  o._tag === "error" && ["ArtifactCorrupt", "ArtifactMissing", "StoreError"].includes(o.error._tag) &&
  o.error.message.includes(id) && !o.error.message.includes("\n")

describe(`corrupt store contents (${count("corrupt store", storeCases.length + 3)} cases)`, () => {
  before(async () => {
    const first = await runIn(pristine, execute(victim()))
    if (first._tag !== "ok") throw new Error(describeOutcome(first))
    reference = first.value
    for (const v of Object.keys(variants) as Variant[]) {
      const copy = copyStore(pristine, join(work, `expected-${v}`))
      const r = await runIn(copy, execute(variants[v]()))
      if (r._tag !== "ok") throw new Error(describeOutcome(r))
      expected.set(v, outputsByPath(r.value))
    }
  })

  storeCases.forEach((c, i) => {
    it(`${c.name}: a clear error naming it, or recomputed to the same outputs with the store clean`, async () => {
      const root = copyStore(pristine, join(work, `case-${i}`))
      const id = c.damage(root)
      if (c.planFirst === true) {
        const planned = await runIn(root, plan(variants[c.variant]()))
        assert.ok(planned._tag === "ok" || isClearStoreError(planned, id), `plan: ${describeOutcome(planned)}`)
      }
      const outcome = await runIn(root, execute(variants[c.variant]()))
      const health = await storeHealth(root)
      assert.deepEqual(health.staged, [], "tmp/ is empty")
      if (outcome._tag === "ok") {
        assert.deepEqual(outputsByPath(outcome.value), expected.get(c.variant), "same outputs as on a pristine store")
        assert.deepEqual(problems(health.report), [], "the store verifies clean after the run")
      } else {
        assert.ok(isClearStoreError(outcome, id), describeOutcome(outcome))
        // Nothing but the damage itself is wrong with the store.
        for (const p of problems(health.report)) assert.ok(p.includes(id), `unrelated damage: ${p}`)
      }
    })
  })

  it("the last-run listing with a pipeline ref to a missing manifest: a clear error naming it, or handled", async () => {
    const root = copyStore(pristine, join(work, "case-lastruns"))
    writeFileSync(join(root, "refs", "pipelines", "victim"), `${"e".repeat(64)}\n`)
    const outcome = await runIn(root, lastRuns)
    assert.ok(outcome._tag === "ok" || isClearStoreError(outcome, "e".repeat(64)), describeOutcome(outcome))
  })

  it("a record path that is a directory: a StoreError naming it", async () => {
    const root = copyStore(pristine, join(work, "case-recorddir"))
    const p = recordPath(root, keyOf("tokenize-fit"))
    rmSync(p, { force: true })
    mkdirSync(p)
    const outcome = await runIn(root, execute(victim()))
    assert.ok(outcome._tag === "ok" || isClearStoreError(outcome, keyOf("tokenize-fit")), describeOutcome(outcome))
  })

  it("a store root that is a regular file: a StoreError naming it", async () => {
    const root = join(work, "store-is-a-file")
    writeFileSync(root, "not a directory")
    const outcome = await runIn(root, execute(victim()))
    assert.equal(outcome._tag, "error", describeOutcome(outcome))
    assert.ok(isClearStoreError(outcome, root), describeOutcome(outcome))
  })
})

// Through the CLI: one line `ouro: ...`, exit 1, no stack trace, or a normal result.
const cliFile = (dir: string, minCount: number) => {
  const f = join(dir, `victim-${minCount}.ts`)
  writeFileSync(
    f,
    `import { Pipeline, Seed, Tokenize, Train } from "ouroboros"
export default Pipeline.make("victim", (p) => {
  const real = p.add(Seed.corpus({ source: ${JSON.stringify(SAMPLE)}, testFraction: 0.2, seed: 7 }), {})
  const { tokenizer } = p.add(Tokenize.words({ minCount: ${minCount} }), { corpus: real.train })
  p.add(Train.ngram({ order: 2 }), { corpus: real.train, tokenizer })
})
`
  )
  return f
}
const cliCases = 4
/** A failure the user caused: exit 1, one `ouro: ` line naming `id`, and no stack trace on either stream. */
const noStackTrace = (r: CliResult, id: string) => {
  const both = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`
  assert.doesNotMatch(both, /^\s+at /m, `no stack trace: ${both}`)
  assert.equal(r.code, 1, `exit code: ${both}`)
  assert.match(r.stderr, /^ouro: /m, both)
  assert.ok(r.stderr.includes(id), `names ${id}: ${both}`)
}
/** Handled: exit 0 and no stack trace anywhere. */
const handled = (r: CliResult) =>
  assert.doesNotMatch(`${r.stdout}\n${r.stderr}`, /^\s+at /m, `no stack trace: ${r.stdout}\n${r.stderr}`)

describe(`corrupt store contents through the CLI (${count("corrupt store, CLI", cliCases)} cases)`, () => {
  const dirs: string[] = []
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
  /** A user's project: the pipeline file and a store made by running it (in-process: the same keys). */
  const project = async () => {
    const dir = tempDir("ouro-bad-cli-")
    dirs.push(dir)
    const f = cliFile(dir, 1)
    const loaded = (await import(pathToFileURL(f).href)) as { readonly default: ReturnType<typeof victim> }
    const r = await runIn(join(dir, ".ouroboros"), execute(loaded.default))
    if (r._tag !== "ok") throw new Error(describeOutcome(r))
    return { dir, file: f, result: r.value, store: join(dir, ".ouroboros") }
  }
  const keyIn = (r: RunResult, path: string) => r.nodes.find((n) => n.node.path === path)!.key
  const hashIn = (r: RunResult, path: string, output: string) =>
    r.nodes.find((n) => n.node.path === path)!.outputs[output].hash

  it("ouro plan with a truncated record", async () => {
    const { dir, file: f, result, store } = await project()
    const key = keyIn(result, "tokenize-fit")
    rewrite(recordPath(store, key), (b) => b.subarray(0, 40))
    const r = ouro(dir, "plan", f)
    if (r.code !== 0) noStackTrace(r, key)
    else {
      handled(r)
      assert.match(r.stdout, /3 stages: /)
    }
  })

  it("ouro run with a flipped byte in a blob the run reads", async () => {
    const { dir, result, store } = await project()
    const hash = hashIn(result, "seed-corpus", "train")
    rewrite(blobPath(store, hash), flipByte(300))
    const r = ouro(dir, "run", cliFile(dir, 2), "--quiet")
    if (r.code !== 0) noStackTrace(r, hash)
    else {
      handled(r)
      assert.match(r.stdout, /pipeline victim: 3 stages/)
      const v = ouro(dir, "verify")
      assert.equal(v.code, 0, v.stdout + v.stderr)
    }
  })

  it("ouro ls with a pipeline ref to a missing manifest", async () => {
    const { dir, store } = await project()
    writeFileSync(join(store, "refs", "pipelines", "victim"), `${"e".repeat(64)}\n`)
    const r = ouro(dir, "ls")
    if (r.code !== 0) noStackTrace(r, "e".repeat(64))
    else handled(r)
  })

  it("ouro show of a well-hashed blob that is no artifact ouroboros knows", async () => {
    const { dir, store } = await project()
    const put = await runIn(
      store,
      Effect.gen(function*() {
        const s = yield* ArtifactStore
        return (yield* s.putBlob(new TextEncoder().encode("PAR1 this is not parquet PAR1"))).hash
      })
    )
    if (put._tag !== "ok") throw new Error(describeOutcome(put))
    const planted = put.value
    const r = ouro(dir, "show", planted)
    noStackTrace(r, planted)
  })
})

const total = Object.values(counted).reduce((a, b) => a + b, 0)
const fuzzed = counted["params, fuzzed (fast-check runs)"] ?? 0
it(`at least 50 bad inputs in all: ${total} (${fuzzed} fuzzed, ${total - fuzzed} picked by hand, at least 20)`, () => {
  assert.ok(total - fuzzed >= 20, JSON.stringify(counted))
  assert.ok(total >= 50, JSON.stringify(counted))
})
