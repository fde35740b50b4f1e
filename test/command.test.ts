/**
 * Command stages (issue #12): the protocol a program sees, the Files artifact, the bad cases (each fails its stage
 * with one clear line, stores nothing, and leaves the store verifying clean), and Train.torch in a pipeline mixed
 * with TypeScript stages (cached reruns, a script edit rerunning exactly its stages, the same model bytes twice, and
 * the torch model's perplexity as ouroboros computes it against PyTorch's own on the same windows).
 *
 * Needs `python3` (the standard library only) for the protocol and the bad cases; the torch tests need
 * `pip install torch pyarrow numpy` and skip, saying so, only when `python3 -c "import torch"` fails.
 */
import assert from "node:assert/strict"
import { spawn, spawnSync } from "node:child_process"
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  appendFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { Cause, Effect, Exit, Schema } from "effect"
import {
  ArtifactStore,
  Command,
  describe as describeError,
  Progress,
  StageRunner,
  Corpus,
  Evaluate,
  execute,
  Files,
  type FileTree,
  Log,
  Metrics,
  Pipeline,
  plan,
  type RunResult,
  Sample,
  Seed,
  Tokenize,
  Tokenizer,
  Train
} from "../src/index.ts"
import { decodeFiles, encodeFiles } from "../src/artifact/files.ts"
import { localInProcess } from "../src/engine/layers.ts"
import { ouro, ROOT, tempDir } from "./support/cli.ts"

const python = (code: string) => spawnSync("python3", ["-c", code], { encoding: "utf8" })
const HAS_PYTHON = python("import json").status === 0
const torchCheck = HAS_PYTHON ? python("import torch") : undefined
const NO_TORCH = torchCheck === undefined
  ? "python3 is not on PATH"
  : torchCheck.status !== 0
  ? `python3 -c "import torch" fails (${
    (torchCheck.stderr.trim().split("\n").at(-1) ?? "").trim()
  }): pip install torch pyarrow numpy`
  : undefined

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), "ouro-command-"))
  const paragraphs = Array.from(
    { length: 30 },
    (_, i) => `Paragraph ${i}: the quick brown fox ${i % 7} jumps over the lazy dog.`
  )
  writeFileSync(join(dir, "small.txt"), paragraphs.join("\n\n") + "\n")
})
after(() => rmSync(dir, { recursive: true, force: true }))

const runIn = <A, E>(store: string, eff: Effect.Effect<A, E, ArtifactStore | Progress | StageRunner>) =>
  Effect.runPromiseExit(eff.pipe(Effect.provide(localInProcess(store))))

/** The one error a failed run ended with, as its message. */
const failureMessage = (
  exit: Exit.Exit<unknown, unknown>
): string => (Exit.isFailure(exit) ? describeError(Cause.squash(exit.cause)) : "")

/** Whether a process is alive (a zombie waiting for its reaper is not), waiting up to 5 s for it to go. */
const aliveAfterAWhile = async (pid: number): Promise<boolean> => {
  const alive = () => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
    } catch {
      return false
    }
  }
  for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100))
  return alive()
}

/** A user's project: ouroboros linked, and effect (a user's own dependency, for Schema). */
const userProject = (prefix: string): string => {
  const project = tempDir(prefix)
  symlinkSync(join(ROOT, "node_modules", "effect"), join(project, "node_modules", "effect"), "dir")
  return project
}

const ran = (r: RunResult) => r.nodes.filter((n) => n.status === "ran").map((n) => n.node.path).sort()

/** Every record file's text in a store. */
const records = (store: string): string[] => {
  const root = join(store, "records")
  if (!existsSync(root)) return []
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) =>
    readFileSync(join(d.parentPath, d.name), "utf8")
  )
}

// ---------------------------------------------------------------------------------------------------------------

