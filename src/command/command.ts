/**
 * Command.stage: a stage defined by the program it runs. The engine is unchanged: this is a `defineStage` whose
 * - key adds the sha256 of every file the program reads (inputs named "external:file:<path>", so `ouro plan` says
 *   `file <path> changed`), the output of env probes ("probe:<name>") and the environment variables it sets
 *   ("env:<NAME>");
 * - run materialises its inputs as files in a fresh private working directory under the OS temp dir (never inside
 *   the store), with `params.json` and `ouro-manifest.json`, runs the program there in its own process group, and
 *   reads back, validates and returns each declared output; the directory is removed whatever happens.
 *
 * The protocol a program sees (README "Your own model"):
 *   cwd = OURO_WORKDIR, a fresh directory; OURO_PARAMS = params.json (the stage's params, canonical JSON);
 *   OURO_MANIFEST = ouro-manifest.json {format, kind, node, workdir, params, inputs, outputs}: name → {path, artifact};
 *   OURO_INPUT_<NAME> and OURO_OUTPUT_<NAME> the same paths (NAME upper-cased, other characters as "_").
 *   Corpus: Parquet (columns id, text, both strings); Model: safetensors; Tokenizer, Metrics: JSON; Files: a folder.
 * An output of the Log kind is not read from a file: it receives the program's output (the last `logLimit` bytes).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { Files, readTree, writeTree, type FileTree } from "../artifact/files.ts"
import { Log } from "../artifact/log.ts"
import type { ArtifactType, ArtifactTypes, Values } from "../artifact/type.ts"
import { describe, StageFailed } from "../errors/index.ts"
import { canonicalJson, sha256 } from "../hash/index.ts"
import { defineStage, type ExternalUnreadable, type RunContext, type Stage } from "../pipeline/stage.ts"
import { lastLines, runProcess } from "./process.ts"
import { probe } from "./probe.ts"

export interface CommandPaths {
  /** Each file of `files` by its name as given, resolved to an absolute path. */
  readonly files: Readonly<Record<string, string>>
  readonly workdir: string
  readonly inputs: Readonly<Record<string, string>>
  readonly outputs: Readonly<Record<string, string>>
}

export interface CommandDefinition<P, I extends ArtifactTypes, O extends ArtifactTypes> {
  /** e.g. "train/torch" */
  readonly kind: string
  /** Bump when results would change for the same params, files and probes. */
  readonly version: number
  readonly params: Schema.Codec<P, unknown>
  readonly inputs: I
  readonly outputs: O
  /** The argv to run, from the validated params; argv[0] is looked up on PATH. Paths in it are not in the key. */
  readonly command: (params: P, paths: CommandPaths) => ReadonlyArray<string>
  /**
   * Files the program reads (scripts, configs), relative to `root`: each one's sha256 joins the key under the name
   * given here, so give relative names (an absolute one ties the key to this machine's layout).
   */
  readonly files?: ReadonlyArray<string> | ((params: P) => ReadonlyArray<string>)
  /** What `files` are relative to (default: the current directory when the stage is configured). */
  readonly root?: string
  /** Commands whose trimmed stdout joins the key's env as "probe:<name>" (e.g. python -c "import torch; ..."). */
  readonly probes?: Readonly<Record<string, ReadonlyArray<string>>>
  /** Environment variables set for the program (and its probes); each joins the key's env as "env:<NAME>". */
  readonly environment?: Readonly<Record<string, string>>
  /** Seconds the program may run (default: no limit); a run option given to the constructor overrides it. */
  readonly timeout?: number
  /** Bytes of output kept as the log (the last ones): 4 MiB by default. */
  readonly logLimit?: number
}

/** Options of one configured command stage that do not change its results (not in the key). */
export interface CommandRunOptions {
  /** Seconds; past it the program's process group is killed and the stage fails, storing nothing. */
  readonly timeout?: number
}

const DEFAULT_LOG_LIMIT = 4 << 20
const TAIL_LINES = 15

/** The file form of an input or output of each kind: an extension, or a folder for Files. */
const fileName = (name: string, type: ArtifactType<unknown>): string => {
  switch (type.name) {
    case "corpus":
      return `${name}.parquet`
    case "model":
      return `${name}.safetensors`
    case "files":
      return name
    case "log":
      return `${name}.log`
    default:
      return `${name}.json`
  }
}

const envName = (name: string): string => name.toUpperCase().replace(/[^A-Z0-9]/g, "_")

