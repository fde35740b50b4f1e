/**
 * The `ouro` command. Every failure the user can cause ends as one line `ouro: <what is wrong>` on stderr and
 * exit code 1; a usage error (an unknown flag, a missing argument, a bad flag value) is the cli's message and exit
 * code 2, as most commands do; only a bug in ouroboros itself prints a stack trace.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { join, resolve } from "node:path"
// Subpath imports: the package index loads every Node service (HTTP, sockets, ...), half a second we do not need.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Cause, Console, Effect, Exit, Option, Runtime } from "effect"
import { Argument, CliError, Command, Flag, GlobalFlag } from "effect/cli"
import { execute, recomputingCorrupt, type RunResult } from "../engine/execute.ts"
import { plan } from "../engine/plan.ts"
import { renderPlan } from "./plan-text.ts"
import type { Progress } from "../engine/Progress.ts"
import { describe, NotFound, type OuroError, OutputUnwritable, StoreError } from "../errors/index.ts"
import type { Pipeline } from "../pipeline/pipeline.ts"
import { gatherReport } from "../report/gather.ts"
import { EXPORT_FORMATS, gatherMetricsRows, toCsv, toJson, toParquet, toTable } from "../report/metrics-export.ts"
import { Metrics } from "../artifact/artifacts.ts"
import { metricsTables, alignTable, type MetricsRow } from "../report/table.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { readArtifact } from "../store/read.ts"
import { storeInProcess, storeWorkers } from "../engine/layers.ts"
import { isRemoteSpec, type OpenOptions, redactSpec, storeSpecOf, type StoreMode } from "../store/open.ts"
import type { StageRunner } from "../engine/StageRunner.ts"
import { defaultWorkers } from "../engine/workers.ts"
import { formatLineageText, lineage, runNodeLineage, toDot, toProvJson } from "../audit/lineage.ts"
import { formatVerifyReport, isClean, verify } from "../audit/verify.ts"
import { formatGc, planGc, sweepGc } from "../audit/gc.ts"
import { compareWithRecords, formatReplay } from "../audit/replay.ts"
import {
  describeRecord,
  findRun,
  lastRuns,
  manifestMetrics,
  pipelineFileOf,
  rememberSource,
  resolveName,
  runOf,
  showBlob
} from "./inspect.ts"
import { formatRuns, listRuns, reportOf, structureFromSource } from "./runs.ts"
import { diffSides, pipelineSide, runSide } from "../audit/diff.ts"
import { formatDiff } from "./diff-text.ts"
import { pin, unpin } from "../audit/pins.ts"
import type { ReportData } from "../report/data.ts"
import type { RenderedFigure } from "../report/html.ts"
import { progressLayer } from "./progress.ts"
import { lsJson, planJson, showBlobJson, showRecordJson, statusJson, verifyJson } from "./json.ts"
import { loadPipeline } from "../pipeline/load.ts"
import { requireDirectory, requireWritableFile, writeOutputFile } from "./existing.ts"
import { formatTransfer, pull, push } from "./transfer.ts"
import { backendEnv, plannedBackend, plannedBecause } from "../lm/neural/backend-plan.ts"
import {
  clusterEnvironment,
  clusterFlag,
  clusterLogLevel,
  probeCluster,
  runWorkerCommand,
  workerFlags
} from "./cluster.ts"

const storeFlag = Flag.String("store").pipe(
  Flag.withDescription(
    "The store: a directory, file://, http(s)://host/prefix or s3://bucket/prefix (default: $OURO_STORE or .ouroboros in the current directory)"
  ),
  Flag.optional
)
const storeRoot = (flag: Option.Option<string>) => storeSpecOf(Option.getOrUndefined(flag))

/** `--cache DIR`, on every command: the local cache in front of a remote store. */
const Cache = GlobalFlag.Setting("cache")({
  flag: Flag.String("cache").pipe(
    Flag.withDescription("The local cache in front of a remote --store (default: $OURO_CACHE or .ouroboros)"),
    Flag.optional
  )
})
const cacheNow = Effect.map(Cache, (c) => ({ cache: Option.getOrUndefined(c) }))

/** `--quiet`, on every command: no progress lines on stderr. */
const Quiet = GlobalFlag.Setting("quiet")({
  flag: Flag.Boolean("quiet").pipe(
    Flag.withDescription("No progress lines on stderr (also: --log-level none)"),
    Flag.withDefault(false)
  )
})