describe("Files artifact", () => {
  it("is a canonical tar: sorted, modes normalised, long paths, and anything else refused", () => {
    const tree: FileTree = [
      { path: "b/config.json", mode: 0o600, bytes: new TextEncoder().encode("{}") },
      { path: "a.bin", mode: 0o777, bytes: new Uint8Array(1000).fill(7) },
      {
        path: `${"d".repeat(120)}/${"e".repeat(120)}/${"f".repeat(120)}.txt`,
        mode: 0o644,
        bytes: new Uint8Array([1, 2])
      }
    ]
    const bytes = encodeFiles(tree)
    assert.deepEqual(encodeFiles([...tree].reverse()), bytes, "order does not matter")
    const back = decodeFiles(bytes)
    assert.deepEqual(back.map((e) => [e.path, e.mode]), [["a.bin", 0o755], ["b/config.json", 0o644], [
      tree[2].path,
      0o644
    ]])
    assert.deepEqual([...back[0].bytes], [...tree[1].bytes])
    // Any tar tool reads it.
    const tar = spawnSync("tar", ["-tvf", "-"], { input: bytes, encoding: "utf8" })
    if (tar.status === 0) assert.match(tar.stdout, /a\.bin/)
    assert.throws(() => encodeFiles([{ path: "../x", mode: 0o644, bytes: new Uint8Array() }]), /bad path/)
    const tampered = bytes.slice()
    tampered[100 + 3] = "7".charCodeAt(0) // a.bin's mode 0755 -> 0775 (checksum now wrong too): not canonical
    assert.throws(() => decodeFiles(tampered), /files:/)
    assert.throws(() => Files.decode(new Uint8Array(10)), /not a tar archive/)
  })
})

// ---------------------------------------------------------------------------------------------------------------

const ProtocolParams = Schema.Struct({ greeting: Schema.String, n: Schema.Int })

describe("the command protocol", { skip: HAS_PYTHON ? false : "python3 is not on PATH" }, () => {
  it("gives a program its inputs as files, params.json and a manifest, reads back its outputs, and keeps nothing else", async () => {
    const script = join(dir, "protocol.py")
    writeFileSync(
      script,
      `
import json, os, sys
m = json.load(open(os.environ["OURO_MANIFEST"]))
assert os.getcwd() == os.environ["OURO_WORKDIR"] == m["workdir"], "cwd is the working directory"
assert "OURO_STORE" not in os.environ, "the store is not named to the program"
p = json.load(open(os.environ["OURO_PARAMS"]))
tok = json.load(open(m["inputs"]["tokenizer"]["path"]))
assert m["inputs"]["corpus"]["path"] == os.environ["OURO_INPUT_CORPUS"] and open(os.environ["OURO_INPUT_CORPUS"], "rb").read(4) == b"PAR1"
json.dump({"artifact": "metrics", "values": {"n": p["n"], "vocab": len(tok["vocab"])}}, open(os.environ["OURO_OUTPUT_METRICS"], "w"))
folder = m["outputs"]["folder"]["path"]
os.makedirs(os.path.join(folder, "sub"))
open(os.path.join(folder, "sub", "hello.txt"), "w").write(p["greeting"])
open("scratch.tmp", "w").write("not kept")
print("workdir", os.getcwd())
print("to stderr", file=sys.stderr)
`
    )
    const stage = Command.stage({
      kind: "test/protocol",
      version: 1,
      params: ProtocolParams,
      inputs: { corpus: Corpus, tokenizer: Tokenizer },
      outputs: { metrics: Metrics, folder: Files, log: Log },
      files: ["protocol.py"],
      root: dir,
      probes: { python: ["python3", "-c", "import platform; print(platform.python_version())"] },
      command: (_p, paths) => ["python3", paths.files["protocol.py"]]
    })
    const pipeline = Pipeline.make("protocol", (b) => {
      const real = b.add(Seed.corpus({ source: join(dir, "small.txt"), testFraction: 0.2 }), {})
      const { tokenizer } = b.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
      b.add(stage({ greeting: "hi", n: 3 }), { corpus: real.train, tokenizer }, { name: "program" })
    })
    const store = join(dir, "protocol-store")
    const saved = process.env.OURO_STORE
    process.env.OURO_STORE = store
    const exit = await runIn(
      store,
      Effect.gen(function*() {
        const r = yield* execute(pipeline)
        const node = r.nodes.find((n) => n.node.path === "program")!
        return { r, node }
      })
    )
    process.env.OURO_STORE = saved
    if (saved === undefined) delete process.env.OURO_STORE
    assert.ok(Exit.isSuccess(exit), Exit.isFailure(exit) ? failureMessage(exit) : "")
    const { node } = exit.value
    assert.ok(node.key.length === 64 && node.node.stage.env["probe:python"]?.match(/^3\./))
    const blob = (name: string) =>
      readFileSync(join(store, "blobs", node.outputs[name].hash.slice(0, 2), node.outputs[name].hash))
    assert.deepEqual(Metrics.decode(blob("metrics")).values["n"], 3)
    const tree = Files.decode(blob("folder"))
    assert.deepEqual(tree.map((e) => e.path), ["sub/hello.txt"])
    assert.equal(new TextDecoder().decode(tree[0].bytes), "hi")
    const log = Log.decode(blob("log"))
    assert.match(log, /to stderr/)
    const workdir = /workdir (\S+)/.exec(log)![1]
    assert.ok(
      workdir.startsWith(tmpdir()) && !workdir.startsWith(store),
      "the working directory is under the OS temp dir"
    )
    assert.ok(!existsSync(workdir), "the working directory is removed")
  })
})

