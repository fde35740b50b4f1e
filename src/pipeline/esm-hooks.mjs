/**
 * Module resolution hooks (node:module `register`), chained in front of tsx's: pipeline files are ES module
 * TypeScript wherever they live. Node (and tsx after it) takes a file's module format from the nearest package.json,
 * so a `.ts` file in a directory without one, or in a package that declares no "type", would load as CommonJS, and
 * its imports of ouroboros then resolve with CommonJS conditions (which some dependencies do not export). Here a
 * `.ts`/`.tsx` file loads as an ES module unless its package says `"type": "commonjs"` in so many words; `.cts`
 * files and JavaScript keep Node's rules.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { homedir, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const TYPESCRIPT = /\.(?:ts|tsx)$/

/** The "type" the nearest package.json above `dir` declares (undefined: none does), by directory. */
const declared = new Map()
const declaredType = (dir) => {
  if (declared.has(dir)) return declared.get(dir)
  let type
  let text
  try {
    text = readFileSync(join(dir, "package.json"), "utf8")
  } catch {
    text = undefined
  }
  if (text !== undefined) {
    try {
      const json = JSON.parse(text)
      type = typeof json?.type === "string" ? json.type : undefined
    } catch {
      type = undefined
    }
  } else {
    const parent = dirname(dir)
    type = parent === dir ? undefined : declaredType(parent)
  }
  declared.set(dir, type)
  return type
}

/**
 * The bundled CLI (build/<hash>/, see bin/bundle.mjs) registers these hooks with `data: { build, src }` (file URLs of
 * its build folder and of the package's src/), and no tsx. Then "ouroboros" and any import of a src/X.ts resolve to
 * the build's X.js, and "effect" to the build's copy: a pipeline file shares the CLI's module instances (one
 * Pipeline class, one PipelineInvalid, one Effect runtime). TypeScript files (the pipeline file, the local modules it
 * imports) are transpiled by esbuild's transform, cached by content hash under $XDG_CACHE_HOME/ouroboros/esm.
 */
let bundle
export function initialize(data) {
  if (data?.build !== undefined) bundle = { build: data.build, src: data.src, cache: cacheDir(), tsconfig: tsconfig() }
}

const cacheDir = () => {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), ".cache") : tmpdir())
  return join(base, "ouroboros", "esm")
}

/** The compiler options of ./tsconfig.json (tsx reads the same file), as esbuild's transform takes them. */
const tsconfig = () => {
  try {
    const options = JSON.parse(readFileSync(join(process.cwd(), "tsconfig.json"), "utf8"))?.compilerOptions
    return typeof options === "object" && options !== null ? { compilerOptions: options } : {}
  } catch {
    return {}
  }
}

/** A relative import that Node does not find as written, in TypeScript's spellings (as tsx resolves it). */
const typescriptSpellings = (specifier) =>
  /\.[cm]?js$/.test(specifier)
    ? [specifier.replace(/js$/, "ts")]
    : /\.[a-z]+$/i.test(specifier)
    ? []
    : [`${specifier}.ts`, `${specifier}/index.ts`]

const bundledResolve = async (specifier, context, nextResolve) => {
  if (specifier === "effect") return { url: new URL("vendor/effect.js", bundle.build).href, shortCircuit: true }
  let resolved
  try {
    resolved = await nextResolve(specifier, context)
  } catch (e) {
    if (e?.code !== "ERR_MODULE_NOT_FOUND" || !/^\.{0,2}\//.test(specifier)) throw e
    for (const candidate of typescriptSpellings(specifier)) {
      try {
        resolved = await nextResolve(candidate, context)
        break
      } catch {
        // the next spelling
      }
    }
    if (resolved === undefined) throw e
  }
  if (resolved.url.startsWith(bundle.src) && TYPESCRIPT.test(resolved.url)) {
    const built = new URL(resolved.url.slice(bundle.src.length).replace(/\.tsx?$/, ".js"), bundle.build)
    if (existsSync(built)) return { url: built.href, format: "module", shortCircuit: true }
  }
  return resolved
}

const TRANSFORM_VERSION = "1"

/** A TypeScript file as JavaScript: esbuild's transform, from the cache when this source was seen before. */
const transpile = async (path) => {
  const source = readFileSync(path, "utf8")
  const options = {
    loader: path.endsWith("x") ? "tsx" : "ts",
    format: "esm",
    target: "node20",
    sourcefile: path,
    sourcemap: "inline",
    tsconfigRaw: bundle.tsconfig
  }
  const key = createHash("sha256")
    .update(JSON.stringify([TRANSFORM_VERSION, process.version, options]))
    .update("\0")
    .update(source)
    .digest("hex")
  const cached = join(bundle.cache, `${key}.js`)
  try {
    return readFileSync(cached, "utf8")
  } catch {
    // not cached yet
  }
  const { transform } = await import("esbuild")
  const { code } = await transform(source, options)
  try {
    mkdirSync(bundle.cache, { recursive: true })
    const tmp = `${cached}.${process.pid}.${Math.floor(performance.now() * 1000)}.tmp`
    writeFileSync(tmp, code)
    renameSync(tmp, cached)
  } catch {
    // an unwritable cache only costs the next run a transform
  }
  return code
}

export async function load(url, context, nextLoad) {
  if (bundle === undefined || !url.startsWith("file:")) return nextLoad(url, context)
  const path = fileURLToPath(url.replace(/[?#].*$/, ""))
  if (!TYPESCRIPT.test(path) && !/\.mts$/.test(path)) return nextLoad(url, context)
  if (context.format !== "module" && !/\.mts$/.test(path)) return nextLoad(url, context)
  return { format: "module", source: await transpile(path), shortCircuit: true }
}

export async function resolve(specifier, context, nextResolve) {
  const resolved =
    await (bundle === undefined ? nextResolve(specifier, context) : bundledResolve(specifier, context, nextResolve))
  if (resolved.format !== "commonjs" && resolved.format != null) return resolved
  if (!resolved.url.startsWith("file:")) return resolved
  const path = fileURLToPath(new URL(resolved.url).href.replace(/[?#].*$/, ""))
  if (!TYPESCRIPT.test(path) || path.includes("/node_modules/")) return resolved
  if (declaredType(dirname(path)) === "commonjs") return resolved
  return { ...resolved, format: "module" }
}
