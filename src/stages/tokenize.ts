/** Tokenize: fit a vocabulary on a corpus (words with a frequency cutoff, or characters), or GPT-2's BPE (nothing to fit). */
import { Schema } from "effect"
import { Corpus, Tokenizer } from "../artifact/artifacts.ts"
import { corpusDocuments } from "../artifact/corpus.ts"
import { BPE_ENCODINGS, bpeTokenizer, fitTokenizer } from "../lm/tokenizer.ts"
import { packageVersion } from "../format/versions.ts"
import { defineStage } from "../pipeline/stage.ts"
import { orDefault, ownKeys, PositiveInt } from "./params.ts"
import { compute } from "./util.ts"

/** The params of one stage, tokenize/fit; Tokenize.words and Tokenize.chars differ in their defaults. */
const tokenizeParams = (
  defaults: { readonly kind: "word" | "char"; readonly lowercase: boolean; readonly minCount: number }
) =>
  Schema.Struct({
    kind: orDefault(Schema.Literals(["word", "char"]), defaults.kind),
    lowercase: orDefault(Schema.Boolean, defaults.lowercase),
    minCount: orDefault(PositiveInt, defaults.minCount),
    /** Largest vocabulary, the two special tokens included (so at least 3); 0 for no limit. */
    maxVocab: orDefault(Schema.Union([Schema.Literal(0), Schema.Int.check(Schema.isGreaterThanOrEqualTo(3))]), 0)
  })
const WordParams = tokenizeParams({ kind: "word", lowercase: true, minCount: 2 })
const CharParams = tokenizeParams({ kind: "char", lowercase: false, minCount: 1 })

const fit = (params: typeof WordParams) =>
  defineStage({
    kind: "tokenize/fit",
    version: 1,
    params,
    inputs: { corpus: Corpus },
    outputs: { tokenizer: Tokenizer },
    run: (p, { corpus }, ctx) =>
      compute(ctx, () => ({
        tokenizer: fitTokenizer(corpusDocuments(corpus).texts, {
          kind: p.kind,
          lowercase: p.lowercase,
          minCount: p.minCount,
          ...(p.maxVocab > 0 ? { maxVocab: p.maxVocab } : {})
        })
      }))
  })

const fitWords = fit(WordParams)
const fitChars = fit(CharParams)

const BpeParams = Schema.Struct({
  encoding: orDefault(Schema.Literals(BPE_ENCODINGS), "r50k_base"),
  lowercase: orDefault(Schema.Boolean, false)
})

/** GPT-2's byte-level BPE from js-tiktoken, which ships its ranks: no corpus to fit, nothing downloaded. */
const bpe = defineStage({
  kind: "tokenize/bpe",
  version: 1,
  params: BpeParams,
  inputs: {},
  outputs: { tokenizer: Tokenizer },
  env: () => ({ "js-tiktoken": packageVersion("js-tiktoken") }),
  run: (p, _inputs, ctx) => compute(ctx, () => ({ tokenizer: bpeTokenizer(p) }))
})

/** The constructors' options: the kind is the constructor's. */
type TokenizeOptions = Omit<typeof WordParams.Encoded, "kind">

export const Tokenize = {
  words: (o?: TokenizeOptions) => fitWords(ownKeys(o)),
  chars: (o?: TokenizeOptions) => fitChars(ownKeys(o)),
  /** GPT-2's BPE (`{ encoding: "r50k_base" }`, 50,256 tokens + <unk> and <eos>): the same for every corpus. */
  bpe: (o?: typeof BpeParams.Encoded) => bpe(ownKeys(o))
}
