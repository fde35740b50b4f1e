/**
 * Module resolution hooks (node:module `register`), chained in front of tsx's: pipeline files are ES module
 * TypeScript wherever they live. Node (and tsx after it) takes a file's module format from the nearest package.json,
 * so a `.ts` file in a directory without one, or in a package that declares no "type", would load as CommonJS, and
 * its imports of ouroboros then resolve with CommonJS conditions (which some dependencies do not export). Here a
 * `.ts`/`.tsx` file loads as an ES module unless its package says `"type": "commonjs"` in so many words; `.cts`
 * files and JavaScript keep Node's rules.
 */
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const TYPESCRIPT = /\.(?:ts|tsx)$/

/** The "type" the nearest package.json above `dir` declares (undefined: none does), by directory. */
const declared = new Map()
const declaredType = (dir) => {
  if (declared.has(dir)) return declared.get(dir)
  let type
  let text
  try {
    text = readFileSync(join(dir, "package.json"), "utf8")
  } catch {
    text = undefined
  }
  if (text !== undefined) {
    try {
      const json = JSON.parse(text)
      type = typeof json?.type === "string" ? json.type : undefined
    } catch {
      type = undefined
    }
  } else {
    const parent = dirname(dir)
    type = parent === dir ? undefined : declaredType(parent)
  }
  declared.set(dir, type)
  return type
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  if (resolved.format !== "commonjs" && resolved.format != null) return resolved
  if (!resolved.url.startsWith("file:")) return resolved
  const path = fileURLToPath(new URL(resolved.url).href.replace(/[?#].*$/, ""))
  if (!TYPESCRIPT.test(path) || path.includes("/node_modules/")) return resolved
  if (declaredType(dirname(path)) === "commonjs") return resolved
  return { ...resolved, format: "module" }
}
