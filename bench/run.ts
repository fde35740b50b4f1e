/**
 * `npm run bench`: every benchmark, one after another, each in its own process so none inherits another's heap.
 * `npm run bench -- io cached-rerun` runs only those.
 */
import { spawnSync } from "node:child_process"
import { join, resolve } from "node:path"

const ROOT = resolve(import.meta.dirname, "..")
const ALL = ["io", "ngram", "cached-rerun", "experiment", "theory", "train", "sample", "command", "remote"]
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL

let failed = false
for (const name of chosen) {
  if (!ALL.includes(name)) {
    console.error(`bench: unknown benchmark ${name} (have: ${ALL.join(", ")})`)
    process.exit(2)
  }
  console.log(`\n=== bench/${name} ===`)
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "bench", `${name}.ts`)], {
    stdio: "inherit",
    cwd: ROOT
  })
  if (r.status !== 0) failed = true
}
process.exit(failed ? 1 : 0)
