/**
 * The house's layers: no import (type-only ones included) runs in a circle, between src/ folders or between files.
 * Folders without a cycle among them are layers: each imports only those below it.
 */
import assert from "node:assert/strict"
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, normalize, relative } from "node:path"
import { describe, it } from "node:test"
import { ROOT } from "./support/cli.ts"

const SRC = join(ROOT, "src")

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|mjs)$/.test(e.name) ? [join(dir, e.name)] : []
  )

/** Relative imports of each file under src/, static, dynamic and type-only, as paths relative to src/. */
const importGraph = (): Map<string, Set<string>> => {
  const graph = new Map<string, Set<string>>()
  for (const file of sources(SRC)) {
    const from = relative(SRC, file)
    const targets = new Set<string>()
    for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)) {
      targets.add(relative(SRC, normalize(join(dirname(file), m[1]))))
    }
    graph.set(from, targets)
  }
  return graph
}

/** The strongly connected components with more than one member (Tarjan): each one is a circle of imports. */
const circles = (graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] => {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string) => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      for (let w = stack.pop()!;; w = stack.pop()!) {
        onStack.delete(w)
        component.push(w)
        if (w === v) break
      }
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

const folderOf = (file: string) => (file.includes("/") ? file.split("/")[0] : ".")

describe("layers", () => {
  const files = importGraph()

  it("no file imports itself back through others", () => {
    assert.deepEqual(circles(files), [])
  })

  it("no folder of src/ imports one that imports it back", () => {
    const folders = new Map<string, Set<string>>()
    for (const [from, targets] of files) {
      const a = folderOf(from)
      const set = folders.get(a) ?? new Set<string>()
      for (const t of targets) if (folderOf(t) !== a) set.add(folderOf(t))
      folders.set(a, set)
    }
    assert.deepEqual(circles(folders), [])
  })

  it("finds a circle when there is one (the check itself works)", () => {
    const graph = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])], ["d", new Set(["a"])]])
    assert.deepEqual(circles(graph), [["a", "b", "c"]])
  })
})
