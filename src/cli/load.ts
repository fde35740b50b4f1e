/** Loads a pipeline file: a TypeScript or JavaScript module whose default export is a Pipeline. */
import { stat } from "node:fs/promises"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { PipelineInvalid, PipelineLoadError } from "../errors/index.ts"
import { isPipeline, type Pipeline } from "../pipeline/pipeline.ts"

export const loadPipeline = (file: string): Effect.Effect<Pipeline, PipelineLoadError | PipelineInvalid> =>
  Effect.gen(function*() {
    const path = resolve(file)
    const found = yield* Effect.promise(() => stat(path).then((s) => s.isFile(), () => false))
    if (!found) return yield* new PipelineLoadError({ file, detail: "no such pipeline file" })
    const module = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(path).href) as Promise<Record<string, unknown>>,
      catch: (e) =>
        e instanceof PipelineInvalid
          ? e
          : new PipelineLoadError({ file, detail: `failed to load: ${firstLine(e)}` })
    })
    const candidate = module.default
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
