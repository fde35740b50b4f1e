/**
 * apache-arrow and parquet-wasm, loaded on first use: importing them costs about half a second (Arrow's 146
 * modules, parquet-wasm compiling 5 MB of wasm), which every command paid at start-up, though only a stage or a
 * command that touches a corpus or writes Parquet needs them. Both are loaded with `require`, which is synchronous,
 * so the corpus functions keep their synchronous signatures. parquet-wasm's Node build is CommonJS, so an
 * `import "parquet-wasm"` elsewhere gets this same instance; apache-arrow's CommonJS build is the same code as its ES
 * module build (same version, same bytes written).
 */
import { createRequire } from "node:module"
import type * as Arrow from "apache-arrow"
import type * as ParquetWasm from "parquet-wasm"

const require = createRequire(import.meta.url)

/** A module's namespace whose loading waits for the first property read. */
const onFirstUse = <T extends object>(load: () => T): T => {
  let loaded: T | undefined
  const target = (): T => (loaded ??= load())
  return new Proxy({} as T, {
    get: (_t, key) => Reflect.get(target(), key),
    has: (_t, key) => Reflect.has(target(), key)
  })
}

export const arrow: typeof Arrow = onFirstUse(() => require("apache-arrow") as typeof Arrow)
export const parquet: typeof ParquetWasm = onFirstUse(() => require("parquet-wasm") as typeof ParquetWasm)
