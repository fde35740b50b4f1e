/**
 * Incremental decoding for the transformer with a key/value cache: each step pushes one new token per row through
 * the blocks, attending over that row's cached keys and values, so a step costs the same however long the row is.
 *
 * Positions are learned and absolute (0..context-1), so a row cannot slide past `context`: when its cache is full,
 * it is rebuilt from the row's last floor(context/2) tokens (one batched prefill), which keeps the amortised cost per token
 * constant (at most twice a plain step) and every prediction conditioned on at least floor(context/2) tokens.
 *
 * A step is decode-kernel.ts's WebAssembly throughout (the affine maps, LayerNorm, the cached attention, the residual
 * additions, GELU), the weights, the residual stream and the caches in its own memory. Its affine maps sum as
 * tf.matMul (XNNPACK on wasm) does, which they replaced: the same bits as before, without a call into TF.js.
 */
import { makeDecodeKernel } from "./decode-kernel.ts"
import { checkedDecoder, type Decoder, type Params } from "./family.ts"
import { type TransformerConfig, validateConfig } from "./transformer-config.ts"

export const transformerDecoder = (c: TransformerConfig, params: Params, rows: number): Decoder => {
  validateConfig(c)
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`transformer decoder: rows must be >= 1, got ${rows}`)
  const d = c.dModel, T = c.context, V = c.vocab
  const keep = Math.max(1, Math.floor(T / 2))
  const affineNames = [
    ...Array.from(
      { length: c.layers },
      (_, l) => ["attn.qkv", "attn.proj", "mlp.fc", "mlp.proj"].map((n) => `h${l}.${n}`)
    ).flat(),
    "head"
  ]
  const normNames = [...Array.from({ length: c.layers }, (_, l) => [`h${l}.ln1`, `h${l}.ln2`]).flat(), "ln_f"]
  const kernel = makeDecodeKernel({
    layers: c.layers,
    rows,
    context: T,
    dModel: d,
    heads: c.heads,
    hidden: params["h0.mlp.fc.b"]?.length ?? 4 * d,
    maxPositions: rows * keep,
    norms: Object.fromEntries(normNames.map((n) => [n, { g: params[n + ".g"], b: params[n + ".b"] }])),
    affines: Object.fromEntries(affineNames.map((n) => [n, { w: params[n + ".w"], b: params[n + ".b"] }]))
  })
  let history = Array.from({ length: rows }, () => new Int32Array(T))
  let length = new Int32Array(rows)

  /**
   * Pushes `n` tokens into each of the rows `which` (tokens [which.length · n]), starting at each row's current
   * length, and returns the logits after each row's last new token, [which.length · V].
   */
  const extend = (which: ReadonlyArray<number>, tokens: Int32Array, n: number): Float32Array => {
    const m = which.length * n
    const tok = params["tok_emb"], pos = params["pos_emb"]
    const x = kernel.x
    which.forEach((r, i) => {
      for (let s = 0; s < n; s++) {
        const id = tokens[i * n + s], p = length[r] + s, o = (i * n + s) * d
        history[r][p] = id
        for (let k = 0; k < d; k++) x[o + k] = tok[id * d + k] + pos[p * d + k]
      }
    })
    const starts = which.map((r) => length[r])
    for (let l = 0; l < c.layers; l++) {
      const p = `h${l}.`
      const qkv = kernel.affine(p + "attn.qkv", kernel.layerNorm(p + "ln1", m), m)
      kernel.addInto(kernel.affine(p + "attn.proj", kernel.attend(l, qkv, which, starts, n), m), m)
      const hidden = kernel.gelu(kernel.affine(p + "mlp.fc", kernel.layerNorm(p + "ln2", m), m), m)
      kernel.addInto(kernel.affine(p + "mlp.proj", hidden, m), m)
    }
    which.forEach((r) => (length[r] += n))
    // Only each row's last position needs the head: those rows first (moving forward, so none is overwritten unread).
    for (let i = 0; i < which.length; i++) x.copyWithin(i * d, (i * n + n - 1) * d, (i * n + n) * d)
    return kernel.affine("head", kernel.layerNorm("ln_f", which.length), which.length)
  }

  return checkedDecoder("transformer", {
    rows,
    vocab: V,
    step(tokens) {
      const logits = new Float32Array(rows * V)
      const plain: number[] = [], full: number[] = []
      for (let r = 0; r < rows; r++) (length[r] < T ? plain : full).push(r)
      if (plain.length > 0) {
        const out = extend(plain, Int32Array.from(plain, (r) => tokens[r]), 1)
        plain.forEach((r, i) => logits.set(out.subarray(i * V, (i + 1) * V), r * V))
      }
      if (full.length > 0) {
        // Rebuild each full row from its last keep-1 tokens plus the new one.
        const window = new Int32Array(full.length * keep)
        full.forEach((r, i) => {
          window.set(history[r].subarray(T - keep + 1, T), i * keep)
          window[i * keep + keep - 1] = tokens[r]
          length[r] = 0
        })
        const out = extend(full, window, keep)
        full.forEach((r, i) => logits.set(out.subarray(i * V, (i + 1) * V), r * V))
      }
      return logits
    },
    resetRow(r) {
      length[r] = 0
    },
    reorder(from) {
      // In place: the caches are views of the kernel's memory.
      const move = (a: Float32Array): void => {
        const b = a.slice()
        for (let r = 0; r < rows; r++) a.set(b.subarray(from[r] * T * d, (from[r] + 1) * T * d), r * T * d)
      }
      kernel.keys.forEach(move)
      kernel.values.forEach(move)
      history = Array.from(from, (f) => history[f].slice())
      length = Int32Array.from(from, (f) => length[f])
    },
    dispose: () => {}
  })
}
