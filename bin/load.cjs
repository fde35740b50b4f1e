// Loads a build's bundle (build/<hash>/ouro.cjs, see bundle.mjs) once per thread and returns its modules: a loader
// per src/ and shared Effect module, which runs that module the first time it is called. The bundle is compiled with
// V8's code cache (build/<hash>/ouro.v8cache): parsing and compiling 2.5 MB of JavaScript was most of every
// command's start-up, and Node 20 caches no code of its own. The first run writes the cache as it exits, with the
// functions that run compiled; a build folder that cannot be written to only goes without.
"use strict"
const { readFileSync, renameSync, rmSync, writeFileSync } = require("node:fs")
const Module = require("node:module")
const { join } = require("node:path")
const vm = require("node:vm")
const { isMainThread } = require("node:worker_threads")

const writeCache = (file, script) => {
  const tmp = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, script.createCachedData())
    renameSync(tmp, file)
  } catch {
    rmSync(tmp, { force: true })
  }
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
  const cacheFile = join(dir, "ouro.v8cache")
  let cachedData
  try {
    cachedData = readFileSync(cacheFile)
  } catch {
    // not written yet
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, "utf8")), {
    filename: file,
    cachedData
  })
  if (isMainThread && (cachedData === undefined || script.cachedDataRejected)) {
    process.once("exit", () => writeCache(cacheFile, script))
  }
  const module = { exports: {} }
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, dir)
  globalThis[key] = module.exports.modules
  return globalThis[key]
}
