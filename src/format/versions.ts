/** Versions of the packages whose code shapes stored bytes, read from their package.json. */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"

const require = createRequire(import.meta.url)

/** Walks up from the package's entry point: some packages (parquet-wasm) do not export their package.json. */
export const packageVersion = (name: string): string => {
  let dir = dirname(require.resolve(name))
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string }
      if (pkg.name === name && typeof pkg.version === "string") return pkg.version
    } catch {
      // no package.json at this level: keep walking up
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`cannot find the version of package ${name}`)
    dir = parent
  }
}
