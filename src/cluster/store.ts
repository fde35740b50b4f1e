/**
 * The store every process of a cluster run shares, opened by one call from what `--store` says: a local directory
 * every process can reach (one machine, or a shared mount), or a remote store (HTTP, S3) with each process's own
 * local cache in front (store/open.ts).
 */
import type { Layer } from "effect"
import type { NotAStore, StoreError, StoreNotFound } from "../errors/index.ts"
import type { ArtifactStore } from "../store/ArtifactStore.ts"
import { isRemoteSpec, layerStore, type OpenOptions } from "../store/open.ts"
import { resolve } from "node:path"

export const openSharedStore = (
  spec: string,
  options: OpenOptions = {}
): Layer.Layer<ArtifactStore, StoreError | NotAStore | StoreNotFound> => layerStore(spec, "write", options)

/** What stage worker threads are given to open the same store themselves: a local path made absolute. */
export const storeSpecOf = (spec: string): string => (isRemoteSpec(spec) ? spec : resolve(spec))
