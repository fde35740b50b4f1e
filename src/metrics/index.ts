/** Diversity and repetition metrics over token-id documents: the public face of src/metrics/. */
export { distinctN, repN, unigramEntropy, vocabCoverage } from "./diversity.ts"
export { compressionRatio, repeatedNgramShare, sampleRepetition, wordRepN } from "./repetition.ts"
export { sampleDiversity, type SampleDiversityOptions } from "./sample.ts"
export { selfBleu, type SelfBleuOptions } from "./selfBleu.ts"
