/**
 * Train.torch and Evaluate.torch: the GPT of Train.transformer trained (and scored) by PyTorch, as command stages
 * running the trainer shipped in python/ouro_gpt.py. Same params Schema as Train.transformer (`shards` is the torch
 * thread count here), same tensor names and layout: Sample.neural and Evaluate.neural read its models unchanged.
 *
 * The key holds the script's sha256 ("file python/ouro_gpt.py"), and a probe's output: the Python and torch
 * versions, the device (CUDA's name when torch sees one, else "cpu"), pyarrow's and numpy's versions.
 */
import * as path from "node:path"
import { Corpus, Metrics, Tokenizer } from "../artifact/artifacts.ts"
import { Model } from "../artifact/model.ts"
import * as Command from "../command/index.ts"
import type { Stage } from "../pipeline/stage.ts"
import { PerplexityParams, TransformerParams } from "./neural-params.ts"
import { ownKeys } from "./params.ts"

/** The package's root: python/ sits beside src/. */
const PACKAGE_ROOT = path.resolve(import.meta.dirname, "../..")
export const TORCH_SCRIPT = "python/ouro_gpt.py"

export interface TorchOptions {
  /** The Python interpreter (default "python3", looked up on PATH); its version and torch's are in the key. */
  readonly python?: string
  /**
   * The trainer script (default: ouroboros's own python/ouro_gpt.py). A path of your own is resolved against the
   * current directory and named in the key as given: a copy of the trainer you edit reruns the stages that use it.
   */
  readonly script?: string
  /** Seconds the program may run; past it, its process group is killed and nothing is stored. */
  readonly timeout?: number
}

const PROBE = [
  "import json, sys, platform",
  "import torch, numpy, pyarrow",
  "dev = ('cuda:' + torch.cuda.get_device_name(0)) if torch.cuda.is_available() else 'cpu'",
  "print(json.dumps({'python': platform.python_version(), 'torch': torch.__version__, 'device': dev,"
  + " 'numpy': numpy.__version__, 'pyarrow': pyarrow.__version__}, sort_keys=True))"
].join("\n")

/** What makes torch deterministic and keeps Python from writing beside the script. */
const ENVIRONMENT = { PYTHONHASHSEED: "0", PYTHONDONTWRITEBYTECODE: "1", CUBLAS_WORKSPACE_CONFIG: ":4096:8" }

const TRAIN_INPUTS = { corpus: Corpus, tokenizer: Tokenizer }
const CONTINUE_INPUTS = { ...TRAIN_INPUTS, previous: Model }
const OUTPUTS = { model: Model }

const where = (o: TorchOptions) => {
  const python = o.python ?? "python3"
  return o.script === undefined
    ? { python, root: PACKAGE_ROOT, script: TORCH_SCRIPT }
    : { python, root: process.cwd(), script: o.script }
}

const trainDefinition = <I extends typeof TRAIN_INPUTS | typeof CONTINUE_INPUTS>(inputs: I, o: TorchOptions) => {
  const { python, root, script } = where(o)
  return Command.stage({
    kind: "train/torch",
    version: 1,
    params: TransformerParams,
    inputs,
    outputs: OUTPUTS,
    files: [script],
    root,
    probes: { torch: [python, "-c", PROBE] },
    environment: ENVIRONMENT,
    command: (_p, paths) => [python, paths.files[script], "train"]
  })
}

const perplexityDefinition = (o: TorchOptions) => {
  const { python, root, script } = where(o)
  return Command.stage({
    kind: "evaluate/torch-perplexity",
    version: 1,
    params: PerplexityParams,
    inputs: { model: Model, tokenizer: Tokenizer, test: Corpus },
    outputs: { metrics: Metrics },
    files: [script],
    root,
    probes: { torch: [python, "-c", PROBE] },
    environment: ENVIRONMENT,
    command: (_p, paths) => [python, paths.files[script], "perplexity"]
  })
}

type TrainEncoded = typeof TransformerParams.Encoded

/** Train.torch: Train.transformer's params; `from: "previous"` adds a `previous` model input. */
interface TorchTrainConstructor {
  (
    params?: Omit<TrainEncoded, "from"> & { readonly from?: "scratch" },
    options?: TorchOptions
  ): Stage<typeof TRAIN_INPUTS, typeof OUTPUTS>
  (
    params: Omit<TrainEncoded, "from"> & { readonly from: "previous" },
    options?: TorchOptions
  ): Stage<typeof CONTINUE_INPUTS, typeof OUTPUTS>
}

const runOptions = (o: TorchOptions) => (o.timeout === undefined ? {} : { timeout: o.timeout })

export const TrainTorch = {
  /**
   * The GPT of Train.transformer trained by PyTorch (python/ouro_gpt.py; needs `pip install torch pyarrow`), on CUDA
   * when torch sees a GPU. Deterministic on one device: the same params give the same model bytes.
   */
  torch: ((params?: TrainEncoded, options: TorchOptions = {}) =>
    params?.from === "previous"
      ? trainDefinition(CONTINUE_INPUTS, options)(ownKeys(params), runOptions(options))
      : trainDefinition(TRAIN_INPUTS, options)(ownKeys(params), runOptions(options))) as TorchTrainConstructor
}

export const EvaluateTorch = {
  /**
   * Evaluate.perplexity's sliding-window perplexity computed by PyTorch (same windows, same params): a check that
   * the model means the same thing in both engines, and a scorer for models too big for TF.js.
   */
  torchPerplexity: (params?: typeof PerplexityParams.Encoded, options: TorchOptions = {}) =>
    perplexityDefinition(options)(ownKeys(params), runOptions(options))
}
