/** The ArtifactStore contract (test/support/store-contract.ts), run against every store implementation. */
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { makeLocalStore } from "../src/store/local.ts"
import { emptyMemoryState, makeMemoryStore } from "../src/store/memory.ts"
import { storeContract } from "./support/store-contract.ts"

/** Flips the first byte of `bytes` in place (same size). */
const flip = (bytes: Uint8Array) => {
  bytes[0] ^= 0xff
}

storeContract("local directory store", async () => {
  const root = fs.mkdtempSync(join(tmpdir(), "ouro-contract-"))
  const store = await Effect.runPromise(makeLocalStore(root))
  return {
    store,
    rot: (hash, sealKept) => {
      // Same size; with the seal (read-only, mtime 0) put back, only the hash can tell.
      const file = join(root, "blobs", hash.slice(0, 2), hash)
      fs.chmodSync(file, 0o644)
      const data = fs.readFileSync(file)
      flip(data)
      fs.writeFileSync(file, data)
      if (!sealKept) return
      fs.chmodSync(file, 0o444)
      fs.utimesSync(file, 0, 0)
    },
    close: () => fs.rmSync(root, { recursive: true, force: true })
  }
})

storeContract("memory store", async () => {
  const state = emptyMemoryState()
  const store = await Effect.runPromise(makeMemoryStore(state))
  return {
    store,
    rot: (hash) => {
      const blob = state.blobs.get(hash)
      if (blob !== undefined) flip(blob.bytes)
    },
    close: () => {}
  }
})