// ---------------------------------------------------------------------------------------------------------------

const CaseParams = Schema.Struct({ case: Schema.String })

/** A user's command stage whose Python script misbehaves in the way `case` names. */
const badStage = (script: string, interpreter = "python3") =>
  Command.stage({
    kind: "test/bad",
    version: 1,
    params: CaseParams,
    inputs: { corpus: Corpus },
    outputs: { corpus: Corpus },
    files: [script],
    root: dir,
    command: (p, paths) => [interpreter, paths.files[script], p.case]
  })

const BAD_SCRIPT = `
import os, subprocess, sys, time
case = sys.argv[1]
out = os.environ["OURO_OUTPUT_CORPUS"]
if case == "traceback":
    def deep(): raise ValueError("boom in the trainer")
    deep()
if case == "nothing":
    print("done, but wrote nothing")
if case == "corrupt":
    open(out, "wb").write(b"PAR1 this is not parquet PAR1")
if case == "timeout":
    child = subprocess.Popen(["sleep", "300"])
    open(os.environ["PIDFILE"], "w").write(str(child.pid))
    print("started", flush=True)
    time.sleep(300)
if case == "flood":
    line = "x" * 1023 + "\\n"
    for _ in range(100 * 1024):
        sys.stdout.write(line)
    sys.stdout.flush()
    print("the very last line after 100 MB", file=sys.stderr)
    sys.exit(3)
if case == "store":
    # Where a store would be if the program ran in the project, and wherever OURO_STORE would say.
    for target in [os.environ.get("OURO_STORE"), ".ouroboros", os.path.join(".ouroboros", "blobs")]:
        if target:
            os.makedirs(target, exist_ok=True)
            open(os.path.join(target, "evil"), "w").write("written by the program")
    import shutil
    shutil.copy(os.environ["OURO_INPUT_CORPUS"], out)
`

