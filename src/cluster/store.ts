/**
 * The store every process of a cluster run shares, opened by one call from what `--store` says. Today a local
 * directory that every process can reach (on one machine, or on a shared mount); a remote store (HTTP, S3) plugs in
 * here, behind the same ArtifactStore interface.
 */
import { resolve } from "node:path"
import type { Layer } from "effect"
import type { NotAStore, StoreError } from "../errors/index.ts"
import type { ArtifactStore } from "../store/ArtifactStore.ts"
import { layerLocal } from "../store/local.ts"

export const openSharedStore = (spec: string): Layer.Layer<ArtifactStore, StoreError | NotAStore> =>
  layerLocal(resolve(spec))

/** What stage worker threads are given to open the same store themselves. */
export const storeRootOf = (spec: string): string => resolve(spec)
