/**
 * A stage is data plus one Effect. `defineStage` turns a definition into a constructor of configured stages;
 * params are decoded by the stage's Schema when the constructor is called, and the error (with its field path)
 * is raised by the pipeline builder, which knows the node's name. A field the Schema gives a decoding default may be
 * left out of the raw params; the key hashes the params encoded again, with it filled in.
 */
import { Effect, Result, Schema } from "effect"
import type { StageFailed } from "../errors/index.ts"
import { sha256 } from "../hash/index.ts"
import { describe } from "../errors/index.ts"
import type { ArtifactTypes, Values } from "../artifact/type.ts"

export interface StageContext {
  /** The node's path in its pipeline, for messages. */
  readonly node: string
  /** A line of progress, shown on a terminal; never part of any result. */
  readonly log: (line: string) => Effect.Effect<void>
  /** A transient progress line (step, loss, rate, ETA), redrawn in place on a terminal; never part of any result. */
  readonly status: (line: string) => void
}

/** What a definition's `run` sees: the engine's context and the stage's own kind (for messages and errors). */
export interface RunContext extends StageContext {
  readonly kind: string
}

/** What a stage reads from outside the store could not be read; the engine names the node. */
export interface ExternalUnreadable {
  readonly detail: string
}

export interface StageDefinition<P, I extends ArtifactTypes, O extends ArtifactTypes> {
  /** e.g. "train/ngram" */
  readonly kind: string
  /** Bump when results would change for the same params. */
  readonly version: number
  readonly params: Schema.Codec<P, unknown>
  readonly inputs: I
  readonly outputs: O
  /**
   * What else changes results (a backend, a package version): part of the key. A function is called when a stage
   * is configured (not when its module loads), so it may read the process environment; if it throws, the stage is
   * invalid with that message.
   */
  readonly env?: Readonly<Record<string, string>> | (() => Readonly<Record<string, string>>)
  /**
   * Content hashes of what the stage reads from outside the store (a seed file), by name. They join the key as
   * inputs named "external:<name>", so an edited file reruns its stage.
   */
  readonly external?: (params: P) => Effect.Effect<Readonly<Record<string, string>>, ExternalUnreadable>
  readonly run: (params: P, inputs: Values<I>, ctx: RunContext) => Effect.Effect<Values<O>, StageFailed>
}

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

/** A stage with its params bound: what a pipeline node holds. */
export interface Stage<I extends ArtifactTypes = ArtifactTypes, O extends ArtifactTypes = ArtifactTypes> {
  readonly kind: string
  readonly version: number
  readonly inputs: I
  readonly outputs: O
  readonly env: Readonly<Record<string, string>>
  /** The params as encoded by the stage's Schema (defaults filled in): what the key hashes. */
  readonly params: { readonly _tag: "Valid"; readonly encoded: Json } | {
    readonly _tag: "Invalid"
    readonly message: string
  }
  external(): Effect.Effect<Readonly<Record<string, string>>, ExternalUnreadable>
  run(inputs: Values<I>, ctx: StageContext): Effect.Effect<Values<O>, StageFailed>
}

export const defineStage = <P, I extends ArtifactTypes, O extends ArtifactTypes>(
  definition: StageDefinition<P, I, O>
): (params: unknown) => Stage<I, O> => {
  const decode = Schema.decodeUnknownResult(definition.params)
  const encode = Schema.encodeUnknownResult(definition.params)
  const outputEnv: Record<string, string> = {}
  for (const type of Object.values(definition.outputs)) Object.assign(outputEnv, type.env)
  return (raw) => {
    let env: Record<string, string>
    try {
      env = { ...(typeof definition.env === "function" ? definition.env() : definition.env), ...outputEnv }
    } catch (e) {
      return invalid(definition, outputEnv, describe(e))
    }
    const decoded = decode(raw, { errors: "all", onExcessProperty: "error" })
    if (Result.isFailure(decoded)) return invalid(definition, env, oneLine(decoded.failure.message))
    const value = decoded.success
    const encoded = encode(value)
    if (Result.isFailure(encoded)) return invalid(definition, env, oneLine(encoded.failure.message))
    return {
      kind: definition.kind,
      version: definition.version,
      inputs: definition.inputs,
      outputs: definition.outputs,
      env,
      params: { _tag: "Valid", encoded: encoded.success as Json },
      external: () => (definition.external === undefined ? Effect.succeed({}) : definition.external(value)),
      run: (inputs, ctx) => definition.run(value, inputs, { ...ctx, kind: definition.kind })
    }
  }
}

/**
 * The key input that carries a user stage's code: "external:code:run", the sha256 of its `run` function's source text
 * as loaded (after TypeScript is compiled away).
 */
export const CODE_INPUT = "code:run"

/**
 * A stage of a user's own (the public `defineStage`): its `run` function's source text joins the key as the input
 * "external:code:run", so editing the code of `run` reruns the stage even without a version bump, and `plan` says
 * `code of run changed`. Code that `run` calls elsewhere is not seen: bump `version` when only that changes.
 * ouroboros's own stages use `defineStage` without it: their results change only with a version bump (which their
 * tests guard), and their keys do not move when the package's source is merely reformatted.
 */
export const defineUserStage = <P, I extends ArtifactTypes, O extends ArtifactTypes>(
  definition: StageDefinition<P, I, O>
): (params: unknown) => Stage<I, O> => {
  const code = sha256(definition.run.toString())
  const external = definition.external
  return defineStage({
    ...definition,
    external: (p) =>
      (external === undefined ? Effect.succeed({}) : external(p)).pipe(
        Effect.map((found) => ({ ...found, [CODE_INPUT]: code }))
      )
  })
}

const invalid = <I extends ArtifactTypes, O extends ArtifactTypes>(
  definition: { readonly kind: string; readonly version: number; readonly inputs: I; readonly outputs: O },
  env: Readonly<Record<string, string>>,
  message: string
): Stage<I, O> => ({
  kind: definition.kind,
  version: definition.version,
  inputs: definition.inputs,
  outputs: definition.outputs,
  env,
  params: { _tag: "Invalid", message },
  external: () => Effect.succeed({}),
  run: () => Effect.die(new Error(`stage ${definition.kind} has invalid params: ${message}`))
})

/** Schema errors span lines ("Expected …\n  at [\"order\"]"); one line per issue reads better in a CLI. */
const oneLine = (message: string): string => message.replace(/\n\s+at /g, " at ").replace(/\n/g, "; ")