describe("bad cases: one clear line naming the stage, nothing stored, the store verifying clean", {
  skip: HAS_PYTHON ? false : "python3 is not on PATH"
}, () => {
  const store = () => join(dir, "bad-store")
  before(() => writeFileSync(join(dir, "bad.py"), BAD_SCRIPT))

  const runCase = async (c: string, o: { script?: string; interpreter?: string; timeout?: number } = {}) => {
    const stage = badStage(o.script ?? "bad.py", o.interpreter)
    const pipeline = Pipeline.make("bad", (b) => {
      const real = b.add(Seed.corpus({ source: join(dir, "small.txt"), testFraction: 0.2 }), {})
      b.add(stage({ case: c }, { timeout: o.timeout }), { corpus: real.train }, { name: `bad-${c}` })
    })
    const t0 = performance.now()
    const exit = await runIn(store(), execute(pipeline))
    const seconds = (performance.now() - t0) / 1000
    return { exit, seconds }
  }

  const expectFailure = (exit: Exit.Exit<RunResult, unknown>, c: string, detail: RegExp): string => {
    assert.ok(Exit.isFailure(exit), `case ${c} must fail`)
    const text = failureMessage(exit)
    const failed = /stage (\S+) \(test\/bad\) failed: ([^\n]*)/.exec(text)
    assert.ok(failed !== null, `case ${c}: a StageFailed naming the stage, got ${text.slice(0, 400)}`)
    assert.equal(failed![1], `bad-${c}`)
    assert.match(failed![2], detail)
    assert.ok(!records(store()).some((r) => r.includes("\"test/bad\"")), `case ${c}: nothing stored`)
    return text
  }

  it("the script missing", async () => {
    const { exit } = await runCase("missing", { script: "no-such-script.py" })
    expectFailure(exit, "missing", /cannot read file no-such-script\.py .*ENOENT/)
  })

  it("the interpreter missing", async () => {
    const { exit } = await runCase("interpreter", { interpreter: "python3-not-installed" })
    expectFailure(exit, "interpreter", /cannot run python3-not-installed bad\.py.*not found on PATH/)
  })

  it("exit 1 with a traceback: the traceback's last lines are in the message", async () => {
    const { exit } = await runCase("traceback")
    const text = expectFailure(exit, "traceback", /exited with code 1 \(ValueError: boom in the trainer\)/)
    assert.match(text, /\| +File .*bad\.py", line \d+, in deep/)
  })

  it("no output written", async () => {
    const { exit } = await runCase("nothing")
    expectFailure(exit, "nothing", /output corpus \(corpus\) missing: .* wrote nothing at \S+outputs\/corpus\.parquet/)
  })

  it("a corrupt Parquet output", async () => {
    const { exit } = await runCase("corrupt")
    expectFailure(exit, "corrupt", /output corpus \(corpus\) at \S+outputs\/corpus\.parquet is invalid: corpus: /)
  })

  it("a run past its timeout: its whole process group is killed", async () => {
    const pidfile = join(dir, "timeout.pid")
    process.env.PIDFILE = pidfile
    const { exit, seconds } = await runCase("timeout", { timeout: 3 })
    delete process.env.PIDFILE
    expectFailure(exit, "timeout", /ran past its timeout of 3s: its process group was killed/)
    assert.ok(seconds < 60, `took ${seconds}s`)
    const pid = Number(readFileSync(pidfile, "utf8"))
    assert.equal(await aliveAfterAWhile(pid), false, "the program's own child (sleep 300) is gone too")
  })

  it("a command that prints 100 MB: bounded log, and the message still ends with its last line", async () => {
    const before = process.memoryUsage().rss
    const { exit } = await runCase("flood")
    const text = expectFailure(exit, "flood", /exited with code 3 \(the very last line after 100 MB\)/)
    assert.ok(text.length < 20_000, "the message holds the last lines, not the output")
    assert.ok(process.memoryUsage().rss - before < 400 * 1024 * 1024, "memory stays bounded")
  })

  it("a command that writes into the store directory: harmless (it never sees the store; its writes land in its own directory)", async () => {
    process.env.OURO_STORE = store()
    const { exit } = await runCase("store")
    delete process.env.OURO_STORE
    assert.ok(Exit.isSuccess(exit), failureMessage(exit))
    const all = readdirSync(store(), { recursive: true }).map(String)
    assert.ok(!all.some((f) => f.endsWith("evil")), "nothing the program wrote is in the store")
  })

  it("ouro verify: the store is clean after every case", () => {
    const r = ouro(dir, "verify", "--store", store())
    assert.equal(r.code, 0, r.stdout + r.stderr)
  })

  it("through the CLI: one `ouro:` line naming the stage, a non-zero exit", () => {
    const project = userProject("ouro-command-cli-")
    copyFileSync(join(dir, "bad.py"), join(project, "bad.py"))
    writeFileSync(
      join(project, "p.ts"),
      `
import { Command, Corpus, Pipeline, Seed } from "ouroboros"
import { Schema } from "effect"
const stage = Command.stage({
  kind: "test/bad", version: 1, params: Schema.Struct({ case: Schema.String }), inputs: { corpus: Corpus }, outputs: { corpus: Corpus },
  files: ["bad.py"], command: (p, paths) => ["python3", paths.files["bad.py"], p.case]
})
export default Pipeline.make("bad-cli", (b) => {
  const real = b.add(Seed.corpus({ source: ${JSON.stringify(join(dir, "small.txt"))}, testFraction: 0.2 }), {})
  b.add(stage({ case: "traceback" }), { corpus: real.train }, { name: "trainer" })
})
`
    )
    const r = ouro(project, "run", "p.ts", "--store", "s")
    assert.notEqual(r.code, 0)
    assert.match(
      r.stderr,
      /^ouro: stage trainer \(test\/bad\) failed: python3 bad\.py traceback exited with code 1 \(ValueError: boom in the trainer\)/m
    )
    assert.equal(ouro(project, "verify", "--store", "s").code, 0)
    rmSync(project, { recursive: true, force: true })
  })

  it("a probe runs once per run: the stage worker threads take the main thread's result", () => {
    const project = userProject("ouro-command-probe-")
    const counter = join(project, "probe-runs.txt")
    writeFileSync(
      join(project, "p.ts"),
      `
import { Command, Corpus, Pipeline, Seed } from "ouroboros"
import { Schema } from "effect"
const copy = Command.stage({
  kind: "test/copy", version: 1, params: Schema.Struct({ n: Schema.Int }), inputs: { corpus: Corpus }, outputs: { corpus: Corpus },
  probes: { counted: ["sh", "-c", ${JSON.stringify(`echo run >> '${counter}'; echo v1`)}] },
  command: () => ["sh", "-c", 'cp "$OURO_INPUT_CORPUS" "$OURO_OUTPUT_CORPUS"']
})
export default Pipeline.make("probe-once", (b) => {
  const real = b.add(Seed.corpus({ source: ${JSON.stringify(join(dir, "small.txt"))}, testFraction: 0.2 }), {})
  for (const n of [1, 2, 3]) b.add(copy({ n }), { corpus: real.train }, { name: \`copy-\${n}\` })
})
`
    )
    const r = ouro(project, "run", "p.ts", "--store", "s", "--jobs", "2")
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, / 4 ran, /)
    // Once, in the process that planned; without the hand-over each worker thread that loads the pipeline runs it.
    assert.equal(readFileSync(counter, "utf8"), "run\n")
    rmSync(project, { recursive: true, force: true })
  })

  it("Ctrl-C kills the program's process group and stores nothing", { timeout: 120_000 }, async () => {
    const project = userProject("ouro-command-int-")
    copyFileSync(join(dir, "bad.py"), join(project, "bad.py"))
    const pidfile = join(project, "pid")
    writeFileSync(
      join(project, "p.ts"),
      `
import { Command, Corpus, Pipeline, Seed } from "ouroboros"
import { Schema } from "effect"
const stage = Command.stage({
  kind: "test/bad", version: 1, params: Schema.Struct({ case: Schema.String }), inputs: { corpus: Corpus }, outputs: { corpus: Corpus },
  files: ["bad.py"], command: (p, paths) => ["python3", paths.files["bad.py"], p.case]
})
export default Pipeline.make("int", (b) => {
  const real = b.add(Seed.corpus({ source: ${JSON.stringify(join(dir, "small.txt"))}, testFraction: 0.2 }), {})
  b.add(stage({ case: "timeout" }), { corpus: real.train }, { name: "sleeper" })
})
`
    )
    const { OURO_STORE: _s, ...env } = process.env
    const child = spawn(process.execPath, [join(ROOT, "bin", "ouro.js"), "run", "p.ts", "--store", "s"], {
      cwd: project,
      env: { ...env, PIDFILE: pidfile },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    const deadline = Date.now() + 90_000
    while (!existsSync(pidfile) || readFileSync(pidfile, "utf8") === "") {
      assert.ok(Date.now() < deadline, `the program never started: ${out}`)
      await new Promise((r) => setTimeout(r, 200))
    }
    const pid = Number(readFileSync(pidfile, "utf8"))
    child.kill("SIGINT")
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)))
    assert.notEqual(code, 0)
    assert.equal(await aliveAfterAWhile(pid), false, "the program's child is gone")
    assert.ok(!records(join(project, "s")).some((r) => r.includes("\"test/bad\"")))
    rmSync(project, { recursive: true, force: true })
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("Train.torch in a pipeline with TypeScript stages", { skip: NO_TORCH ?? false, timeout: 900_000 }, () => {
  const SHAPE = { dModel: 32, layers: 2, heads: 4, context: 32 }
  let script: string
  const store = () => join(dir, "torch-store")
  before(() => {
    mkdirSync(join(dir, "trainer"), { recursive: true })
    script = join(dir, "trainer", "ouro_gpt.py")
    copyFileSync(join(ROOT, "python", "ouro_gpt.py"), script)
  })

  const build = () =>
    Pipeline.make("mixed", (b) => {
      const real = b.add(
        Seed.corpus({ source: join(ROOT, "data/shakespeare-sample.txt"), testFraction: 0.2, seed: 7 }),
        {}
      )
      const { tokenizer } = b.add(Tokenize.chars({ minCount: 1 }), { corpus: real.train })
      // TypeScript only: must never rerun below.
      const ngram = b.add(Train.ngram({ order: 3 }), { corpus: real.train, tokenizer }, { name: "ngram" })
      b.add(Evaluate.lm({ selfBleuDocs: 4 }), {
        model: ngram.model,
        tokenizer,
        test: real.test,
        sample: b.add(Sample.text({ documents: 8, maxLength: 40, seed: 1 }), { model: ngram.model, tokenizer }, {
          name: "ngram-sample"
        }).corpus
      }, { name: "ngram-eval" })
      // Python, then TypeScript reading its model.
      const { model } = b.add(
        Train.torch({ steps: 40, batch: 16, shards: 1, model: SHAPE, validation: { every: 20 } }, { script }),
        {
          corpus: real.train,
          tokenizer
        },
        { name: "torch-train" }
      )
      b.add(Evaluate.perplexity({ maxTokens: 3000 }), { model, tokenizer, test: real.test }, { name: "ts-perplexity" })
      b.add(Evaluate.torchPerplexity({ maxTokens: 3000 }, { script }), { model, tokenizer, test: real.test }, {
        name: "torch-perplexity"
      })
      b.add(Sample.neural({ documents: 4, maxLength: 30, rows: 4, seed: 1 }), { model, tokenizer }, {
        name: "torch-sample"
      })
    })

  let first: RunResult
  it("runs, then a second run is fully cached", async () => {
    const a = await runIn(store(), execute(build()))
    assert.ok(Exit.isSuccess(a), Exit.isFailure(a) ? failureMessage(a) : "")
    first = a.value
    assert.equal(ran(first).length, first.nodes.length)
    const b = await runIn(store(), execute(build()))
    assert.ok(Exit.isSuccess(b))
    assert.deepEqual(ran(b.value), [])
  })

  it("ouroboros's perplexity of the torch model agrees with PyTorch's own on the same windows (1e-3)", () => {
    const metrics = (path: string) => {
      const out = first.nodes.find((n) => n.node.path === path)!.outputs["metrics"]
      return Metrics.decode(readFileSync(join(store(), "blobs", out.hash.slice(0, 2), out.hash))).values
    }
    const ts = metrics("ts-perplexity"), torch = metrics("torch-perplexity")
    assert.equal(ts["test_tokens"], torch["test_tokens"])
    assert.ok(Math.abs(ts["nll"] - torch["nll"]) < 1e-3, `nll ${ts["nll"]} (ouroboros) vs ${torch["nll"]} (torch)`)
    assert.ok(
      Math.abs(ts["perplexity"] / torch["perplexity"] - 1) < 1e-3,
      `perplexity ${ts["perplexity"]} vs ${torch["perplexity"]}`
    )
    assert.ok(
      ts["perplexity"] < 40,
      `the model learned something (perplexity ${ts["perplexity"]} over ${SHAPE.context}-char windows)`
    )
  })

  it("appending a comment to the trainer script: plan names the file for exactly the torch stages; nothing else reruns; the same model bytes", async () => {
    appendFileSync(script, "\n# a comment\n")
    const entries = await runIn(store(), plan(build()))
    assert.ok(Exit.isSuccess(entries))
    const status = Object.fromEntries(entries.value.map((e) => [e.node.path, e]))
    assert.equal(status["torch-train"].status, "run")
    assert.deepEqual(status["torch-train"].reasons, [`file ${script} changed`])
    // It reads the model too: pending on it, and its own script changed.
    assert.equal(status["torch-perplexity"].status, "pending")
    assert.deepEqual(status["torch-perplexity"].reasons, [
      "input model will be recomputed by torch-train",
      `file ${script} changed`
    ])
    for (const path of ["ts-perplexity", "torch-sample"]) {
      assert.equal(status[path].status, "pending", path)
      assert.deepEqual(status[path].reasons, ["input model will be recomputed by torch-train"], path)
    }
    const others = entries.value.filter((e) =>
      !["torch-train", "torch-perplexity", "ts-perplexity", "torch-sample"].includes(e.node.path)
    )
    assert.ok(others.every((e) => e.status === "cached"), others.map((e) => `${e.node.path} ${e.status}`).join(", "))
    const again = await runIn(store(), execute(build()))
    assert.ok(Exit.isSuccess(again), Exit.isFailure(again) ? failureMessage(again) : "")
    // Train.torch ran again and made the same bytes (deterministic on the CPU): its dependents are cut off.
    assert.deepEqual(ran(again.value), ["torch-perplexity", "torch-train"])
    const model = (r: RunResult) => r.nodes.find((n) => n.node.path === "torch-train")!.outputs["model"].hash
    assert.equal(model(again.value), model(first), "the same Train.torch twice on the CPU: the same model hash")
  })

  it("the python tokenizer matches ouroboros's (words, with numbers, apostrophes and non-ASCII)", async () => {
    const { fitTokenizer, encode } = await import("../src/lm/tokenizer.ts")
    const text = "Don't stop: 3.14, 1,000 and 42 — naïve café’s co-op <unk> Ünïcödé! ΣΑΣ (x)"
    const tok = fitTokenizer([text], { kind: "word", lowercase: true, minCount: 1 })
    const r = spawnSync("python3", [
      "-c",
      `
import json, sys
sys.path.insert(0, ${JSON.stringify(join(ROOT, "python"))})
import ouro_gpt
tok = json.loads(sys.argv[1])
print(json.dumps(ouro_gpt.token_stream(tok, [sys.argv[2]]).tolist()))
`,
      JSON.stringify(tok),
      text
    ], { encoding: "utf8" })
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), [...encode(tok, text), 1])
  })
})
