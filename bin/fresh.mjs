// Whether a build is fresh, the quick way: what bin/ouro.js asks at every start, so it imports nothing but node:fs and
// node:path (bundle.mjs, which can also hash and build, costs a start-up more to import). See bundle.mjs.
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("..", import.meta.url))

/** The files besides src/ that a build is made of. */
export const INPUTS = [
  "bin/build.mjs",
  "bin/bundle.mjs",
  "bin/effect-imports.mjs",
  "bin/fresh.mjs",
  "bin/load.cjs",
  "package.json"
]

const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/** The files under `root`/`rel`, as paths relative to `root` with "/" separators, in name order. */
const listUnder = (root, rel, out) => {
  for (const e of readdirSync(join(root, rel), { withFileTypes: true }).sort(byName)) {
    const path = `${rel}/${e.name}`
    if (e.isDirectory()) listUnder(root, path, out)
    else if (e.isFile()) out.push(path)
  }
  return out
}

/** Every file a build is made of, relative to `root`: src/ in name order, then INPUTS. */
export const buildInputs = (root) => [...listUnder(root, "src", []), ...INPUTS]

/** Size and modification time of every file the build hash covers: what the quick check compares. */
export const stamps = (root) =>
  buildInputs(root)
    .map((rel) => {
      const s = statSync(join(root, rel), { throwIfNoEntry: false })
      return s === undefined ? `${rel}\0-` : `${rel}\0${s.size}\0${s.mtimeMs}`
    })
    .join("\n")

/** The build folders under `root`/build. */
export const buildNames = (root) => {
  try {
    return readdirSync(join(root, "build")).filter((n) => /^[0-9a-f]{16}$/.test(n))
  } catch {
    return []
  }
}

/**
 * The build whose `stamps` (recorded when it was last found fresh) are those of now, or undefined: then
 * bundle.mjs's freshBundle lets the content hash decide.
 */
export const quickFresh = (root = ROOT, now = stamps(root)) => {
  for (const name of buildNames(root)) {
    try {
      if (readFileSync(join(root, "build", name, "stamps"), "utf8") === now) return join(root, "build", name)
    } catch {
      // no stamps yet
    }
  }
  return undefined
}
