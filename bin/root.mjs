// Where the package is, for the bundled CLI (build/<hash>/): a src/ file's `import.meta.url` and `import.meta.dirname`
// are rewritten at build time (bin/bundle.mjs) to these, so they name the source file as they did unbundled.
// Imported as "#ouro/root" (package.json "imports"), which resolves the same from any chunk.
import { fileURLToPath } from "node:url"

const ROOT = new URL("..", import.meta.url)

/** The file URL of `rel` (a path relative to the package root), as `import.meta.url` in that file gives it. */
export const sourceUrl = (rel) => new URL(rel, ROOT).href

/** The directory of `rel`, as `import.meta.dirname` in that file gives it. */
export const sourceDir = (rel) => fileURLToPath(new URL(".", new URL(rel, ROOT))).replace(/\/$/, "")
