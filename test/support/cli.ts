/** Runs the real `ouro` command in a child process, as a user would. */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

export const ROOT = resolve(import.meta.dirname, "../..")
const BIN = join(ROOT, "bin", "ouro.js")

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const ouro = (cwd: string, ...args: string[]): CliResult => ouroEnv({}, cwd, ...args)

/** `ouro` with these environment variables set besides the test's own. */
export const ouroEnv = (extra: Readonly<Record<string, string>>, cwd: string, ...args: string[]): CliResult => {
  const { OURO_STORE: _ignored, ...env } = process.env
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", env: { ...env, ...extra } })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

/**
 * A fresh directory set up as a user's ESM project with ouroboros installed (linked, as `npm link` would), so its
 * pipeline files import the public face: `import { Pipeline } from "ouroboros"`.
 */
export const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  linkOuroboros(dir)
  return dir
}

export const linkOuroboros = (dir: string): void => {
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }))
  mkdirSync(join(dir, "node_modules"), { recursive: true })
  symlinkSync(ROOT, join(dir, "node_modules", "ouroboros"), "dir")
}

/**
 * A small replace-regime pipeline on the Shakespeare sample shipped in data/, written into `dir` so that a test
 * can change one parameter the way a user edits a file.
 */
export const writeTinyPipeline = (
  dir: string,
  o: { readonly g2Temperature?: number; readonly name?: string } = {}
): string => {
  const file = join(dir, `${o.name ?? "tiny"}.ts`)
  writeFileSync(
    file,
    `
import { Evaluate, Mix, Pipeline, Sample, Seed, Tokenize, Train } from "ouroboros"

export default Pipeline.make(${JSON.stringify(o.name ?? "tiny")}, (p) => {
  const real = p.add(Seed.corpus({ source: ${
      JSON.stringify(join(ROOT, "data/shakespeare-sample.txt"))
    }, testFraction: 0.2, seed: 7 }), {})
  const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
  p.generations(3, { corpus: real.train, pool: real.train }, (g, prev) => {
    const { model } = g.add(Train.ngram({ order: 2 }), { corpus: prev.corpus, tokenizer })
    const temperature = g.index === 2 ? ${o.g2Temperature ?? 1} : 1
    const synthetic = g.add(Sample.text({ documents: 40, maxLength: 60, temperature, seed: g.index }), { model, tokenizer }).corpus
    g.add(Evaluate.lm({ selfBleuDocs: 10, selfBleuLength: 30 }), { model, tokenizer, test: real.test, sample: synthetic })
    return g.add(Mix.replace(), { real: real.train, previous: prev.pool, synthetic })
  })
})
`
  )
  return file
}
