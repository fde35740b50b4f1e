#!/usr/bin/env python3
"""ouroboros's PyTorch GPT: the same model as Train.transformer (src/lm/transformer.ts), trained with PyTorch.

Run by the Train.torch and Evaluate.torch command stages (src/stages/torch.ts) under ouroboros's command protocol:
the working directory holds the inputs as files, params.json and ouro-manifest.json (README "Your own model").

  python3 ouro_gpt.py train        inputs corpus (Parquet), tokenizer (JSON) [, previous (safetensors)]
                                   -> output model (safetensors, the same tensor names and layout as the TS GPT)
  python3 ouro_gpt.py perplexity   inputs model, tokenizer, test -> output metrics (JSON): sliding-window
                                   perplexity over the same windows as Evaluate.perplexity

The model: token + learned position embeddings, pre-LayerNorm blocks (causal multi-head attention with one fused
QKV projection whose columns are q | k | v, head-major inside each; a tanh-GELU MLP of width 4*dModel), a final
LayerNorm and an untied head with bias. Weights are stored as x @ W ([in, out]), F32, named as in paramShapes.
Deterministic on one device: seeded, torch.use_deterministic_algorithms(True), a fixed thread count (params.shards).
Needs torch and pyarrow (for the Parquet input); safetensors files are read and written here, byte for byte as
ouroboros writes them.
"""
import json
import math
import os
import struct
import sys
import unicodedata

import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

EOS_ID, UNK_ID = 1, 0
ARTIFACT = "model/transformer"
CONFIG_FIELDS = ["vocab", "layers", "dModel", "heads", "context"]


def device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# --- the protocol -----------------------------------------------------------------------------------------------

def manifest():
    with open(os.environ["OURO_MANIFEST"], encoding="utf-8") as f:
        return json.load(f)


def read_params(m):
    with open(m["params"], encoding="utf-8") as f:
        return json.load(f)


def read_texts(path):
    return [str(t) for t in pq.read_table(path, columns=["id", "text"]).column("text").to_pylist()]


# --- the tokenizer (src/lm/tokenizer.ts) --------------------------------------------------------------------------

