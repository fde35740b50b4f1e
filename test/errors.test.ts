/** Errors are Schema classes: they cross a thread boundary by one encode and one decode, class, message and cause. */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe as suite, it } from "node:test"
import { Effect, Schema } from "effect"
import { execute } from "../src/engine/execute.ts"
import { localWorkers } from "../src/engine/layers.ts"
import {
  ArtifactCorrupt,
  ArtifactMissing,
  describe,
  NotAStore,
  NotFound,
  OuroError,
  OutputUnwritable,
  PipelineInvalid,
  PipelineLoadError,
  StageFailed,
  StoreError,
  StoreNotFound
} from "../src/errors/index.ts"
import { SourceError } from "../src/stages/sources.ts"
import { linkOuroboros, ROOT } from "./support/cli.ts"

const every: ReadonlyArray<OuroError> = [
  new PipelineInvalid({ pipeline: "p", node: "g1/train", detail: "bad params" }),
  new PipelineInvalid({ pipeline: "p", detail: "no node" }),
  new PipelineLoadError({ file: "p.ts", detail: "does not compile", cause: new SyntaxError("Unexpected token") }),
  new ArtifactMissing({ hash: "a".repeat(64) }),
  new ArtifactCorrupt({ hash: "b".repeat(64), path: "/s/blobs/bb", detail: "its bytes hash to c" }),
  new StoreError({
    path: "/s",
    detail: "EROFS",
    cause: Object.assign(new Error("read-only file system"), { code: "EROFS" })
  }),
  new NotAStore({ path: "/home", detail: "no marker" }),
  new StoreNotFound({ path: "/typo" }),
  new OutputUnwritable({ what: "report", path: "/tmp", detail: "is a directory" }),
  new StageFailed({ node: "g2/sample", kind: "sample/text", detail: "kaboom", cause: new RangeError("kaboom") }),
  new NotFound({ what: "abc", detail: "no such artifact" })
]

suite("errors", () => {
  it("every OuroError survives encode, a structured clone (what postMessage does) and decode: class, message, cause", () => {
    const encode = Schema.encodeSync(OuroError)
    const decode = Schema.decodeUnknownSync(OuroError)
    for (const e of every) {
      const back = decode(structuredClone(encode(e)))
      assert.equal(back.constructor, e.constructor, e._tag)
      assert.equal(back.message, e.message)
      assert.equal(back._tag, e._tag)
      if (e.cause === undefined) assert.equal(back.cause, undefined)
      else assert.equal(describe(back.cause), describe(e.cause), `${e._tag}: cause`)
    }
  })

  it("describe gives an Error's message, and anything else as a string", () => {
    assert.equal(describe(new Error("boom")), "boom")
    assert.equal(describe(every[9]), "stage g2/sample (sample/text) failed: kaboom")
    assert.equal(describe("plain"), "plain")
    assert.equal(describe(42), "42")
  })

  it("SourceError is a tagged error whose message names the file", () => {
    const e = new SourceError({ file: "a.txt", detail: "empty" })
    assert.equal(e._tag, "SourceError")
    assert.equal(e.message, "a.txt: empty")
    assert.ok(e instanceof Error)
  })

  it("a stage that throws on a worker thread fails with StageFailed, its cause carried across the thread", {
    timeout: 60_000
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "ouro-errors-"))
    try {
      linkOuroboros(dir)
      const file = join(dir, "throws.ts")
      writeFileSync(
        file,
        `import { Pipeline } from "ouroboros"
import { Throws } from ${JSON.stringify(join(ROOT, "test/support/faulty.ts"))}
export default Pipeline.make("throws", (p) => { p.add(Throws({ message: "kaboom in user code" })) })
`
      )
      const pipeline = (await import(file)).default
      const failure = await Effect.runPromise(
        Effect.flip(execute(pipeline)).pipe(Effect.provide(localWorkers(join(dir, ".ouroboros"), file, 1)))
      )
      assert.ok(failure instanceof StageFailed, `got ${String(failure)}`)
      assert.equal(failure.message, "stage toy-throws (toy/throws) failed: kaboom in user code")
      assert.equal(describe(failure.cause), "kaboom in user code")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
