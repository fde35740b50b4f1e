/**
 * bench/remote: the remote stores against the local one, in the same run, on loopback (a private nginx with WebDAV;
 * Debian's nginx-light + libnginx-mod-http-dav-ext must be installed).
 * - A fully cached rerun of the collapse-shaped chain (bench/support/chain.ts, 100 generations: 301 stages), in
 *   process: on the local store; on the HTTP store with a warm cache (the machine that ran it); on the HTTP store
 *   with an empty cache (a second machine). Time (median of 5) and requests the server saw (its access log).
 * - Push and pull of that run's closure (ouro push / ouro pull's code), and of a closure of large blobs: MB/s and
 *   requests per blob.
 * Wall-clock times here are measurements, never hashed content.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { pull, push } from "../src/cli/transfer.ts"
import { encodeManifest } from "../src/engine/manifest.ts"
import { execute } from "../src/engine/execute.ts"
import { localInProcess, storeInProcess } from "../src/engine/layers.ts"
import { pipelineRef, runRef } from "../src/engine/refs.ts"
import { sha256 } from "../src/hash/index.ts"
import { makeLocalStore } from "../src/store/local.ts"
import { nginxMissing, startNginx } from "../test/support/nginx.ts"
import { chain } from "./support/chain.ts"
import { median } from "./support/median.ts"

const REPEATS = 5
const GENERATIONS = 100
const seconds = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9

export const main = async () => {
  if (nginxMissing !== undefined) throw new Error(`bench/remote: ${nginxMissing}`)
  const nginx = await startNginx()
  const dir = mkdtempSync(join(tmpdir(), "bench-remote-"))
  const pipeline = chain(GENERATIONS)
  const stages = pipeline.nodes.length
  try {
    const local = join(dir, "local")
    const spec = `${nginx.origin}/bench`
    await Effect.runPromise(execute(pipeline).pipe(Effect.provide(localInProcess(local))))

    /** A fully cached rerun on `layer`: median time and the requests nginx saw per rerun. */
    const rerun = async (name: string, layerOf: (i: number) => ReturnType<typeof storeInProcess>) => {
      const times: number[] = []
      const requests: number[] = []
      for (let i = 0; i < REPEATS; i++) {
        const before = nginx.requests()
        const t = process.hrtime.bigint()
        const result = await Effect.runPromise(execute(pipeline).pipe(Effect.provide(layerOf(i))))
        times.push(seconds(t))
        requests.push(nginx.requests() - before)
        if (result.nodes.some((n) => n.status === "ran")) throw new Error(`bench/remote: ${name} computed a stage`)
      }
      return { name, s: median(times), requests: median(requests) }
    }

    // Publish the run to the remote (ouro push), so that every rerun below finds it there.
    const pushT = process.hrtime.bigint()
    const pushed = await Effect.runPromise(push(spec, pipeline.name, { cache: local }))
    const pushS = seconds(pushT)
    const pullT = process.hrtime.bigint()
    const pulled = await Effect.runPromise(pull(spec, pipeline.name, { cache: join(dir, "pulled") }))
    const pullS = seconds(pullT)

    const rows = [
      await rerun("local store", () => localInProcess(local)),
      await rerun("http, warm cache", () => storeInProcess(spec, "write", { cache: local })),
      await rerun("http, empty cache", (i) => storeInProcess(spec, "write", { cache: join(dir, `fresh-${i}`) }))
    ]
    console.log(
      `bench/remote  fully cached rerun of chain(${GENERATIONS}) (${stages} stages), in process, median of ${REPEATS}; ` +
        "nginx WebDAV on loopback"
    )
    console.log("store                    time_s  ratio_vs_local  requests  requests_per_stage")
    for (const r of rows) {
      console.log(
        [
          r.name.padEnd(21),
          r.s.toFixed(3).padStart(9),
          (r.s / rows[0].s).toFixed(1).padStart(14),
          String(r.requests).padStart(8),
          (r.requests / stages).toFixed(2).padStart(18)
        ].join("  ")
      )
    }

    // A closure of large blobs: 20 blobs of 5 MB under one run manifest, pushed and pulled.
    const big = join(dir, "big")
    const store = await Effect.runPromise(makeLocalStore(big))
    const blobs: string[] = []
    for (let i = 0; i < 20; i++) {
      const bytes = new Uint8Array(5_000_000)
      for (let j = 0; j < bytes.length; j += 4096) bytes[j] = (i * 31 + j) & 0xff
      blobs.push((await Effect.runPromise(store.putBlob(bytes))).hash)
    }
    const nodes = blobs.map((hash, i) => ({
      path: `blob${i}`,
      kind: "bench/blob",
      tags: {},
      key: sha256(`key ${i}`),
      outputs: { out: hash }
    }))
    for (const n of nodes) {
      await Effect.runPromise(store.putRecord({
        key: n.key,
        kind: n.kind,
        version: 1,
        params: {},
        inputs: {},
        outputs: { out: { hash: n.outputs.out, artifact: "bytes", bytes: 5_000_000 } },
        env: {},
        node: n.path,
        timings: { startedAt: "2026-01-01T00:00:00.000Z", ms: 0 }
      }))
    }
    const manifest = await Effect.runPromise(store.putBlob(encodeManifest("big", nodes)))
    await Effect.runPromise(store.setRef(pipelineRef("big"), manifest.hash))
    await Effect.runPromise(store.setRef(runRef("big", manifest.hash), "2026-01-01T00:00:00.000Z"))
    const bigPushT = process.hrtime.bigint()
    const bigPushed = await Effect.runPromise(push(spec, "big", { cache: big }))
    const bigPushS = seconds(bigPushT)
    const bigAgainT = process.hrtime.bigint()
    const bigAgain = await Effect.runPromise(push(spec, "big", { cache: big }))
    const bigAgainS = seconds(bigAgainT)
    const bigPullT = process.hrtime.bigint()
    const bigPulled = await Effect.runPromise(pull(spec, "big", { cache: join(dir, "big-pulled") }))
    const bigPullS = seconds(bigPullT)

    console.log("\ntransfer                     blobs  sent  MB_sent  time_s   MB/s  requests  requests_per_blob")
    const line = (name: string, c: typeof pushed, s: number) => {
      const n = c.blobsSent + c.blobsSkipped
      console.log(
        [
          name.padEnd(27),
          String(n).padStart(5),
          String(c.blobsSent).padStart(4),
          (c.bytesSent / 1e6).toFixed(2).padStart(7),
          s.toFixed(3).padStart(7),
          (c.bytesSent / 1e6 / s).toFixed(1).padStart(6),
          String(c.requests).padStart(8),
          (c.requests / n).toFixed(2).padStart(17)
        ].join("  ")
      )
    }
    line(`push chain(${GENERATIONS})`, pushed, pushS)
    line(`pull chain(${GENERATIONS})`, pulled, pullS)
    line("push 20 x 5 MB", bigPushed, bigPushS)
    line("push 20 x 5 MB again", bigAgain, bigAgainS)
    line("pull 20 x 5 MB", bigPulled, bigPullS)
  } finally {
    await nginx.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