/** Whether progress is silenced: `--quiet`, or `--log-level none`. */
const quietNow = Effect.gen(function*() {
  const level = yield* GlobalFlag.LogLevel
  return (yield* Quiet) || Option.exists(level, (l) => l === "None")
})

/** `--json`: one JSON document on stdout for a script (shapes: json.ts, README). */
const jsonFlag = Flag.Boolean("json").pipe(
  Flag.withDescription("Print one JSON document on stdout (for scripts; see README)"),
  Flag.withDefault(false)
)

const pipelineArg = Argument.String("pipeline").pipe(
  Argument.withDescription("A pipeline file (.ts) whose default export is a Pipeline")
)

/** Turns every expected failure into one line on stderr and exit code 1. */
const reportErrors = <A, R>(body: Effect.Effect<A, OuroError, R>) =>
  body.pipe(
    Effect.catch((e: OuroError) =>
      Effect.sync(() => {
        process.stderr.write(`ouro: ${e.message}\n`)
        process.exitCode = 1
      })
    )
  )

/**
 * The store opened for reading only: a reading command creates, cleans and repairs nothing in it (and works on a
 * read-only disk); a remote store's local cache still fills.
 */
const readStore = (spec: string, options: OpenOptions) => storeInProcess(spec, "read", options)

/**
 * Runs a command body against the store (stages, if any, in this thread). "read": the store must exist, and is
 * opened read-only; "peek": read-only, and a store not made yet is an empty one (plan); "update": it must exist
 * (gc --apply); "write": it is made if need be.
 */
const withStore = <A>(
  flag: Option.Option<string>,
  mode: StoreMode,
  body: Effect.Effect<A, OuroError, ArtifactStore | Progress | StageRunner>
) =>
  // A store that must exist is checked before anything is opened (open.ts): a mistyped --store must not become a
  // new, empty store called clean.
  reportErrors(
    Effect.gen(function*() {
      return yield* body.pipe(Effect.provide(storeInProcess(storeRoot(flag), mode, yield* cacheNow)))
    })
  )

const short = (h: string | undefined) => (h === undefined ? "-" : h.slice(0, 12))

/** Metrics of a run, read back from the store, as per-generation tables. */
export const runMetrics = (result: RunResult) =>
  Effect.gen(function*() {
    const rows: MetricsRow[] = []
    for (const r of result.nodes) {
      for (const out of Object.values(r.outputs)) {
        if (out.artifact !== "metrics") continue
        rows.push({ tags: r.node.tags, values: (yield* readArtifact(Metrics, out.hash)).values })
      }
    }
    return rows
  })

const jobsFlag = Flag.Int("jobs").pipe(
  Flag.withDescription("Stages computed at once, each on its own worker thread"),
  Flag.withDefault(defaultWorkers())
)

/**
 * Where stages run: on worker threads that load the pipeline file, one for --jobs 1 too. A stage computing in this
 * thread would block its event loop (a long synchronous loop in a built-in or a user's stage), and with it the
 * SIGINT/SIGTERM handlers: on a worker, a signal interrupts the run here and terminates the worker at once.
 */
const runEnvironment = (spec: string, options: OpenOptions, pipelineFile: string, jobs: number, quiet: boolean) =>
  storeWorkers(spec, options, resolve(pipelineFile), Math.max(1, jobs), progressLayer({ quiet }))