/** The process environment the program and its probes get: this one's, without ouroboros's own variables. */
const programEnv = (extra: Readonly<Record<string, string>>): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("OURO_")) env[k] = v
  return { ...env, ...extra }
}

const isFiles = (type: ArtifactType<unknown>): type is ArtifactType<FileTree> => type.name === Files.name
const isLog = (type: ArtifactType<unknown>): type is ArtifactType<string> => type.name === Log.name

/**
 * A constructor of command stages: `(params, options?) => Stage`. Params are validated by the Schema as for any
 * stage; the probes run when a stage is configured (once per process per argv).
 */
export const stage = <P, I extends ArtifactTypes, O extends ArtifactTypes>(
  def: CommandDefinition<P, I, O>
): (params?: unknown, options?: CommandRunOptions) => Stage<I, O> => {
  const environment = def.environment ?? {}
  const encodeParams = Schema.encodeUnknownSync(def.params)
  const filesOf = (
    p: P
  ): ReadonlyArray<
    string
  > => (def.files === undefined ? [] : typeof def.files === "function" ? def.files(p) : def.files)
  return (raw, options = {}) => {
    const root = def.root ?? process.cwd()
    const env = programEnv(environment)
    const probes = Object.entries(def.probes ?? {}).map(([name, argv]) => ({ name, argv, result: probe(argv, env) }))
    const keyEnv: Record<string, string> = {}
    for (const p of probes) keyEnv[`probe:${p.name}`] = p.result.ok ? p.result.value : `unavailable: ${p.result.detail}`
    for (const [k, v] of Object.entries(environment)) keyEnv[`env:${k}`] = v
    const timeout = options.timeout ?? def.timeout
    const resolveFile = (name: string) => path.resolve(root, name)
    return defineStage({
      kind: def.kind,
      version: def.version,
      params: def.params,
      inputs: def.inputs,
      outputs: def.outputs,
      env: keyEnv,
      external: (p) =>
        Effect.try({
          try: () =>
            Object.fromEntries(
              filesOf(p).map((name) => {
                const abs = resolveFile(name)
                let bytes: Buffer
                try {
                  bytes = fs.readFileSync(abs)
                } catch (e) {
                  throw new Error(`cannot read file ${name}${abs === name ? "" : ` (${abs})`}: ${describe(e)}`)
                }
                return [`file:${name}`, sha256(bytes)]
              })
            ),
          catch: (e): ExternalUnreadable => ({ detail: describe(e) })
        }),
      run: (p, inputs, ctx) =>
        Effect.gen(function*() {
          for (const pr of probes) {
            if (!pr.result.ok) return yield* fail(ctx, `probe ${pr.name} failed: ${pr.result.detail}`)
          }
          return yield* Effect.acquireUseRelease(
            Effect.try({
              try: () => fs.mkdtempSync(path.join(os.tmpdir(), `ouro-${def.kind.replace(/[^a-zA-Z0-9]+/g, "-")}-`)),
              catch: (e) => failure(ctx, `cannot make a working directory: ${describe(e)}`)
            }),
            (workdir) =>
              runIn(workdir, {
                def,
                params: p,
                encodedParams: encodeParams(p),
                inputs,
                ctx,
                files: Object.fromEntries(filesOf(p).map((name) => [name, resolveFile(name)])),
                env: programEnv(environment),
                timeout
              }),
            (workdir) => Effect.sync(() => fs.rmSync(workdir, { recursive: true, force: true }))
          )
        })
    })(raw)
  }
}

const failure = (ctx: RunContext, detail: string, cause?: unknown) =>
  new StageFailed({ node: ctx.node, kind: ctx.kind, detail, cause })
const fail = (ctx: RunContext, detail: string, cause?: unknown) => Effect.fail(failure(ctx, detail, cause))

interface RunSpec<P, I extends ArtifactTypes, O extends ArtifactTypes> {
  readonly def: CommandDefinition<P, I, O>
  readonly params: P
  readonly encodedParams: unknown
  readonly inputs: Values<I>
  readonly ctx: RunContext
  readonly files: Readonly<Record<string, string>>
  readonly env: Readonly<Record<string, string>>
  readonly timeout: number | undefined
}

