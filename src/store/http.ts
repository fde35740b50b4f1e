/**
 * The HTTP transport of a remote store: `http(s)://[user:password@]host[:port]/prefix`, the layout of Bazel's HTTP
 * remote cache (`PUT/GET/HEAD <prefix>/cas/<sha256>` for blobs, `<prefix>/ac/<stage key>` for records) plus
 * `<prefix>/refs/<name>` and the store's marker (see remote.ts). Any server that stores what is PUT and serves it
 * back works: nginx with WebDAV (`dav_methods PUT DELETE; create_full_put_path on;`), bazel-remote, a CDN in front.
 *
 * Listing (listBlobs, listRecordKeys, listRefs: what status, verify, gc, runs and push/pull by pipeline name use)
 * is a WebDAV PROPFIND with `Depth: 1`, folder by folder (nginx answers it with the dav-ext module:
 * `dav_ext_methods PROPFIND OPTIONS;`). A server that does not list answers 405 or 501, and the listing fails with
 * one line saying so; running, caching and push/pull of a run by its hash need no listing.
 *
 * Credentials: the URL's user and password (sent as HTTP Basic), or a bearer token in OURO_STORE_TOKEN. They are
 * taken out of the URL at once: messages, `location` and every error's cause carry the URL without them, and no
 * header is ever put into a message.
 * Uses Node's global fetch (undici, keep-alive), one request at a time per call, each bounded by
 * OURO_STORE_TIMEOUT_MS (default 120 s).
 */
import { Effect } from "effect"
import { describe, StoreError } from "../errors/index.ts"
import type { RemoteEntry, RemoteTransport, TransportStats } from "./remote.ts"

export interface HttpTarget {
  /** The prefix URL without credentials, ending in `/`. */
  readonly base: URL
  /** The Authorization header to send, if any. */
  readonly authorization: string | undefined
}

/** Splits the credentials off a store URL (never shown anywhere) from the address (shown in messages). */
export const parseHttpUrl = (spec: string): HttpTarget | string => {
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    return "not a valid URL"
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `not an http(s) URL`
  if (url.search !== "" || url.hash !== "") return "a store URL takes no query or fragment"
  const user = decodeURIComponent(url.username)
  const password = decodeURIComponent(url.password)
  url.username = ""
  url.password = ""
  if (!url.pathname.endsWith("/")) url.pathname += "/"
  const token = process.env.OURO_STORE_TOKEN
  const authorization = user !== "" || password !== ""
    ? `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`
    : token !== undefined && token !== ""
    ? `Bearer ${token}`
    : undefined
  return { base: url, authorization }
}

/** The location shown for a store URL: without credentials and without the trailing slash. */
export const httpLocation = (base: URL): string => base.href.replace(/\/$/, "")

const encodePath = (path: string) => path.split("/").map(encodeURIComponent).join("/")

/** Tries after the first, for a dropped connection or a 502/503/504. */
const RETRIES = 2

const timeoutMs = (): number => Number(process.env.OURO_STORE_TIMEOUT_MS ?? 120_000)

/** Why a request never got an answer, in words: the error's own message and its cause's (ECONNREFUSED, ...). */
const unreachable = (e: unknown): string => {
  if (e instanceof Error && e.name === "TimeoutError") return `no answer within ${timeoutMs()} ms`
  const cause = e instanceof Error && e.cause !== undefined ? describe(e.cause) : undefined
  return cause === undefined ? describe(e) : cause
}

/** The statuses a request may end with, and what the others mean. */
const refused = (status: number, statusText: string, method: string): string =>
  status === 401 || status === 403
    ? `access denied (HTTP ${status} ${statusText}): check the store's credentials`
    : status === 405 || status === 501
    ? `the server does not allow ${method} here (HTTP ${status})`
    : `HTTP ${status} ${statusText} to ${method}`

