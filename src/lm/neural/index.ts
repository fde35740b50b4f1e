/**
 * The neural language models (beside `../ngram/`): the `Family` interface, the GPT transformer and the LSTM with
 * their training (AdamW, data-parallel gradient workers), decoding (KV cache) and sliding-window evaluation, the
 * TF.js backend choice, and the wasm SIMD kernels. Stages import the modules they need directly, so that planning
 * loads none of TF.js.
 */
export type { Family } from "./family.ts"
