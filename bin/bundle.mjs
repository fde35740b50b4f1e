// The bundled CLI: where it lives, whether it is fresh, and how it is built (esbuild). Used by bin/ouro.js at start-up
// (`freshBundle`: a stat per source file, the content hash when those differ from the build's record; `buildBundle`
// when there is no fresh build) and by bin/build.mjs (`npm ci` runs it as the `prepare` script, `npm pack` too).
//
// build/<hash>/ holds one build, <hash> being the SHA-256 (first 16 hex digits) of everything the build is made of:
// every file under src/, the bin/ files listed in INPUTS and package.json. A build whose folder is named by the
// current hash is fresh; any other is stale, and bin/ouro.js ignores it. A build is:
// - ouro.cjs, one CommonJS file holding every src/ module, Effect and the small ES-module-only packages src/ imports
//   (BUNDLED). Its export is a loader per module (esbuild makes each module a lazy initialiser, run on first use),
//   so one file can be compiled with V8's code cache (bin/load.cjs; Node 20 caches no ES module's code, and
//   compiling 1.8 MB of ES modules was most of every command's start-up). Every other package is external,
//   require()d from node_modules when a module that imports it first runs;
// - build/<hash>/X.js for each src/X.ts, and build/<hash>/vendor/effect/X.js for each Effect module src/ uses: small
//   ES modules that run that module of ouro.cjs and re-export it. bin/ouro.js runs cli/main.js; stage workers start
//   from engine/worker.js; src/pipeline/compile.ts points a pipeline file's imports of "ouroboros", of a src/ file
//   and of Effect at them, so a pipeline sees the CLI's one Pipeline class and one Effect runtime.
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { effectNamespaces, unbarrelEffect } from "./effect-imports.mjs"
import { buildInputs, buildNames, quickFresh, ROOT, stamps } from "./fresh.mjs"

export { ROOT }

/** The hash naming the build of the sources as they are now. */
export const sourceHash = (root = ROOT) => {
  const h = createHash("sha256")
  for (const rel of buildInputs(root)) {
    const file = join(root, rel)
    const bytes = existsSync(file) ? readFileSync(file) : Buffer.alloc(0)
    h.update(`${rel}\0${bytes.length}\0`)
    h.update(bytes)
  }
  return h.digest("hex").slice(0, 16)
}

export const bundleDir = (hash = sourceHash(), root = ROOT) => join(root, "build", hash)

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
  if (buildNames(root).length === 0) return undefined
  const now = stamps(root)
  const quick = quickFresh(root, now)
  if (quick !== undefined) return quick
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

/**
 * Packages bundled into the CLI: Effect (one copy shared with pipeline files) and the small ES-module-only packages
 * src/ imports at its top level, which require() cannot load. Every other package stays external, loaded by
 * require() from node_modules when a module that imports it first runs.
 */
const BUNDLED = /^(?:effect|@effect\/[^/]+|canonicalize|pure-rand)(?:\/|$)/
/**
 * External packages a src/ file imports dynamically that require() cannot load (ES modules with top-level await):
 * they stay `import()`. Every other dynamic import of a package becomes a require(), so that a package and the one
 * it extends (@tensorflow/tfjs-backend-wasm and @tensorflow/tfjs-core) are the same copy, CommonJS's.
 */
const ASYNC_ESM_PACKAGES = "vega|vega-lite"
const ASYNC_ESM = new RegExp(`^(?:${ASYNC_ESM_PACKAGES})(?:/|$)`)
/** An `import(` whose specifier is computed, or one of ASYNC_ESM's packages. */
const DYNAMIC_IMPORT = new RegExp(`\\bimport\\((?=\\s*(?:[^"'\\s]|["'](?:${ASYNC_ESM_PACKAGES})(?:/[^"']*)?["']))`, "g")

/**
 * esbuild plugin for both passes. A src/ file's `import.meta.url`, `.dirname`, `.filename` and `.resolve(...)` would
 * be the bundle's once bundled, so they become the source file's own (functions the bundle's banner defines, which
 * know where the package is): a worker entry, a wasm kernel, a createRequire next to src/X.ts find what they found
 * unbundled. `ouro-registry:` is the bundle's entry: a loader per module (`import()` of it, which esbuild makes a
 * lazy initialiser inside the bundle).
 */
