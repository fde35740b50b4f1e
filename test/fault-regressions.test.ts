/**
 * Defects found by `npm run fault` (test/fault/run.ts), each pinned by the smallest reproduction.
 */
import assert from "node:assert/strict"
import * as fs from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, it } from "node:test"
import { Effect } from "effect"
import { isClean, formatVerifyReport, verify } from "../src/audit/verify.ts"
import { execute } from "../src/engine/execute.ts"
import { localInProcess } from "../src/engine/layers.ts"
import { sha256 } from "../src/hash/index.ts"
import * as Pipeline from "../src/pipeline/pipeline.ts"
import { makeLocalStore } from "../src/store/local.ts"
import { tempDir } from "./support/cli.ts"
import { Source, Upper } from "./support/toy.ts"

let dir = ""
beforeEach(() => {
  dir = tempDir("ouro-fault-regressions-")
})
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

const blobPath = (root: string, h: string) => join(root, "blobs", h.slice(0, 2), h)

/** A byte flipped with the seal put back (read-only, modification time 0): a stat cannot tell. */
const rotSealed = (file: string) => {
  fs.chmodSync(file, 0o644)
  const b = fs.readFileSync(file)
  b[0] ^= 0x01
  fs.writeFileSync(file, b)
  fs.chmodSync(file, 0o444)
  fs.utimesSync(file, 0, 0)
}

describe("npm run fault, rot kind, 'output' variant (seed 20261125, trial 2): sealed rot in a blob whose stage runs again", () => {
  it("putBlob of the same bytes over a sealed rotten blob writes the sound bytes instead of keeping the rot", async () => {
    const root = join(dir, "store")
    const s = await Effect.runPromise(makeLocalStore(root))
    const data = new TextEncoder().encode("precious bytes")
    const { hash } = await Effect.runPromise(s.putBlob(data))
    rotSealed(blobPath(root, hash))
    await Effect.runPromise(s.putBlob(data))
    assert.equal(sha256(fs.readFileSync(blobPath(root, hash))), hash, "the blob holds the bytes its name says")
  })

  it("a stage whose record was lost runs again and leaves no rotten output behind its new record: verify is clean", async () => {
    const root = join(dir, "store")
    const chain = Pipeline.make("chain", (p) => {
      const src = p.add(Source({ text: "seed" }), {})
      p.add(Upper({ suffix: "!" }), { in: src.out })
    })
    const run = () => Effect.runPromise(execute(chain).pipe(Effect.provide(localInProcess(root))))
    const first = await run()
    const upper = first.nodes.find((n) => n.node.path === "toy-upper")!
    rotSealed(blobPath(root, upper.outputs.out.hash))
    fs.rmSync(join(root, "records", upper.key.slice(0, 2), `${upper.key}.json`))
    const second = await run()
    assert.equal(second.manifest, first.manifest)
    assert.equal(second.nodes.find((n) => n.node.path === "toy-upper")!.status, "ran")
    const report = await Effect.runPromise(verify.pipe(Effect.provide(localInProcess(root))))
    assert.ok(isClean(report), formatVerifyReport(report))
  })
})
