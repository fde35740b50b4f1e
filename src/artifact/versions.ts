/** Versions of the packages whose code shapes stored bytes, read once from their package.json. */
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)

export const packageVersion = (name: string): string =>
  (require(`${name}/package.json`) as { readonly version: string }).version