const run = Command.make("run", {
  pipeline: pipelineArg,
  store: storeFlag,
  jobs: jobsFlag,
  report: Flag.String("report").pipe(Flag.withDescription("Then write the HTML report to this file"), Flag.optional),
  cluster: clusterFlag
}, (a) =>
  reportErrors(clusterLogLevel(Effect.gen(function*() {
    const pipeline = yield* loadPipeline(a.pipeline)
    if (Option.isSome(a.report)) yield* requireWritableFile("report", a.report.value)
    if (Option.isSome(a.cluster)) yield* probeCluster(a.cluster.value)
    const environment = Option.isSome(a.cluster)
      ? clusterEnvironment(storeRoot(a.store), yield* cacheNow, a.pipeline, a.cluster.value, yield* quietNow)
      : runEnvironment(storeRoot(a.store), yield* cacheNow, a.pipeline, a.jobs, yield* quietNow)
    const started = Date.now()
    // What the run made is read back (metrics, the report): a blob found corrupt then is recomputed, not fatal.
    const { result, rows, report } = yield* recomputingCorrupt(Effect.gen(function*() {
      yield* rememberSource(pipeline.name, a.pipeline)
      const result = yield* execute(pipeline)
      const report = Option.isSome(a.report) ? yield* writeReport(pipeline, a.report.value) : undefined
      return { result, rows: yield* runMetrics(result), report }
    })).pipe(Effect.provide(environment))
    const count = (s: string) => result.nodes.filter((n) => n.status === s).length
    if (rows.length > 0) yield* Console.log(metricsTables(rows) + "\n")
    yield* Console.log(
      `pipeline ${pipeline.name}: ${result.nodes.length} stages, ${count("ran")} ran, ${count("cached")} cached, ` +
        `${count("shared")} shared, ${((Date.now() - started) / 1000).toFixed(2)} s; run manifest ${result.manifest}`
    )
    if (report !== undefined) yield* Console.log(`report written to ${report}`)
  })))).pipe(Command.withDescription("Run a pipeline: compute every stage whose key is not in the store"))

const workerCommand = Command.make(
  "worker",
  { ...workerFlags, store: storeFlag },
  (a) =>
    reportErrors(clusterLogLevel(Effect.flatMap(
      cacheNow,
      ({ cache }) => runWorkerCommand({ ...a, store: storeRoot(a.store), storeCache: cache })
    )))
).pipe(Command.withDescription("Be a worker of a cluster: compute the stages that `ouro run --cluster` submits"))

const planCommand = Command.make("plan", {
  pipeline: pipelineArg,
  store: storeFlag,
  json: jsonFlag,
  verbose: Flag.Boolean("verbose").pipe(
    Flag.withDescription("Each stage's kind and key, and every reason it runs"),
    Flag.withDefault(false)
  )
}, (a) =>
  withStore(
    a.store,
    "peek",
    Effect.gen(function*() {
      const pipeline = yield* loadPipeline(a.pipeline)
      const entries = yield* plan(pipeline)
      if (a.json) return yield* Console.log(planJson(pipeline.name, entries))
      yield* Console.log(renderPlan(entries, { verbose: a.verbose }))
    })
  )).pipe(
    Command.withDescription(
      "Show the summary, then for every stage whether it is cached or will run, and why (--verbose: every reason, kind and key)"
    )
  )

const status = Command.make(
  "status",
  { store: storeFlag, json: jsonFlag },
  (a) =>
    withStore(
      a.store,
      "read",
      Effect.gen(function*() {
        const store = yield* ArtifactStore
        const inventory = yield* store.inventory
        const { blobs, records } = inventory
        const bytes = blobs.reduce((n, b) => n + b.bytes, 0)
        const strays = inventory.strays.length
        const runs = yield* lastRuns
        if (a.json) {
          return yield* Console.log(
            statusJson({ store: store.location, blobs: blobs.length, bytes, records: records.length, strays, runs })
          )
        }
        yield* Console.log(
          `store ${store.location}: ${blobs.length} blobs (${
            (bytes / 1e6).toFixed(1)
          } MB), ${records.length} stage records`
        )
        if (strays > 0) {
          yield* Console.log(
            `${strays} ${strays === 1 ? "entry is" : "entries are"} neither a blob nor a record: run ouro verify`
          )
        }
        if (runs.length === 0) yield* Console.log("no pipeline has run yet")
        for (const r of runs) {
          yield* Console.log(`pipeline ${r.name}: last run ${short(r.hash)}, ${r.manifest.nodes.length} stages`)
        }
      })
    )
).pipe(Command.withDescription("Summarise the store: blobs, records and the last run of each pipeline"))

