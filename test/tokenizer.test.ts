import assert from "node:assert/strict"
import { describe, it } from "node:test"
import fc from "fast-check"
import {
  EOS_ID,
  UNK_ID,
  decode,
  encode,
  encodeDocuments,
  fitTokenizer,
  type TokenizerSpec
} from "../src/lm/tokenizer.ts"

const tokensOf = (tok: TokenizerSpec, text: string): string[] => Array.from(encode(tok, text), (id) => tok.vocab[id])

describe("fitTokenizer", () => {
  it("orders by count desc, then code-unit order, after the two specials", () => {
    const tok = fitTokenizer(["b a c a b a", "Z c"], { kind: "word", lowercase: false, minCount: 1 })
    assert.deepEqual(tok.vocab, ["<unk>", "<eos>", "a", "b", "c", "Z"])
    // equal counts: "Z" (0x5a) sorts before "c" (0x63) in code-unit order
    const tie = fitTokenizer(["c Z"], { kind: "word", lowercase: false, minCount: 1 })
    assert.deepEqual(tie.vocab, ["<unk>", "<eos>", "Z", "c"])
  })

  it("drops tokens under minCount and caps the size with maxVocab (specials included)", () => {
    const texts = ["x x x y y z"]
    assert.deepEqual(fitTokenizer(texts, { kind: "word", lowercase: false, minCount: 2 }).vocab, [
      "<unk>",
      "<eos>",
      "x",
      "y"
    ])
    assert.deepEqual(
      fitTokenizer(texts, { kind: "word", lowercase: false, minCount: 1, maxVocab: 3 }).vocab,
      ["<unk>", "<eos>", "x"]
    )
    assert.throws(() => fitTokenizer(texts, { kind: "word", lowercase: false, minCount: 0 }), /minCount/)
  })

  it("does not depend on the order of the texts", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 20 }), { maxLength: 8 }), (texts) => {
        const a = fitTokenizer(texts, { kind: "word", lowercase: true, minCount: 1 })
        const b = fitTokenizer([...texts].reverse(), { kind: "word", lowercase: true, minCount: 1 })
        assert.deepEqual(a.vocab, b.vocab)
      }),
      { numRuns: 100 }
    )
  })
})

describe("word tokenizer", () => {
  const text = "Don't stop: the well-known 3.5% rise in 1,000 (new) jobs... <unk> Élan!"
  const tok = fitTokenizer([text], { kind: "word", lowercase: true, minCount: 1 })

  it("splits words (internal apostrophes and hyphens), numbers and single punctuation marks", () => {
    assert.deepEqual(tokensOf(tok, text), [
      "don't",
      "stop",
      ":",
      "the",
      "well-known",
      "3.5",
      "%",
      "rise",
      "in",
      "1,000",
      "(",
      "new",
      ")",
      "jobs",
      ".",
      ".",
      ".",
      "<unk>",
      "élan",
      "!"
    ])
  })

  it("maps the literal <unk> (any case when lowercasing) and unknown words to id 0", () => {
    assert.deepEqual(Array.from(encode(tok, "<unk> <UNK> zebra the")), [
      UNK_ID,
      UNK_ID,
      UNK_ID,
      tok.vocab.indexOf("the")
    ])
  })

  it("decodes with no space before closing punctuation and none after (", () => {
    assert.equal(
      decode(tok, encode(tok, text)),
      "don't stop: the well-known 3.5 % rise in 1,000 (new) jobs... <unk> élan!"
    )
    assert.equal(decode(tok, [tok.vocab.indexOf("the"), EOS_ID, tok.vocab.indexOf("new")]), "the\nnew")
  })

  it("encodeDocuments concatenates without <eos> and gives offsets", () => {
    const { ids, offsets } = encodeDocuments(tok, ["the rise", "", "new jobs!"])
    assert.deepEqual(Array.from(offsets), [0, 2, 2, 5])
    assert.deepEqual(Array.from(ids), [...encode(tok, "the rise"), ...encode(tok, "new jobs!")])
  })

  const pieces = fc.constantFrom(
    "a",
    "B",
    "é",
    "e\u0301",
    "ß",
    "İ",
    "7",
    "42",
    "3.14",
    "1,000",
    "don't",
    "x-y",
    "'",
    "-",
    "(",
    ")",
    ",",
    ".",
    ";",
    ":",
    "!",
    "?",
    "\"",
    "<",
    ">",
    "unk",
    "<unk>",
    "<UNK>",
    "<eos>",
    " ",
    "  ",
    "\n",
    "\t",
    "😀",
    "中文",
    "_",
    "$"
  )
  const textArb = fc.array(pieces, { maxLength: 30 }).map((p) => p.join(""))

  it("round-trips: encode(decode(encode(x))) = encode(x)", () => {
    fc.assert(
      fc.property(
        fc.array(textArb, { minLength: 1, maxLength: 4 }),
        textArb,
        fc.boolean(),
        fc.integer({ min: 1, max: 2 }),
        (corpus, x, lowercase, minCount) => {
          const t = fitTokenizer(corpus, { kind: "word", lowercase, minCount })
          const ids = encode(t, x)
          assert.deepEqual(encode(t, decode(t, ids)), ids)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("round-trips arbitrary code points too (lone surrogates included)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), fc.boolean(), (x, lowercase) => {
        const t = fitTokenizer([x.slice(0, 20)], { kind: "word", lowercase, minCount: 1 })
        const ids = encode(t, x)
        assert.deepEqual(encode(t, decode(t, ids)), ids)
      }),
      { numRuns: 300 }
    )
  })
})

describe("char tokenizer", () => {
  it("uses code points, decodes by concatenation, and renders <unk> as U+FFFD", () => {
    const tok = fitTokenizer(["ab😀a\uFFFD"], { kind: "char", lowercase: false, minCount: 1 })
    assert.deepEqual(tok.vocab, ["<unk>", "<eos>", "a", "b", "😀"])
    const ids = encode(tok, "a😀c")
    assert.deepEqual(Array.from(ids), [2, 4, UNK_ID])
    assert.equal(decode(tok, ids), "a😀\uFFFD")
    assert.deepEqual(encode(tok, decode(tok, ids)), ids)
  })
})
