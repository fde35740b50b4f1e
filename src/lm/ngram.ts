/** N-gram language model: public face of src/lm/ngram/ (model and training, sampling, safetensors codec). */
export { NGRAM_ARTIFACT, ngramFromSafetensors, ngramToSafetensors } from "./ngram/codec.ts"
export {
  MAX_ORDER,
  advanceHistory,
  crossEntropy,
  describeNgram,
  initialHistory,
  nextTokenDistribution,
  perplexity,
  tokenProb,
  trainNgram,
  type CrossEntropy,
  type NgramConfig,
  type NgramLevel,
  type NgramModel,
  type NgramOptions,
  type NgramSmoothing,
  type NgramSummary,
  type TokenDocuments
} from "./ngram/model.ts"
export { MAX_TEMPERATURE, MIN_TEMPERATURE, sampleNgram, type SampleOptions } from "./ngram/sample.ts"
