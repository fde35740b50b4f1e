/**
 * A pipeline is a value: a list of nodes in topological order, each a configured stage with its inputs wired
 * to other nodes' outputs. Building one runs nothing; every check (params, input names and types, names,
 * cycles) happens here, so a bad pipeline fails before any work starts.
 */
import { PipelineInvalid } from "../errors/index.ts"
import type { ArtifactType, ArtifactTypes, ValueOf } from "../artifact/type.ts"
import type { Stage } from "./stage.ts"

export type Tag = string | number

/** One output of one node, as a typed handle. `node` is a node id, or a path for a forward reference. */
export interface OutputRef<A = unknown> {
  readonly node: number | string
  readonly output: string
  readonly artifact: string
  readonly "~value"?: A
}

export type InputRefs<I extends ArtifactTypes> = { readonly [K in keyof I]: OutputRef<ValueOf<I[K]>> }
export type OutputRefs<O extends ArtifactTypes> = { readonly [K in keyof O]: OutputRef<ValueOf<O[K]>> }

export interface PipelineNode {
  readonly id: number
  /** Unique within the pipeline, e.g. "arm=replace/seed=1/g3/train". */
  readonly path: string
  readonly tags: Readonly<Record<string, Tag>>
  readonly stage: Stage
  readonly inputs: Readonly<Record<string, { readonly node: number; readonly output: string }>>
}

export const PipelineTypeId: unique symbol = Symbol.for("ouroboros/Pipeline")

export interface Pipeline {
  readonly [PipelineTypeId]: true
  readonly name: string
  /** Topologically sorted: every node comes after the nodes it reads. */
  readonly nodes: ReadonlyArray<PipelineNode>
}

export const isPipeline = (u: unknown): u is Pipeline => typeof u === "object" && u !== null && PipelineTypeId in u

export interface AddOptions {
  /** The node's name in its scope (default: the stage kind, "train/ngram" -> "train-ngram"). */
  readonly name?: string
}

export interface Builder {
  /** Adds a stage; returns handles to its outputs. `name` overrides the default node name (the kind, "train/ngram" -> "train-ngram"). */
  add<I extends ArtifactTypes, O extends ArtifactTypes>(
    stage: Stage<I, O>,
    ...rest: {} extends InputRefs<I> ? [inputs?: InputRefs<I>, options?: AddOptions]
      : [inputs: InputRefs<I>, options?: AddOptions]
  ): OutputRefs<O>
  /** Nodes added in `body` get these tags, and a path segment each ("arm=replace"), or the plain segment given. */
  scope<R>(scope: string | Readonly<Record<string, Tag>>, body: (b: Builder) => R): R
  /**
   * `n` generations: generation g (1-based) reads the state returned by g-1 (`init` for the first) and returns
   * the next. Its nodes are tagged `generation: g` and live under the path segment "g<g>". Returns the last state.
   */
  generations<S extends Readonly<Record<string, OutputRef>>>(n: number, init: S, body: (g: Generation, prev: S) => S): S
  /**
   * Runs `body` once per seed, each in a scope tagged `seed` (path segment "seed=<n>"): the several-seeds idiom.
   * Reports and the metrics table aggregate over the `seed` tag (mean and 95% interval).
   */
  seeds<R>(seeds: ReadonlyArray<number>, body: (b: Builder, seed: number) => R): R[]
  /** A reference to a node's output by path, for wiring a node that is added later. */
  ref<A>(path: string, output: string, type: ArtifactType<A>): OutputRef<A>
}

export interface Generation extends Builder {
  readonly index: number
}

interface Draft {
  readonly id: number
  readonly path: string
  readonly tags: Readonly<Record<string, Tag>>
  readonly stage: Stage
  readonly inputs: Readonly<Record<string, OutputRef>>
}

const NAME = /^[A-Za-z0-9._=+-]+$/

/**
 * The largest pipeline one may define: more is refused with PipelineInvalid when the pipeline is built, before a
 * single node of it is planned.
 */
export const PIPELINE_LIMITS = { generations: 10_000, nodes: 100_000 } as const

