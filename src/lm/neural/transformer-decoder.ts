/**
 * Incremental decoding for the transformer with a key/value cache: each step pushes one new token per row through
 * the blocks, attending over that row's cached keys and values, so a step costs the same however long the row is.
 *
 * Positions are learned and absolute (0..context-1), so a row cannot slide past `context`: when its cache is full,
 * it is rebuilt from the row's last floor(context/2) tokens (one batched prefill), which keeps the amortised cost per token
 * constant (at most twice a plain step) and every prediction conditioned on at least floor(context/2) tokens.
 *
 * Matrix products go through tf.matMul (XNNPACK on wasm) with the weights uploaded once; LayerNorm is plain JS over
 * Float32Arrays with float64 sums; GELU is the training's wasm kernel; the cached attention (float64, the caches
 * in its own memory) is decode-kernel.ts's, one call per layer per step.
 */
import { makeDecodeKernel } from "./decode-kernel.ts"
import { geluForwardWasm } from "./simd-kernels.ts"
import { checkedDecoder, type Decoder, type Params } from "./family.ts"
import { residentAffine } from "./tensors.ts"
import { paramShapes, type TransformerConfig, validateConfig } from "./transformer.ts"

export const transformerDecoder = (c: TransformerConfig, params: Params, rows: number): Decoder => {
  validateConfig(c)
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`transformer decoder: rows must be >= 1, got ${rows}`)
  const d = c.dModel, T = c.context, V = c.vocab
  const keep = Math.max(1, Math.floor(T / 2))
  const affines = residentAffine(params, paramShapes(c), [
    ...Array.from(
      { length: c.layers },
      (_, l) => ["attn.qkv", "attn.proj", "mlp.fc", "mlp.proj"].map((n) => `h${l}.${n}`)
    ).flat(),
    "head"
  ])
  const affine = affines.apply
  const kernel = makeDecodeKernel({
    layers: c.layers,
    rows,
    context: T,
    dModel: d,
    heads: c.heads,
    maxPositions: rows * keep
  })
  let history = Array.from({ length: rows }, () => new Int32Array(T))
  let length = new Int32Array(rows)

  const layerNorm = (x: Float32Array, m: number, prefix: string): Float32Array => {
    const y = new Float32Array(m * d)
    layerNormRows(x, params[prefix + ".g"], params[prefix + ".b"], y, m, d)
    return y
  }

  /**
   * Pushes `n` tokens into each of the rows `which` (tokens [which.length · n]), starting at each row's current
   * length, and returns the logits after each row's last new token, [which.length · V].
   */
  const extend = (which: ReadonlyArray<number>, tokens: Int32Array, n: number): Float32Array => {
    const m = which.length * n
    const tok = params["tok_emb"], pos = params["pos_emb"]
    let x = new Float32Array(m * d)
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
      const qkv = affine(layerNorm(x, m, p + "ln1"), m, p + "attn.qkv")
      const att = kernel.attend(l, qkv, which, starts, n)
      const proj = affine(att, m, p + "attn.proj")
      for (let k = 0; k < x.length; k++) x[k] += proj[k]
      const hidden = affine(layerNorm(x, m, p + "ln2"), m, p + "mlp.fc")
      geluForwardWasm(hidden, hidden) // the training kernel: decoding computes the same GELU bits
      const out = affine(hidden, m, p + "mlp.proj")
      for (let k = 0; k < x.length; k++) x[k] += out[k]
    }
    which.forEach((r) => (length[r] += n))
    // Only each row's last position needs the head.
    const lastRows = new Float32Array(which.length * d)
    for (let i = 0; i < which.length; i++) lastRows.set(x.subarray((i * n + n - 1) * d, (i * n + n) * d), i * d)
    x = lastRows
    return affine(layerNorm(x, which.length, "ln_f"), which.length, "head")
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
    dispose: () => affines.dispose()
  })
}

// Top-level functions taking everything as arguments: V8 optimises such loops about 2x better than closures.

function layerNormRows(x: Float32Array, g: Float32Array, b: Float32Array, y: Float32Array, m: number, d: number): void {
  for (let r = 0; r < m; r++) {
    const o = r * d
    let mean = 0
    for (let k = 0; k < d; k++) mean += x[o + k]
    mean /= d
    let v = 0
    for (let k = 0; k < d; k++) v += (x[o + k] - mean) ** 2
    const s = 1 / Math.sqrt(v / d + 1e-5)
    for (let k = 0; k < d; k++) y[o + k] = (x[o + k] - mean) * s * g[k] + b[k]
  }
}
