/**
 * What commands check before they do any work: that a file they are to write can be written there. (That the store
 * a reading command was pointed at exists is checked where stores are opened: store/open.ts.)
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { resolve } from "node:path"
import { Effect } from "effect"
import { OutputUnwritable } from "../errors/index.ts"

const isDirectory = (p: string): boolean => {
  try {
    return statSync(p).isDirectory()
  } catch {
    return false
  }
}

/** Why a write of `what` to `path` failed, in words (the Node error code otherwise). */
export const unwritable = (what: string, path: string, e: unknown): OutputUnwritable => {
  const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : ""
  const detail = code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST"
    ? "is a directory"
    : code === "ENOENT"
    ? "no such directory"
    : code === "EACCES" || code === "EPERM" || code === "EROFS"
    ? "permission denied"
    : e instanceof Error
    ? e.message
    : String(e)
  return new OutputUnwritable({ what, path, detail })
}

/** Fails, before any work is done, when `path` names a directory (a file cannot replace it). */
export const requireWritableFile = (what: string, path: string): Effect.Effect<void, OutputUnwritable> =>
  Effect.suspend(() => (isDirectory(path)
    ? Effect.fail(new OutputUnwritable({ what, path, detail: "is a directory" }))
    : Effect.void)
  )

/** Makes the folder the user asked for (and its parents) unless it is there; fails if a file is in the way. */
export const requireDirectory = (what: string, path: string): Effect.Effect<void, OutputUnwritable> =>
  Effect.try({
    try: () => {
      if (existsSync(path) && !isDirectory(path)) throw new Error("is a file, not a folder")
      mkdirSync(path, { recursive: true })
    },
    catch: (e) => unwritable(what, path, e)
  })

/**
 * Writes a file the user asked for (a report, an export) whole or not at all: a temp file beside it, then a rename;
 * whatever fails (the write, or the rename onto a directory made meanwhile), no temp file is left. Its full path.
 */
export const writeOutputFile = (
  what: string,
  output: string,
  data: string | Uint8Array
): Effect.Effect<string, OutputUnwritable> =>
  Effect.try({
    try: () => {
      const path = resolve(output)
      const tmp = `${path}.${process.pid}.tmp`
      try {
        writeFileSync(tmp, data)
        renameSync(tmp, path)
      } catch (e) {
        rmSync(tmp, { force: true })
        throw e
      }
      return path
    },
    catch: (e) => unwritable(what, output, e)
  })