const show = Command.make("show", {
  name: Argument.String("hash-or-ref").pipe(
    Argument.withDescription(
      "An artifact hash (or unique prefix), a stage key, or a ref such as a pipeline name or pipeline/stage path"
    )
  ),
  store: storeFlag,
  head: Flag.Int("head").pipe(
    Flag.filter((n) => n >= 0, (n) => `--head takes a number of documents, 0 or more (got ${n})`),
    Flag.withDescription("Documents to print of a corpus (0 or more)"),
    Flag.withDefault(5)
  ),
  json: jsonFlag
}, (a) =>
  withStore(
    a.store,
    "read",
    Effect.gen(function*() {
      const store = yield* ArtifactStore
      const found = yield* resolveName(a.name)
      if (a.json) {
        if (found._tag === "Record") {
          const described: Record<string, string> = {}
          for (const [name, out] of Object.entries(found.record.outputs)) {
            described[name] = yield* showBlob(out.hash, { head: a.head })
          }
          return yield* Console.log(showRecordJson(found.via, found.record, described))
        }
        const text = yield* showBlob(found.hash, { head: a.head })
        return yield* Console.log(showBlobJson(found.via, found.hash, (yield* store.getBlob(found.hash)).length, text))
      }
      if (found._tag === "Record") {
        yield* Console.log(describeRecord(found.record, found.at))
        for (const [name, out] of Object.entries(found.record.outputs)) {
          yield* Console.log(`\n${name}: ${yield* showBlob(out.hash, { head: a.head })}`)
        }
      } else {
        yield* Console.log(`${found.hash}\n${yield* showBlob(found.hash, { head: a.head })}`)
        // A run manifest: that run's own metrics too.
        const run = yield* findRun(found.hash)
        if (Option.isSome(run)) {
          const rows = yield* manifestMetrics(run.value.manifest)
          if (rows.length > 0) yield* Console.log(`\n${metricsTables(rows)}`)
        }
      }
    })
  )).pipe(
    Command.withDescription("Show an artifact (head of a corpus, a model summary, a metrics table) or a stage record")
  )

const ls = Command.make("ls", {
  pipeline: Argument.String("pipeline-name").pipe(Argument.withDescription("Only this pipeline"), Argument.optional),
  store: storeFlag,
  json: jsonFlag
}, (a) =>
  withStore(
    a.store,
    "read",
    Effect.gen(function*() {
      const all = yield* lastRuns
      const runs = all.filter((r) => Option.isNone(a.pipeline) || r.name === a.pipeline.value)
      if (Option.isSome(a.pipeline) && runs.length === 0) {
        const known = all.map((r) => r.name).join(", ")
        return yield* new NotFound({
          what: a.pipeline.value,
          detail: `no pipeline by that name has run in this store (${
            known === "" ? "none has" : `pipelines that have: ${known}`
          })`
        })
      }
      if (a.json) return yield* Console.log(lsJson(runs))
      if (runs.length === 0) yield* Console.log("nothing to list: no pipeline has run in this store")
      for (const r of runs) {
        const rows = r.manifest.nodes.flatMap((n) =>
          Object.entries(n.outputs).map(([output, hash]) => [`${n.path}.${output}`, n.kind, short(hash)])
        )
        yield* Console.log(
          `pipeline ${r.name} (run ${short(r.hash)})\n${alignTable(["artifact", "kind", "hash"], rows)}\n`
        )
      }
    })
  )).pipe(Command.withDescription("List the artifacts of each pipeline's last run"))

const verifyCommand = Command.make(
  "verify",
  { store: storeFlag, json: jsonFlag },
  (a) =>
    withStore(
      a.store,
      "read",
      Effect.gen(function*() {
        const report = yield* verify
        const store = yield* ArtifactStore
        yield* Console.log(a.json ? verifyJson(store.location, report, isClean(report)) : formatVerifyReport(report))
        if (!isClean(report)) process.exitCode = 1
      })
    )
).pipe(
  Command.withDescription(
    "Re-hash every blob and check every record's and ref's references; exit 1 if anything is corrupt or missing"
  )
)

const lineageCommand = Command.make("lineage", {
  name: Argument.String("hash-or-ref").pipe(
    Argument.withDescription("An artifact hash (or unique prefix), a stage key, or a ref")
  ),
  store: storeFlag,
  format: Flag.Literals("format", ["text", "prov", "dot"]).pipe(
    Flag.withDescription("text: an indented tree; prov: W3C PROV-JSON; dot: Graphviz"),
    Flag.withDefault("text")
  )
}, (a) =>
  withStore(
    a.store,
    "read",
    Effect.gen(function*() {
      const found = yield* resolveName(a.name)
      if (found._tag === "Blob") {
        const run = yield* findRun(found.hash)
        if (Option.isSome(run)) {
          const { pipeline, nodes } = run.value.manifest
          return yield* new NotFound({
            what: a.name,
            detail:
              `is a run manifest (pipeline ${pipeline}, ${nodes.length} stages): ask for the lineage of one of its nodes, ` +
              `e.g. ouro lineage ${found.hash.slice(0, 12)}/${nodes[nodes.length - 1]?.path ?? "<path>"}`
          })
        }
      }
      const l = found._tag === "Record" && found.at !== undefined
        ? yield* runNodeLineage(
          { hash: found.at.run, nodes: found.at.manifest.nodes },
          found.at.path,
          yield* structureFromSource(found.at.manifest.pipeline)
        )
        : yield* lineage(found._tag === "Blob" ? found.hash : found.record.key)
      yield* Console.log(
        a.format === "prov"
          ? JSON.stringify(toProvJson(l), null, 2)
          : a.format === "dot"
          ? toDot(l)
          : formatLineageText(l)
      )
    })
  )).pipe(Command.withDescription("Trace an artifact back to the seed corpus: every stage, its params and hashes"))