const runIn = <P, I extends ArtifactTypes, O extends ArtifactTypes>(workdir: string, s: RunSpec<P, I, O>) =>
  Effect.gen(function*() {
    const { def, ctx } = s
    const inputPaths: Record<string, string> = {}
    const outputPaths: Record<string, string> = {}
    const manifestIn: Record<string, { path: string; artifact: string }> = {}
    const manifestOut: Record<string, { path: string; artifact: string }> = {}
    const paramsPath = path.join(workdir, "params.json")
    const manifestPath = path.join(workdir, "ouro-manifest.json")
    yield* Effect.try({
      try: () => {
        fs.mkdirSync(path.join(workdir, "inputs"))
        fs.mkdirSync(path.join(workdir, "outputs"))
        for (const [name, type] of Object.entries(def.inputs)) {
          const p = path.join(workdir, "inputs", fileName(name, type))
          const value = (s.inputs as Record<string, unknown>)[name]
          if (isFiles(type)) writeTree(p, value as FileTree)
          else fs.writeFileSync(p, type.encode(value))
          inputPaths[name] = p
          manifestIn[name] = { path: p, artifact: type.name }
        }
        for (const [name, type] of Object.entries(def.outputs)) {
          if (isLog(type)) continue
          const p = path.join(workdir, "outputs", fileName(name, type))
          outputPaths[name] = p
          manifestOut[name] = { path: p, artifact: type.name }
        }
        fs.writeFileSync(paramsPath, canonicalJson(s.encodedParams) + "\n")
        fs.writeFileSync(
          manifestPath,
          JSON.stringify(
            {
              format: 1,
              kind: def.kind,
              node: ctx.node,
              workdir,
              params: paramsPath,
              inputs: manifestIn,
              outputs: manifestOut
            },
            null,
            2
          ) + "\n"
        )
      },
      catch: (e) => failure(ctx, `cannot write its inputs into ${workdir}: ${describe(e)}`, e)
    })
    const env: Record<string, string> = {
      ...s.env,
      OURO_WORKDIR: workdir,
      OURO_PARAMS: paramsPath,
      OURO_MANIFEST: manifestPath
    }
    for (const [name, p] of Object.entries(inputPaths)) env[`OURO_INPUT_${envName(name)}`] = p
    for (const [name, p] of Object.entries(outputPaths)) env[`OURO_OUTPUT_${envName(name)}`] = p
    const argv = yield* Effect.try({
      try: () => def.command(s.params, { files: s.files, workdir, inputs: inputPaths, outputs: outputPaths }),
      catch: (e) => failure(ctx, `its command could not be made: ${describe(e)}`, e)
    })
    const shown = argv.map((a) => path.basename(a)).slice(0, 3).join(" ")
    const outcome = yield* runProcess({
      argv,
      cwd: workdir,
      env,
      timeout: s.timeout,
      keepBytes: def.logLimit ?? DEFAULT_LOG_LIMIT,
      onLine: (line) => Effect.runSync(ctx.log(line)),
      onStatus: ctx.status
    })
    const withTail = (log: string) => {
      const lines = lastLines(log, TAIL_LINES)
      return lines.length === 0
        ? " (it printed nothing)"
        : `; its last lines:\n${lines.map((l) => `  | ${l}`).join("\n")}`
    }
    if (outcome._tag === "NotStarted") return yield* fail(ctx, `cannot run ${shown}: ${outcome.detail}`)
    if (outcome._tag === "TimedOut") {
      return yield* fail(
        ctx,
        `${shown} ran past its timeout of ${outcome.seconds}s: its process group was killed${withTail(outcome.log)}`
      )
    }
    if (outcome.code !== 0) {
      const last = lastLines(outcome.log, 1)[0]
      return yield* fail(
        ctx,
        `${shown} exited with code ${outcome.code}${last === undefined ? "" : ` (${last.trim()})`}${
          withTail(outcome.log)
        }`
      )
    }
    const produced: Record<string, unknown> = {}
    for (const [name, type] of Object.entries(def.outputs)) {
      if (isLog(type)) {
        produced[name] = outcome.log
        continue
      }
      const p = outputPaths[name]
      if (!fs.existsSync(p)) {
        return yield* fail(ctx, `output ${name} (${type.name}) missing: ${shown} wrote nothing at ${p}`)
      }
      produced[name] = yield* Effect.try({
        try: () => (isFiles(type) ? readTree(p) : type.decode(new Uint8Array(fs.readFileSync(p)))),
        catch: (e) => failure(ctx, `output ${name} (${type.name}) at ${p} is invalid: ${describe(e)}`, e)
      })
    }
    return produced as Values<O>
  })
