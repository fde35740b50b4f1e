/**
 * bench/cached-rerun: the cost of rerunning a fully cached collapse-shaped pipeline, ouroboros against Snakemake
 * (Debian's snakemake, the anchor ../shared/anchors/snakemake-chain) in the same run, at 10 and 100 generations.
 * Figures: whole-process wall time (what a user waits for) and, for ouroboros, the in-process plan+run time; then
 * the wall time of `ouro --help`, `ouro plan` and `ouro status` on the filled store of the 100-generation run
 * (goal: each under 150 ms), next to `node -e 0`, with the load average at the start and the end; and, where
 * /usr/bin/time exists, each one's CPU seconds (user + system), which a loaded machine inflates far less than the
 * wall time.
 * `OURO_STARTUP=source` (passed on to the CLI) measures the unbundled start (tsx) for comparison.
 * Installs snakemake with apt-get when it is missing (root, Debian).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { Effect } from "effect"
import { execute } from "../src/engine/execute.ts"
import { localInProcess } from "../src/engine/layers.ts"
import { chain } from "./support/chain.ts"
import { median } from "./support/median.ts"

const ROOT = resolve(import.meta.dirname, "..")
const ANCHOR = resolve(ROOT, "../shared/anchors/snakemake-chain/Snakefile")
const REPEATS = 5

const time = (f: () => void) => {
  const t = process.hrtime.bigint()
  f()
  return Number(process.hrtime.bigint() - t) / 1e9
}

const ensureSnakemake = () => {
  if (spawnSync("snakemake", ["--version"]).status === 0) return
  console.error("installing Debian's snakemake (apt-get)...")
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" })
  execFileSync("apt-get", ["install", "-y", "-qq", "snakemake"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  })
}

const snakemake = (generations: number): { readonly wall: number; readonly cpu: number | undefined } => {
  const dir = mkdtempSync(join(tmpdir(), "bench-snakemake-"))
  try {
    cpSync(ANCHOR, join(dir, "Snakefile"))
    const args = ["-c1", "-q", "--config", `generations=${generations}`]
    execFileSync("snakemake", args, { cwd: dir, stdio: "ignore" })
    const wall = median(
      Array.from({ length: REPEATS }, () => time(() => execFileSync("snakemake", args, { cwd: dir, stdio: "ignore" })))
    )
    return { wall, cpu: cpuSeconds(dir, args, "snakemake") }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(" ")

/** Wall times (median) of the CLI's quick commands in `dir`, whose store the run filled, and of `node -e 0`. */
const quickCommands = (dir: string, file: string) => {
  const commands: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["node -e 0", ["-e", "0"]],
    ["ouro --help", [join(ROOT, "bin/ouro.js"), "--help"]],
    ["ouro plan", [join(ROOT, "bin/ouro.js"), "plan", file]],
    ["ouro status", [join(ROOT, "bin/ouro.js"), "status"]]
  ]
  return commands.map(([name, args]) => {
    const once = () => execFileSync(process.execPath, args, { cwd: dir, stdio: "ignore" })
    once()
    const s = median(Array.from({ length: REPEATS }, () => time(once)))
    return { name, s, cpu: cpuSeconds(dir, args) }
  })
}

/**
 * CPU seconds (user + system, children included, median) of `command args` as /usr/bin/time reports them: on a
 * loaded machine the wall time mostly measures the wait for a core, the CPU time what the command itself costs.
 * Undefined without /usr/bin/time.
 */
const cpuSeconds = (
  dir: string,
  args: ReadonlyArray<string>,
  command: string = process.execPath
): number | undefined => {
  if (!existsSync("/usr/bin/time")) return undefined
  const out = join(dir, "..", `${dir.split("/").at(-1)}-cpu.txt`)
  return median(Array.from({ length: REPEATS }, () => {
    execFileSync("/usr/bin/time", ["-f", "%U %S", "-o", out, command, ...args], { cwd: dir, stdio: "ignore" })
    const [user, sys] = readFileSync(out, "utf8").trim().split(/\s+/).map(Number)
    rmSync(out, { force: true })
    return user + sys
  }))
}

const ouroboros = async (generations: number) => {
  const dir = mkdtempSync(join(tmpdir(), "bench-ouro-"))
  try {
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }))
    const file = join(dir, "chain.ts")
    writeFileSync(
      file,
      `import { chain } from ${
        JSON.stringify(join(ROOT, "bench/support/chain.ts"))
      }\nexport default chain(${generations})\n`
    )
    const cli = () =>
      execFileSync(process.execPath, [join(ROOT, "bin/ouro.js"), "run", "--quiet", file], { cwd: dir, stdio: "ignore" })
    cli()
    const process_s = median(Array.from({ length: REPEATS }, () => time(cli)))
    const processCpu_s = cpuSeconds(dir, [join(ROOT, "bin/ouro.js"), "run", "--quiet", file])
    const layer = localInProcess(join(dir, ".ouroboros"))
    const inProcess: number[] = []
    for (let i = 0; i < REPEATS; i++) {
      const t = process.hrtime.bigint()
      const result = await Effect.runPromise(execute(chain(generations)).pipe(Effect.provide(layer)))
      inProcess.push(Number(process.hrtime.bigint() - t) / 1e9)
      if (result.nodes.some((n) => n.status === "ran")) throw new Error("bench: expected a fully cached rerun")
    }
    const quick = generations === 100 ? quickCommands(dir, file) : []
    return { process_s, processCpu_s, inProcess_s: median(inProcess), stages: 1 + 3 * generations, quick }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const main = async () => {
  if (!existsSync(ANCHOR)) throw new Error(`bench/cached-rerun: anchor not found at ${ANCHOR}`)
  ensureSnakemake()
  console.log(
    `bench/cached-rerun  median of ${REPEATS} fully cached reruns; ratio = snakemake time / ouroboros time (goal >= 10)`
  )
  console.log(
    `load average ${load()}; ouro start-up: ${process.env.OURO_STARTUP === "source" ? "source (tsx)" : "bundle"}`
  )
  const quick: Array<{ readonly name: string; readonly s: number; readonly cpu: number | undefined }> = []
  const cpu = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(3))
  console.log(
    "generations  stages  snakemake_s  ouro_process_s  ratio_process  ouro_inprocess_s  ratio_inprocess"
      + "  snakemake_cpu_s  ouro_cpu_s  ratio_cpu"
  )
  for (const g of [10, 100]) {
    const { wall: s, cpu: sCpu } = snakemake(g)
    const o = await ouroboros(g)
    console.log(
      [
        String(g).padStart(11),
        String(o.stages).padStart(6),
        s.toFixed(3).padStart(11),
        o.process_s.toFixed(3).padStart(14),
        (s / o.process_s).toFixed(1).padStart(13),
        o.inProcess_s.toFixed(4).padStart(16),
        (s / o.inProcess_s).toFixed(1).padStart(15),
        cpu(sCpu).padStart(15),
        cpu(o.processCpu_s).padStart(10),
        (sCpu !== undefined && o.processCpu_s !== undefined ? (sCpu / o.processCpu_s).toFixed(1) : "-").padStart(9)
      ].join("  ")
    )
    quick.push(...o.quick)
  }
  console.log("command (100-generation store)  wall_s  cpu_s  goal_s (wall)")
  for (const q of quick) {
    console.log(
      `${q.name.padEnd(30)}  ${q.s.toFixed(3).padStart(6)}  ${cpu(q.cpu).padStart(5)}  ${
        q.name.startsWith("ouro") ? " 0.150" : "     -"
      }`
    )
  }
  console.log(`load average ${load()} at the end`)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
