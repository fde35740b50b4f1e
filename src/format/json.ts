/** Helpers for artifacts stored as canonical JSON with an "artifact" field naming their type. */
import { Schema } from "effect"
import { canonicalJson } from "../hash/index.ts"

export const encodeJsonArtifact = (value: unknown): Uint8Array => new TextEncoder().encode(canonicalJson(value))

export const jsonArtifactDecoder = <A>(name: string, schema: Schema.Codec<A, unknown>) => {
  const decode = Schema.decodeUnknownSync(Schema.fromJsonString(schema))
  return (bytes: Uint8Array): A => {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    try {
      return decode(text, { errors: "all" })
    } catch (e) {
      throw new Error(`not a ${name} artifact: ${e instanceof Error ? e.message.replace(/\n\s*/g, " ") : String(e)}`)
    }
  }
}