export const makeHttpTransport = (target: HttpTarget): RemoteTransport => {
  const stats: TransportStats = { requests: 0, bytesSent: 0, bytesReceived: 0 }
  const location = httpLocation(target.base)
  const urlOf = (path: string) => new URL(encodePath(path), target.base).href

  /**
   * One request; the response, or a StoreError naming the URL (no credentials: fetch never sees them in it).
   * Every request here is idempotent (a blob's or record's name is its content's), so a dropped connection or a
   * 502/503/504 is tried again, twice, after 100 and 400 ms; a refused or absent server fails after those tries.
   */
  const request = (method: string, path: string, init: { body?: Uint8Array; headers?: Record<string, string> } = {}) =>
    Effect.tryPromise({
      try: async (signal) => {
        const headers: Record<string, string> = { ...init.headers }
        if (target.authorization !== undefined) headers.authorization = target.authorization
        for (let attempt = 0;; attempt++) {
          stats.requests++
          if (init.body !== undefined) stats.bytesSent += init.body.byteLength
          const last = attempt === RETRIES
          try {
            const response = await fetch(urlOf(path), {
              method,
              headers,
              ...(init.body === undefined ? {} : { body: init.body }),
              signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs())])
            })
            if (last || ![502, 503, 504].includes(response.status)) return response
            await response.arrayBuffer().catch(() => undefined)
          } catch (e) {
            if (last || signal.aborted || (e instanceof Error && e.name === "TimeoutError")) throw e
          }
          await new Promise((r) => setTimeout(r, 100 * 4 ** attempt))
        }
      },
      // The cause kept is the message only: an error object may hold the request, headers and all.
      catch: (e) =>
        new StoreError({
          path: urlOf(path),
          detail: `cannot reach the store: ${unreachable(e)}`,
          cause: unreachable(e)
        })
    })

  const body = (response: Response, path: string) =>
    Effect.tryPromise({
      try: () => response.arrayBuffer(),
      catch: (e) => new StoreError({ path: urlOf(path), detail: `the answer broke off: ${unreachable(e)}` })
    }).pipe(Effect.map((buffer) => {
      stats.bytesReceived += buffer.byteLength
      return new Uint8Array(buffer)
    }))

  const fail = (response: Response, path: string, method: string) =>
    // Drain the body so the connection is reused; its text is not shown (a server's page, or worse).
    Effect.ignore(body(response, path)).pipe(
      Effect.andThen(
        Effect.fail(
          new StoreError({ path: urlOf(path), detail: refused(response.status, response.statusText, method) })
        )
      )
    )

  const get = (path: string) =>
    request("GET", path).pipe(Effect.flatMap((r) =>
      r.status === 200
        ? body(r, path)
        : r.status === 404
        ? Effect.as(Effect.ignore(body(r, path)), undefined)
        : fail(r, path, "GET")
    ))

  const head = (path: string) =>
    request("HEAD", path).pipe(Effect.flatMap((r) => {
      if (r.status === 404) return Effect.succeed(undefined)
      if (r.status !== 200) return fail(r, path, "HEAD")
      const length = Number(r.headers.get("content-length"))
      return Number.isInteger(length) && length >= 0
        ? Effect.succeed(length)
        : Effect.fail(new StoreError({ path: urlOf(path), detail: "HEAD answered without a Content-Length" }))
    }))

  const put = (path: string, bytes: Uint8Array) =>
    request("PUT", path, { body: bytes, headers: { "content-type": "application/octet-stream" } }).pipe(
      Effect.flatMap((r) =>
        r.status === 200 || r.status === 201 || r.status === 204
          ? Effect.ignore(body(r, path))
          : fail(r, path, "PUT")
      )
    )

  const remove = (path: string) =>
    request("DELETE", path).pipe(
      Effect.flatMap((r) =>
        r.status === 200 || r.status === 204 || r.status === 404
          ? Effect.ignore(body(r, path))
          : fail(r, path, "DELETE")
      )
    )

  /** One folder's PROPFIND (Depth 1): its files and subfolders, by path relative to the prefix. */
  const propfind = (dir: string) =>
    request("PROPFIND", dir, { headers: { depth: "1" } }).pipe(Effect.flatMap((r) => {
      if (r.status === 404) return Effect.as(Effect.ignore(body(r, dir)), undefined)
      if (r.status === 405 || r.status === 501) {
        return Effect.ignore(body(r, dir)).pipe(Effect.andThen(Effect.fail(
          new StoreError({
            path: urlOf(dir),
            detail: `the server does not list folders (PROPFIND answered HTTP ${r.status}); ` +
              "this command needs a listing: serve the store with WebDAV PROPFIND (nginx: the dav-ext module)"
          })
        )))
      }
      if (r.status !== 207) return fail(r, dir, "PROPFIND")
      return body(r, dir).pipe(Effect.map((b) => parseMultistatus(new TextDecoder().decode(b), target.base)))
    }))

  const listAll = (dir: string): Effect.Effect<ReadonlyArray<RemoteEntry>, StoreError> =>
    Effect.gen(function*() {
      const out: RemoteEntry[] = []
      const walk = (folder: string): Effect.Effect<void, StoreError> =>
        Effect.gen(function*() {
          const entries = yield* propfind(folder)
          if (entries === undefined) return
          for (const e of entries) {
            if (e.path === folder || !e.path.startsWith(folder)) continue
            if (e.folder) yield* walk(e.path)
            else out.push({ path: e.path.slice(dir.length), bytes: e.bytes, modifiedMs: e.modifiedMs })
          }
        })
      yield* walk(dir)
      return out
    })

  return { location, urlOf, get, head, put, remove, listAll, stats }
}

interface DavEntry {
  /** Relative to the prefix; a folder's ends in `/`. */
  readonly path: string
  readonly folder: boolean
  readonly bytes: number
  readonly modifiedMs: number | undefined
}

/** A WebDAV multistatus answer's entries (any namespace prefix), by path relative to the store's prefix. */
export const parseMultistatus = (xml: string, base: URL): DavEntry[] => {
  const tag = (name: string) =>
    new RegExp(`<(?:[A-Za-z0-9]+:)?${name}\\b[^>]*>([\\s\\S]*?)</(?:[A-Za-z0-9]+:)?${name}>`)
  const out: DavEntry[] = []
  for (const m of xml.matchAll(/<(?:[A-Za-z0-9]+:)?response\b[^>]*>([\s\S]*?)<\/(?:[A-Za-z0-9]+:)?response>/g)) {
    const part = m[1]
    const href = tag("href").exec(part)?.[1]?.trim()
    if (href === undefined) continue
    let pathname: string
    try {
      pathname = decodeURIComponent(new URL(href.replace(/&amp;/g, "&"), base).pathname)
    } catch {
      continue
    }
    const prefix = decodeURIComponent(base.pathname)
    if (!pathname.startsWith(prefix)) continue
    const folder = /<(?:[A-Za-z0-9]+:)?collection\b/.test(part)
    const rel = pathname.slice(prefix.length)
    const length = Number(tag("getcontentlength").exec(part)?.[1] ?? "0")
    const modified = tag("getlastmodified").exec(part)?.[1]
    const ms = modified === undefined ? NaN : Date.parse(modified)
    out.push({
      path: folder && !rel.endsWith("/") && rel !== "" ? `${rel}/` : rel,
      folder,
      bytes: Number.isFinite(length) ? length : 0,
      modifiedMs: Number.isFinite(ms) ? ms : undefined
    })
  }
  return out
}
