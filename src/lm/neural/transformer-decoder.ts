/**
 * Incremental decoding for the transformer with a key/value cache: each step pushes one new token per row through
 * the blocks, attending over that row's cached keys and values, so a step costs the same however long the row is.
 *
 * Positions are learned and absolute (0..context-1), so a row cannot slide past `context`: when its cache is full,
 * it is rebuilt from the row's last floor(context/2) tokens (one batched prefill), which keeps the amortised cost per token
 * constant (at most twice a plain step) and every prediction conditioned on at least floor(context/2) tokens.
 *
 * Matrix products go through tf.matMul (XNNPACK on wasm) with the weights uploaded once; LayerNorm, GELU and the
 * cached attention are plain JS over Float32Arrays, with float64 sums; GELU is the training's wasm kernel.
 */
import { geluForwardWasm } from "./simd-kernels.ts"
import { checkedDecoder, type Decoder, type Params } from "./family.ts"
import { residentAffine } from "./tensors.ts"
import { paramShapes, type TransformerConfig, validateConfig } from "./transformer.ts"

export const transformerDecoder = (c: TransformerConfig, params: Params, rows: number): Decoder => {
  validateConfig(c)
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`transformer decoder: rows must be >= 1, got ${rows}`)
  const d = c.dModel, T = c.context, V = c.vocab, hd = d / c.heads
  const keep = Math.max(1, Math.floor(T / 2))
  const affines = residentAffine(params, paramShapes(c), [
    ...Array.from(
      { length: c.layers },
      (_, l) => ["attn.qkv", "attn.proj", "mlp.fc", "mlp.proj"].map((n) => `h${l}.${n}`)
    ).flat(),
    "head"
  ])
  const affine = affines.apply
  let K: Float32Array[] = Array.from({ length: c.layers }, () => new Float32Array(rows * T * d))
  let Vc: Float32Array[] = Array.from({ length: c.layers }, () => new Float32Array(rows * T * d))
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
    const scale = 1 / Math.sqrt(hd)
    const scores = new Float64Array(T)
    const acc = new Float32Array(hd)
    for (let l = 0; l < c.layers; l++) {
      const p = `h${l}.`
      const qkv = affine(layerNorm(x, m, p + "ln1"), m, p + "attn.qkv")
      const kc = K[l], vc = Vc[l]
      const att = new Float32Array(m * d)
      which.forEach((r, i) => {
        for (let s = 0; s < n; s++) {
          const src = (i * n + s) * 3 * d, dst = (r * T + length[r] + s) * d
          kc.set(qkv.subarray(src + d, src + 2 * d), dst)
          vc.set(qkv.subarray(src + 2 * d, src + 3 * d), dst)
        }
        for (let s = 0; s < n; s++) {
          for (let h = 0; h < c.heads; h++) {
            cachedAttention(
              qkv,
              (i * n + s) * 3 * d + h * hd,
              kc,
              vc,
              r * T * d + h * hd,
              d,
              length[r] + s,
              hd,
              scale,
              scores,
              acc
            )
            att.set(acc, (i * n + s) * d + h * hd)
          }
        }
      })
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
      const move = (a: Float32Array): Float32Array => {
        const b = new Float32Array(a.length)
        for (let r = 0; r < rows; r++) b.set(a.subarray(from[r] * T * d, (from[r] + 1) * T * d), r * T * d)
        return b
      }
      K = K.map(move)
      Vc = Vc.map(move)
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

/**
 * One head of one query (qkv[q..q+hd)) over cached keys/values at rows base + j·pitch, j = 0..last: the softmax
 * weights in `scores` (float64), the result in `out` [hd].
 */
function cachedAttention(
  qkv: Float32Array,
  q: number,
  kc: Float32Array,
  vc: Float32Array,
  base: number,
  pitch: number,
  last: number,
  hd: number,
  scale: number,
  scores: Float64Array,
  out: Float32Array
): void {
  let max = -Infinity
  for (let j = 0; j <= last; j++) {
    const ko = base + j * pitch
    let d0 = 0, d1 = 0, d2 = 0, d3 = 0, k = 0
    for (; k + 3 < hd; k += 4) {
      d0 += qkv[q + k] * kc[ko + k]
      d1 += qkv[q + k + 1] * kc[ko + k + 1]
      d2 += qkv[q + k + 2] * kc[ko + k + 2]
      d3 += qkv[q + k + 3] * kc[ko + k + 3]
    }
    for (; k < hd; k++) d0 += qkv[q + k] * kc[ko + k]
    const sc = (d0 + d1 + (d2 + d3)) * scale
    scores[j] = sc
    if (sc > max) max = sc
  }
  let sum = 0
  for (let j = 0; j <= last; j++) sum += scores[j] = Math.exp(scores[j] - max)
  for (let j = 0; j <= last; j++) scores[j] /= sum
  for (let k = 0; k < hd; k++) {
    let a = 0
    for (let j = 0; j <= last; j++) a += scores[j] * vc[base + j * pitch + k]
    out[k] = a
  }
}
