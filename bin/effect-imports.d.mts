/** The names Effect's barrel ("effect") exports as whole modules, as the package at `root` resolves it. */
export declare const effectNamespaces: (root: string) => Set<string>
/** `import { Effect, Schema } from "effect"` as `import * as Effect from "effect/Effect"; ...` (see the .mjs). */
export declare const unbarrelEffect: (text: string, namespaces: ReadonlySet<string>) => string