const sourceLocation = (root, namespaces, registry) => ({
  name: "ouro-source-location",
  setup(build) {
    build.onResolve({ filter: /^ouro-(?:vendor|registry):/ }, (args) => ({
      path: args.path.slice(args.path.indexOf(":") + 1),
      namespace: args.path.slice(0, args.path.indexOf(":"))
    }))
    build.onLoad({ filter: /.*/, namespace: "ouro-vendor" }, (args) => ({
      contents: `export * from ${JSON.stringify(args.path)}\n`,
      resolveDir: root,
      loader: "js"
    }))
    build.onLoad({ filter: /.*/, namespace: "ouro-registry" }, () => ({
      contents: `export const modules = {\n${
        registry.map(([name, spec]) => `  ${JSON.stringify(name)}: () => import(${JSON.stringify(spec)}),\n`).join("")
      }}\n`,
      resolveDir: root,
      loader: "js"
    }))
    build.onResolve({ filter: /.*/, namespace: "ouro-require" }, (args) => ({ path: args.path, external: true }))
    build.onLoad({ filter: /.*/, namespace: "ouro-require" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})\n`,
      loader: "js"
    }))
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:") || !BUNDLED.test(args.path)) {
        const required = args.kind === "dynamic-import" && !ASYNC_ESM.test(args.path)
        return required ? { path: args.path, namespace: "ouro-require" } : { path: args.path, external: true }
      }
      return undefined
    })
    build.onLoad({ filter: /[\\/]effect[\\/]dist[\\/]cli[\\/]CliOutput\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8")
      const lazy = lazySegmenter(text)
      return lazy === undefined
        ? {
          contents: text,
          loader: "js",
          warnings: [{ text: "effect/cli's CliOutput changed: its Segmenter stays eager" }]
        }
        : { contents: lazy, loader: "js" }
    })
    build.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => {
      const text = unbarrelEffect(readFileSync(args.path, "utf8"), namespaces)
        // An import() the bundle cannot resolve itself (a computed specifier, a package require() cannot load) is
        // made by bin/load.cjs: V8 loses a script's import() callback when it is compiled from the code cache.
        .replace(DYNAMIC_IMPORT, "__ouroSource.import(")
      if (!text.includes("import.meta")) return { contents: text, loader: "ts" }
      const rel = JSON.stringify(relative(root, args.path).split("\\").join("/"))
      const contents = text
        .replaceAll("import.meta.url", `__ouroSource.url(${rel})`)
        .replaceAll("import.meta.dirname", `__ouroSource.dirname(${rel})`)
        .replaceAll("import.meta.filename", `__ouroSource.filename(${rel})`)
        .replaceAll("import.meta.resolve(", `__ouroSource.resolve(${rel}, `)
      return { contents, loader: "ts" }
    })
  }
})

/**
 * effect/cli's CliOutput builds an Intl.Segmenter as it loads, which costs 17 ms of ICU data on every command, though
 * only help text is ever measured with it: here it is built on first use instead. Undefined when the module no
 * longer reads as expected (then it is bundled as it is, and the build warns).
 */
const lazySegmenter = (text) => {
  const eager = /const graphemeSegmenter = (\/\*#__PURE__\*\/)?new Intl\.Segmenter\(([^;]*)\);/
  const m = eager.exec(text)
  const uses = text.split("graphemeSegmenter.segment(").length - 1
  if (m === null || uses === 0 || text.split("graphemeSegmenter").length - 1 !== uses + 1) return undefined
  return text
    .replace(
      eager,
      `let graphemeSegmenterMade;\nconst graphemeSegmenter = () => (graphemeSegmenterMade ??= new Intl.Segmenter(${
        m[2]
      }));`
    )
    .replaceAll("graphemeSegmenter.segment(", "graphemeSegmenter().segment(")
}

/** The bundle's banner: where the package is (the bundle is build/<hash>/ouro.cjs), for `__ouroSource`. */
const BANNER = `var __ouroSource = (() => {
  const { dirname, join, resolve } = require("node:path")
  const { pathToFileURL } = require("node:url")
  const root = resolve(__dirname, "..", "..")
  const filename = (rel) => join(root, rel)
  return {
    filename,
    dirname: (rel) => dirname(filename(rel)),
    url: (rel) => pathToFileURL(filename(rel)).href,
    resolve: (rel, spec) => pathToFileURL(require("node:module").createRequire(filename(rel)).resolve(spec)).href,
    import: (spec) => require("../../bin/load.cjs").importModule(spec)
  }
})();`

/**
 * build/<hash>/X.js, the ES module standing for the module `name` of the bundle: it runs that module (once per
 * thread: the bundle's loader initialises each module once) and exports what it exports, as constants (no src/ or
 * Effect module exports a `let`).
 */
const shim = (name, names) => {
  const up = "../".repeat(name.split("/").length - 1) || "./"
  const named = names.filter((n) => n !== "default")
  return [
    "// Generated by bin/bundle.mjs: this module of the bundle (ouro.cjs), as an ES module.",
    `import modules from "${up}modules.cjs"`,
    `const m = await modules[${JSON.stringify(name)}]()`,
    // Bound to local names first: an export may be named by a reserved word (Effect's `catch`).
    ...(named.length > 0
      ? [
        `const { ${named.map((n, i) => `${JSON.stringify(n)}: e${i}`).join(", ")} } = m`,
        `export { ${named.map((n, i) => `e${i} as ${n}`).join(", ")} }`
      ]
      : []),
    ...(names.includes("default") ? ["export default m.default"] : []),
    ""
  ].join("\n")
}

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
  const entries = buildInputs(root)
    .filter((rel) => rel.startsWith("src/") && rel.endsWith(".ts") && !rel.endsWith(".d.ts"))
    .map((rel) => ({ in: join(root, rel), out: rel.slice("src/".length).replace(/\.ts$/, "") }))
  const namespaces = effectNamespaces(root)
  const vendor = [...shared(root, entries, namespaces)].map((n) => ({
    in: `ouro-vendor:effect/${n}`,
    out: `vendor/effect/${n}`
  }))
  const common = {
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    target: "node20",
    keepNames: true,
    define: { __OURO_BUILD__: JSON.stringify(hash) },
    tsconfig: join(root, "tsconfig.json"),
    logLevel: "warning"
  }
  // Pass 1, not written: what each module exports (esbuild's metafile has that for ES module entry points).
  const esm = await build({
    ...common,
    entryPoints: [...entries, ...vendor],
    outdir: tmp,
    splitting: true,
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [sourceLocation(root, namespaces, [])]
  })
  const registry = [
    ...entries.map((e) => [e.out, e.in]),
    ...vendor.map((v) => [v.out, v.in.slice("ouro-vendor:".length)])
  ]
  const names = new Set(registry.map(([name]) => name))
  const exportsOf = new Map()
  for (const [out, meta] of Object.entries(esm.metafile.outputs)) {
    const name = relative(tmp, join(root, out)).replace(/\.js$/, "").split("\\").join("/")
    if (names.has(name)) exportsOf.set(name, meta.exports)
  }
  if (exportsOf.size !== names.size) {
    throw new Error(`bundle: no exports found for ${[...names].filter((n) => !exportsOf.has(n))}`)
  }
  // Pass 2: the bundle, one CommonJS file, so that bin/load.cjs can load it with V8's code cache.
  const built = await build({
    ...common,
    // OURO_METAFILE=path: esbuild's metafile also written there, to see what the bundle holds and why.
    metafile: true,
    entryPoints: [{ in: "ouro-registry:modules", out: "ouro" }],
    outdir: tmp,
    outExtension: { ".js": ".cjs" },
    format: "cjs",
    banner: { js: BANNER },
    plugins: [sourceLocation(root, namespaces, registry)]
  })
  if (process.env.OURO_METAFILE !== undefined) writeFileSync(process.env.OURO_METAFILE, JSON.stringify(built.metafile))
  const unresolved = Object.values(built.metafile.outputs)
    .flatMap((o) => o.imports)
    .filter((i) => i.kind === "dynamic-import" && i.external)
  if (unresolved.length > 0) {
    throw new Error(`bundle: import() the bundle cannot make: ${unresolved.map((i) => i.path).join(", ")}`)
  }
  for (const [name, names] of exportsOf) {
    mkdirSync(dirname(join(tmp, name)), { recursive: true })
    writeFileSync(join(tmp, `${name}.js`), shim(name, names))
  }
  writeFileSync(join(tmp, "modules.cjs"), `module.exports = require("../../bin/load.cjs").load(__dirname)\n`)
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
