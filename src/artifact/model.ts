/**
 * The Model artifact: a language model's weights in safetensors, its config in the header metadata. Which model
 * it is (n-gram now; neural ones later) is read from the metadata, so one artifact type serves every model family.
 */
import { ngramFromSafetensors, ngramToSafetensors, type NgramModel } from "../lm/ngram.ts"
import { readSafetensors } from "./safetensors.ts"
import type { ArtifactType } from "./type.ts"

export type LanguageModel = { readonly family: "ngram"; readonly ngram: NgramModel }

/** The `artifact` entry of a safetensors file's metadata, e.g. "model/ngram". */
export const modelArtifactName = (bytes: Uint8Array): string | undefined => readSafetensors(bytes).metadata["artifact"]

export const Model: ArtifactType<LanguageModel> = {
  name: "model",
  env: {},
  encode: (m) => ngramToSafetensors(m.ngram),
  decode: (bytes) => {
    const kind = modelArtifactName(bytes)
    if (kind === "model/ngram") return { family: "ngram", ngram: ngramFromSafetensors(bytes) }
    throw new Error(`model: unknown model kind ${JSON.stringify(kind)} in safetensors metadata`)
  }
}
