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

const assertJsonValue = (value: unknown, path: string, stack: ReadonlyArray<object> = []): void => {
  const refuse = (what: string) => {
    throw new TypeError(`canonicalJson: ${what} at ${path} has no exact JSON encoding`)
  }
  switch (typeof value) {
    case "boolean":
      return
    case "string":
      if (!(value as unknown as { isWellFormed(): boolean }).isWellFormed()) refuse("a string with a lone surrogate")
      return
    case "number":
      if (!Number.isFinite(value)) refuse("a non-finite number")
      return
    case "object": {
      if (value === null) return
      if (stack.includes(value)) refuse("a circular reference")
      const inner = [...stack, value]
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) refuse("a sparse array")
          assertJsonValue(value[i], `${path}[${i}]`, inner)
        }
        return
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        refuse(`a ${(value as object).constructor?.name ?? "non-plain"} object`)
      }
      for (const [k, v] of Object.entries(value)) assertJsonValue(v, `${path}.${k}`, inner)
      return
    }
    default:
      refuse(`a ${typeof value}`)
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
