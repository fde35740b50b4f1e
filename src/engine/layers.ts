/** Ready-made environments for the engine: a local store, a progress sink and a stage runner. */
import { Layer } from "effect"
import { layerLocal, type LocalStoreOptions } from "../store/local.ts"
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
    layerWorkers({ pipelineFile, storeRoot: root }, workers),
    Layer.mergeAll(layerLocal(root), progress)
  )
