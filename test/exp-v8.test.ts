/**
 * kernels/exp-v8.wat, the decoder's exp, against Math.exp: the same bits for every argument tried (the decoder's
 * softmax scores, score - max <= 0, and every branch of the algorithm: tiny, near ln2, reduced, subnormal results,
 * overflow, underflow, infinities, NaN), so moving the exp into wasm left every sampled token as it was.
 */
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { describe, it } from "node:test"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import wabtInit from "wabt"

declare const WebAssembly: {
  compile(bytes: Uint8Array): Promise<object>
  Instance: new(module: object, imports: object) => { readonly exports: object }
}

const wasmExp = async (): Promise<(x: number) => number> => {
  const wabt = await wabtInit()
  const part = readFileSync(new URL("../src/lm/neural/kernels/exp-v8.wat", import.meta.url), "utf8")
  const mod = wabt.parseWat("exp-v8.wat", `(module ${part} (export "exp" (func $exp)))`, {})
  try {
    const compiled = await WebAssembly.compile(mod.toBinary({}).buffer)
    return (new WebAssembly.Instance(compiled, {}).exports as { exp: (x: number) => number }).exp
  } finally {
    mod.destroy()
  }
}

const bitsOf = (x: number) => {
  const v = new DataView(new ArrayBuffer(8))
  v.setFloat64(0, x)
  return v.getBigUint64(0)
}

describe("lm/neural/kernels/exp-v8.wat", () => {
  it("returns Math.exp's bits: 3 million arguments over every branch, and the special values", async () => {
    const exp = await wasmExp()
    const rng = xoroshiro128plus(20261202)
    const u = () => uniformFloat64(rng)
    const args: number[] = [
      0,
      -0,
      1,
      -1,
      0.5,
      -0.5,
      Math.LN2,
      -Math.LN2,
      0.5 * Math.LN2,
      1.5 * Math.LN2,
      -1.5 * Math.LN2,
      2 ** -28,
      -(2 ** -28),
      2 ** -29,
      1e-300,
      709.78,
      709.782712893384,
      709.7827128933841,
      710,
      -708.4,
      -709.1,
      -745.1332191019411,
      -745.2,
      -746,
      1000,
      -1000,
      Infinity,
      -Infinity,
      NaN,
      Number.MIN_VALUE,
      -Number.MIN_VALUE,
      Number.MAX_VALUE
    ]
    for (let i = 0; i < 1_000_000; i++) args.push(-40 * u()) // softmax scores: score - max
    for (let i = 0; i < 1_000_000; i++) args.push((u() - 0.5) * 1500) // every range, overflow and underflow
    for (let i = 0; i < 1_000_000; i++) args.push((u() - 0.5) * 2 ** (-40 + 42 * u())) // near 0 and near ln2
    let differ = 0
    let first = ""
    for (const x of args) {
      const want = Math.exp(x), got = exp(x)
      if (bitsOf(want) !== bitsOf(got) && !(Number.isNaN(want) && Number.isNaN(got))) {
        if (differ++ === 0) first = `exp(${x}): Math.exp ${want}, wasm ${got}`
      }
    }
    assert.equal(differ, 0, first)
  })
})
