import assert from "node:assert/strict"
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, it } from "node:test"
import { Effect } from "effect"
import { formatLineageText, lineage, toDot, toProvJson } from "../src/audit/lineage.ts"
import { formatVerifyReport, isClean, verify } from "../src/audit/verify.ts"
import { execute, type RunResult } from "../src/engine/execute.ts"
import { localInProcess } from "../src/engine/layers.ts"
import type { Progress } from "../src/engine/Progress.ts"
import type { StageRunner } from "../src/engine/StageRunner.ts"
import { NotFound } from "../src/errors/index.ts"
import * as Pipeline from "../src/pipeline/pipeline.ts"
import type { ArtifactStore } from "../src/store/ArtifactStore.ts"
import { Keep } from "./support/audit-toy.ts"
import { Concat, Lower, Source, Upper } from "./support/toy.ts"

let dir = ""
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ouro-audit-"))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const run = <A, E>(eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>) =>
  Effect.runPromise(eff.pipe(Effect.provide(localInProcess(dir))))

/** 10 stages: a seed, then 3 generations of upper → lower → concat(lower, previous). */
const chain = Pipeline.make("toy", (p) => {
  const src = p.add(Source({ text: "seed" }), {})
  p.generations(3, { text: src.out }, (g, prev) => {
    const up = g.add(Upper({ suffix: "!" }), { in: prev.text })
    const low = g.add(Lower({ suffix: "x" }), { in: up.out })
    return { text: g.add(Concat({}), { a: low.out, b: prev.text }).out }
  })
})

const blobPath = (h: string) => join(dir, "blobs", h.slice(0, 2), h)
const recordPath = (k: string) => join(dir, "records", k.slice(0, 2), `${k}.json`)
const byPath = (r: RunResult, path: string) => r.nodes.find((n) => n.node.path === path)!

describe("verify", () => {
  it("a fresh store is clean", async () => {
    await run(execute(chain))
    const report = await run(verify)
    assert.ok(isClean(report), formatVerifyReport(report))
    // 10 outputs + the run manifest; 10 node refs + 1 pipeline ref.
    assert.deepEqual([report.blobs, report.records, report.refs], [11, 10, 11])
    assert.equal(formatVerifyReport(report), "verified 11 blobs, 10 records, 11 refs: 0 corrupt, 0 missing")
  })

  it("a flipped byte is reported as exactly that blob, corrupt", async () => {
    const result = await run(execute(chain))
    const h = byPath(result, "g2/toy-upper").outputs.out.hash
    chmodSync(blobPath(h), 0o644)
    const bytes = readFileSync(blobPath(h))
    bytes[0] ^= 0x01
    writeFileSync(blobPath(h), bytes)
    const report = await run(verify)
    assert.equal(isClean(report), false)
    assert.deepEqual(report.corrupt.map((c) => [c.what, c.id]), [["blob", h]])
    assert.deepEqual(report.missing, [])
    assert.match(
      formatVerifyReport(report),
      new RegExp(`^corrupt blob ${h}: its bytes hash to [0-9a-f]{64}\\n.*1 corrupt, 0 missing$`)
    )
  })

  it("a deleted blob is reported missing with every record that refers to it", async () => {
    const result = await run(execute(chain))
    const lower = byPath(result, "g1/toy-lower")
    const concat = byPath(result, "g1/toy-concat")
    const h = lower.outputs.out.hash
    rmSync(blobPath(h), { force: true })
    rmSync(blobPath(result.manifest), { force: true })
    const report = await run(verify)
    assert.deepEqual(report.corrupt, [])
    const expected = [
      { referrer: `record ${lower.key}`, hash: h, role: "output out" },
      { referrer: `record ${concat.key}`, hash: h, role: "input a" },
      { referrer: "ref pipelines/toy", hash: result.manifest, role: "pipeline ref" }
    ]
    const order = (m: { referrer: string; role: string }) => `${m.referrer} ${m.role}`
    assert.deepEqual(
      [...report.missing].sort((a, b) => order(a).localeCompare(order(b))),
      [...expected].sort((a, b) => order(a).localeCompare(order(b)))
    )
    assert.match(formatVerifyReport(report), /0 corrupt, 3 missing$/)
  })

  it("a garbage record is corrupt; a deleted record leaves its node ref dangling", async () => {
    const result = await run(execute(chain))
    const bad = byPath(result, "g3/toy-lower").key
    chmodSync(recordPath(bad), 0o644)
    writeFileSync(recordPath(bad), "{ not json")
    const gone = byPath(result, "g2/toy-concat").key
    rmSync(recordPath(gone), { force: true })
    const report = await run(verify)
    assert.deepEqual(report.corrupt.map((c) => [c.what, c.id]), [["record", bad]])
    assert.deepEqual(report.missing, [{ referrer: "ref nodes/toy/g2/toy-concat", hash: gone, role: "node ref" }])
    assert.equal(report.records, 9)
  })
})