/**
 * A fresh directory under the system's temp folder for the scope. It is removed when the scope closes, however it
 * closes: done, failed, or interrupted (Ctrl-C interrupts the main fiber, so this finalizer runs). With `keep` it
 * stays, and the last line says where (on stderr if the scope did not succeed).
 */
const scratchDirectory = (prefix: string, keep: boolean) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => mkdtempSync(join(tmpdir(), prefix)),
      catch: (e) =>
        new StoreError({ path: tmpdir(), detail: `cannot make a scratch directory: ${describe(e)}`, cause: e })
    }),
    (dir, exit) =>
      Effect.sync(() => {
        if (!keep) rmSync(dir, { recursive: true, force: true })
        else if (Exit.isSuccess(exit)) process.stdout.write(`scratch store kept at ${join(dir, ".ouroboros")}\n`)
        else process.stderr.write(`scratch store kept at ${join(dir, ".ouroboros")} (the replay did not finish)\n`)
      })
  )

const replayCommand = Command.make("replay", {
  target: Argument.String("pipeline-or-run").pipe(
    Argument.withDescription(
      "A pipeline file, the name of a pipeline that has run on this store, or a run manifest hash"
    )
  ),
  store: storeFlag,
  jobs: jobsFlag,
  keep: Flag.Boolean("keep").pipe(
    Flag.withDescription("Keep the scratch store and print where it is"),
    Flag.withDefault(false)
  )
}, (a) =>
  reportErrors(Effect.gen(function*() {
    const root = storeRoot(a.store)
    const options = yield* cacheNow
    const file = yield* pipelineFileOf(a.target).pipe(Effect.provide(readStore(root, options)))
    const pipeline = yield* loadPipeline(file)
    yield* Effect.scoped(Effect.gen(function*() {
      const scratch = yield* scratchDirectory("ouro-replay-", a.keep)
      const replayed = yield* execute(pipeline).pipe(
        Effect.provide(runEnvironment(join(scratch, ".ouroboros"), {}, file, a.jobs, true))
      )
      const outcome = yield* compareWithRecords(replayed).pipe(Effect.provide(readStore(root, options)))
      yield* Console.log(formatReplay(outcome))
      if (outcome._tag === "Diverged") process.exitCode = 1
    }))
  }))).pipe(
    Command.withDescription(
      "Recompute a pipeline from scratch in a scratch store and compare every output with the recorded hashes"
    )
  )

const gcCommand = Command.make("gc", {
  store: storeFlag,
  apply: Flag.Boolean("apply").pipe(
    Flag.withDescription("Remove what is unreachable (default: a dry run that only says what would go)"),
    Flag.withDefault(false)
  ),
  grace: Flag.Int("grace-minutes").pipe(
    Flag.withDescription("Spare anything added less than this many minutes ago"),
    Flag.withDefault(10)
  )
}, (a) =>
  withStore(
    a.store,
    a.apply ? "update" : "read",
    Effect.gen(function*() {
      if (a.apply && isRemoteSpec(storeRoot(a.store))) {
        return yield* new StoreError({
          path: redactSpec(storeRoot(a.store)),
          detail: "gc --apply does not sweep a remote store: no lease spans the machines that share it, so a sweep " +
            "could remove what another machine is writing (the dry run says what is unreachable)"
        })
      }
      const options = { graceMs: a.grace * 60_000, nowMs: Date.now() }
      const plan = a.apply ? yield* sweepGc(options) : yield* planGc(options)
      yield* Console.log(formatGc(plan, a.apply))
    })
  )).pipe(Command.withDescription("Remove blobs and records that no kept run or ref reaches (dry run unless --apply)"))

