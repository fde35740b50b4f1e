/** Loads a pipeline file: a TypeScript or JavaScript module whose default export is a Pipeline. */
import { stat } from "node:fs/promises"
import { register } from "node:module"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { describe, PipelineInvalid, PipelineLoadError } from "../errors/index.ts"
import { whileDefining } from "./defining.ts"
import { isPipeline, type Pipeline } from "./pipeline.ts"

/** The build's name (its source hash) in the bundled CLI (bin/bundle.mjs defines it); undefined running from source. */
declare const __OURO_BUILD__: string | undefined

/**
 * Pipeline files are ES module TypeScript wherever they live: the hooks in esm-hooks.mjs, chained in front of tsx's
 * (which whoever runs this TypeScript has registered: `node --import tsx`, bin/ouro.js running from source), say so
 * whatever the nearest package.json says. Registered once per thread, on the first load. The bundled CLI has neither
 * tsx nor hooks: it compiles the pipeline file with esbuild (compile.ts) and imports the result.
 */
let hooked = false
const ensureHooks = () => {
  if (hooked) return
  register(new URL("./esm-hooks.mjs", import.meta.url))
  hooked = true
}

/** The URL to import for the pipeline file at `path`. */
const moduleUrl = async (path: string): Promise<string> => {
  if (typeof __OURO_BUILD__ === "string") {
    const { compilePipeline } = await import("./compile.ts")
    return compilePipeline(path, __OURO_BUILD__)
  }
  ensureHooks()
  return pathToFileURL(path).href
}

export interface LoadOptions {
  /**
   * The file its relative paths (a seed file) are relative to, when that is not `file` itself: a cluster worker
   * loads a copy of the submitter's pipeline file, whose data paths are the original's.
   */
  readonly definedAt?: string
}

export const loadPipeline = (
  file: string,
  options: LoadOptions = {}
): Effect.Effect<Pipeline, PipelineLoadError | PipelineInvalid> =>
  Effect.gen(function*() {
    const path = resolve(file)
    const found = yield* Effect.promise(() => stat(path).then((s) => s.isFile(), () => false))
    if (!found) return yield* new PipelineLoadError({ file, detail: "no such pipeline file" })
    const module = yield* Effect.tryPromise({
      // A plain import: the pipeline shares this process's ouroboros modules (one copy, one PipelineInvalid class).
      // While it evaluates, its stages resolve relative paths (a seed file) against its directory.
      try: () =>
        moduleUrl(path).then((url) =>
          whileDefining(options.definedAt ?? path, () => import(url) as Promise<Record<string, unknown>>)
        ),
      catch: (e) => (e instanceof PipelineInvalid ? e : loadFailure(file, e))
    })
    if (!isPipeline(module.default)) {
      return yield* new PipelineLoadError({
        file,
        detail: "does not default-export a pipeline (write `export default Pipeline.make(\"name\", (p) => ...)`)"
      })
    }
    return module.default
  })

/**
 * esbuild's compile errors arrive as "Transform failed with N errors:\nFILE:LINE:COL: ERROR: TEXT\n..." (thrown in
 * the loader thread, so only the message survives; the bundled CLI's compile.ts: "Build failed with ..."): the first of them as FILE:LINE:COL: TEXT, which names the file
 * that does not compile (the pipeline file or one it imports). Anything else: its first line.
 */
const loadFailure = (file: string, e: unknown): PipelineLoadError => {
  const text = describe(e)
  const lines = text.split("\n")
  const compile = lines.map((l) => /^(.+):(\d+):(\d+): ERROR: (.*)$/.exec(l.trim())).find((m) => m !== null)
  if (compile != null) {
    const more = lines.filter((l) => / ERROR: /.test(l)).length - 1
    // The pipeline file as the user named it; a file it imports as esbuild names it.
    const where = resolve(compile[1]) === resolve(file) ? file : compile[1]
    return new PipelineLoadError({
      file: `${where}:${compile[2]}:${compile[3]}`,
      detail: `${compile[4]}${more > 0 ? ` (and ${more} more error${more === 1 ? "" : "s"})` : ""}`
    })
  }
  const first = lines.find((l) => l.trim() !== "")?.trim() ?? text
  return new PipelineLoadError({ file, detail: `failed to load: ${first}` })
}
