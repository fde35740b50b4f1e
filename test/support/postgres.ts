/**
 * A private PostgreSQL server for one test file: initdb in a temp directory, started on loopback on a free port,
 * its socket in the same directory, stopped (and the directory removed) by `stop`. Runs the server as the
 * `postgres` user when this process is root (initdb refuses root), so the directory is made traversable for it.
 * Users: `ouro` (trust, the superuser) and `secret` (password "right", scram-sha-256 over TCP), for the
 * wrong-password case.
 */
import { execFileSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface PgServer {
  /** postgres://ouro@127.0.0.1:PORT/ouro (trust). */
  readonly url: string
  readonly port: number
  readonly dir: string
  /** A URL for user `secret` with the given password (the right one is "right"). */
  readonly urlWithPassword: (password: string) => string
  /** Makes a fresh database and returns its URL (user ouro): a cluster of its own, sharing nothing with the others. */
  readonly database: (name: string) => string
  readonly stop: () => void
}

/** The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<major>/bin). */
export const postgresBin = (): string | undefined => {
  const base = "/usr/lib/postgresql"
  if (!existsSync(base)) return undefined
  const majors = readdirSync(base).filter((d) => existsSync(join(base, d, "bin", "pg_ctl")))
  majors.sort((a, b) => Number(b) - Number(a))
  return majors.length === 0 ? undefined : join(base, majors[0], "bin")
}

/** A port nothing listens on right now, on loopback. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const isRoot = () => process.getuid?.() === 0

/** Runs a PostgreSQL tool, as the postgres user when we are root. */
const pgTool = (bin: string, tool: string, args: ReadonlyArray<string>) => {
  const exe = join(bin, tool)
  if (!isRoot()) return execFileSync(exe, args, { stdio: "pipe" }).toString()
  const quoted = [exe, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ")
  return execFileSync("su", ["postgres", "-s", "/bin/sh", "-c", quoted], { stdio: "pipe" }).toString()
}

export const startPostgres = async (): Promise<PgServer> => {
  const bin = postgresBin()
  if (bin === undefined) throw new Error("PostgreSQL is not installed (apt-get install postgresql)")
  const dir = mkdtempSync(join(tmpdir(), "ouro-pg-"))
  chmodSync(dir, 0o755)
  const data = join(dir, "data")
  if (isRoot()) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim())
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim())
    chownSync(dir, uid, gid)
  }
  pgTool(bin, "initdb", ["-D", data, "-A", "trust", "-U", "ouro", "--no-sync"])
  writeFileSync(
    join(data, "pg_hba.conf"),
    [
      "local all all trust",
      "host all secret 127.0.0.1/32 scram-sha-256",
      "host all all 127.0.0.1/32 trust",
      ""
    ].join("\n")
  )
  const port = await freePort()
  pgTool(bin, "pg_ctl", [
    "-D",
    data,
    "-l",
    join(dir, "log"),
    "-w",
    "-o",
    `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=200`,
    "start"
  ])
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    try {
      pgTool(bin, "pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])
    } catch {
      // Already down: nothing to stop.
    }
    rmSync(dir, { recursive: true, force: true })
  }
  /** One statement as the superuser, over the server's socket. */
  const sql = (statement: string) =>
    pgTool(bin, "psql", ["-h", dir, "-p", String(port), "-U", "ouro", "-d", "postgres", "-q", "-c", statement])
  try {
    sql("CREATE DATABASE ouro")
    sql("CREATE ROLE secret LOGIN PASSWORD 'right'")
  } catch (e) {
    stop()
    throw e
  }
  return {
    url: `postgres://ouro@127.0.0.1:${port}/ouro`,
    port,
    dir,
    urlWithPassword: (password) => `postgres://secret:${encodeURIComponent(password)}@127.0.0.1:${port}/ouro`,
    database: (name) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: lowercase letters, digits, _`)
      sql(`CREATE DATABASE ${name}`)
      return `postgres://ouro@127.0.0.1:${port}/${name}`
    },
    stop
  }
}
