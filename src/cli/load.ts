/** Loads a pipeline file: a TypeScript or JavaScript module whose default export is a Pipeline. */
import { stat } from "node:fs/promises"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { tsImport } from "tsx/esm/api"
import { PipelineInvalid, PipelineLoadError } from "../errors/index.ts"
import { isPipeline, type Pipeline } from "../pipeline/pipeline.ts"

export const loadPipeline = (file: string): Effect.Effect<Pipeline, PipelineLoadError | PipelineInvalid> =>
  Effect.gen(function*() {
    const path = resolve(file)
    const found = yield* Effect.promise(() => stat(path).then((s) => s.isFile(), () => false))
    if (!found) return yield* new PipelineLoadError({ file, detail: "no such pipeline file" })
    const module = yield* Effect.tryPromise({
      // tsImport loads the file as an ES module wherever it lives (outside a "type": "module" package too).
      try: () => tsImport(pathToFileURL(path).href, import.meta.url) as Promise<Record<string, unknown>>,
      catch: (e) =>
        e instanceof PipelineInvalid
          ? e
          : new PipelineLoadError({ file, detail: `failed to load: ${firstLine(e)}` })
    })
    // A .ts file outside a "type": "module" package loads as CommonJS, where the ES default export is nested.
    const nested = module.default as Record<string, unknown> | undefined
    const candidate = isPipeline(module.default) ? module.default : nested?.default
    if (!isPipeline(candidate)) {
      return yield* new PipelineLoadError({
        file,
        detail: "does not default-export a pipeline (write `export default Pipeline.make(\"name\", (p) => ...)`)"
      })
    }
    return candidate
  })

const firstLine = (e: unknown): string => {
  const text = e instanceof Error ? e.message : String(e)
  return text.split("\n").find((l) => l.trim() !== "")?.trim() ?? text
}
