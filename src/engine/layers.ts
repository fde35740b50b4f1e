/** Ready-made environments for the engine: a store, a progress sink and a stage runner. */
import { Layer } from "effect"
import { layerLocal, type LocalStoreOptions } from "../store/local.ts"
import { layerStore, type OpenOptions, type StoreMode } from "../store/open.ts"
import { layerSilent, type Progress } from "./Progress.ts"
import { layerInProcess } from "./StageRunner.ts"
import { layerWorkers } from "./workers.ts"

/** Everything in this thread: what tests and library users want. */
export const localInProcess = (
  root: string,
  progress: Layer.Layer<Progress> = layerSilent,
  store: LocalStoreOptions = {}
) => Layer.provideMerge(layerInProcess, Layer.mergeAll(layerLocal(root, store), progress))

/** Stages on `workers` threads, each loading `pipelineFile`: what the CLI uses. */
export const localWorkers = (
  root: string,
  pipelineFile: string,
  workers: number,
  progress: Layer.Layer<Progress> = layerSilent
) =>
  Layer.provideMerge(
    layerWorkers({ pipelineFile, store: root }, workers),
    Layer.mergeAll(layerLocal(root), progress)
  )

/** Everything in this thread, on the store `spec` names (a directory, file://, http(s)://, s3://) in `mode`. */
export const storeInProcess = (
  spec: string,
  mode: StoreMode,
  options: OpenOptions = {},
  progress: Layer.Layer<Progress> = layerSilent
) => Layer.provideMerge(layerInProcess, Layer.mergeAll(layerStore(spec, mode, options), progress))

/** Stages on `workers` threads, each opening the store `spec` names itself: what `ouro run` uses. */
export const storeWorkers = (
  spec: string,
  options: OpenOptions,
  pipelineFile: string,
  workers: number,
  progress: Layer.Layer<Progress> = layerSilent
) =>
  Layer.provideMerge(
    layerWorkers({ pipelineFile, store: spec, cache: options.cache }, workers),
    Layer.mergeAll(layerStore(spec, "write", options), progress)
  )
