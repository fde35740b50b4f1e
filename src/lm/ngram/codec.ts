/**
 * N-gram models as safetensors: per order k, tensors "order{k}.ctx_offsets", "order{k}.words", "order{k}.counts"
 * (I32); metadata {"artifact": "model/ngram", "config": canonical JSON of the config}. Derived arrays are rebuilt
 * on load, after checking every invariant the lookups rely on.
 */

import { expectTensor, readSafetensors, writeSafetensors, type Tensor } from "../../format/safetensors.ts"
import { makeLevel, validateConfig, type NgramConfig, type NgramLevel, type NgramModel } from "./model.ts"

export const NGRAM_ARTIFACT = "model/ngram"

/** JSON with object keys sorted at every depth, so equal configs give equal strings. */
const sortedJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`
  if (typeof value === "object" && value !== null) {
    const obj = value as Record<string, unknown>
    return `{${
      Object.keys(obj)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${sortedJson(obj[k])}`)
        .join(",")
    }}`
  }
  return JSON.stringify(value)
}

const i32 = (data: Int32Array): Tensor => ({ dtype: "I32", shape: [data.length], data })

export const ngramToSafetensors = (model: NgramModel): Uint8Array => {
  const tensors: Record<string, Tensor> = {}
  model.levels.forEach((level, i) => {
    tensors[`order${i + 1}.ctx_offsets`] = i32(level.ctxOffsets)
    tensors[`order${i + 1}.words`] = i32(level.words)
    tensors[`order${i + 1}.counts`] = i32(level.counts)
  })
  return writeSafetensors(tensors, { artifact: NGRAM_ARTIFACT, config: sortedJson(model.config) })
}

const fail = (message: string): never => {
  throw new Error(`ngram safetensors: ${message}`)
}

export const ngramFromSafetensors = (bytes: Uint8Array): NgramModel => {
  const file = readSafetensors(bytes)
  if (file.metadata["artifact"] !== NGRAM_ARTIFACT) {
    fail(`metadata "artifact" is ${JSON.stringify(file.metadata["artifact"])}, expected "${NGRAM_ARTIFACT}"`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(file.metadata["config"] ?? "")
  } catch {
    return fail(`metadata "config" is not valid JSON`)
  }
  const config: NgramConfig = validateConfig(raw as NgramConfig)
  const V = config.vocabSize
  const levels: NgramLevel[] = []
  for (let k = 1; k <= config.order; k++) {
    const ctxOffsets = expectTensor(file, `order${k}.ctx_offsets`, "I32")
    const words = expectTensor(file, `order${k}.words`, "I32")
    const counts = expectTensor(file, `order${k}.counts`, "I32")
    const contexts = k === 1 ? 1 : levels[k - 2].words.length
    if (ctxOffsets.length !== contexts + 1) fail(`order ${k}: ${ctxOffsets.length} offsets for ${contexts} histories`)
    if (counts.length !== words.length) fail(`order ${k}: ${counts.length} counts for ${words.length} entries`)
    if (ctxOffsets[0] !== 0 || ctxOffsets[contexts] !== words.length) {
      fail(`order ${k}: offsets do not span the entries`)
    }
    for (let h = 0; h < contexts; h++) {
      const lo = ctxOffsets[h]
      const hi = ctxOffsets[h + 1]
      if (hi < lo) fail(`order ${k}: offsets decrease at history ${h}`)
      for (let e = lo; e < hi; e++) {
        if (words[e] < 0 || words[e] >= V) fail(`order ${k}: token ${words[e]} outside 0..${V - 1}`)
        if (e > lo && words[e] <= words[e - 1]) fail(`order ${k}: tokens not strictly increasing in history ${h}`)
        if (counts[e] < 0) fail(`order ${k}: negative count at entry ${e}`)
      }
    }
    levels.push(makeLevel(config.smoothing, ctxOffsets, words, counts))
  }
  const expected = 3 * config.order
  if (file.tensors.size !== expected) {
    fail(`${file.tensors.size} tensors, expected ${expected} for order ${config.order}`)
  }
  return { config, levels }
}
