/**
 * How the bundled CLI (bin/bundle.mjs) loads a pipeline file: esbuild bundles it, with the local modules it imports,
 * into one ES module in a cache folder, cached by the content hash of every file that went into it; the next load of
 * unchanged files reads that module without starting esbuild. No loader hook and no tsx: a hook runs on a thread of
 * its own, whose start-up each process (and each stage worker) would pay.
 *
 * What the pipeline imports of ouroboros ("ouroboros", or a src/ file by path) and of Effect (its barrel or a module,
 * `import { Effect, Schema } from "effect"`) stays outside the bundle, pointed at the CLI's own build: a pipeline
 * file shares the CLI's module instances (one Pipeline class, one PipelineInvalid, one Effect runtime). Any other
 * package stays outside too, at the file Node would load for it. `import.meta.url` and `import.meta.dirname` in a
 * bundled file are that file's own, as they were unbundled.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { homedir, tmpdir } from "node:os"
import { dirname, isAbsolute, join, relative, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { Plugin } from "esbuild"
import { unbarrelEffect } from "../../bin/effect-imports.mjs"

/** Bumped when what this module writes changes, so older cache entries are not read. */
const COMPILE_VERSION = 2

/** The package root: this file is src/pipeline/compile.ts (bundled, bin/bundle.mjs keeps import.meta.url so). */
const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const SRC = join(ROOT, "src")

interface Entry {
  readonly version: number
  readonly output: string
  readonly inputs: ReadonlyArray<readonly [string, string]>
}

const sha256 = (bytes: string | Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

const cacheDir = (): string => {
  const base = process.env.XDG_CACHE_HOME || (homedir() !== "" ? join(homedir(), ".cache") : tmpdir())
  return join(base, "ouroboros", "pipelines")
}

/** Writes `text` at `file` atomically: a temporary file beside it, then a rename. */
const writeAtomic = (file: string, text: string): void => {
  const tmp = `${file}.${process.pid}.${process.hrtime.bigint()}.tmp`
  writeFileSync(tmp, text)
  renameSync(tmp, file)
}

/** The cached module for `path` when every file it was built from is unchanged. */
const cached = (entryFile: string, dir: string): string | undefined => {
  let entry: Entry
  try {
    entry = JSON.parse(readFileSync(entryFile, "utf8")) as Entry
  } catch {
    return undefined
  }
  if (entry.version !== COMPILE_VERSION || !existsSync(join(dir, entry.output))) return undefined
  for (const [file, hash] of entry.inputs) {
    let bytes: Buffer
    try {
      bytes = readFileSync(file)
    } catch {
      return undefined
    }
    if (sha256(bytes) !== hash) return undefined
  }
  return join(dir, entry.output)
}

/** `import.meta.url` and `import.meta.dirname` of `file` as literals, and Effect's barrel as its modules. */
const rewrite = (text: string, file: string, namespaces: ReadonlySet<string>): string =>
  unbarrelEffect(text, namespaces).replace(
    /import\.meta\.(url|dirname|filename)\b/g,
    (_all, what: string) =>
      JSON.stringify(what === "url" ? pathToFileURL(file).href : what === "dirname" ? dirname(file) : file)
  )

const LOCAL_CODE = /\.(?:[cm]?[jt]s|tsx|jsx)$/
/** What Node loads itself: JavaScript, JSON and addons, from a package. */
const NODE_LOADABLE = /\.(?:[cm]?js|json|node)$/

const plugin = (build: string, namespaces: ReadonlySet<string>): Plugin => ({
  name: "ouroboros-pipeline",
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.kind === "entry-point" || args.pluginData === "inner") return undefined
      if (args.path.startsWith("node:")) return { path: args.path, external: true }
      const effectModule = /^effect\/(\w+)$/.exec(args.path)
      if (effectModule !== null && existsSync(join(build, "vendor", "effect", `${effectModule[1]}.js`))) {
        return { path: pathToFileURL(join(build, "vendor", "effect", `${effectModule[1]}.js`)).href, external: true }
      }
      const found = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: "inner"
      })
      if (found.errors.length > 0 || found.external || !isAbsolute(found.path)) return found
      const inSrc = relative(SRC, found.path)
      if (!inSrc.startsWith("..") && /\.ts$/.test(inSrc)) {
        const counterpart = join(build, inSrc.replace(/\.ts$/, ".js"))
        if (existsSync(counterpart)) return { path: pathToFileURL(counterpart).href, external: true }
      }
      if (found.path.includes("/node_modules/") && NODE_LOADABLE.test(found.path)) {
        return { path: pathToFileURL(found.path).href, external: true }
      }
      if (/^[^./]/.test(args.path) && !LOCAL_CODE.test(found.path)) return { path: args.path, external: true }
      return found
    })
    b.onLoad({ filter: LOCAL_CODE }, (args) => {
      if (args.path.includes("/node_modules/")) return undefined
      const text = readFileSync(args.path, "utf8")
      const loader = args.path.endsWith("x")
        ? (args.path.endsWith("tsx") ? "tsx" : "jsx")
        : /ts$/.test(args.path)
        ? "ts"
        : "js"
      return { contents: rewrite(text, args.path, namespaces), loader }
    })
  }
})

/**
 * The URL to import for the pipeline file at `path` (absolute), in the build `buildName` (build/<buildName>/).
 * esbuild's errors are thrown as esbuild words them ("Build failed with 1 error:\nFILE:LINE:COL: ERROR: TEXT").
 */
export const compilePipeline = async (path: string, buildName: string): Promise<string> => {
  const build = join(ROOT, "build", buildName)
  const dir = cacheDir()
  const key = sha256(JSON.stringify([COMPILE_VERSION, buildName, process.version, path]))
  const entryFile = join(dir, `${key}.json`)
  const hit = cached(entryFile, dir)
  if (hit !== undefined) return pathToFileURL(hit).href

  const namespaces = new Set<string>(
    JSON.parse(readFileSync(join(build, "vendor", "namespaces.json"), "utf8")) as ReadonlyArray<string>
  )
  const esbuild = await import("esbuild")
  const result = await esbuild.build({
    entryPoints: [path],
    absWorkingDir: process.cwd(),
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    // As tsx compiles (the CLI's source path): the same code text, so a user stage's run source, which is in its
    // key (pipeline/stage.ts), reads the same whichever way ouro started.
    target: `node${process.versions.node}`,
    minifyWhitespace: true,
    keepNames: true,
    conditions: ["node"],
    metafile: true,
    sourcemap: "inline",
    logLevel: "silent",
    plugins: [plugin(build, namespaces)]
  })
  const text = result.outputFiles[0].text
  const inputs = Object.keys(result.metafile.inputs)
    .map((f) => resolve(process.cwd(), f))
    .filter((f) => existsSync(f))
    .map((f): readonly [string, string] => [f, sha256(readFileSync(f))])
  const output = `${key}-${sha256(text).slice(0, 16)}.mjs`
  try {
    mkdirSync(dir, { recursive: true })
    writeAtomic(join(dir, output), text)
    writeAtomic(entryFile, JSON.stringify({ version: COMPILE_VERSION, output, inputs } satisfies Entry))
    return pathToFileURL(join(dir, output)).href
  } catch {
    // No cache to write to: the module as a data: URL (its imports are all absolute, so it resolves the same).
    return `data:text/javascript;base64,${Buffer.from(text).toString("base64")}`
  }
}
