/**
 * Fault injection: `ouro run` killed with SIGKILL at seeded random moments, again and again, on one store.
 * After every kill `ouro verify` must be clean; every run that completes must end with the same run manifest as an
 * uninterrupted run; every byte flipped in a blob must be caught by verify and repaired by the next run.
 *   npm run fault                 50 kills (a few minutes)
 *   npm run fault -- --kills 10 --flips 5   fewer kills, and bytes flipped in only 5 blobs (default: every blob)
 * Prints the counts and exits non-zero on any violation.
 */
import { spawn, spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { uniformInt } from "pure-rand/distribution/uniformInt"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import { linkOuroboros } from "../support/cli.ts"

const ROOT = resolve(import.meta.dirname, "../..")
const BIN = join(ROOT, "bin/ouro.js")
const option = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  return i < 0 ? fallback : Number(process.argv[i + 1])
}
const kills = option("--kills", 50)
const maxFlips = option("--flips", Infinity)
const rng = xoroshiro128plus(20261125)

const dir = mkdtempSync(join(tmpdir(), "ouro-fault-"))
linkOuroboros(dir)
const pipeline = join(dir, "fault.ts")
writeFileSync(pipeline, `
import { Evaluate, Filter, Mix, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"
export default Pipeline.make("fault", (p) => {
  const real = p.add(Seed.corpus({ source: ${JSON.stringify(join(ROOT, "data/shakespeare-sample.txt"))}, testFraction: 0.2, seed: 3 }), {})
  const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
  for (const arm of ["replace", "accumulate"] as const) {
    p.scope({ arm }, (s) => s.generations(6, { corpus: real.train, pool: real.train }, (g, prev) => {
      const { model } = g.add(Train.ngram({ order: 3 }), { corpus: prev.corpus, tokenizer })
      const sampled = g.add(Sample.text({ documents: 400, maxLength: 300, seed: g.index }), { model, tokenizer }).corpus
      const synthetic = g.add(Filter.dedup(), { corpus: sampled }).corpus
      g.add(Evaluate.lm({ selfBleuDocs: 20, selfBleuLength: 50 }), { model, tokenizer, test: real.test, sample: synthetic })
      return g.add(arm === "replace" ? Mix.replace() : Mix.accumulate(), { real: real.train, previous: prev.pool, synthetic })
    }))
  }
})
`)

const ouro = (store: string, ...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args, "--store", store], { cwd: dir, encoding: "utf8" })
const manifestOf = (stdout: string) => /run manifest ([0-9a-f]{64})/.exec(stdout)?.[1]

const violations: string[] = []
const check = (ok: boolean, what: string) => {
  if (!ok) {
    violations.push(what)
    console.log(`  VIOLATION: ${what}`)
  }
}

// The reference: one uninterrupted run in its own store.
const referenceStore = join(dir, "reference")
const reference = ouro(referenceStore, "run", pipeline, "--quiet")
const expected = manifestOf(reference.stdout)
if (reference.status !== 0 || expected === undefined) throw new Error(`reference run failed: ${reference.stderr}`)
const stages = Number(/(\d+) stages/.exec(reference.stdout)?.[1])
console.log(`fault injection: pipeline of ${stages} stages; reference manifest ${expected.slice(0, 12)}`)

const store = join(dir, "store")
let killed = 0
let completed = 0
let resumedStages = 0
for (let trial = 0; killed < kills; trial++) {
  const delay = uniformInt(rng, 50, 3500)
  const child = spawn(process.execPath, [BIN, "run", pipeline, "--quiet", "--store", store, "--jobs", String(1 + (trial % 2))], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  child.stdout.on("data", (d) => (stdout += d))
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), delay)
    child.on("exit", (code, signal) => (clearTimeout(timer), done({ code, signal })))
  })
  if (exit.signal === "SIGKILL") killed++
  else {
    check(exit.code === 0, `trial ${trial}: run exited ${exit.code}`)
    check(manifestOf(stdout) === expected, `trial ${trial}: completed run manifest ${manifestOf(stdout)} differs from ${expected}`)
    completed++
    resumedStages += Number(/(\d+) ran/.exec(stdout)?.[1] ?? 0)
  }
  // Killed before it made the store (the CLI takes a second or two to start): verify must say there is none, and
  // create none.
  const made = existsSync(store)
  const verify = ouro(store, "verify")
  if (made) check(verify.status === 0, `trial ${trial} (killed after ${delay} ms): verify: ${verify.stdout.trim()} ${verify.stderr.trim()}`)
  else {
    check(verify.status === 1 && verify.stderr.startsWith("ouro: no store at") && !existsSync(store),
      `trial ${trial} (killed after ${delay} ms, before the store was made): verify: ${verify.status} ${verify.stdout.trim()} ${verify.stderr.trim()}`)
  }
  // Start again from an empty store once a run got through, so later kills land mid-computation too.
  if (exit.signal !== "SIGKILL") rmSync(store, { recursive: true, force: true })
}
const final = ouro(store, "run", pipeline, "--quiet")
check(manifestOf(final.stdout) === expected, `final resumed run manifest ${manifestOf(final.stdout)} differs from ${expected}`)
console.log(`kill -9: ${killed} kills, ${completed} runs completed between them (all with the reference manifest), final resumed run ${manifestOf(final.stdout) === expected ? "identical" : "DIFFERENT"}`)

// Flipped bytes: every blob of the finished store, one at a time.
let flips = 0
let caught = 0
let repaired = 0
const blobsDir = join(store, "blobs")
const blobs = readdirSync(blobsDir).flatMap((shard) => readdirSync(join(blobsDir, shard)).map((name) => join(blobsDir, shard, name)))
for (const blob of blobs) {
  if (flips >= maxFlips) break
  if (statSync(blob).size === 0) continue
  const bytes = readFileSync(blob)
  const at = uniformInt(rng, 0, bytes.length - 1)
  bytes[at] ^= 0x01
  chmodSync(blob, 0o644)
  writeFileSync(blob, bytes)
  flips++
  const verify = ouro(store, "verify")
  if (verify.status === 1 && verify.stdout.includes("corrupt blob")) caught++
  else check(false, `flip at byte ${at} of ${blob}: verify did not report it (${verify.stdout.trim()})`)
  const rerun = ouro(store, "run", pipeline, "--quiet")
  const after = ouro(store, "verify")
  if (rerun.status === 0 && manifestOf(rerun.stdout) === expected && after.status === 0) repaired++
  else check(false, `flip in ${blob}: next run did not repair it (${rerun.stderr.trim() || rerun.stdout.trim()}; verify ${after.stdout.trim()})`)
}
console.log(`flipped bytes: ${flips} blobs flipped, ${caught} caught by verify, ${repaired} repaired by the next run (same manifest, verify clean)`)
rmSync(dir, { recursive: true, force: true })
console.log(violations.length === 0 ? "fault injection: no violations" : `fault injection: ${violations.length} violations`)
process.exit(violations.length === 0 ? 0 : 1)
