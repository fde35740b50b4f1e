#!/usr/bin/env node
// The `ouro` command. It runs the bundled CLI (build/<hash>/cli/main.js, see bundle.mjs) when that build is fresh,
// that is, built from the sources as they are now (the hash of src/ names it). Missing or stale, it is built here
// first (about 3 s, once) when esbuild is installed and build/ is writable; when it cannot be, ouro runs from the
// TypeScript sources through tsx, slower to start but the same program. OURO_STARTUP=source forces that path.
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { quickFresh } from "./fresh.mjs"

const fromSource = async () => {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/cli/main.ts")
}

/** The fresh build: found by the quick check (a stat per file), else by bundle.mjs (the content hash, or a build). */
const bundled = async () => {
  const quick = quickFresh()
  if (quick !== undefined) return quick
  const { buildBundle, freshBundle } = await import("./bundle.mjs")
  try {
    return freshBundle() ?? (await buildBundle())
  } catch {
    return undefined
  }
}

const dir = process.env.OURO_STARTUP === "source" ? undefined : await bundled()
if (dir === undefined) await fromSource()
else await import(pathToFileURL(join(dir, "cli", "main.js")).href)
