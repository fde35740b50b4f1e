/** ouroboros: model-collapse experiments as code. The public API; re-exports only. */
export { Corpus, Curves, Metrics, type MetricsValue, Tokenizer } from "./artifact/artifacts.ts"
export {
  type Corpus as CorpusTable,
  corpusDocuments,
  type CorpusDocument,
  corpusFromDocuments
} from "./artifact/corpus.ts"
export { type FileEntry, Files, type FileTree } from "./artifact/files.ts"
export { Log } from "./artifact/log.ts"
export { Model } from "./artifact/model.ts"
export { Predictions, type PredictionsValue } from "./artifact/predictions.ts"
export { Task, type TaskExample, type TaskValue } from "./artifact/task.ts"
export type { ArtifactType } from "./artifact/type.ts"
export * as Command from "./command/index.ts"
export { execute, type RunResult, type NodeResult } from "./engine/execute.ts"
export { localInProcess, localWorkers, storeInProcess, storeWorkers } from "./engine/layers.ts"
export { plan, type PlanEntry } from "./engine/plan.ts"
export { Progress, layerSilent as progressSilent } from "./engine/Progress.ts"
export { StageRunner } from "./engine/StageRunner.ts"
export * from "./errors/index.ts"
export type { TokenizerSpec } from "./lm/tokenizer.ts"
export * as Pipeline from "./pipeline/pipeline.ts"
export type { AddOptions, Builder, Generation, OutputRef, OutputRef as Ref } from "./pipeline/pipeline.ts"
// A user's stage: its run function's source is in its key (see defineUserStage).
export {
  defineUserStage as defineStage,
  type Stage,
  type StageContext,
  type StageDefinition
} from "./pipeline/stage.ts"
export { Filter } from "./stages/filter.ts"
export { Evaluate, Sample, Train } from "./stages/lm.ts"
export { Mix, type MixStage } from "./stages/mix.ts"
export { Seed } from "./stages/seed.ts"
export { Tasks } from "./stages/tasks.ts"
export { Theory } from "./stages/theory.ts"
export { Tokenize } from "./stages/tokenize.ts"
export { ArtifactStore } from "./store/ArtifactStore.ts"
export { layerLocal as localStore } from "./store/local.ts"
export { emptyMemoryState, layerMemory as memoryStore, makeMemoryStore, type MemoryState } from "./store/memory.ts"
export { layerStore, openStore, type OpenOptions, type StoreMode } from "./store/open.ts"
