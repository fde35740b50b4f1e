/**
 * s3rver (a fake S3, devDependency) in a child process on loopback: the S3 remote store the tests run against. A
 * child, not this process, so that a test blocked in spawnSync (an `ouro` command) does not block the server.
 * It checks the access key and the signature (the credentials below; anything else is InvalidAccessKeyId or
 * SignatureDoesNotMatch), which is what the wrong-credentials test relies on.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ROOT } from "./cli.ts"

export interface S3Server {
  readonly endpoint: string
  readonly bucket: string
  /** Where s3rver keeps its files: an object `key` of `bucket` is `<directory>/<bucket>/<key>._S3rver_object`. */
  readonly directory: string
  /** The environment the AWS SDK reads: endpoint, region, path style and the right credentials. */
  readonly env: Readonly<Record<string, string>>
  readonly stop: () => Promise<void>
}

export const S3RVER_KEY = "S3RVER"

const SCRIPT = `
const S3rver = require("s3rver")
const [directory, bucket] = process.argv.slice(1)
new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] })
  .run()
  .then((a) => process.stdout.write("PORT " + a.port + "\\n"))
  .catch((e) => { process.stderr.write(String(e) + "\\n"); process.exit(1) })
`

export const startS3 = async (bucket = "ouro"): Promise<S3Server> => {
  const directory = mkdtempSync(join(tmpdir(), "ouro-s3rver-"))
  const child: ChildProcess = spawn(process.execPath, ["-e", SCRIPT, directory, bucket], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"]
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ""
    let err = ""
    child.stdout!.on("data", (d) => {
      out += d
      const m = /PORT (\d+)/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child.stderr!.on("data", (d) => (err += d))
    child.once("exit", (code) => reject(new Error(`s3rver exited with code ${code}: ${err}`)))
  })
  const endpoint = `http://127.0.0.1:${port}`
  const exited = new Promise<void>((r) => child.once("exit", () => r()))
  return {
    endpoint,
    bucket,
    directory,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: S3RVER_KEY,
      AWS_SECRET_ACCESS_KEY: S3RVER_KEY
    },
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))])
      rmSync(directory, { recursive: true, force: true })
    }
  }
}

/** Sets `env` in this process for the SDK (tests that open an s3:// store in-process). */
export const useEnv = (env: Readonly<Record<string, string>>): void => {
  for (const [k, v] of Object.entries(env)) process.env[k] = v
}
