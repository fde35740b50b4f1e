/**
 * The theory check: a unigram maximum-likelihood model re-estimated each generation from N of its own samples is a
 * Wright-Fisher process, whose expected surviving types and entropy can be computed exactly; a bigram model's can
 * only be approximated. Both are simulated over 30 seeds on the first 20,000 words of the default corpus, and the
 * report puts prediction and simulation side by side.
 */
import {
  type Builder,
  type CorpusTable,
  type Ref,
  Pipeline,
  Seed,
  Theory,
  Tokenize,
  type TokenizerSpec
} from "ouroboros"

/** The theory stages on a corpus and its tokenizer; other pipelines add them too (the main job does). */
export const addTheory = (p: Builder, corpus: Ref<CorpusTable>, tokenizer: Ref<TokenizerSpec>) => {
  const setting = { tokens: 20_000, generations: 20, seeds: 30 }
  p.add(Theory.unigram(setting), { corpus, tokenizer })
  p.add(Theory.bigram(setting), { corpus, tokenizer })
}

export default Pipeline.make("theory-unigram", (p) => {
  const real = p.add(Seed.corpus({ source: "sotu", testFraction: 0.1, seed: 1 }))
  const { tokenizer } = p.add(Tokenize.words({ minCount: 1 }), { corpus: real.train })
  addTheory(p, real.train, tokenizer)
})