/** Gathers the report of a computed pipeline and writes it (temp file, then rename) to `output`; returns its path. */
const writeReport = (pipeline: Pipeline, output: string) => writeReportData(gatherReport(pipeline), output)

/**
 * Gathers a report's data and writes its page (temp file, then rename) to `output`; returns its path. With
 * `figuresDir`, each picture also goes there as SVG, PNG and (for a plot) the CSV of its numbers.
 */
const writeReportData = <E, R>(gather: Effect.Effect<ReportData, E, R>, output: string, figuresDir?: string) =>
  Effect.gen(function*() {
    yield* requireWritableFile("report", output)
    if (figuresDir !== undefined) yield* requireDirectory("figures", figuresDir)
    const data = yield* gather
    const drawn: RenderedFigure[] = []
    // Loaded on demand: Vega and Graphviz take half a second to load, which no other command should pay.
    const html = yield* Effect.promise(() =>
      import("../report/html.ts").then((m) => m.renderReport(data, (f) => drawn.push(f)))
    )
    if (figuresDir !== undefined) {
      const files = yield* Effect.promise(() => import("../report/figures.ts").then((m) => m.figureFiles(drawn)))
      for (const f of files) {
        yield* writeOutputFile("figure", join(figuresDir, `${f.name}.svg`), f.svg)
        yield* writeOutputFile("figure", join(figuresDir, `${f.name}.png`), f.png)
        if (f.csv !== undefined) yield* writeOutputFile("figure", join(figuresDir, `${f.name}.csv`), f.csv)
      }
      yield* Console.log(`${files.length} figures written to ${resolve(figuresDir)} (SVG, PNG, and CSV for each plot)`)
    }
    return yield* writeOutputFile("report", output, html)
  })

const reportCommand = Command.make("report", {
  target: Argument.String("pipeline").pipe(
    Argument.withDescription("A pipeline file, or the name of a pipeline that has run on this store")
  ),
  store: storeFlag,
  output: Flag.String("output").pipe(
    Flag.withAlias("o"),
    Flag.withDescription("Where to write the HTML page"),
    Flag.withDefault("report.html")
  ),
  figures: Flag.String("figures").pipe(
    Flag.withDescription("Also write each figure to this folder: SVG, PNG, and the CSV of the numbers it plots"),
    Flag.optional
  )
}, (a) =>
  withStore(
    a.store,
    "read",
    Effect.gen(function*() {
      yield* requireWritableFile("report", a.output)
      const figures = Option.getOrUndefined(a.figures)
      yield* Console.log(`report written to ${yield* writeReportData(reportOf(a.target), a.output, figures)}`)
    })
  )).pipe(
    Command.withDescription(
      "Write one self-contained HTML page of a run (a pipeline file as it is now, a pipeline's last run, or a run by hash): plots, samples, its DAG and artifacts"
    )
  )

/** One side of a diff: a pipeline file as it would run now, else a completed run (a pipeline's last, or by hash). */
const diffSide = (target: string) =>
  Effect.gen(function*() {
    if (existsSync(target)) return yield* pipelineSide(yield* loadPipeline(target), target)
    const run = yield* runOf(target)
    if (Option.isSome(run)) return yield* runSide(run.value)
    return yield* new NotFound({
      what: target,
      detail: "neither a pipeline file, nor the name of a pipeline run on this store, nor a run manifest hash"
    })
  })

const runOrPipelineArg = (name: string) =>
  Argument.String(name).pipe(
    Argument.withDescription(
      "A run manifest hash (or unique prefix), the name of a pipeline that has run (its last run), or a pipeline file (as it would run now)"
    )
  )

const diffCommand = Command.make(
  "diff",
  { a: runOrPipelineArg("a"), b: runOrPipelineArg("b"), store: storeFlag },
  (a) =>
    withStore(
      a.store,
      "read",
      Effect.gen(function*() {
        yield* Console.log(formatDiff(diffSides(yield* diffSide(a.a), yield* diffSide(a.b))))
      })
    )
).pipe(
  Command.withDescription(
    "Compare two runs (or a run and a pipeline file): the stages whose key differs and why, and the metrics side by side"
  )
)

