/**
 * The ouroboros a cluster process runs, as one string: the package version and a digest of its own source
 * (src/, bin/, package.json). A submitter and a worker must agree on it exactly, or the worker refuses the task: a
 * stage computed by other code would be recorded under a key that does not describe it.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { sha256 } from "../hash/index.ts"

/** The ouroboros package's root directory (where its package.json is). */
export const packageRoot = (): string => fileURLToPath(new URL("../../", import.meta.url))

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []
  )

let cached: string | undefined

/** "0.1.0+<12 hex of the source digest>". */
export const ouroborosVersion = (): string => {
  if (cached !== undefined) return cached
  const root = packageRoot()
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: string }
  const files = [join(root, "package.json"), ...filesUnder(join(root, "src")), ...filesUnder(join(root, "bin"))]
  const lines = files.map((f) => `${relative(root, f)} ${sha256(readFileSync(f))}`).sort()
  cached = `${pkg.version ?? "unknown"}+${sha256(lines.join("\n")).slice(0, 12)}`
  return cached
}
