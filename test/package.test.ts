/**
 * The package as others get it: `npm pack`, the tarball installed in a folder of its own (dependencies from the npm
 * registry, through npm's cache where it can), a pipeline there that imports only "ouroboros", run by `npx ouro`.
 */
import assert from "node:assert/strict"
import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { ROOT } from "./support/cli.ts"

const npm = process.platform === "win32" ? "npm.cmd" : "npm"

describe("the packed package", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ouro-package-"))
  const npx = (...args: string[]) => {
    const { OURO_STORE: _ignored, ...env } = process.env
    const r = spawnSync("npx", ["--no-install", ...args], { cwd: dir, encoding: "utf8", env })
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
  }

  before(() => {
    execFileSync(npm, ["pack", "--silent", "--pack-destination", dir], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"]
    })
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"))
    assert.ok(tarball !== undefined, "npm pack wrote no tarball")
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "my-study", private: true, type: "module" }))
    execFileSync(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", `./${tarball}`], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"]
    })
    copyFileSync(join(ROOT, "test/fixtures/user-pipeline.ts"), join(dir, "my-experiment.ts"))
    copyFileSync(join(ROOT, "data/shakespeare-sample.txt"), join(dir, "text.txt"))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("ships the bundled CLI, fresh for the sources it ships, so `npx ouro` runs the bundle", () => {
    const installed = join(dir, "node_modules", "ouroboros")
    const probe = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        "const m = await import(process.argv[1]); console.log(m.freshBundle() ?? 'none')",
        join(installed, "bin", "bundle.mjs")
      ],
      { encoding: "utf8" }
    )
    assert.equal(probe.status, 0, probe.stderr)
    assert.match(probe.stdout.trim(), /\/build\/[0-9a-f]{16}$/, "the tarball's build/ is missing or stale")
    assert.ok(existsSync(join(probe.stdout.trim(), "cli", "main.js")))
  })

  it("runs a user's pipeline that imports only \"ouroboros\", then reruns it from the cache", () => {
    const first = npx("ouro", "run", "my-experiment.ts")
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /pipeline packaged: 14 stages, 14 ran, 0 cached/)
    const manifest = /run manifest ([0-9a-f]{64})/.exec(first.stdout)?.[1]
    assert.ok(manifest !== undefined, first.stdout)

    const again = npx("ouro", "run", "my-experiment.ts")
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /14 stages, 0 ran, 14 cached/)
    assert.ok(again.stdout.includes(manifest), "the cached rerun has another manifest")

    // The user's own metric stage stored what it computed.
    const shown = npx("ouro", "show", "packaged/g1/user-mean-length")
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(shown.stdout, /mean-chars/)
    const verified = npx("ouro", "verify")
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
  })
})