const runsCommand = Command.make("runs", {
  pipeline: Argument.String("pipeline-name").pipe(
    Argument.withDescription("Only this pipeline's runs"),
    Argument.optional
  ),
  store: storeFlag
}, (a) =>
  withStore(
    a.store,
    "read",
    Effect.gen(function*() {
      yield* Console.log(formatRuns(yield* listRuns(a.pipeline)))
    })
  )).pipe(
    Command.withDescription(
      "List the completed runs still in the store: when, their manifest hash, which is the latest, and pins"
    )
  )

const runArg = Argument.String("run").pipe(
  Argument.withDescription("A run manifest hash (or unique prefix), or the name of a pipeline (its last run)")
)

/** The run a name denotes, or a NotFound that says so. */
const requireRun = (name: string) =>
  runOf(name).pipe(Effect.flatMap(Option.match({
    onNone: () =>
      Effect.fail(
        new NotFound({ what: name, detail: "no run by that hash, and no pipeline by that name, in the store" })
      ),
    onSome: Effect.succeed
  })))

const pinCommand = Command.make("pin", {
  run: runArg,
  name: Flag.String("name").pipe(
    Flag.withDescription("The pin's name (default: <pipeline>-<first 12 characters of the run hash>)"),
    Flag.optional
  ),
  store: storeFlag
}, (a) =>
  withStore(
    a.store,
    "update",
    Effect.gen(function*() {
      const run = yield* requireRun(a.run)
      const name = Option.getOrElse(a.name, () => `${run.manifest.pipeline}-${run.hash.slice(0, 12)}`)
      yield* pin(run.hash, name)
      yield* Console.log(`pinned run ${run.hash} as ${name}: gc keeps its records and artifacts`)
    })
  )).pipe(Command.withDescription("Keep a run's records and artifacts through gc, under a name"))

const unpinCommand = Command.make("unpin", {
  target: Argument.String("run-or-name").pipe(Argument.withDescription("A pin's name, or a run (every pin of it)")),
  store: storeFlag
}, (a) =>
  withStore(
    a.store,
    "update",
    Effect.gen(function*() {
      const run = yield* runOf(a.target).pipe(Effect.orElseSucceed(() => Option.none()))
      const removed = yield* unpin(a.target, Option.map(run, (r) => r.hash))
      for (const p of removed) {
        yield* Console.log(`unpinned ${p.name} (run ${p.run}): gc may now remove what only it kept`)
      }
    })
  )).pipe(Command.withDescription("Remove a pin: the run is kept by gc only while something else reaches it"))

/** What `ouro env` prints: the planned backend, the one that starts, why, and what of it goes into keys. */
const describeEnv = async (): Promise<string> => {
  const planned = plannedBackend()
  const env = backendEnv()
  const { selectBackend } = await import("../lm/neural/backend.ts")
  const info = await selectBackend({ prefer: planned })
  return [
    `TF.js backend for neural stages: ${info.name}`,
    `  why: ${plannedBecause()}; started: ${info.reason}`,
    ...(info.name === planned ? [] : [`  WARNING: ${planned} was planned but did not start: neural stages will fail`]),
    `  in every neural stage's key: ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(", ")}`,
    `  override: OURO_BACKEND=tensorflow|wasm|cpu`,
    `node ${process.versions.node}, ${availableParallelism()} cores (ouro run --jobs defaults to this)`
  ].join("\n")
}

const envCommand = Command.make("env", {}, () =>
  Effect.tryPromise(describeEnv).pipe(
    Effect.flatMap((text) => Console.log(text)),
    Effect.catch((e) =>
      Effect.sync(() => {
        process.stderr.write(`ouro: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}\n`)
        process.exitCode = 1
      })
    )
  )).pipe(
    Command.withDescription("Show which TF.js backend neural stages use and why, and what of it goes into their keys")
  )

