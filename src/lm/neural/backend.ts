/**
 * Picks the TensorFlow.js backend once per process: tfjs-node (native libtensorflow) when it is installed, else the
 * wasm backend (SIMD, one thread under Node 20), else the pure-JS cpu backend. Backends give different bits for the
 * same training, so the name and the computing packages' versions belong in a stage's env.
 */
import * as tf from "@tensorflow/tfjs-core"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import { type BackendName, BACKEND_ORDER as ORDER, plannedBackend, versionsFor } from "./backend-plan.ts"
import { loadDecodeKernels } from "./decode-kernel.ts"
import { loadSimdKernels } from "./simd-kernels.ts"

export type { BackendName } from "./backend-plan.ts"

export interface BackendInfo {
  /** The tfjs backend name as registered ("tensorflow" is tfjs-node). */
  readonly name: BackendName
  /** Why this one: what was tried before it and how that failed. */
  readonly reason: string
  /** Versions of the packages that compute, by package name. */
  readonly versions: Record<string, string>
}

export interface SelectBackendOptions {
  /** Skip the backends before this one in the preference order (tests compare backends this way). */
  readonly prefer?: BackendName
}

const require = createRequire(import.meta.url)

const message = (e: unknown): string => {
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code
    const first = e.message.split("\n")[0]
    return typeof code === "string" && code === "ERR_MODULE_NOT_FOUND" ? "not installed" : first
  }
  return String(e)
}

/** Loads one backend and makes it current; throws with a short reason when it cannot. */
const tryBackend = async (name: BackendName): Promise<string> => {
  switch (name) {
    case "tensorflow": {
      // A variable specifier keeps tsc from requiring the optional package's types.
      const spec: string = "@tensorflow/tfjs-node"
      await import(spec)
      break
    }
    case "wasm": {
      const wasm = await import("@tensorflow/tfjs-backend-wasm")
      const file = require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm")
      wasm.setWasmPaths(dirname(file) + "/")
      break
    }
    case "cpu":
      await import("@tensorflow/tfjs-backend-cpu")
      break
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend("${name}") returned false`)
  await tf.ready()
  if (name !== "wasm") return ""
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")
  const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT")
  return `SIMD ${simd ? "on" : "off"}, ${threads ? "multi-threaded" : "1 thread"}`
}

let chosen: Promise<BackendInfo> | undefined
let chosenPrefer: BackendName | undefined

/**
 * Selects and initialises the backend (memoised: later calls with the same preference get the same answer).
 * Calling again with another `prefer` switches the process's current backend.
 */
export const selectBackend = (options: SelectBackendOptions = {}): Promise<BackendInfo> => {
  const prefer = options.prefer ?? "tensorflow"
  if (chosen !== undefined && chosenPrefer === prefer) return chosen
  chosenPrefer = prefer
  chosen = (async () => {
    // The model's own wasm kernels, which every backend's training and sampling call.
    await Promise.all([loadSimdKernels(), loadDecodeKernels()])
    const skipped: string[] = []
    for (const name of ORDER.slice(ORDER.indexOf(prefer))) {
      try {
        const note = await tryBackend(name)
        const why = skipped.length > 0 ? skipped.join("; ") : `preferred ${prefer}`
        return { name, reason: note === "" ? why : `${why} (${note})`, versions: versionsFor(name) }
      } catch (e) {
        skipped.push(`${name === "tensorflow" ? "@tensorflow/tfjs-node" : name}: ${message(e)}`)
      }
    }
    throw new Error(`no TensorFlow.js backend could start: ${skipped.join("; ")}`)
  })()
  return chosen
}

/** Starts the planned backend (backend-plan.ts); fails when another one would have to be used instead. */
export const usePlannedBackend = async (): Promise<BackendInfo> => {
  const planned = plannedBackend()
  const info = await selectBackend({ prefer: planned })
  if (info.name !== planned) {
    throw new Error(`the TF.js backend ${planned} was planned but could not start (${info.reason})`)
  }
  return info
}
