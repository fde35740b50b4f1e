/**
 * Where a worker thread starts, so that it loads as the thread that starts it did: in the bundled CLI, the build of
 * src/<module>.ts (build/<hash>/<module>.js, see bin/bundle.mjs); running from source, the module's tsx entry (an
 * .mjs beside it that registers tsx in the new thread, loader hooks being per thread).
 */

/** The build's name (its source hash) in the bundled CLI (bin/bundle.mjs defines it); undefined running from source. */
declare const __OURO_BUILD__: string | undefined

export const workerUrl = (module: string, sourceEntry: URL): URL =>
  typeof __OURO_BUILD__ === "string"
    ? new URL(`../../build/${__OURO_BUILD__}/${module}.js`, import.meta.url)
    : sourceEntry
