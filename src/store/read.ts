/** Reading artifacts: a blob decoded as its type, where bytes that hash right but do not decode are corrupt. */
import { Effect } from "effect"
import { ArtifactCorrupt, describe } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import { ArtifactStore } from "./ArtifactStore.ts"

export const decodeArtifact = <A>(
  type: { decode(bytes: Uint8Array): A },
  hash: Sha256,
  bytes: Uint8Array,
  location: string
) =>
  Effect.try({
    try: () => type.decode(bytes),
    catch: (e) => new ArtifactCorrupt({ hash, path: location, detail: describe(e), cause: e })
  })

export const readArtifact = <A>(type: { decode(bytes: Uint8Array): A }, hash: Sha256) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    return yield* decodeArtifact(type, hash, yield* store.getBlob(hash), store.location)
  })
