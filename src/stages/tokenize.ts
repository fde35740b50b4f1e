/** Tokenize: fit a vocabulary on a corpus (words with a frequency cutoff, or characters). */
import { Schema } from "effect"
import { Corpus, Tokenizer } from "../artifact/artifacts.ts"
import { corpusDocuments } from "../artifact/corpus.ts"
import { fitTokenizer } from "../lm/tokenizer.ts"
import { defineStage } from "../pipeline/stage.ts"
import { compute } from "./util.ts"

const TokenizeParams = Schema.Struct({
  kind: Schema.Literals(["word", "char"]),
  lowercase: Schema.Boolean,
  minCount: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** Largest vocabulary, the two special tokens included (so at least 3); 0 for no limit. */
  maxVocab: Schema.Union([Schema.Literal(0), Schema.Int.check(Schema.isGreaterThanOrEqualTo(3))])
})

const fit = defineStage({
  kind: "tokenize/fit",
  version: 1,
  params: TokenizeParams,
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

export interface TokenizeOptions {
  readonly lowercase?: boolean
  readonly minCount?: number
  readonly maxVocab?: number
}

export const Tokenize = {
  words: (o: TokenizeOptions = {}) => fit({ kind: "word", lowercase: true, minCount: 2, maxVocab: 0, ...o }),
  chars: (o: TokenizeOptions = {}) => fit({ kind: "char", lowercase: false, minCount: 1, maxVocab: 0, ...o })
}
