/**
 * The Model artifact: a language model's weights in safetensors, its config in the header metadata. Which model
 * it is (n-gram, transformer, LSTM) is read from the metadata, so one artifact type serves every model family.
 *
 * A neural model stays as its bytes here: reading its tensors needs the family's module, which imports TF.js, and
 * commands that only plan or show should not pay for that. Stages bind it with lm/neural/families.ts `netFromSafetensors`,
 * which validates every tensor.
 */
import { ngramFromSafetensors, ngramToSafetensors, type NgramModel } from "../lm/ngram.ts"
import { NEURAL_ARTIFACTS } from "../lm/neural/weights.ts"
import { readSafetensors } from "../format/safetensors.ts"
import type { ArtifactType } from "./type.ts"

/** The `artifact` names of neural model files. */
const NEURAL_MODEL_ARTIFACTS: ReadonlyArray<string> = Object.values(NEURAL_ARTIFACTS)

export type LanguageModel =
  | { readonly family: "ngram"; readonly ngram: NgramModel }
  | { readonly family: "neural"; readonly artifact: string; readonly bytes: Uint8Array }

/** The `artifact` entry of a safetensors file's metadata, e.g. "model/ngram". */
export const modelArtifactName = (bytes: Uint8Array): string | undefined => readSafetensors(bytes).metadata["artifact"]

export const Model: ArtifactType<LanguageModel> = {
  name: "model",
  env: {},
  encode: (m) => (m.family === "ngram" ? ngramToSafetensors(m.ngram) : m.bytes),
  decode: (bytes) => {
    const kind = modelArtifactName(bytes)
    if (kind === "model/ngram") return { family: "ngram", ngram: ngramFromSafetensors(bytes) }
    if (kind !== undefined && NEURAL_MODEL_ARTIFACTS.includes(kind)) return { family: "neural", artifact: kind, bytes }
    throw new Error(`model: unknown model kind ${JSON.stringify(kind)} in safetensors metadata`)
  }
}

/** The n-gram model inside, or an Error naming what the stage got instead. */
export const ngramOf = (m: LanguageModel, stage: string): NgramModel => {
  if (m.family === "ngram") return m.ngram
  throw new Error(
    `${stage} takes an n-gram model, got ${m.artifact} (use the neural stages: Sample.neural, Evaluate.neural)`
  )
}
