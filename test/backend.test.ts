import assert from "node:assert/strict"
import { describe, it } from "node:test"
import * as tf from "@tensorflow/tfjs-core"
import { selectBackend } from "../src/lm/neural/backend.ts"

describe("lm/backend", () => {
  it("falls back to wasm (SIMD) when tfjs-node is not installed, and names the computing packages", async () => {
    const info = await selectBackend()
    assert.equal(info.name, "wasm")
    assert.equal(tf.getBackend(), "wasm")
    assert.match(info.reason, /@tensorflow\/tfjs-node: not installed/)
    assert.match(info.reason, /SIMD on/)
    assert.deepEqual(Object.keys(info.versions).sort(), ["@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-core"])
    for (const v of Object.values(info.versions)) assert.match(v, /^\d+\.\d+\.\d+/)
  })

  it("is memoised and can be asked for the cpu backend", async () => {
    assert.strictEqual(await selectBackend(), await selectBackend())
    const cpu = await selectBackend({ prefer: "cpu" })
    assert.equal(cpu.name, "cpu")
    assert.equal(tf.getBackend(), "cpu")
    assert.ok("@tensorflow/tfjs-backend-cpu" in cpu.versions)
    assert.equal((await selectBackend({ prefer: "wasm" })).name, "wasm")
  })
})
