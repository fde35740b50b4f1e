/**
 * What every neural family does the same way with its weights: named Float32 parameters in a fixed order, seeded
 * initialisation in pure JS (so the same on every backend), and the safetensors form (F32 tensors by name, the
 * family's `artifact` and its config as JSON in the metadata).
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import { expectTensor, readSafetensors, type Tensor, writeSafetensors } from "../../format/safetensors.ts"

/** The safetensors `artifact` name of each neural family's model files (here, so the Model codec needs no TF.js). */
export const NEURAL_ARTIFACTS = { transformer: "model/transformer", lstm: "model/lstm" } as const

export type Params = Record<string, Float32Array>
export type ParamShapes = ReadonlyArray<readonly [string, ReadonlyArray<number>]>

export const size = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/** A seeded source of uniform [0, 1) and standard normal (Box-Muller) draws. */
export const seededDraws = (seed: number) => {
  const rng = xoroshiro128plus(seed)
  const uniform = (): number => uniformFloat64(rng)
  const normal = (): number => {
    const u = 1 - uniform() // (0, 1]: log stays finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform())
  }
  return { uniform, normal }
}

/** Weights as F32 tensors named as in `shapes`; the config's `fields` as JSON under metadata "config". */
export const weightsToSafetensors = <C>(
  artifact: string,
  fields: ReadonlyArray<keyof C & string>,
  config: C,
  shapes: ParamShapes,
  params: Params,
  extra: Readonly<Record<string, string>>
): Uint8Array => {
  const tensors: Record<string, Tensor> = {}
  for (const [name, shape] of shapes) tensors[name] = { dtype: "F32", shape, data: params[name] }
  const json = JSON.stringify(Object.fromEntries(fields.map((k) => [k, config[k]])))
  return writeSafetensors(tensors, { ...extra, artifact, config: json })
}

/**
 * Reads a family's safetensors file: checks the artifact name, builds the config from the metadata's numeric fields
 * `fields` (then `validate`s it), and checks every tensor's dtype and shape against `shapesOf(config)`.
 */
export const weightsFromSafetensors = <C>(
  bytes: Uint8Array,
  artifact: string,
  fields: ReadonlyArray<keyof C & string>,
  validate: (config: C) => void,
  shapesOf: (config: C) => ParamShapes
): { config: C; params: Params; metadata: Record<string, string> } => {
  const file = readSafetensors(bytes)
  const family = artifact.replace(/^model\//, "")
  if (file.metadata["artifact"] !== artifact) {
    throw new Error(`${family}: not a ${artifact} file (artifact: ${file.metadata["artifact"] ?? "none"})`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(file.metadata["config"] ?? "null")
  } catch {
    throw new Error(`${family}: the metadata's config is not JSON`)
  }
  if (typeof raw !== "object" || raw === null) throw new Error(`${family}: metadata has no config object`)
  const r = raw as Record<string, unknown>
  const config = Object.fromEntries(fields.map((k) => [k, typeof r[k] === "number" ? r[k] : NaN])) as C
  validate(config)
  const params: Params = {}
  for (const [name, shape] of shapesOf(config)) {
    const data = expectTensor(file, name, "F32", shape.length)
    const got = file.tensors.get(name)?.shape ?? []
    if (got.some((n, i) => n !== shape[i])) {
      throw new Error(`${family}: tensor ${name} has shape [${got}], expected [${shape}]`)
    }
    params[name] = data
  }
  return { config, params, metadata: { ...file.metadata } }
}

/** Checks that each named field of a config is a positive safe integer. */
export const requirePositiveInts = <C>(family: string, config: C, fields: ReadonlyArray<keyof C & string>): void => {
  for (const k of fields) {
    const v = config[k]
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      throw new Error(`${family}: ${k} must be a positive integer, got ${String(v)}`)
    }
  }
}