describe("lineage", () => {
  it("traces the final output back to the seed, each stage once, shared parts printed once", async () => {
    const result = await run(execute(chain))
    const root = byPath(result, "g3/toy-concat").outputs.out.hash
    const l = await run(lineage(root))
    assert.equal(l.rootKind, "artifact")
    assert.deepEqual(l.nodes.map((n) => n.key).sort(), result.nodes.map((n) => n.key).sort())
    assert.equal(new Set(l.nodes.map((n) => n.key)).size, 10)
    // Topological: the seed first, and every input produced by an earlier node.
    assert.equal(l.nodes[0].node, "toy-source")
    const producer = new Map(l.artifacts.map((a) => [a.hash, a.producedBy]))
    const seen = new Set<string>()
    for (const n of l.nodes) {
      for (const h of Object.values(n.inputs)) assert.ok(seen.has(producer.get(h)!), `${n.node} before its inputs`)
      seen.add(n.key)
    }
    assert.equal(l.artifacts.length, 10)
    assert.equal(l.artifacts.at(-1)!.hash, root)
    assert.ok(l.artifacts.every((a) => a.stored && a.artifact === "text" && a.alsoProducedBy.length === 0))

    const text = formatLineageText(l)
    assert.ok(text.startsWith(`${root.slice(0, 12)} text\n  ← g3/toy-concat (toy/concat v1, {})`), text)
    const stageLines = text.split("\n").filter((s) => s.includes("← "))
    const full = stageLines.filter((s) => !s.endsWith("(see above)"))
    assert.equal(full.length, 10)
    assert.ok(stageLines.length > full.length)
    assert.match(text, /← toy-source \(toy\/source v1, \{"text":"seed"\}\) [0-9a-f]{12} \[seed\]/)

    const byKey = await run(lineage(byPath(result, "g1/toy-concat").key))
    assert.equal(byKey.rootKind, "stage")
    assert.equal(byKey.nodes.length, 4)
    assert.match(formatLineageText(byKey), /^stage g1\/toy-concat .*\n  → out: [0-9a-f]{12} text/)
    await assert.rejects(run(lineage("0".repeat(64))), (e: unknown) => e instanceof NotFound)
  })

  it("bytes made by several records are traced through one, and the others are named", async () => {
    const p = Pipeline.make("keep", (q) => {
      const src = q.add(Source({ text: "same" }), {})
      const kept = q.add(Keep({}), { in: src.out })
      q.add(Upper({ suffix: "" }), { in: kept.out })
    })
    const result = await run(execute(p))
    const source = byPath(result, "toy-source").key
    const keep = byPath(result, "toy-keep").key
    const l = await run(lineage(byPath(result, "toy-upper").outputs.out.hash))
    // Keep consumes the very bytes it makes: tracing through it would loop, so the seed is the producer.
    assert.deepEqual(l.nodes.map((n) => n.node), ["toy-source", "toy-upper"])
    assert.deepEqual(l.artifacts[0].alsoProducedBy, [keep])
    assert.equal(l.artifacts[0].producedBy, source)
    assert.match(formatLineageText(l), /also from 1 other record/)
    const ofKeep = await run(lineage(keep))
    assert.deepEqual(ofKeep.nodes.map((n) => n.node), ["toy-source", "toy-keep"])
  })

  it("PROV-JSON has one entity per artifact, one activity per stage, and only declared ids", async () => {
    const result = await run(execute(chain))
    const l = await run(lineage(byPath(result, "g3/toy-concat").outputs.out.hash))
    const prov = JSON.parse(JSON.stringify(toProvJson(l))) as ReturnType<typeof toProvJson>
    assert.deepEqual(prov.prefix, { ouro: "urn:ouroboros:" })
    const count = (o: object) => Object.keys(o).length
    // Inputs: upper 1, lower 1, concat 2, per generation; each derivation pairs an output with one input.
    assert.deepEqual(
      [
        count(prov.entity),
        count(prov.activity),
        count(prov.used),
        count(prov.wasGeneratedBy),
        count(prov.wasDerivedFrom)
      ],
      [10, 10, 12, 10, 12]
    )
    const ids = [prov.used, prov.wasGeneratedBy, prov.wasDerivedFrom].flatMap((o) => Object.keys(o))
    assert.equal(new Set(ids).size, ids.length)
    const entities = new Set(Object.keys(prov.entity))
    const activities = new Set(Object.keys(prov.activity))
    for (const rel of [...Object.values(prov.used), ...Object.values(prov.wasGeneratedBy)]) {
      assert.ok(entities.has(String(rel["prov:entity"])))
      assert.ok(activities.has(String(rel["prov:activity"])))
    }
    for (const rel of Object.values(prov.wasDerivedFrom)) {
      assert.ok(entities.has(String(rel["prov:generatedEntity"])) && entities.has(String(rel["prov:usedEntity"])))
      assert.ok(activities.has(String(rel["prov:activity"])))
      assert.ok(String(rel["prov:usage"]) in prov.used && String(rel["prov:generation"]) in prov.wasGeneratedBy)
    }
    const seed = prov.activity[`ouro:stage-${byPath(result, "toy-source").key}`]
    assert.equal(seed["prov:type"], "toy/source")
    assert.equal(seed["ouro:params"], "{\"text\":\"seed\"}")
    assert.ok(!Number.isNaN(Date.parse(String(seed["prov:startTime"]))))
    assert.deepEqual(toProvJson(l), toProvJson(await run(lineage(l.root))))
  })

  it("DOT output is a digraph whose every edge joins declared nodes", async () => {
    const result = await run(execute(chain))
    const l = await run(lineage(byPath(result, "g3/toy-concat").outputs.out.hash))
    const dot = toDot(l)
    assert.ok(dot.startsWith("digraph "))
    assert.equal(dot.split("{").length, dot.split("}").length)
    assert.ok(dot.trimEnd().endsWith("}"))
    const declared = new Set([...dot.matchAll(/^ {2}("[^"]+") \[shape=(box|ellipse)/gm)].map((m) => m[1]))
    assert.equal(declared.size, 20)
    const edges = [...dot.matchAll(/^ {2}("[^"]+") -> ("[^"]+")/gm)]
    assert.equal(edges.length, 22)
    for (const [, from, to] of edges) assert.ok(declared.has(from) && declared.has(to), `${from} -> ${to}`)
    assert.equal(dot, toDot(await run(lineage(l.root))))
  })
})
