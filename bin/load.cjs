// Loads a build's bundle (build/<hash>/ouro.cjs, see bundle.mjs) once per thread and returns its modules: a loader
// per src/ and shared Effect module, which runs that module the first time it is called. The bundle is compiled with
// V8's code cache (build/<hash>/ouro.v8cache): parsing and compiling the CLI's JavaScript was most of every
// command's start-up, and Node 20 caches no code of its own. The first run writes the cache as it exits, with the
// functions that ran compiled; a read-only install keeps it in the user's cache folder instead
// ($XDG_CACHE_HOME/ouroboros/code/<hash>.v8cache). A cache V8 rejects (another Node) is written anew. Beside it,
// ouro.v8cache.commands lists the commands whose code it holds: the first `ouro run` after an `ouro --help` writes it
// again, with both commands' functions (what a process takes from the cache stays compiled), and so on once per
// command, so no command compiles its own code at every start.
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

/**
 * The command this process runs, as the cache counts them: its first argument that reads as a command name ("run",
 * "plan"), else a leading flag ("--help"), else none. Paths are no commands; a flag's bare lower-case value before
 * the command (a store name) does count as one, which costs at most one more rewrite of the cache.
 */
const commandOf = (args) => args.find((a) => /^[a-z][a-z0-9-]*$/.test(a)) ?? (args[0]?.startsWith("-") ? args[0] : "")

/**
 * The commands whose code the cache at `place` (of `bytes` bytes) holds. The list's first line is the size of the
 * cache it was written with: a list beside another cache (two processes wrote at once) counts as none.
 */
const commandsAt = (place, bytes) => {
  try {
    const [size, ...commands] = readFileSync(`${place}.commands`, "utf8").split("\n").filter((c) => c !== "")
    return Number(size) === bytes ? commands : []
  } catch {
    return []
  }
}

exports.load = (dir) => {
  const key = Symbol.for(`ouroboros.bundle:${dir}`)
  if (globalThis[key] !== undefined) return globalThis[key]
  const file = join(dir, "ouro.cjs")
  const places = cachePlaces(dir)
  const source = Module.wrap(readFileSync(file, "utf8"))
  let script
  let accepted // the place whose cache V8 took, and its size
  let acceptedBytes = 0
  for (const place of places) {
    let cachedData
    try {
      cachedData = readFileSync(place)
    } catch {
      continue // not written there (yet)
    }
    script = new vm.Script(source, { filename: file, cachedData })
    if (!script.cachedDataRejected) {
      accepted = place
      acceptedBytes = cachedData.length
      break
    }
  }
  script ??= new vm.Script(source, { filename: file })
  const command = commandOf(process.argv.slice(2))
  const covered = accepted === undefined ? [] : commandsAt(accepted, acceptedBytes)
  if (isMainThread && (accepted === undefined || (command !== "" && !covered.includes(command)))) {
    process.once("exit", () => {
      const bytes = script.createCachedData()
      const commands = [bytes.length, ...covered, command].filter((c) => c !== "").join("\n") + "\n"
      const order = accepted === undefined ? places : [accepted, ...places.filter((p) => p !== accepted)]
      order.some((place) => writeAtomic(place, bytes) && writeAtomic(`${place}.commands`, commands))
    })
  }
  const module = { exports: {} }
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, dir)
  globalThis[key] = module.exports.modules
  return globalThis[key]
}
