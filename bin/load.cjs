// Loads a build's bundle (build/<hash>/ouro.cjs, see bundle.mjs) once per thread and returns its modules: a loader
// per src/ and shared Effect module, which runs that module the first time it is called. The bundle is compiled with
// V8's code cache (build/<hash>/ouro.v8cache): parsing and compiling the CLI's JavaScript was most of every
// command's start-up, and Node 20 caches no code of its own. The first run writes the cache as it exits, with the
// functions that ran compiled; a read-only install keeps it in the user's cache folder instead
// ($XDG_CACHE_HOME/ouroboros/code/<hash>.v8cache). A cache V8 rejects (another Node) is written anew.
"use strict"
const { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require("node:fs")
const Module = require("node:module")
const { homedir, tmpdir } = require("node:os")
const { basename, dirname, join } = require("node:path")
const vm = require("node:vm")
const { isMainThread } = require("node:worker_threads")

/** Writes `bytes` at `file` atomically (a temporary file, then a rename); false when it cannot. */
const writeAtomic = (file, bytes) => {
  const tmp = `${file}.${process.pid}.tmp`
  try {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(tmp, bytes)
    renameSync(tmp, file)
    return true
  } catch {
    rmSync(tmp, { force: true })
    return false
  }
}

/** Where a build's code cache may be: in the build, else (a read-only install) in the user's cache folder. */
const cachePlaces = (dir) => {
  const base = process.env.XDG_CACHE_HOME || (homedir() !== "" ? join(homedir(), ".cache") : tmpdir())
  return [join(dir, "ouro.v8cache"), join(base, "ouroboros", "code", `${basename(dir)}.v8cache`)]
}

/**
 * import() for the bundle (its banner's `__ouroSource.import`): a script compiled from V8's code cache has lost its
 * import() callback, so the bundle imports through this module's. Specifiers are absolute or bare; a bare one
 * resolves here as from the bundle, both being in the package.
 */
exports.importModule = (spec) => import(spec)

exports.load = (dir) => {
  const key = Symbol.for(`ouroboros.bundle:${dir}`)
  if (globalThis[key] !== undefined) return globalThis[key]
  const file = join(dir, "ouro.cjs")
  const places = cachePlaces(dir)
  const source = Module.wrap(readFileSync(file, "utf8"))
  let script
  let cached = false
  for (const place of places) {
    let cachedData
    try {
      cachedData = readFileSync(place)
    } catch {
      continue // not written there (yet)
    }
    script = new vm.Script(source, { filename: file, cachedData })
    cached = !script.cachedDataRejected
    if (cached) break
  }
  script ??= new vm.Script(source, { filename: file })
  if (isMainThread && !cached) {
    process.once("exit", () => {
      const bytes = script.createCachedData()
      places.some((place) => writeAtomic(place, bytes))
    })
  }
  const module = { exports: {} }
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, dir)
  globalThis[key] = module.exports.modules
  return globalThis[key]
}
