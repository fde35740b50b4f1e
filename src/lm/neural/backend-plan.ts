/**
 * Which TF.js backend neural stages will use, decided without loading TF.js: keys are computed before anything
 * runs, and a pipeline that never trains a neural model should not pay for importing it.
 */
import { createRequire } from "node:module"
import { packageVersion } from "../../format/versions.ts"

export type BackendName = "tensorflow" | "wasm" | "cpu"

/** Preference order: native libtensorflow, then wasm (SIMD), then pure JS. */
export const BACKEND_ORDER: ReadonlyArray<BackendName> = ["tensorflow", "wasm", "cpu"]

const require = createRequire(import.meta.url)

/** Versions of the packages that compute on a backend, by package name. */
export const versionsFor = (name: BackendName): Record<string, string> => {
  const pkgs = ["@tensorflow/tfjs-core"]
  if (name === "tensorflow") pkgs.push("@tensorflow/tfjs-node")
  if (name === "wasm") pkgs.push("@tensorflow/tfjs-backend-wasm")
  if (name === "cpu") pkgs.push("@tensorflow/tfjs-backend-cpu")
  const out: Record<string, string> = {}
  for (const p of pkgs) out[p] = packageVersion(p)
  return out
}

const isResolvable = (spec: string): boolean => {
  try {
    require.resolve(spec)
    return true
  } catch {
    return false
  }
}

interface Plan {
  readonly name: BackendName
  /** Why, in words. */
  readonly because: string
  /** What goes into the key of every stage that computes with TF.js. */
  readonly env: Readonly<Record<string, string>>
}

const planFor = (forced: string): Plan => {
  if (forced !== "") {
    if (!(BACKEND_ORDER as ReadonlyArray<string>).includes(forced)) {
      throw new Error(`OURO_BACKEND must be one of ${BACKEND_ORDER.join(", ")}, got ${JSON.stringify(forced)}`)
    }
    return planned(forced as BackendName, `OURO_BACKEND=${forced}`)
  }
  return isResolvable("@tensorflow/tfjs-node")
    ? planned("tensorflow", "@tensorflow/tfjs-node is installed (native libtensorflow)")
    : planned(
      "wasm",
      "@tensorflow/tfjs-node: not installed (an optional dependency: its install needs internet), so wasm"
    )
}

const planned = (name: BackendName, because: string): Plan => ({
  name,
  because,
  env: { "tfjs-backend": name, ...versionsFor(name) }
})

// Every neural stage asks when it is defined; what is installed does not change while a process runs, so the plan is
// worked out once per value of $OURO_BACKEND (a failed resolve and two package.json reads each time add up).
const plans = new Map<string, Plan>()
const currentPlan = (): Plan => {
  const forced = process.env.OURO_BACKEND ?? ""
  const plan = plans.get(forced) ?? planFor(forced)
  plans.set(forced, plan)
  return plan
}

/**
 * The backend neural stages will use, decided without loading any backend (keys are computed before anything
 * runs): $OURO_BACKEND when set, else tfjs-node when it is installed, else wasm. A stage that finds at run time
 * that this backend cannot start fails rather than compute under a key that names another backend.
 */
export const plannedBackend = (): BackendName => currentPlan().name

/** Why plannedBackend() chose what it did, in words. */
export const plannedBecause = (): string => currentPlan().because

/** What goes into the key of every stage that computes with TF.js: the backend and the computing packages' versions. */
export const backendEnv = (): Record<string, string> => ({ ...currentPlan().env })
