/**
 * Byte formats, below everything that stores or computes: safetensors, canonical-JSON artifacts, and the versions
 * of the packages whose code shapes stored bytes. `artifact/` (the codecs) and `lm/` (the models) both use them.
 */
export * from "./json.ts"
export * from "./safetensors.ts"
export * from "./versions.ts"
