/** Progress events from the executor. The CLI shows them; tests and libraries can stay silent. */
import { Context, Effect, Layer } from "effect"

export type ProgressEvent =
  | { readonly _tag: "Started"; readonly path: string; readonly kind: string }
  /**
   * `ms`: what the stage's record says it took to compute (for a cached stage: the look-up); `waitedMs`: the time
   * before it computed, waiting for a free worker or for another run's lease on its key.
   */
  | {
    readonly _tag: "Finished"
    readonly path: string
    readonly kind: string
    readonly status: "ran" | "cached"
    readonly ms: number
    readonly waitedMs: number
  }
  | { readonly _tag: "Log"; readonly path: string; readonly line: string }
  /** A transient line (a progress bar): a terminal redraws it in place; elsewhere it is shown now and then. */
  | { readonly _tag: "Status"; readonly path: string; readonly line: string }

export class Progress extends Context.Service<Progress, {
  readonly emit: (event: ProgressEvent) => Effect.Effect<void>
}>()("ouroboros/Progress") {}

export const layerSilent: Layer.Layer<Progress> = Layer.succeed(Progress, { emit: () => Effect.void })