export const make = (name: string, build: (p: Builder) => void): Pipeline => {
  const invalid = (detail: string, node?: string) => new PipelineInvalid({ pipeline: name, node, detail })
  /** Names become path segments of refs and paths: a character outside NAME, or a "." or "..", would escape them. */
  const checkName = (what: string, value: string) => {
    if (!NAME.test(value) || value === "." || value === "..") {
      throw invalid(`${what} ${JSON.stringify(value)} must match ${NAME.source} and be neither "." nor ".."`)
    }
  }
  checkName("pipeline name", name)
  const drafts: Draft[] = []
  const byPath = new Map<string, Draft>()

  const builder = (segments: ReadonlyArray<string>, tags: Readonly<Record<string, Tag>>): Builder => ({
    add(stage, ...rest) {
      const [inputs = {}, options] = rest as [Readonly<Record<string, OutputRef>>?, AddOptions?]
      const label = options?.name ?? stage.kind.replaceAll("/", "-")
      checkName("node name", label)
      if (drafts.length >= PIPELINE_LIMITS.nodes) {
        throw invalid(`more than ${PIPELINE_LIMITS.nodes} nodes (the most a pipeline may have)`)
      }
      const path = [...segments, label].join("/")
      if (byPath.has(path)) throw invalid(`two nodes are named ${path}; give one another name with { name }`)
      if (stage.params._tag === "Invalid") {
        throw invalid(`invalid params for ${stage.kind}: ${stage.params.message}`, path)
      }
      checkInputs(stage, inputs, path)
      const draft: Draft = { id: drafts.length, path, tags, stage: stage as unknown as Stage, inputs }
      drafts.push(draft)
      byPath.set(path, draft)
      const outputs: Record<string, OutputRef> = {}
      for (const [output, type] of Object.entries(stage.outputs)) {
        outputs[output] = { node: draft.id, output, artifact: type.name }
      }
      return outputs as OutputRefs<typeof stage.outputs>
    },
    scope(scope, body) {
      if (typeof scope === "string") {
        checkName("scope name", scope)
        return body(builder([...segments, scope], tags))
      }
      const extra = Object.entries(scope).map(([k, v]) => `${k}=${v}`)
      for (const s of extra) checkName("scope", s)
      return body(builder([...segments, ...extra], { ...tags, ...scope }))
    },
    generations(n, init, body) {
      if (!Number.isInteger(n) || n < 1 || n > PIPELINE_LIMITS.generations) {
        throw invalid(`generations(n): n must be a positive integer at most ${PIPELINE_LIMITS.generations}, got ${n}`)
      }
      let state = init
      for (let g = 1; g <= n; g++) {
        const inner = builder([...segments, `g${g}`], { ...tags, generation: g })
        state = body({ ...inner, index: g }, state)
      }
      return state
    },
    seeds(seeds, body) {
      for (const seed of seeds) checkName("seed", `seed=${seed}`)
      return seeds.map((seed) => body(builder([...segments, `seed=${seed}`], { ...tags, seed }), seed))
    },
    ref(path, output, type) {
      return { node: path, output, artifact: type.name }
    }
  })

  const checkInputs = (stage: Stage, inputs: Readonly<Record<string, OutputRef>>, path: string) => {
    const expected = Object.keys(stage.inputs)
    for (const given of Object.keys(inputs)) {
      if (!(given in stage.inputs)) {
        throw invalid(`unknown input ${given} (${stage.kind} takes: ${expected.join(", ") || "no inputs"})`, path)
      }
    }
    for (const [input, type] of Object.entries(stage.inputs)) {
      const ref = inputs[input]
      if (ref === undefined) throw invalid(`missing input ${input} (a ${type.name})`, path)
      if (ref.artifact !== type.name) {
        throw invalid(`input ${input} expects a ${type.name}, got a ${ref.artifact}`, path)
      }
    }
  }

  build(builder([], {}))
  return { [PipelineTypeId]: true, name, nodes: resolve(drafts, byPath, invalid) }
}

/** Resolves forward references, checks that each names a real output, and sorts topologically (stable). */
const resolve = (
  drafts: ReadonlyArray<Draft>,
  byPath: ReadonlyMap<string, Draft>,
  invalid: (detail: string, node?: string) => PipelineInvalid
): ReadonlyArray<PipelineNode> => {
  const wired = drafts.map((d): PipelineNode => {
    const inputs: Record<string, { node: number; output: string }> = {}
    for (const [input, ref] of Object.entries(d.inputs)) {
      const source = typeof ref.node === "number" ? drafts[ref.node] : byPath.get(ref.node)
      if (source === undefined) {
        throw invalid(`input ${input} refers to ${String(ref.node)}, which is not a node`, d.path)
      }
      const type = source.stage.outputs[ref.output]
      if (type === undefined) {
        throw invalid(
          `input ${input} refers to output ${ref.output} of ${source.path}, which has: ${
            Object.keys(source.stage.outputs).join(", ")
          }`,
          d.path
        )
      }
      if (type.name !== ref.artifact) {
        throw invalid(
          `input ${input} expects a ${ref.artifact}, ${source.path}.${ref.output} is a ${type.name}`,
          d.path
        )
      }
      inputs[input] = { node: source.id, output: ref.output }
    }
    return { id: d.id, path: d.path, tags: d.tags, stage: d.stage, inputs }
  })
  // Depth-first topological sort; a node met again while on the stack closes a cycle, which we name in full.
  const state = new Uint8Array(wired.length) // 0 new, 1 on stack, 2 done
  const order: PipelineNode[] = []
  const stack: number[] = []
  const visit = (id: number): void => {
    if (state[id] === 2) return
    if (state[id] === 1) {
      const cycle = [...stack.slice(stack.indexOf(id)), id].map((i) => wired[i].path)
      throw invalid(`cycle: ${cycle.join(" -> ")}`)
    }
    state[id] = 1
    stack.push(id)
    for (const input of Object.values(wired[id].inputs)) visit(input.node)
    stack.pop()
    state[id] = 2
    order.push(wired[id])
  }
  for (const node of wired) visit(node.id)
  return order
}
