/**
 * The `ouro` command on remote stores, as a user would run it: `ouro run --store http://…` (nginx WebDAV) and
 * `--store s3://…` (s3rver), then a second machine (a fresh local cache) that computes nothing and gets the same
 * run manifest; `ouro push`/`ouro pull` round trips after which a store with no remote verifies clean and reports;
 * and bad input (an unreachable store, an unknown scheme, wrong credentials): one `ouro:` line, a non-zero exit,
 * nothing written, no credentials printed.
 */
import { strict as assert } from "node:assert"
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { startOuro } from "./support/cli-async.ts"
import { type CliResult, ouro, tempDir, writeTinyPipeline } from "./support/cli.ts"
import { type Nginx, nginxMissing, startNginx } from "./support/nginx.ts"
import { type S3Server, startS3, useEnv } from "./support/s3.ts"

const SECRET = "pa55-never-printed"

let nginx: Nginx | undefined
let guarded: Nginx | undefined
let s3: S3Server | undefined
let dir = ""
let pipeline = ""
before(async () => {
  if (nginxMissing === undefined) {
    nginx = await startNginx()
    guarded = await startNginx({ basicAuth: { user: "ann", password: SECRET } })
  }
  s3 = await startS3()
  useEnv(s3.env)
  dir = tempDir("ouro-remote-cli-")
  pipeline = writeTinyPipeline(dir)
})
after(async () => {
  await nginx?.stop()
  await guarded?.stop()
  await s3?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const summary = (r: CliResult) => {
  const m = /(\d+) stages, (\d+) ran, (\d+) cached, (\d+) shared, [0-9.]+ s; run manifest ([0-9a-f]{64})/.exec(r.stdout)
  assert.ok(m !== null, `no summary line:\n${r.stdout}\n${r.stderr}`)
  return { stages: Number(m[1]), ran: Number(m[2]), cached: Number(m[3]), manifest: m[5] }
}

/** Every file under `root`, as text (binary files too: a secret would show as its bytes). */
const allText = (root: string): string =>
  existsSync(root)
    ? readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => readFileSync(join(e.parentPath, e.name), "latin1"))
      .join("\n")
    : ""

const ok = (r: CliResult) => assert.equal(r.code, 0, `exit ${r.code}:\n${r.stdout}\n${r.stderr}`)

/** A store spec with credentials in it, on a server that does not ask for them (they must still never show). */
const withUser = (origin: string, prefix: string) => origin.replace("http://", `http://ann:${SECRET}@`) + `/${prefix}`

describe("ouro on an HTTP store (nginx WebDAV)", { skip: nginxMissing }, () => {
  it("run, then a second machine (a fresh cache) computes nothing and gets the identical run manifest", () => {
    const spec = withUser(nginx!.origin, "team")
    const first = ouro(dir, "run", pipeline, "--store", spec, "--jobs", "2", "--quiet")
    ok(first)
    const a = summary(first)
    assert.equal(a.ran, a.stages, "the first run computes every stage")
    const second = ouro(dir, "run", pipeline, "--store", spec, "--cache", join(dir, "machine-b"), "--quiet")
    ok(second)
    const b = summary(second)
    assert.deepEqual({ ran: b.ran, cached: b.cached }, { ran: 0, cached: b.stages })
    assert.equal(b.manifest, a.manifest)
    const verify = ouro(dir, "verify", "--store", spec, "--cache", join(dir, "machine-c"))
    ok(verify)
    assert.match(verify.stdout, /0 corrupt, 0 missing/)
    for (const r of [first, second, verify]) assert.ok(!(r.stdout + r.stderr).includes(SECRET))
    assert.ok(!allText(join(nginx!.data, "team")).includes(SECRET), "no credentials in a record or ref")
    assert.ok(!allText(join(dir, "machine-b")).includes(SECRET), "no credentials in the cache")
  })

  it("push then pull: blobs already there are skipped; the pulled store verifies clean and reports offline", () => {
    const local = join(dir, "solo")
    const made = ouro(dir, "run", pipeline, "--store", local, "--quiet")
    ok(made)
    const { manifest } = summary(made)
    const spec = withUser(nginx!.origin, "shared")
    const push = ouro(dir, "push", "tiny", "--store", spec, "--cache", local)
    ok(push)
    assert.match(push.stdout, new RegExp(`pushed run ${manifest} of pipeline tiny`))
    const sent = /blobs: (\d+) sent, 0 already there/.exec(push.stdout)
    assert.ok(sent !== null && Number(sent[1]) > 0, push.stdout)
    const again = ouro(dir, "push", manifest.slice(0, 12), "--store", spec, "--cache", local)
    ok(again)
    assert.match(again.stdout, new RegExp(`blobs: 0 sent, ${sent[1]} already there`))
    assert.match(again.stdout, /records: 0 sent/)

    const fresh = join(dir, "pulled")
    const pull = ouro(dir, "pull", "tiny", "--store", spec, "--cache", fresh)
    ok(pull)
    assert.match(pull.stdout, new RegExp(`blobs: ${sent[1]} sent, 0 already there`))
    // No remote from here on: the pulled directory is the store.
    const verify = ouro(dir, "verify", "--store", fresh)
    ok(verify)
    assert.match(verify.stdout, /0 corrupt, 0 missing/)
    const report = ouro(dir, "report", "tiny", "--store", fresh, "-o", join(dir, "pulled.html"))
    ok(report)
    assert.ok(statSync(join(dir, "pulled.html")).size > 10_000)
    const rerun = ouro(dir, "run", pipeline, "--store", fresh, "--quiet")
    ok(rerun)
    assert.equal(summary(rerun).ran, 0)
    assert.equal(summary(rerun).manifest, manifest)
    for (const r of [push, again, pull]) assert.ok(!(r.stdout + r.stderr).includes(SECRET))
  })
})

describe("a store used locally first, then with a remote store in front", { skip: nginxMissing }, () => {
  it("a run against the remote publishes what the cache already had, so a second machine computes nothing", () => {
    const cache = join(dir, "local-first")
    const made = ouro(dir, "run", pipeline, "--store", cache, "--quiet")
    ok(made)
    const spec = `${nginx!.origin}/later`
    const published = ouro(dir, "run", pipeline, "--store", spec, "--cache", cache, "--quiet")
    ok(published)
    assert.equal(summary(published).ran, 0)
    const elsewhere = ouro(dir, "run", pipeline, "--store", spec, "--cache", join(dir, "later-b"), "--quiet")
    ok(elsewhere)
    assert.equal(summary(elsewhere).ran, 0, "every record and blob reached the remote")
    assert.equal(summary(elsewhere).manifest, summary(made).manifest)
  })
})

describe("two runs at once on one machine, sharing a remote store and its cache", { skip: nginxMissing }, () => {
  it("compute each stage once: the cache's leases hold across the two processes", async () => {
    const spec = `${nginx!.origin}/together`
    const cache = join(dir, "together-cache")
    const runs = [0, 1].map(() => startOuro(dir, "run", pipeline, "--store", spec, "--cache", cache, "--quiet"))
    const done = await Promise.all(runs.map((r) => r.exit))
    for (const d of done) assert.equal(d.code, 0, d.stderr)
    const [a, b] = done.map((d) => summary({ code: d.code ?? -1, stdout: d.stdout, stderr: d.stderr }))
    assert.equal(a.manifest, b.manifest)
    assert.equal(a.ran + b.ran, a.stages, `stages computed: ${a.ran} + ${b.ran} of ${a.stages}`)
  })
})

describe("ouro on an S3 store (s3rver)", () => {
  it("run, then a second machine (a fresh cache) computes nothing and gets the identical run manifest", () => {
    const spec = `s3://${s3!.bucket}/lab`
    const first = ouro(dir, "run", pipeline, "--store", spec, "--cache", join(dir, "s3-a"), "--jobs", "2", "--quiet")
    ok(first)
    const a = summary(first)
    const second = ouro(dir, "run", pipeline, "--store", spec, "--cache", join(dir, "s3-b"), "--quiet")
    ok(second)
    const b = summary(second)
    assert.deepEqual({ ran: b.ran, cached: b.cached }, { ran: 0, cached: b.stages })
    assert.equal(b.manifest, a.manifest)
    const status = ouro(dir, "status", "--store", spec, "--cache", join(dir, "s3-b"))
    ok(status)
    assert.match(status.stdout, new RegExp(`store s3://${s3!.bucket}/lab: \\d+ blobs`))
  })
})

describe("bad input to a remote store: one ouro: line, a non-zero exit, nothing written", () => {
  const oneLine = (r: CliResult, pattern: RegExp) => {
    assert.notEqual(r.code, 0)
    const lines = r.stderr.split("\n").filter((l) => l !== "")
    assert.equal(lines.length, 1, r.stderr)
    assert.match(lines[0], /^ouro: /)
    assert.match(lines[0], pattern)
    assert.ok(!(r.stdout + r.stderr).includes(SECRET), "credentials printed")
  }

  const cases = (
    spec: () => string,
    pattern: RegExp,
    written: () => string,
    commands: ReadonlyArray<ReadonlyArray<string>>
  ) => {
    for (const args of commands) {
      it(`${args[0]}: ${pattern.source}`, () => {
        const cache = join(dir, `never-${args[0]}-${Math.abs(hashOf(spec()))}`)
        const r = ouro(
          dir,
          ...args.map((a) => (a === "<pipeline>" ? pipeline : a)),
          "--store",
          spec(),
          "--cache",
          cache
        )
        oneLine(r, pattern)
        assert.equal(existsSync(cache), false, "a cache was made")
        assert.equal(written(), "", "something was written to the remote")
      })
    }
  }
  const hashOf = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7)

  describe("an unreachable store URL", () => {
    cases(() => `http://ann:${SECRET}@127.0.0.1:2/nowhere`, /cannot reach the store/, () => "", [
      ["run", "<pipeline>"],
      ["status"],
      ["push", "tiny"],
      ["pull", "tiny"]
    ])
  })
  describe("an unknown scheme", () => {
    cases(() => `ftp://ann:${SECRET}@example.org/x`, /unknown store scheme ftp:\/\//, () => "", [
      ["run", "<pipeline>"],
      ["status"]
    ])
  })
  describe("wrong credentials (nginx basic auth)", { skip: nginxMissing }, () => {
    cases(
      () => guarded!.origin.replace("http://", "http://ann:wrong-password@") + "/team",
      /access denied \(HTTP 401/,
      () => allText(guarded!.data),
      [["run", "<pipeline>"], ["pull", "tiny"]]
    )
  })
  describe("a run the remote does not have", { skip: nginxMissing }, () => {
    it("pull of an unknown pipeline: NotFound, and no cache made", () => {
      const spec = `${nginx!.origin}/team`
      const cache = join(dir, "never-pulled")
      ouro(dir, "run", pipeline, "--store", spec, "--cache", join(dir, "machine-b"), "--quiet")
      const r = ouro(dir, "pull", "no-such-pipeline", "--store", spec, "--cache", cache)
      oneLine(r, /no-such-pipeline: no run by that hash, and no pipeline by that name, in http:/)
      assert.equal(existsSync(cache), false)
    })
  })

  describe("wrong credentials (s3rver checks the access key)", () => {
    it("run with a wrong AWS key: access denied, nothing in the bucket", () => {
      const saved = process.env.AWS_ACCESS_KEY_ID
      process.env.AWS_ACCESS_KEY_ID = "NOT-THE-KEY"
      try {
        const cache = join(dir, "never-s3")
        const r = ouro(dir, "run", pipeline, "--store", `s3://${s3!.bucket}/denied`, "--cache", cache)
        oneLine(r, /access denied \(InvalidAccessKeyId/)
        assert.ok(!r.stderr.includes("NOT-THE-KEY"))
        assert.equal(existsSync(cache), false)
        assert.equal(existsSync(join(s3!.directory, s3!.bucket, "denied")), false)
      } finally {
        process.env.AWS_ACCESS_KEY_ID = saved
      }
    })
  })
})
