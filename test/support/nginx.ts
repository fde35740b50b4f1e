/**
 * A private nginx on loopback serving a WebDAV folder: the HTTP remote store the tests run against. Debian's
 * `nginx-light` + `libnginx-mod-http-dav-ext` (.ci/run installs them when missing); `nginx -c FILE -p DIR` on a free
 * port, its files, logs and temp folders all under DIR, stopped (and DIR removed) by `stop`.
 * `nginxMissing` says why not when there is no nginx: tests skip with that message.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

const NGINX_CANDIDATES = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
const DAV_EXT = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so"

const nginxBinary = (): string | undefined => {
  const found = NGINX_CANDIDATES.find((p) => existsSync(p))
  if (found !== undefined) return found
  const which = spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" })
  return which.status === 0 && which.stdout.trim() !== "" ? which.stdout.trim() : undefined
}

/** Why nginx tests cannot run here, or undefined when they can. */
export const nginxMissing: string | undefined = nginxBinary() === undefined
  ? "nginx is not installed (apt-get install -y nginx-light libnginx-mod-http-dav-ext); skipping the HTTP store tests"
  : undefined

export interface Nginx {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly origin: string
  /** Where the served files are on disk (the URL path `/x` is `<data>/x`). */
  readonly data: string
  /** Requests served so far (lines of the access log). */
  readonly requests: () => number
  readonly stop: () => Promise<void>
}

export interface NginxOptions {
  /** Basic auth: only this user and password get in. */
  readonly basicAuth?: { readonly user: string; readonly password: string }
  /** Leave the dav-ext module out: a server that cannot list (PROPFIND answers 405). */
  readonly noListing?: boolean
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const waitUntilServing = async (origin: string, child: ChildProcess, errorLog: string): Promise<void> => {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) {
      throw new Error(`nginx exited with code ${child.exitCode}: ${readIfThere(errorLog)}`)
    }
    try {
      await fetch(`${origin}/`, { method: "HEAD" })
      return
    } catch {
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  throw new Error(`nginx did not answer on ${origin}: ${readIfThere(errorLog)}`)
}

const readIfThere = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : "")

export const startNginx = async (options: NginxOptions = {}): Promise<Nginx> => {
  const binary = nginxBinary()
  if (binary === undefined) throw new Error(nginxMissing)
  const dir = mkdtempSync(join(tmpdir(), "ouro-nginx-"))
  const data = join(dir, "data")
  mkdirSync(data)
  for (const d of ["client", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, "tmp", d), { recursive: true })
  const auth = options.basicAuth === undefined ? "" : (() => {
    const { user, password } = options.basicAuth
    const sha = createHash("sha1").update(password).digest("base64")
    writeFileSync(join(dir, "htpasswd"), `${user}:{SHA}${sha}\n`)
    return `auth_basic "ouroboros"; auth_basic_user_file ${join(dir, "htpasswd")};`
  })()
  const listing = !options.noListing && existsSync(DAV_EXT)
  // A failed bind (another process took the port meanwhile) is retried on another port.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const conf = join(dir, "nginx.conf")
    writeFileSync(
      conf,
      [
        listing ? `load_module ${DAV_EXT};` : "",
        // As root, the workers would run as nobody, who cannot write the data folder.
        process.getuid?.() === 0 ? "user root;" : "",
        "worker_processes 1;",
        "daemon off;",
        `pid ${join(dir, "nginx.pid")};`,
        `error_log ${join(dir, "error.log")} warn;`,
        "events { worker_connections 256; }",
        "http {",
        `  access_log ${join(dir, "access.log")};`,
        `  client_body_temp_path ${join(dir, "tmp", "client")};`,
        `  proxy_temp_path ${join(dir, "tmp", "proxy")};`,
        `  fastcgi_temp_path ${join(dir, "tmp", "fastcgi")};`,
        `  uwsgi_temp_path ${join(dir, "tmp", "uwsgi")};`,
        `  scgi_temp_path ${join(dir, "tmp", "scgi")};`,
        "  client_max_body_size 0;",
        `  server {`,
        `    listen 127.0.0.1:${port};`,
        `    root ${data};`,
        `    location / {`,
        `      ${auth}`,
        "      dav_methods PUT DELETE MKCOL MOVE;",
        listing ? "      dav_ext_methods PROPFIND OPTIONS;" : "",
        "      create_full_put_path on;",
        "      dav_access user:rw group:r all:r;",
        "    }",
        "  }",
        "}"
      ].join("\n")
    )
    const errorLog = join(dir, "error.log")
    rmSync(errorLog, { force: true })
    // -e: the error log from the start (before the config is read, nginx would open its compiled-in one).
    const child = spawn(binary, ["-e", errorLog, "-c", conf, "-p", dir], { stdio: "ignore" })
    const origin = `http://127.0.0.1:${port}`
    try {
      await waitUntilServing(origin, child, errorLog)
    } catch (e) {
      child.kill("SIGKILL")
      if (attempt < 4 && /Address already in use/.test(String(e))) continue
      rmSync(dir, { recursive: true, force: true })
      throw e
    }
    const accessLog = join(dir, "access.log")
    const exited = new Promise<void>((r) => child.once("exit", () => r()))
    return {
      origin,
      data,
      requests: () => readIfThere(accessLog).split("\n").filter((l) => l !== "").length,
      stop: async () => {
        // SIGQUIT: nginx's graceful stop of the master and its worker.
        if (child.exitCode === null) child.kill("SIGQUIT")
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))])
        if (child.exitCode === null) child.kill("SIGKILL")
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  throw new Error("nginx: no free port after 5 tries")
}
