// Effect's barrel ("effect") and the modules behind it, for the bundle (bin/bundle.mjs) and the pipeline loader
// (src/pipeline/esm-hooks.mjs), which both rewrite barrel imports into imports of the modules themselves.
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"

/** The names Effect's barrel ("effect") exports as whole modules: `export * as Effect from "./Effect.js"`. */
export const effectNamespaces = (root) => {
  const index = readFileSync(createRequire(join(root, "package.json")).resolve("effect"), "utf8")
  return new Set(
    [...index.matchAll(/export \* as (\w+) from "\.\/(\w+)\.js"/g)].filter((m) => m[1] === m[2]).map((m) => m[1])
  )
}

/**
 * `import { Effect, Schema, type Layer } from "effect"` as `import * as Effect from "effect/Effect"; ...`: the same
 * bindings, without the barrel. Bundled, the barrel would put every Effect module in the CLI's chunks (1 MB more to
 * load); a pipeline file importing the barrel would load them all. Left as it is when a name is not a whole module.
 */
export const unbarrelEffect = (text, namespaces) =>
  text.replace(/import\s*\{([^}]*)\}\s*from\s*["']effect["']/g, (all, list) => {
    const values = []
    const types = []
    for (const item of list.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
      const m = /^(type\s+)?(\w+)(?:\s+as\s+(\w+))?$/.exec(item)
      if (m === null) return all
      if (m[1] !== undefined) types.push(item.replace(/^type\s+/, ""))
      else if (namespaces.has(m[2])) values.push(`import * as ${m[3] ?? m[2]} from "effect/${m[2]}"`)
      else return all
    }
    return [...(types.length > 0 ? [`import type { ${types.join(", ")} } from "effect"`] : []), ...values].join("; ")
  })
