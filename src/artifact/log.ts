/** The Log artifact: a program's output (stdout and stderr interleaved, as it came), UTF-8 text in canonical JSON. */
import { Schema } from "effect"
import { encodeJsonArtifact, jsonArtifactDecoder } from "../format/json.ts"
import type { ArtifactType } from "./type.ts"

const LogJson = Schema.Struct({ artifact: Schema.Literal("log"), text: Schema.String })
const decodeLog = jsonArtifactDecoder("log", LogJson)

export const Log: ArtifactType<string> = {
  name: "log",
  env: {},
  encode: (text) => encodeJsonArtifact({ artifact: "log", text }),
  decode: (bytes) => decodeLog(bytes).text
}
