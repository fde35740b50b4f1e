/**
 * The code artifact: the pipeline file and the local modules it imports, content-hashed, so that a worker runs
 * exactly the code the submitter planned. The submitter walks the imports with esbuild's metafile (bare imports,
 * packages, stay out: "ouroboros" itself is pinned by the version check), stores each file as a blob and a small
 * JSON index naming them; the index's hash names the artifact. A worker materialises it once per hash in a private
 * directory whose node_modules links to its own packages (and "ouroboros" to itself), and loads it from there.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"
import { Effect, Schema } from "effect"
import { describe, PipelineLoadError, StoreError } from "../errors/index.ts"
import { canonicalJson, type Sha256 } from "../hash/index.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { packageRoot } from "./version.ts"

export const CodeIndex = Schema.Struct({
  format: Schema.Literal("ouroboros-code/1"),
  /** The pipeline file, relative to the artifact's root. */
  entry: Schema.String,
  /** Relative path → content hash of the file's bytes (a blob in the store). */
  files: Schema.Record(Schema.String, Schema.String)
})
export type CodeIndex = typeof CodeIndex.Type
const decodeIndex = Schema.decodeUnknownExit(Schema.fromJsonString(CodeIndex))

const commonDirectory = (files: ReadonlyArray<string>): string => {
  let dir = dirname(files[0])
  while (!files.every((f) => f === dir || f.startsWith(dir.endsWith(sep) ? dir : dir + sep))) dir = dirname(dir)
  return dir
}

/** The local module files `pipelineFile` imports (itself first), absolute, as esbuild's bundler resolves them. */
export const localModules = (pipelineFile: string): Effect.Effect<ReadonlyArray<string>, PipelineLoadError> =>
  Effect.tryPromise({
    try: async () => {
      const entry = resolve(pipelineFile)
      const cwd = dirname(entry)
      const result = await build({
        entryPoints: [entry],
        absWorkingDir: cwd,
        bundle: true,
        write: false,
        metafile: true,
        packages: "external",
        platform: "node",
        format: "esm",
        logLevel: "silent"
      })
      const files = Object.keys(result.metafile.inputs).map((f) => (isAbsolute(f) ? f : resolve(cwd, f)))
      return [entry, ...files.filter((f) => f !== entry)]
    },
    catch: (e) => new PipelineLoadError({ file: pipelineFile, detail: `cannot walk its imports: ${describe(e)}` })
  })

/** Packs the pipeline file and its local modules into the store; returns the code artifact's hash. */
export const packCode = (pipelineFile: string) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const modules = yield* localModules(pipelineFile)
    const own = join(packageRoot(), "src") + sep
    const inside = modules.find((f) => f.startsWith(own))
    if (inside !== undefined) {
      return yield* new PipelineLoadError({
        file: pipelineFile,
        detail: `imports ouroboros's own source by path (${relative(process.cwd(), inside)}); import "ouroboros" ` +
          `instead, so that each worker uses its own (checked) ouroboros`
      })
    }
    const root = commonDirectory(modules)
    const files: Record<string, Sha256> = {}
    for (const file of modules) {
      const bytes = yield* Effect.try({
        try: () => fs.readFileSync(file),
        catch: (e) => new PipelineLoadError({ file, detail: `cannot read it: ${describe(e)}` })
      })
      files[relative(root, file).split(sep).join("/")] = (yield* store.putBlob(bytes)).hash
    }
    const index: CodeIndex = {
      format: "ouroboros-code/1",
      entry: relative(root, resolve(pipelineFile)).split(sep).join("/"),
      files
    }
    return (yield* store.putBlob(new TextEncoder().encode(canonicalJson(index)))).hash
  })

/** The node_modules directory this ouroboros resolves its packages from. */
const ownNodeModules = (): string => {
  const effect = fs.realpathSync(fileURLToPath(import.meta.resolve("effect")))
  const at = effect.lastIndexOf(`${sep}node_modules${sep}`)
  return effect.slice(0, at + `${sep}node_modules`.length)
}

const safeRelative = (p: string): boolean =>
  p !== "" && !isAbsolute(p) && !p.split("/").some((s) => s === ".." || s === "." || s === "")

/**
 * Materialises code artifact `hash` under `cacheDir` (once: a finished one is reused) and returns the path of its
 * pipeline file. Every file is read through the store, so each is hash-checked; the directory appears whole (built
 * under a temp name, then renamed).
 */
export const materialiseCode = (hash: Sha256, cacheDir: string) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const indexBytes = yield* store.getBlob(hash)
    const decoded = decodeIndex(new TextDecoder().decode(indexBytes))
    if (decoded._tag === "Failure") {
      return yield* new StoreError({ path: store.location, detail: `code artifact ${hash} is not a code index` })
    }
    const index = decoded.value
    const paths = [index.entry, ...Object.keys(index.files)]
    const bad = paths.find((p) => !safeRelative(p))
    if (bad !== undefined) {
      return yield* new StoreError({ path: store.location, detail: `code artifact ${hash} names a bad path ${bad}` })
    }
    const final = join(cacheDir, hash)
    if (fs.existsSync(join(final, index.entry))) return join(final, index.entry)
    const contents: Array<readonly [string, Uint8Array]> = []
    for (const [file, blob] of Object.entries(index.files)) contents.push([file, yield* store.getBlob(blob)])
    return yield* Effect.try({
      try: () => {
        fs.mkdirSync(cacheDir, { recursive: true })
        const tmp = join(cacheDir, `.tmp-${process.pid}-${randomBytes(8).toString("hex")}`)
        try {
          for (const [file, bytes] of contents) {
            fs.mkdirSync(dirname(join(tmp, file)), { recursive: true })
            fs.writeFileSync(join(tmp, file), bytes, { mode: 0o444 })
          }
          // Bare imports resolve as they would for this worker's own ouroboros: its packages, and itself.
          const modules = join(tmp, "node_modules")
          fs.mkdirSync(modules, { recursive: true })
          const theirs = ownNodeModules()
          for (const entry of fs.readdirSync(theirs)) {
            if (entry === "ouroboros" || entry.startsWith(".")) continue
            fs.symlinkSync(join(theirs, entry), join(modules, entry))
          }
          fs.symlinkSync(packageRoot(), join(modules, "ouroboros"))
          try {
            fs.renameSync(tmp, final)
          } catch (e) {
            // Another process of this worker's cache finished it first: theirs is as good.
            if (!fs.existsSync(join(final, index.entry))) throw e
          }
        } finally {
          fs.rmSync(tmp, { recursive: true, force: true })
        }
        return join(final, index.entry)
      },
      catch: (e) =>
        new StoreError({ path: cacheDir, detail: `cannot materialise code ${hash}: ${describe(e)}`, cause: e })
    })
  })
