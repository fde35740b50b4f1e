/**
 * The S3 transport of a remote store: `s3://bucket/prefix`, the same layout as the HTTP store (remote.ts) as object
 * keys under the prefix. @aws-sdk/client-s3, loaded only when an s3:// store is opened (it takes a while to load).
 * Configuration is the standard AWS environment, read by the SDK itself, plus what S3-compatible servers need:
 *   endpoint     AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (a MinIO, Garage, Ceph, s3rver...); unset: AWS
 *   region       AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1
 *   path style   AWS_S3_FORCE_PATH_STYLE=true|false; by default on when an endpoint is set (servers other than
 *                AWS seldom serve bucket subdomains), off otherwise
 *   credentials  the SDK's default chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE
 *                and ~/.aws, container and instance roles
 * Credentials never reach a message: errors are worded here from the SDK's error name and HTTP status, and the
 * SDK's error object (which may hold the signed request) is never kept as a cause.
 */
import type { S3Client } from "@aws-sdk/client-s3"
import { Effect, type Scope } from "effect"
import { describe, StoreError } from "../errors/index.ts"
import type { RemoteEntry, RemoteTransport, TransportStats } from "./remote.ts"

export interface S3Target {
  readonly bucket: string
  /** The key prefix, empty or ending in `/`. */
  readonly prefix: string
}

/** `s3://bucket/prefix` → its bucket and key prefix, or why it is not one. */
export const parseS3Url = (spec: string): S3Target | string => {
  const m = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/.exec(spec)
  if (m === null) return "not an s3://bucket/prefix URL"
  if (m[1].includes("@")) return "an s3:// URL takes no credentials (they come from the AWS environment)"
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1])) return `${JSON.stringify(m[1])} is not a valid bucket name`
  const path = (m[2] ?? "").replace(/^\/+|\/+$/g, "")
  return { bucket: m[1], prefix: path === "" ? "" : `${path}/` }
}

export const s3Location = (target: S3Target): string => `s3://${target.bucket}/${target.prefix}`.replace(/\/$/, "")

const envFlag = (v: string | undefined): boolean | undefined =>
  v === undefined || v === "" ? undefined : /^(1|true|yes)$/i.test(v)

interface SdkError {
  readonly name?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
  readonly code?: string
  readonly message?: string
}
const asSdkError = (e: unknown): SdkError => (typeof e === "object" && e !== null ? e as SdkError : {})

const isNotFound = (e: unknown): boolean => {
  const err = asSdkError(e)
  return err.name === "NoSuchKey" || err.name === "NotFound" || err.$metadata?.httpStatusCode === 404
}

/** What went wrong, in words that name no key, secret or signature. */
const wording = (e: unknown, what: string): string => {
  const err = asSdkError(e)
  const status = err.$metadata?.httpStatusCode
  const name = err.name ?? ""
  if (name === "CredentialsProviderError") {
    return "no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
  }
  if (name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch" || name === "AccessDenied") {
    return `access denied (${name}${status === undefined ? "" : `, HTTP ${status}`}): check the AWS credentials`
  }
  if (status === 401 || status === 403) return `access denied (HTTP ${status}): check the AWS credentials`
  if (name === "NoSuchBucket") return "no such bucket"
  if (status === undefined) {
    // No answer: a network error (ECONNREFUSED, a name that does not resolve, a timeout).
    const code = err.code ?? (e instanceof Error && e.cause !== undefined ? describe(e.cause) : undefined)
    return `cannot reach the store: ${code ?? name ?? "no answer"}${
      err.message === undefined ? "" : ` (${err.message})`
    }`
  }
  return `S3 ${what} failed: ${name === "" ? "error" : name} (HTTP ${status})`
}

