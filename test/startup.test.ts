/**
 * How `ouro` starts (bin/ouro.js, bin/bundle.mjs, src/pipeline/compile.ts): the bundle is what runs, a build is
 * fresh exactly for the sources it was built from, and a compiled pipeline is reused only while every file that went
 * into it is unchanged.
 */
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { pathToFileURL } from "node:url"
import { ouro, ROOT, tempDir } from "./support/cli.ts"

interface BundleModule {
  readonly freshBundle: (root?: string) => string | undefined
  readonly buildBundle: (root?: string) => Promise<string>
}
const bundle = (await import(pathToFileURL(join(ROOT, "bin", "bundle.mjs")).href)) as BundleModule

describe("the bundled CLI", () => {
  it("is what bin/ouro.js runs: after a command, the build of the sources as they are exists", () => {
    const r = ouro(ROOT, "--help")
    assert.equal(r.code, 0, r.stderr)
    const dir = bundle.freshBundle(ROOT)
    assert.ok(dir !== undefined, "no fresh build after running ouro")
    assert.ok(existsSync(join(dir, "cli", "main.js")))
    assert.ok(existsSync(join(dir, "ouro.cjs")), "no bundle for the code cache")
    // effect/cli's Intl.Segmenter (17 ms at load) is built on first use: bundle.mjs's rewrite still applies.
    assert.match(readFileSync(join(dir, "ouro.cjs"), "utf8"), /graphemeSegmenter\(\)\.segment\(/)
    assert.ok(existsSync(join(dir, "engine", "worker.js")), "stage workers have no bundled entry")
  })

  it("is fresh for the sources it was built from, stale after an edit, fresh again after a touch", async () => {
    const copy = mkdtempSync(join(tmpdir(), "ouro-bundle-"))
    try {
      for (const part of ["src", "bin", "package.json", "tsconfig.json"]) {
        cpSync(join(ROOT, part), join(copy, part), { recursive: true })
      }
      symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir")
      assert.equal(bundle.freshBundle(copy), undefined, "a copy never built has no fresh build")
      const built = await bundle.buildBundle(copy)
      assert.equal(bundle.freshBundle(copy), built)

      // Touched, same content: still fresh (the content hash decides when the stamps differ).
      const file = join(copy, "src", "hash", "index.ts")
      const later = new Date(Date.now() + 5_000)
      utimesSync(file, later, later)
      assert.equal(bundle.freshBundle(copy), built)

      // Edited: stale, and a new build replaces the old one.
      writeFileSync(file, `${readFileSync(file, "utf8")}\n// edited\n`)
      assert.equal(bundle.freshBundle(copy), undefined, "an edited source still counts as built")
      const rebuilt = await bundle.buildBundle(copy)
      assert.notEqual(rebuilt, built)
      assert.equal(bundle.freshBundle(copy), rebuilt)
      assert.deepEqual(readdirSync(join(copy, "build")), [rebuilt.split("/").at(-1)])

      // V8's code cache: the first command writes it, the next ones read it; one V8 rejects (another Node, a torn
      // file) only costs a compile, and is written anew.
      const help = () => spawnSync(process.execPath, [join(copy, "bin", "ouro.js"), "--help"], { encoding: "utf8" })
      const codeCache = join(rebuilt, "ouro.v8cache")
      assert.equal(existsSync(codeCache), false)
      const first = help()
      assert.equal(first.status, 0, first.stderr)
      assert.ok(existsSync(codeCache), "the first command wrote no code cache")
      const written = readFileSync(codeCache)
      const second = help()
      assert.equal(second.stdout, first.stdout)
      assert.deepEqual(readFileSync(codeCache), written, "an accepted cache was written again")
      writeFileSync(codeCache, "not a code cache")
      const third = help()
      assert.equal(third.status, 0, third.stderr)
      assert.equal(third.stdout, first.stdout)
      assert.notEqual(readFileSync(codeCache, "utf8"), "not a code cache", "a rejected cache was kept")

      // A command the cache has not seen writes it again, holding that command's code as well as the others'; a
      // command it has seen leaves it be.
      const commands = () => readFileSync(`${codeCache}.commands`, "utf8").trim().split("\n")
      const [helpSize, ...helpCommands] = commands()
      assert.deepEqual(helpCommands, ["--help"])
      assert.equal(Number(helpSize), readFileSync(codeCache).length)
      const status = () =>
        spawnSync(process.execPath, [join(copy, "bin", "ouro.js"), "status"], { cwd: copy, encoding: "utf8" })
      const seen = status()
      assert.match(seen.stderr, /^ouro: /m, "status in a folder without a store says so")
      const [statusSize, ...statusCommands] = commands()
      assert.deepEqual(statusCommands, ["--help", "status"])
      assert.equal(Number(statusSize), readFileSync(codeCache).length)
      assert.ok(Number(statusSize) > Number(helpSize), `the cache lost code: ${helpSize} then ${statusSize} bytes`)
      const kept = readFileSync(codeCache)
      assert.equal(status().stderr, seen.stderr)
      assert.equal(help().stdout, first.stdout)
      assert.deepEqual(readFileSync(codeCache), kept, "a cache that holds the command was written again")
    } finally {
      rmSync(copy, { recursive: true, force: true })
    }
  })
})

describe("a pipeline file, compiled and cached", () => {
  const dir = tempDir("ouro-startup-")
  const cache = mkdtempSync(join(tmpdir(), "ouro-startup-cache-"))
  after(() => {
    rmSync(dir, { recursive: true, force: true })
    rmSync(cache, { recursive: true, force: true })
  })
  const run = (...args: string[]) => {
    const { OURO_STORE: _ignored, ...env } = process.env
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "ouro.js"), ...args], {
      cwd: dir,
      encoding: "utf8",
      env: { ...env, XDG_CACHE_HOME: cache }
    })
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
  }
  const writeHelper = (line: string) =>
    writeFileSync(
      join(dir, "helper.ts"),
      `import { Effect, Schema } from "effect"
import { defineStage, Log } from "ouroboros"

export const note = defineStage({
  kind: "startup/note",
  version: 1,
  params: Schema.Struct({ line: Schema.String }),
  inputs: {},
  outputs: { log: Log },
  run: (p) => Effect.succeed({ log: p.line })
})({ line: ${JSON.stringify(line)} })
`
    )

  it("sees an edit to a module the pipeline imports, though the pipeline file itself did not change", () => {
    writeHelper("first")
    writeFileSync(
      join(dir, "notes.ts"),
      `import { Pipeline } from "ouroboros"
import { note } from "./helper.ts"

export default Pipeline.make("notes", (p) => {
  p.add(note, {}, { name: "note" })
})
`
    )
    const first = run("run", "--quiet", "notes.ts")
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /1 stages, 1 ran, 0 cached/)
    assert.ok(readdirSync(join(cache, "ouroboros", "pipelines")).some((f) => f.endsWith(".mjs")), "nothing cached")

    const again = run("run", "--quiet", "notes.ts")
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /1 stages, 0 ran, 1 cached/)

    writeHelper("second")
    const edited = run("run", "--quiet", "notes.ts")
    assert.equal(edited.code, 0, edited.stderr)
    assert.match(edited.stdout, /1 stages, 1 ran, 0 cached/, "the cached compile of the old helper was reused")
    const shown = run("show", "notes/note")
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(shown.stdout, /second/)
  })

  it("reports a syntax error in an imported module as FILE:LINE:COL, one line", () => {
    writeFileSync(join(dir, "helper.ts"), `export const note = (;\n`)
    const r = run("plan", "notes.ts")
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^ouro: \S*helper\.ts:1:21: Unexpected ";"\n$/)
  })
})
