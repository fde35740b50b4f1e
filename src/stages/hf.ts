/**
 * Train.hf, Evaluate.hf and Sample.hf: a causal LM made from a Hugging Face transformers config
 * (`AutoModelForCausalLM.from_config`, as the seed paper does with GPT-Neo's TinyStories-1M config, shipped in
 * python/configs/), trained from scratch by PyTorch, stored as a `Files` artifact (the model folder
 * save_pretrained writes), then scored and sampled by the same script (python/ouro_hf.py). Command stages: the
 * scripts and the config are files in the key, and a probe adds the Python, torch and transformers versions and the
 * device. Tokenizers: ouroboros's char and word tokenizers (the config's vocab_size becomes the tokenizer's).
 */
import * as path from "node:path"
import { Schema } from "effect"
import { Corpus, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { Files } from "../artifact/files.ts"
import * as Command from "../command/index.ts"
import { PerplexityParams } from "./neural-params.ts"
import { Int32, NonNegativeInt, orDefault, orDefaultIfUndefined, Positive, PositiveInt, Unit } from "./params.ts"
import { ownKeys } from "./params.ts"

/** The package's root: python/ sits beside src/. */
const PACKAGE_ROOT = path.resolve(import.meta.dirname, "../..")
const SCRIPTS = ["python/ouro_hf.py", "python/ouro_gpt.py"]
/** GPT-Neo's TinyStories-1M config (8 layers, width 64, 16 heads; local/global attention), as published with it. */
export const TINYSTORIES_1M = "python/configs/tinystories-1m.json"

export interface HfOptions {
  /** The Python interpreter (default "python3"); its version, torch's and transformers' are in the key. */
  readonly python?: string
  /**
   * A transformers config.json of your own (default: the shipped TinyStories-1M config), resolved against the current
   * directory; its sha256 is in the key, so an edited config retrains.
   */
  readonly config?: string
  /** Seconds the program may run; past it, its process group is killed and nothing is stored. */
  readonly timeout?: number
}

const PROBE = [
  "import json, platform",
  "import torch, transformers, pyarrow",
  "dev = ('cuda:' + torch.cuda.get_device_name(0)) if torch.cuda.is_available() else 'cpu'",
  "print(json.dumps({'python': platform.python_version(), 'torch': torch.__version__, 'device': dev,"
  + " 'transformers': transformers.__version__, 'pyarrow': pyarrow.__version__}, sort_keys=True))"
].join("\n")

const ENVIRONMENT = {
  PYTHONHASHSEED: "0",
  PYTHONDONTWRITEBYTECODE: "1",
  CUBLAS_WORKSPACE_CONFIG: ":4096:8",
  HF_HUB_OFFLINE: "1",
  TRANSFORMERS_OFFLINE: "1"
}

export const HfTrainParams = Schema.Struct({
  steps: orDefault(NonNegativeInt, 200),
  batch: orDefault(PositiveInt, 16),
  /** The window trained on and scored (at most the config's max_position_embeddings). */
  context: orDefault(PositiveInt, 64),
  lr: orDefault(Positive, 3e-3),
  weightDecay: orDefault(Unit(), 0.01),
  validation: orDefaultIfUndefined(
    Schema.Struct({
      fraction: orDefault(Unit({ exclusiveMaximum: true }), 0.05),
      every: orDefault(NonNegativeInt, 50),
      batches: orDefault(PositiveInt, 4)
    }),
    {}
  ),
  seed: orDefault(Int32, 1),
  /** torch's thread count: part of the key (sums in another order differ in the last bits). */
  shards: orDefault(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })), 1)
})

export const HfSampleParams = Schema.Struct({
  documents: PositiveInt,
  /** Tokens per document at most. */
  maxLength: PositiveInt,
  temperature: orDefault(Positive, 1),
  seed: orDefault(Int32, 1)
})

/** Where the scripts and the config are, named relative to one root (the key holds relative names). */
const where = (o: HfOptions) => {
  const python = o.python ?? "python3"
  if (o.config === undefined) return { python, root: PACKAGE_ROOT, scripts: SCRIPTS, config: TINYSTORIES_1M }
  const root = process.cwd()
  return {
    python,
    root,
    scripts: SCRIPTS.map((s) => path.relative(root, path.join(PACKAGE_ROOT, s))),
    config: o.config
  }
}

const common = (o: HfOptions) => {
  const w = where(o)
  return {
    ...w,
    definition: {
      files: [...w.scripts, w.config],
      root: w.root,
      probes: { hf: [w.python, "-c", PROBE] },
      environment: ENVIRONMENT
    }
  }
}

const runOptions = (o: HfOptions) => (o.timeout === undefined ? {} : { timeout: o.timeout })

export const TrainHf = {
  /**
   * A transformers causal LM from a config (default: GPT-Neo TinyStories-1M), trained from scratch on the corpus;
   * its output `model` is the Hugging Face model folder (config.json, model.safetensors, training.json).
   */
  hf: (params?: typeof HfTrainParams.Encoded, options: HfOptions = {}) => {
    const c = common(options)
    return Command.stage({
      kind: "train/hf",
      version: 1,
      params: HfTrainParams,
      inputs: { corpus: Corpus, tokenizer: Tokenizer },
      outputs: { model: Files },
      ...c.definition,
      command: (_p, paths) => [c.python, paths.files[c.scripts[0]], "train", paths.files[c.config]]
    })(ownKeys(params), runOptions(options))
  }
}

export const EvaluateHf = {
  /** Evaluate.perplexity's sliding-window perplexity (same params, same windows) of a Train.hf model. */
  hf: (params?: typeof PerplexityParams.Encoded, options: HfOptions = {}) => {
    const c = common(options)
    return Command.stage({
      kind: "evaluate/hf-perplexity",
      version: 1,
      params: PerplexityParams,
      inputs: { model: Files, tokenizer: Tokenizer, test: Corpus },
      outputs: { metrics: Metrics },
      ...c.definition,
      command: (_p, paths) => [c.python, paths.files[c.scripts[0]], "perplexity"]
    })(ownKeys(params), runOptions(options))
  }
}

export const SampleHf = {
  /** Documents sampled from a Train.hf model (seeded, ancestral sampling at `temperature`), as a corpus. */
  hf: (params: typeof HfSampleParams.Encoded, options: HfOptions = {}) => {
    const c = common(options)
    return Command.stage({
      kind: "sample/hf",
      version: 1,
      params: HfSampleParams,
      inputs: { model: Files, tokenizer: Tokenizer },
      outputs: { corpus: Corpus },
      ...c.definition,
      command: (_p, paths) => [c.python, paths.files[c.scripts[0]], "sample"]
    })(ownKeys(params), runOptions(options))
  }
}
