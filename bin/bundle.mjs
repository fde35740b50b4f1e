// The bundled CLI: where it lives, whether it is fresh, and how it is built (esbuild). Used by bin/ouro.js at start-up
// (`freshBundle`: a stat per source file, the content hash when those differ from the build's record; `buildBundle`
// when there is no fresh build) and by bin/build.mjs (`npm ci` runs it as the `prepare` script, `npm pack` too).
//
// build/<hash>/ holds one build, <hash> being the SHA-256 (first 16 hex digits) of everything the build is made of:
// every file under src/, the bin/ files listed in INPUTS and package.json. A build whose folder is named by the
// current hash is fresh; any other is stale, and bin/ouro.js ignores it. Every file of src/ is an entry point
// (esbuild code splitting: shared code lives once, in build/<hash>/chunks/), so that src/X.ts has a counterpart
// build/<hash>/X.js sharing the CLI's module instances, and so does each Effect module src/ uses
// (build/<hash>/vendor/effect/X.js): src/pipeline/compile.ts points a pipeline file's imports of "ouroboros", of a
// src/ file and of Effect at them, so a pipeline sees the CLI's one Pipeline class and one Effect runtime. effect and
// @effect/* are bundled (tree-shaken: Effect's barrel was the largest start-up cost); every other package stays
// external, loaded from node_modules when imported.
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { effectNamespaces, unbarrelEffect } from "./effect-imports.mjs"

export const ROOT = fileURLToPath(new URL("..", import.meta.url))
const INPUTS = ["bin/build.mjs", "bin/bundle.mjs", "bin/effect-imports.mjs", "bin/root.mjs", "package.json"]

const listFiles = (dir) =>
  readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []))

/** The hash naming the build of the sources as they are now. */
export const sourceHash = (root = ROOT) => {
  const h = createHash("sha256")
  for (const file of [...listFiles(join(root, "src")), ...INPUTS.map((f) => join(root, f))]) {
    const bytes = existsSync(file) ? readFileSync(file) : Buffer.alloc(0)
    h.update(`${relative(root, file)}\0${bytes.length}\0`)
    h.update(bytes)
  }
  return h.digest("hex").slice(0, 16)
}

export const bundleDir = (hash = sourceHash(), root = ROOT) => join(root, "build", hash)

/** Size and modification time of every file the hash covers: what the quick freshness check compares. */
const stamps = (root) =>
  [...listFiles(join(root, "src")), ...INPUTS.map((f) => join(root, f))]
    .map((file) => {
      try {
        const s = statSync(file)
        return `${relative(root, file)}\0${s.size}\0${s.mtimeMs}`
      } catch {
        return `${relative(root, file)}\0-`
      }
    })
    .join("\n")

const writeAtomic = (file, text) => {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, text)
  renameSync(tmp, file)
}

/**
 * The fresh build's folder, or undefined when there is none (never built, or built from other sources). Quick
 * path: a build whose `stamps` (sizes and modification times of its inputs, recorded when it was last found fresh)
 * are those of now, which costs a stat per file. Else the content hash decides, and a build it finds fresh records
 * today's stamps (after a checkout or an install that touched the files but not their content). An edit that kept a
 * file's size and modification time to the millisecond would go unseen by the quick path: `npm run build` then.
 */
export const freshBundle = (root = ROOT) => {
  const parent = join(root, "build")
  let names
  try {
    names = readdirSync(parent).filter((n) => /^[0-9a-f]{16}$/.test(n))
  } catch {
    return undefined
  }
  if (names.length === 0) return undefined
  const now = stamps(root)
  for (const name of names) {
    try {
      if (readFileSync(join(parent, name, "stamps"), "utf8") === now) return join(parent, name)
    } catch {
      // no stamps yet: the hash decides
    }
  }
  const dir = bundleDir(sourceHash(root), root)
  if (!existsSync(join(dir, "complete"))) return undefined
  try {
    writeAtomic(join(dir, "stamps"), now)
  } catch {
    // a read-only install: every start hashes
  }
  return dir
}

/**
 * The Effect modules a pipeline file gets from the bundle (vendor/effect/X.js, the CLI's own instances): those that
 * src/ imports, and a few more that pipelines use. Each is included whole (a pipeline may use any of its exports), so
 * each costs the CLI's start-up what tree-shaking would have left out; a module not in this list is loaded from
 * node_modules, a second copy of Effect, whose values the CLI's Effect does not recognise.
 */
const EXTRA_SHARED = ["Data", "Fiber", "Function", "Predicate"]
const shared = (root, entries, namespaces) => {
  const names = new Set(EXTRA_SHARED.filter((n) => namespaces.has(n)))
  for (const { in: file } of entries) {
    const text = readFileSync(file, "utf8")
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"effect"/g)) {
      for (const item of m[1].split(",")) {
        const name = /^\s*(\w+)/.exec(item)?.[1]
        if (name !== undefined && name !== "type" && namespaces.has(name)) names.add(name)
      }
    }
  }
  return [...names].sort()
}