export const makeS3Transport = (target: S3Target): Effect.Effect<RemoteTransport, StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const location = s3Location(target)
    const sdk = yield* Effect.tryPromise({
      try: () => import("@aws-sdk/client-s3"),
      catch: (e) => new StoreError({ path: location, detail: `cannot load @aws-sdk/client-s3: ${describe(e)}` })
    })
    // The SDK warns on stderr, on every command, that its releases after January 2027 will need Node 22 (this one
    // runs on Node 20): noise in a CLI whose failures are one line. Whoever wants the warning sets the variable.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined
    const client: S3Client = new sdk.S3Client({
      region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1",
      ...(endpoint === undefined ? {} : { endpoint }),
      forcePathStyle: envFlag(process.env.AWS_S3_FORCE_PATH_STYLE) ?? endpoint !== undefined,
      maxAttempts: 2,
      // The SDK's own checksums only where S3 requires them: servers other than AWS often reject them, and every
      // read is hash-checked here anyway.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED"
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => client.destroy()))
    const stats: TransportStats = { requests: 0, bytesSent: 0, bytesReceived: 0 }
    const keyOf = (path: string) => `${target.prefix}${path}`
    const urlOf = (path: string) => `s3://${target.bucket}/${keyOf(path)}`

    const call = <A>(path: string, what: string, send: () => Promise<A>) =>
      Effect.tryPromise({
        try: () => (stats.requests++, send()),
        catch: (e) => e
      }).pipe(Effect.mapError((e) => new StoreError({ path: urlOf(path), detail: wording(e, what) })))

    /** The call's result, or undefined on a 404. */
    const orAbsent = <A>(path: string, what: string, send: () => Promise<A>) =>
      Effect.tryPromise({ try: () => (stats.requests++, send()), catch: (e) => e }).pipe(
        Effect.catch((e) =>
          isNotFound(e)
            ? Effect.succeed(undefined)
            : Effect.fail(new StoreError({ path: urlOf(path), detail: wording(e, what) }))
        )
      )

    const get = (path: string) =>
      orAbsent(path, "GET", async () => {
        const r = await client.send(new sdk.GetObjectCommand({ Bucket: target.bucket, Key: keyOf(path) }))
        return r.Body === undefined ? new Uint8Array(0) : await r.Body.transformToByteArray()
      }).pipe(Effect.tap((b) => Effect.sync(() => void (stats.bytesReceived += b?.byteLength ?? 0))))

    const head = (path: string) =>
      orAbsent(path, "HEAD", () => client.send(new sdk.HeadObjectCommand({ Bucket: target.bucket, Key: keyOf(path) })))
        .pipe(Effect.map((r) => (r === undefined ? undefined : r.ContentLength ?? 0)))

    const put = (path: string, bytes: Uint8Array) =>
      call(path, "PUT", () => {
        stats.bytesSent += bytes.byteLength
        return client.send(
          new sdk.PutObjectCommand({
            Bucket: target.bucket,
            Key: keyOf(path),
            Body: bytes,
            ContentLength: bytes.byteLength,
            ContentType: "application/octet-stream"
          })
        )
      }).pipe(Effect.asVoid)

    const remove = (path: string) =>
      orAbsent(
        path,
        "DELETE",
        () => client.send(new sdk.DeleteObjectCommand({ Bucket: target.bucket, Key: keyOf(path) }))
      )
        .pipe(Effect.asVoid)

    const listAll = (dir: string) =>
      Effect.gen(function*() {
        const out: RemoteEntry[] = []
        let token: string | undefined
        do {
          const page = yield* call(dir, "LIST", () =>
            client.send(
              new sdk.ListObjectsV2Command({
                Bucket: target.bucket,
                Prefix: keyOf(dir),
                ...(token === undefined ? {} : { ContinuationToken: token })
              })
            ))
          for (const o of page.Contents ?? []) {
            if (o.Key === undefined) continue
            out.push({
              path: o.Key.slice(keyOf(dir).length),
              bytes: o.Size ?? 0,
              modifiedMs: o.LastModified?.getTime()
            })
          }
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined
        } while (token !== undefined)
        return out
      })

    return { location, urlOf, get, head, put, remove, listAll, stats } satisfies RemoteTransport
  })
