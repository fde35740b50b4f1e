#!/usr/bin/env node
// The formatter: dprint's TypeScript plugin (wasm, from npm) driven by @dprint/formatter, with the settings in
// dprint.json. `node bin/format.mjs` rewrites files; `--check` lists the ones not formatted and exits 1. The dprint
// CLI package is not used: its platform binaries are not all on every registry, and `npm ci` would refuse the lock.
import { readFileSync, readdirSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join, relative } from "node:path"
import { createFromBuffer } from "@dprint/formatter"

const root = join(import.meta.dirname, "..")
const config = JSON.parse(readFileSync(join(root, "dprint.json"), "utf8"))
const require = createRequire(import.meta.url)
const formatter = createFromBuffer(readFileSync(require.resolve("@dprint/typescript/plugin.wasm")))
formatter.setConfig({ lineWidth: config.lineWidth, indentWidth: config.indentWidth }, config.typescript)

const FOLDERS = ["src", "test", "bench", "pipelines", "bin"]
const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|mjs|js)$/.test(e.name) ? [join(dir, e.name)] : []
  )

const check = process.argv.includes("--check")
const unformatted = []
for (const file of FOLDERS.flatMap((f) => files(join(root, f)))) {
  const text = readFileSync(file, "utf8")
  const formatted = formatter.formatText({ filePath: file, fileText: text })
  if (formatted === text) continue
  unformatted.push(relative(root, file))
  if (!check) writeFileSync(file, formatted)
}
if (check && unformatted.length > 0) {
  console.error(`not formatted (run npm run format):\n  ${unformatted.join("\n  ")}`)
  process.exit(1)
}
console.log(check ? "formatted: every file" : `formatted ${unformatted.length} files`)
