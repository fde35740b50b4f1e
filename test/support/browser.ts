/**
 * The browser for tests that look at a rendered page. A system Chromium is preferred when one runs; otherwise the
 * headless Chromium packed inside the `@sparticuz/chromium` npm package (a devDependency, so `npm ci` brings it, with
 * no download and no root). Either is driven by playwright-core, which itself downloads nothing.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"

const SYSTEM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]

/** Flags for a headless browser that makes no request of its own. */
const QUIET = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

export interface BrowserChoice {
  readonly executablePath: string
  readonly args: ReadonlyArray<string>
  /** Where it came from, for the test's message. */
  readonly source: string
}

/** A candidate counts only if it runs: a path can exist as a stub that says "not installed". */
const runs = (file: string): boolean =>
  existsSync(file) && spawnSync(file, ["--version"], { timeout: 15_000, stdio: "ignore" }).status === 0

export const chooseBrowser = async (): Promise<BrowserChoice> => {
  const wanted = process.env.OURO_CHROMIUM
  const system = (wanted !== undefined && wanted !== "" ? [wanted] : SYSTEM_CANDIDATES).find(runs)
  if (system !== undefined) return { executablePath: system, args: QUIET, source: `system ${system}` }
  // Unpacks (once, about 7 s) to $TMPDIR/chromium; args are the package's own set for its headless shell.
  const packed = (await import("@sparticuz/chromium")).default
  return { executablePath: await packed.executablePath(), args: packed.args, source: "@sparticuz/chromium" }
}

export const launchBrowser = async (): Promise<{ browser: Browser; source: string }> => {
  const choice = await chooseBrowser()
  const browser = await chromium.launch({ executablePath: choice.executablePath, args: [...choice.args] })
  return { browser, source: choice.source }
}