const metricsCommand = Command.make("metrics", {
  target: Argument.String("pipeline").pipe(
    Argument.withDescription("A pipeline file, or the name of a pipeline that has run on this store")
  ),
  store: storeFlag,
  format: Flag.Literals("format", EXPORT_FORMATS).pipe(
    Flag.withDescription("csv, json, table (aligned text) or parquet (needs --output)"),
    Flag.withDefault("csv")
  ),
  output: Flag.String("output").pipe(
    Flag.withAlias("o"),
    Flag.withDescription("Write to this file instead of stdout"),
    Flag.optional
  )
}, (a) =>
  withStore(
    a.store,
    "read",
    Effect.gen(function*() {
      if (a.format === "parquet" && Option.isNone(a.output)) {
        return yield* new OutputUnwritable({
          what: "metrics",
          path: "stdout",
          detail: "parquet is binary: give --output FILE"
        })
      }
      if (Option.isSome(a.output)) yield* requireWritableFile("metrics", a.output.value)
      const pipeline = yield* loadPipeline(yield* pipelineFileOf(a.target))
      const rows = yield* gatherMetricsRows(pipeline)
      const body = a.format === "parquet"
        ? toParquet(rows)
        : a.format === "json"
        ? toJson(rows)
        : a.format === "table"
        ? toTable(rows) + "\n"
        : toCsv(rows)
      if (Option.isNone(a.output)) return yield* Effect.sync(() => void process.stdout.write(body))
      const output = a.output.value
      yield* writeOutputFile("metrics", output, body)
      yield* Console.log(`${rows.length} rows written to ${resolve(output)}`)
    })
  )).pipe(
    Command.withDescription(
      "Every metric of a computed pipeline, one row per arm × seed × generation, with the training corpus's size and makeup (csv, json, table, parquet)"
    )
  )

const transferArg = Argument.String("pipeline-or-run").pipe(
  Argument.withDescription(
    "A pipeline file, a pipeline's name (its last run), or a run manifest hash (or unique prefix)"
  )
)

/** push and pull: the same arguments, the same report, opposite directions. */
const transferCommand = (
  name: "push" | "pull",
  transfer: typeof push,
  description: string
) =>
  Command.make(
    name,
    { target: transferArg, store: storeFlag },
    (a) =>
      reportErrors(Effect.gen(function*() {
        const spec = storeRoot(a.store)
        const counts = yield* transfer(spec, a.target, yield* cacheNow)
        yield* Console.log(formatTransfer(`${name}ed`, redactSpec(spec), counts))
      }))
  ).pipe(Command.withDescription(description))

const pushCommand = transferCommand(
  "push",
  push,
  "Copy a run's closure (manifest, records, blobs, refs) from the local store (--cache) to the remote --store"
)

const pullCommand = transferCommand(
  "pull",
  pull,
  "Copy a run's closure (manifest, records, blobs, refs) from the remote --store into the local store (--cache)"
)

const ouro = Command.make("ouro").pipe(
  Command.withDescription("ouroboros: model-collapse experiments as cached, replayable pipelines"),
  Command.withSubcommands([
    run,
    planCommand,
    envCommand,
    status,
    show,
    ls,
    reportCommand,
    lineageCommand,
    verifyCommand,
    replayCommand,
    gcCommand,
    diffCommand,
    runsCommand,
    pinCommand,
    unpinCommand,
    metricsCommand,
    pushCommand,
    pullCommand,
    workerCommand
  ]),
  Command.withGlobalFlags([Quiet, Cache])
)

/** A usage error: the cli has printed it with the command's help; its exit code is 2. */
const isUsageError = (e: unknown): e is CliError.ShowHelp =>
  CliError.isCliError(e) && e._tag === "ShowHelp" && e.errors.length > 0

/** The signal that interrupted the run, if one did: the exit code is 128 + its number, as a shell reports it. */
let signalled: "SIGINT" | "SIGTERM" | undefined
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => (signalled ??= signal))
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const

Command.run(ouro, { version: "0.1.0" }).pipe(
  Effect.catchIf(isUsageError, () => Effect.sync(() => void (process.exitCode = 2))),
  Effect.provide(NodeServices.layer),
  // Expected failures have printed their one line by now (reportErrors; the cli prints its own usage errors).
  // What is left is a defect, a bug in ouroboros: say so, with its stack, on stderr.
  Effect.tapCause((cause) =>
    Cause.hasDies(cause)
      ? Effect.sync(() => process.stderr.write(`ouro: internal error (a bug in ouroboros):\n${Cause.pretty(cause)}\n`))
      : Effect.void
  ),
  (main) =>
    NodeRuntime.runMain(main, {
      disableErrorReporting: true,
      teardown: (exit, onExit) =>
        Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
          ? onExit(SIGNAL_EXIT[signalled ?? "SIGINT"])
          : Runtime.defaultTeardown(exit, onExit)
    })
)
