/**
 * The pipeline file being loaded, while its module is evaluated: what a stage's relative paths (a seed file) are
 * relative to. `loadPipeline` sets it around the import, in the CLI's thread and in every stage worker alike; a
 * pipeline built from a script or a test, outside any load, has none, and relative paths are the current
 * directory's, as they always were.
 */
import { dirname, isAbsolute, resolve } from "node:path"

let loading: string | undefined

/** Runs `load` (the import of the pipeline file `file`) with `file` as the defining file. */
export const whileDefining = async <A>(file: string, load: () => Promise<A>): Promise<A> => {
  const outer = loading
  loading = resolve(file)
  try {
    return await load()
  } finally {
    loading = outer
  }
}

/** The directory of the pipeline file being loaded, if one is. */
export const definingDirectory = (): string | undefined => (loading === undefined ? undefined : dirname(loading))

/** `path` as it is to be read: an absolute path as given, a relative one against `base` (else the current directory). */
export const resolveFrom = (base: string | undefined, path: string): string =>
  isAbsolute(path) ? path : resolve(base ?? process.cwd(), path)
