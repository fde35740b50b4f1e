#!/usr/bin/env node
// Builds the bundled CLI into build/<hash>/ (see bundle.mjs). Run by `npm ci` (the `prepare` script) and `npm pack`
// (`prepack`); bin/ouro.js also builds on its own when the build is missing or stale and it can write build/.
import { relative } from "node:path"
import { buildBundle, freshBundle, ROOT } from "./bundle.mjs"

const started = performance.now()
const fresh = freshBundle()
if (fresh !== undefined) {
  console.error(`ouro: ${relative(ROOT, fresh)} is up to date`)
} else {
  const dir = await buildBundle()
  console.error(`ouro: built ${relative(ROOT, dir)} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