/** Packages bundled into the CLI; every other bare import stays external. */
const BUNDLED = /^(?:effect|@effect\/[^/]+)(?:\/|$)/

/**
 * esbuild plugin: a src/ file's `import.meta.url` and `import.meta.dirname` would be the chunk's once bundled, so
 * they become the source file's own (bin/root.mjs, imported as "#ouro/root", knows where the package is): a worker
 * entry, a wasm kernel, a createRequire next to src/X.ts find what they found unbundled.
 */
const sourceLocation = (root, namespaces) => ({
  name: "ouro-source-location",
  setup(build) {
    build.onResolve({ filter: /^ouro-vendor:/ }, (args) => ({ path: args.path.slice(12), namespace: "ouro-vendor" }))
    build.onLoad({ filter: /.*/, namespace: "ouro-vendor" }, (args) => ({
      contents: `export * from ${JSON.stringify(args.path)}\n`,
      resolveDir: root,
      loader: "js"
    }))
    build.onResolve({ filter: /^[^./#]|^#ouro\/root$/ }, (args) => {
      if (args.path === "#ouro/root") return { path: args.path, external: true }
      if (args.path.startsWith("node:") || !BUNDLED.test(args.path)) return { path: args.path, external: true }
      return undefined
    })
    build.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => {
      const text = unbarrelEffect(readFileSync(args.path, "utf8"), namespaces)
      if (!text.includes("import.meta")) return { contents: text, loader: "ts" }
      const rel = JSON.stringify(relative(root, args.path).split("\\").join("/"))
      const contents = text
        .replaceAll("import.meta.url", `__ouroSourceUrl(${rel})`)
        .replaceAll("import.meta.dirname", `__ouroSourceDir(${rel})`)
        + `\nimport { sourceDir as __ouroSourceDir, sourceUrl as __ouroSourceUrl } from "#ouro/root"\n`
      return { contents, loader: "ts" }
    })
  }
})

/**
 * Builds the bundle into build/<hash>/ (a temporary folder renamed into place, so a half-written build never has
 * the fresh name) and removes older builds. Returns the folder.
 */
export const buildBundle = async (root = ROOT) => {
  const { build } = await import("esbuild")
  // Stamps first: a file edited while this build reads it then fails the quick check, and the hash decides.
  const before = stamps(root)
  const hash = sourceHash(root)
  const dir = bundleDir(hash, root)
  if (existsSync(join(dir, "complete"))) return dir
  const parent = join(root, "build")
  mkdirSync(parent, { recursive: true })
  const tmp = join(parent, `.tmp-${hash}-${process.pid}`)
  rmSync(tmp, { recursive: true, force: true })
  const entries = listFiles(join(root, "src"))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => ({ in: f, out: relative(join(root, "src"), f).replace(/\.ts$/, "") }))
  const namespaces = effectNamespaces(root)
  const vendor = [...shared(root, entries, namespaces)].map((n) => ({
    in: `ouro-vendor:effect/${n}`,
    out: `vendor/effect/${n}`
  }))
  const built = await build({
    // OURO_METAFILE=path: esbuild's metafile written there, to see what the CLI's start-up loads and why.
    metafile: process.env.OURO_METAFILE !== undefined,
    absWorkingDir: root,
    entryPoints: [...entries, ...vendor],
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    keepNames: true,
    chunkNames: "chunks/[name]-[hash]",
    define: { __OURO_BUILD__: JSON.stringify(hash) },
    tsconfig: join(root, "tsconfig.json"),
    logLevel: "warning",
    plugins: [sourceLocation(root, namespaces)]
  })
  if (built.metafile !== undefined) writeFileSync(process.env.OURO_METAFILE, JSON.stringify(built.metafile))
  writeFileSync(join(tmp, "vendor", "namespaces.json"), `${JSON.stringify([...namespaces].sort())}\n`)
  writeFileSync(join(tmp, "stamps"), before)
  writeFileSync(join(tmp, "complete"), `${hash}\n`)
  try {
    renameSync(tmp, dir)
  } catch (e) {
    // Another process built the same sources first: theirs is as good.
    rmSync(tmp, { recursive: true, force: true })
    if (!existsSync(join(dir, "complete"))) throw e
  }
  // Older builds go, and temporary folders of builds that died more than an hour ago.
  for (const other of readdirSync(parent)) {
    const path = join(parent, other)
    const dead = other.startsWith(".tmp-") && Date.now() - statSync(path).mtimeMs > 3_600_000
    if (other !== hash && (!other.startsWith(".tmp-") || dead)) rmSync(path, { recursive: true, force: true })
  }
  return dir
}
