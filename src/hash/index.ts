/**
 * The only place that hashes. Two hashes, never confused (see DESIGN.md):
 * - a content hash is sha256 of an artifact's stored bytes;
 * - a stage key is sha256 of the RFC 8785 canonical JSON of {kind, version, params, inputs, env}.
 */
import { createHash } from "node:crypto"
import canonicalize from "canonicalize"

/** A lowercase hex sha256 digest. */
export type Sha256 = string

export const sha256 = (data: Uint8Array | string): Sha256 => createHash("sha256").update(data).digest("hex")

export const isSha256 = (s: string): boolean => /^[0-9a-f]{64}$/.test(s)

/** RFC 8785 (JCS) encoding. Refuses values JSON cannot represent exactly, so a key never hides a lossy encoding. */
export const canonicalJson = (value: unknown): string => {
  assertJsonValue(value, "$")
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError("canonicalJson: value has no JSON encoding")
  return text
}

const assertJsonValue = (value: unknown, path: string): void => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number at ${path}`)
      return
    case "object":
      if (value === null) return
      if (Array.isArray(value)) {
        value.forEach((v, i) => assertJsonValue(v, `${path}[${i}]`))
        return
      }
      for (const [k, v] of Object.entries(value)) assertJsonValue(v, `${path}.${k}`)
      return
    default:
      throw new TypeError(`canonicalJson: ${typeof value} at ${path} has no JSON encoding`)
  }
}

/** What a stage's cache key is computed from. */
export interface KeyMaterial {
  readonly kind: string
  readonly version: number
  readonly params: unknown
  readonly inputs: Readonly<Record<string, Sha256>>
  readonly env: Readonly<Record<string, string>>
}

export const stageKey = (material: KeyMaterial): Sha256 =>
  sha256(canonicalJson({
    kind: material.kind,
    version: material.version,
    params: material.params,
    inputs: material.inputs,
    env: material.env
  }))