JS_SPACE = set("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | {chr(c) for c in range(0x2000, 0x200B)}


def _cat(ch, letters):
    c = unicodedata.category(ch)[0]
    return c in letters


def word_tokens(text):
    """The matches of /<unk>|\\p{N}+(?:[.,]\\p{N}+)+|[\\p{L}\\p{M}\\p{N}]+(?:['\u2019-][\\p{L}\\p{M}\\p{N}]+)*|\\S/gu."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in JS_SPACE:
            i += 1
            continue
        if text.startswith("<unk>", i):
            yield "<unk>"
            i += 5
            continue
        # numbers with separators: N+ ([.,] N+)+
        j = i
        while j < n and _cat(text[j], "N"):
            j += 1
        if j > i:
            k, groups = j, 0
            while k + 1 < n and text[k] in ".," and _cat(text[k + 1], "N"):
                k += 1
                while k < n and _cat(text[k], "N"):
                    k += 1
                groups += 1
            if groups > 0:
                yield text[i:k]
                i = k
                continue
        j = i
        while j < n and _cat(text[j], "LMN"):
            j += 1
        if j > i:
            while j + 1 < n and text[j] in "'\u2019-" and _cat(text[j + 1], "LMN"):
                j += 1
                while j < n and _cat(text[j], "LMN"):
                    j += 1
            yield text[i:j]
            i = j
            continue
        yield ch
        i += 1


def token_stream(tokenizer, texts):
    """Documents' ids back to back, each followed by <eos> (tokenStream in src/stages/neural-run.ts)."""
    vocab = tokenizer["vocab"]
    if vocab[0] != "<unk>" or vocab[1] != "<eos>":
        raise SystemExit("tokenizer: vocab must start with <unk>, <eos>")
    index = {t: i for i, t in enumerate(vocab) if i >= 2}
    out = []
    for text in texts:
        if tokenizer["lowercase"]:
            text = text.lower()
        pieces = text if tokenizer["kind"] == "char" else word_tokens(text)
        out.extend(index.get(p, UNK_ID) for p in pieces)
        out.append(EOS_ID)
    return torch.tensor(out, dtype=torch.long)


# --- safetensors (src/format/safetensors.ts) ------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: metadata[k] for k in sorted(metadata)}}
    offset, blobs = 0, []
    for name in sorted(tensors):
        data = tensors[name].detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise SystemExit(f"model: tensor {name} is {t['dtype']}, expected F32")
        a, b = t["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(t["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, metadata


# --- the model (src/lm/transformer.ts) ----------------------------------------------------------------------------

def param_shapes(c):
    d, out = c["dModel"], [("tok_emb", [c["vocab"], c["dModel"]]), ("pos_emb", [c["context"], c["dModel"]])]
    for l in range(c["layers"]):
        p = f"h{l}."
        out += [(p + "ln1.g", [d]), (p + "ln1.b", [d]), (p + "attn.qkv.w", [d, 3 * d]), (p + "attn.qkv.b", [3 * d]),
                (p + "attn.proj.w", [d, d]), (p + "attn.proj.b", [d]), (p + "ln2.g", [d]), (p + "ln2.b", [d]),
                (p + "mlp.fc.w", [d, 4 * d]), (p + "mlp.fc.b", [4 * d]), (p + "mlp.proj.w", [4 * d, d]), (p + "mlp.proj.b", [d])]
    out += [("ln_f.g", [d]), ("ln_f.b", [d]), ("head.w", [d, c["vocab"]]), ("head.b", [c["vocab"]])]
    return out


def init_params(c, seed):
    """GPT-2 initialisation: weights N(0, 0.02), residual projections scaled by 1/sqrt(2 layers), biases 0, gains 1."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in param_shapes(c):
        if name.endswith(".g"):
            t = torch.ones(shape)
        elif len(shape) == 2:
            std = 0.02 / math.sqrt(2 * c["layers"]) if name.endswith("proj.w") else 0.02
            t = torch.randn(shape, generator=g) * std
        else:
            t = torch.zeros(shape)
        params[name] = t
    return params


def forward(c, w, ids):
    """Logits [B, T, vocab] for ids [B, T]."""
    B, T = ids.shape
    d, H = c["dModel"], c["heads"]
    hd = d // H
    x = F.embedding(ids, w["tok_emb"]) + w["pos_emb"][:T]
    mask = torch.ones(T, T, dtype=torch.bool, device=ids.device).tril()
    for l in range(c["layers"]):
        p = f"h{l}."
        h = F.layer_norm(x, (d,), w[p + "ln1.g"], w[p + "ln1.b"], 1e-5)
        qkv = (h @ w[p + "attn.qkv.w"] + w[p + "attn.qkv.b"]).view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(hd))
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        a = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + a @ w[p + "attn.proj.w"] + w[p + "attn.proj.b"]
        h = F.layer_norm(x, (d,), w[p + "ln2.g"], w[p + "ln2.b"], 1e-5)
        h = F.gelu(h @ w[p + "mlp.fc.w"] + w[p + "mlp.fc.b"], approximate="tanh")
        x = x + h @ w[p + "mlp.proj.w"] + w[p + "mlp.proj.b"]
    x = F.layer_norm(x, (d,), w["ln_f.g"], w["ln_f.b"], 1e-5)
    return x @ w["head.w"] + w["head.b"]


def load_model(path, c=None):
    tensors, metadata = read_safetensors(path)
    if metadata.get("artifact") != ARTIFACT:
        raise SystemExit(f"model: not a {ARTIFACT} file (artifact: {metadata.get('artifact')})")
    config = json.loads(metadata["config"])
    config = {k: config[k] for k in CONFIG_FIELDS}
    if c is not None and config != c:
        raise SystemExit(f"the previous model is a transformer {json.dumps(config)}, not {json.dumps(c)}")
    for name, shape in param_shapes(config):
        if name not in tensors or list(tensors[name].shape) != shape:
            raise SystemExit(f"model: tensor {name} missing or of another shape")
    return config, tensors


# --- training (src/lm/train.ts, src/lm/adamw.ts) ------------------------------------------------------------------

def learning_rate(o, step, total):
    if step < o["warmup"]:
        return o["lr"] * (step + 1) / o["warmup"]
    if o["schedule"] == "constant":
        return o["lr"]
    span = max(1, total - o["warmup"])
    progress = min(1.0, (step - o["warmup"]) / span)
    return o["lr"] * (o["minLrFraction"] + (1 - o["minLrFraction"]) * 0.5 * (1 + math.cos(math.pi * progress)))


def sample_batch(tokens, batch, t, gen):
    starts = len(tokens) - t
    if starts < 1:
        raise SystemExit(f"{len(tokens)} tokens are too few for windows of {t + 1}")
    ix = torch.randint(starts, (batch,), generator=gen)
    x = torch.stack([tokens[i:i + t] for i in ix.tolist()])
    y = torch.stack([tokens[i + 1:i + t + 1] for i in ix.tolist()])
    return x, y


def setup(p):
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(p.get("shards", 1))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def js_float(x):
    """A float as JSON, as JavaScript's JSON.stringify writes it (shortest round trip)."""
    s = repr(float(x))
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}e{'+' if int(exp) > 0 else '-'}{abs(int(exp))}"
    return s[:-2] if s.endswith(".0") else s


def train():
    m = manifest()
    p = read_params(m)
    setup(p)
    dev = device()
    with open(m["inputs"]["tokenizer"]["path"], encoding="utf-8") as f:
        tokenizer = json.load(f)
    c = {"vocab": len(tokenizer["vocab"]), **{k: p["model"][k] for k in ["layers", "dModel", "heads", "context"]}}
    if c["dModel"] % c["heads"] != 0:
        raise SystemExit(f"transformer: heads ({c['heads']}) must divide dModel ({c['dModel']})")
    if "previous" in m["inputs"]:
        _, params = load_model(m["inputs"]["previous"]["path"], c)
    else:
        params = init_params(c, p["seed"])
    stream = token_stream(tokenizer, read_texts(m["inputs"]["corpus"]["path"]))
    held = math.floor(len(stream) * p["validation"]["fraction"])
    train_stream, validation = stream[:len(stream) - held], stream[len(stream) - held:]
    T, batch = c["context"], p["batch"]
    if len(train_stream) < T + 2:
        raise SystemExit(f"the training stream has {len(train_stream)} tokens, fewer than one window of {T + 1} plus one")
    steps = p["steps"] if "steps" in p else math.ceil(p["epochs"] * len(train_stream) / (batch * T))
    o = p["optimizer"]
    names = [n for n, _ in param_shapes(c)]
    w = {n: params[n].to(dev).requires_grad_(True) for n in names}
    decay = [w[n] for n, s in param_shapes(c) if len(s) == 2]
    no_decay = [w[n] for n, s in param_shapes(c) if len(s) != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": o["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], foreach=False)
    gen = torch.Generator().manual_seed(p["seed"])
    held_out = []
    if len(validation) >= T + 2:
        vgen = torch.Generator().manual_seed(p["seed"] + 0x9E3779B1)
        held_out = [sample_batch(validation, batch, T, vgen) for _ in range(p["validation"]["batches"])]
    V = c["vocab"]

    def windows_loss():
        with torch.no_grad():
            total, count = 0.0, 0
            for x, y in held_out:
                logits = forward(c, w, x.to(dev)).double()
                total += F.cross_entropy(logits.reshape(-1, V), y.to(dev).reshape(-1), reduction="sum").item()
                count += y.numel()
            return total / count

    curve, total, since = [], 0.0, 0
    every = p["validation"]["every"]
    for step in range(1, steps + 1):
        lr = learning_rate(o, step - 1, steps)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = sample_batch(train_stream, batch, T, gen)
        loss = F.cross_entropy(forward(c, w, x.to(dev)).reshape(-1, V), y.to(dev).reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()
        if not math.isfinite(value):
            raise SystemExit(f"the training loss is {value} at step {step}: lower the learning rate")
        total += value
        since += 1
        if (every > 0 and step % every == 0) or step == steps:
            point = [step, total / max(1, since)]
            if held_out:
                point.append(windows_loss())
            curve.append(point)
            total, since = 0.0, 0
            print(f"step {step}/{steps} loss {point[1]:.4f}" + (f" val {point[2]:.4f}" if len(point) > 2 else ""), flush=True)
    training = "{" + ",".join([
        f'"steps":{steps}', f'"tokens":{len(train_stream)}', f'"validationTokens":{len(validation)}',
        '"curve":[' + ",".join("[" + ",".join(js_float(v) if i > 0 else str(v) for i, v in enumerate(pt)) + "]" for pt in curve) + "]"
    ]) + "}"
    config = "{" + ",".join(f'"{k}":{c[k]}' for k in CONFIG_FIELDS) + "}"
    write_safetensors(m["outputs"]["model"]["path"], {n: w[n] for n in names},
                      {"artifact": ARTIFACT, "config": config, "training": training})
    print(f"trained on {dev}: {steps} steps, {len(train_stream)} tokens, torch {torch.__version__}", flush=True)


# --- sliding-window perplexity (src/lm/evaluate.ts) ---------------------------------------------------------------

def sliding_nll(c, w, stream, stride, batch, dev):
    if len(stream) < 2:
        raise SystemExit(f"the test stream has {len(stream)} tokens: nothing to predict")
    W = min(c["context"], len(stream) - 1)
    stride = min(stride, W)
    last = len(stream) - 1 - W
    starts = list(range(0, last, stride)) + [last]
    total, count, scored_up_to = 0.0, 0, 0
    with torch.no_grad():
        for b0 in range(0, len(starts), batch):
            group = starts[b0:b0 + batch]
            ids = torch.stack([stream[s:s + W] for s in group]).to(dev)
            logp = forward(c, w, ids).double().log_softmax(-1).cpu()
            for i, s in enumerate(group):
                j0 = max(0, scored_up_to - s)
                targets = stream[s + j0 + 1:s + W + 1]
                total -= logp[i, torch.arange(j0, W), targets].sum().item()
                count += W - j0
                scored_up_to = s + W
    return total / count, count


def perplexity():
    m = manifest()
    p = read_params(m)
    setup({"shards": 1})
    dev = device()
    with open(m["inputs"]["tokenizer"]["path"], encoding="utf-8") as f:
        tokenizer = json.load(f)
    c, tensors = load_model(m["inputs"]["model"]["path"])
    if c["vocab"] != len(tokenizer["vocab"]):
        raise SystemExit(f"the model's vocabulary ({c['vocab']}) is not the tokenizer's ({len(tokenizer['vocab'])})")
    w = {k: v.to(dev) for k, v in tensors.items()}
    stream = token_stream(tokenizer, read_texts(m["inputs"]["test"]["path"]))
    if p["maxTokens"] > 0:
        stream = stream[:p["maxTokens"]]
    nll, tokens = sliding_nll(c, w, stream, p["stride"], p["batch"], dev)
    with open(m["outputs"]["metrics"]["path"], "w", encoding="utf-8") as f:
        json.dump({"artifact": "metrics", "values": {"perplexity": math.exp(nll), "nll": nll, "test_tokens": tokens}}, f)
    print(f"perplexity {math.exp(nll):.4f} on {tokens} tokens ({dev})", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "train":
        train()
    elif mode == "perplexity":
        perplexity()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} train|perplexity (run by ouroboros's Train.torch / Evaluate.torch)")
