/**
 * Pinned runs: `pins/<name>` → a run manifest's hash. gc's roots are every ref naming a blob, and a manifest keeps
 * every record of its run and their blobs, so a pinned run's whole closure survives gc; unpinned, an old run is
 * collected like anything else no ref reaches.
 */
import { Effect, Option } from "effect"
import { NotFound } from "../errors/index.ts"
import type { Sha256 } from "../hash/index.ts"
import { pinRef } from "../engine/refs.ts"
import { ArtifactStore } from "../store/ArtifactStore.ts"
import { isRefName } from "../store/refName.ts"

export interface Pin {
  readonly name: string
  readonly run: Sha256
}

export const listPins = Effect.gen(function*() {
  const store = yield* ArtifactStore
  const prefix = pinRef("")
  return (yield* store.listRefs(prefix)).map((r): Pin => ({ name: r.name.slice(prefix.length), run: r.value }))
})

/** Pins `run` (a manifest hash) as `name`; a name already pinning another run is refused, not moved. */
export const pin = (run: Sha256, name: string) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    if (name.includes("/") || !isRefName(pinRef(name))) {
      return yield* new NotFound({ what: name, detail: "not a pin name: use letters, digits and . _ = + - (no slash)" })
    }
    const held = yield* store.getRef(pinRef(name))
    if (Option.isSome(held) && held.value !== run) {
      return yield* new NotFound({
        what: name,
        detail: `already pins run ${held.value.slice(0, 12)}: unpin it first, or choose another name`
      })
    }
    if (Option.isNone(held)) yield* store.setRef(pinRef(name), run)
    return { name, run } satisfies Pin
  })

/** Removes the pin called `target`, or else every pin of the run `run` (what `target` resolved to), if any. */
export const unpin = (target: string, run: Option.Option<Sha256>) =>
  Effect.gen(function*() {
    const store = yield* ArtifactStore
    const pins = yield* listPins
    const named = pins.filter((p) => p.name === target)
    const removed = named.length > 0 ? named : Option.isSome(run) ? pins.filter((p) => p.run === run.value) : []
    if (removed.length === 0) {
      return yield* new NotFound({
        what: target,
        detail: Option.isSome(run) ? "that run is not pinned" : "no pin by that name, and no run by that hash"
      })
    }
    for (const p of removed) yield* store.removeRef(pinRef(p.name))
    return removed
  })
