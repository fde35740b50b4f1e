#!/usr/bin/env python3
"""ouroboros's Hugging Face stages: a causal LM from a transformers config, trained from scratch with PyTorch.

Run by Train.hf, Evaluate.hf and Sample.hf (src/stages/hf.ts) under ouroboros's command protocol (README "Your own
model"); the protocol helpers and the tokenizer come from ouro_gpt.py beside this file.

  python3 ouro_hf.py train CONFIG   inputs corpus (Parquet), tokenizer (JSON) -> output model (Files: a Hugging Face
                                    model folder, config.json + model.safetensors, from save_pretrained)
  python3 ouro_hf.py perplexity     inputs model (Files), tokenizer, test -> output metrics (JSON): the sliding-window
                                    perplexity of Evaluate.perplexity, over the same windows
  python3 ouro_hf.py sample         inputs model (Files), tokenizer -> output corpus (Parquet: id, text)

CONFIG is a transformers config.json (AutoConfig); its vocab_size becomes the tokenizer's, and the model is made by
AutoModelForCausalLM.from_config, as the seed paper does with GPT-Neo's TinyStories-1M config (python/configs/).
Deterministic on one device: seeded, torch.use_deterministic_algorithms(True), a fixed thread count (params.shards).
"""
import json
import math
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ouro_gpt as protocol  # noqa: E402 (beside this file)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from transformers import AutoConfig, AutoModelForCausalLM  # noqa: E402

EOS_ID, UNK_ID = protocol.EOS_ID, protocol.UNK_ID
NO_SPACE_BEFORE = set(",.;:!?)")
NO_SPACE_AFTER = set("(")


def read_tokenizer(m):
    with open(m["inputs"]["tokenizer"]["path"], encoding="utf-8") as f:
        tokenizer = json.load(f)
    if tokenizer["kind"] not in ("char", "word"):
        raise SystemExit(f"Hugging Face stages read char and word tokenizers, not {tokenizer['kind']}")
    return tokenizer


def load(m):
    model = AutoModelForCausalLM.from_pretrained(m["inputs"]["model"]["path"], local_files_only=True)
    model.eval()
    return model.to(protocol.device())


def window_of(model):
    c = model.config
    return int(getattr(c, "ouro_context", None) or getattr(c, "max_position_embeddings", 0) or c.n_positions)


def train():
    m = protocol.manifest()
    p = protocol.read_params(m)
    protocol.setup(p)
    dev = protocol.device()
    tokenizer = read_tokenizer(m)
    config = AutoConfig.from_pretrained(sys.argv[2], local_files_only=True)
    config.vocab_size = len(tokenizer["vocab"])
    config.bos_token_id = EOS_ID
    config.eos_token_id = EOS_ID
    config.ouro_context = p["context"]
    torch.manual_seed(p["seed"])
    model = AutoModelForCausalLM.from_config(config).to(dev)
    stream = protocol.token_stream(tokenizer, protocol.read_texts(m["inputs"]["corpus"]["path"]))
    held = math.floor(len(stream) * p["validation"]["fraction"])
    train_stream, validation = stream[:len(stream) - held], stream[len(stream) - held:]
    T, batch, steps = p["context"], p["batch"], p["steps"]
    if len(train_stream) < T + 2:
        raise SystemExit(f"the training stream has {len(train_stream)} tokens, fewer than one window of {T + 1} plus one")
    opt = torch.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=p["weightDecay"], foreach=False)
    gen = torch.Generator().manual_seed(p["seed"])
    held_out = []
    if len(validation) >= T + 2:
        vgen = torch.Generator().manual_seed(p["seed"] + 0x9E3779B1)
        held_out = [protocol.sample_batch(validation, batch, T, vgen) for _ in range(p["validation"]["batches"])]

    def windows_loss():
        model.eval()
        with torch.no_grad():
            total, count = 0.0, 0
            for x, y in held_out:
                logits = model(x.to(dev)).logits.double()
                total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.to(dev).reshape(-1), reduction="sum").item()
                count += y.numel()
        model.train()
        return total / count

    model.train()
    curve, total, since = [], 0.0, 0
    every = p["validation"]["every"]
    for step in range(1, steps + 1):
        # Linear warm-up over the first 10% of steps, then cosine decay to 10% of the peak.
        warm = max(1, steps // 10)
        lr = p["lr"] * (step / warm if step <= warm else 0.1 + 0.45 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm))))
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = protocol.sample_batch(train_stream, batch, T, gen)
        logits = model(x.to(dev)).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.to(dev).reshape(-1))
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
    out = m["outputs"]["model"]["path"]
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    with open(os.path.join(out, "training.json"), "w", encoding="utf-8") as f:
        json.dump({"steps": steps, "tokens": len(train_stream), "validationTokens": len(validation), "curve": curve}, f)
    n = sum(t.numel() for t in model.parameters())
    print(f"trained a {config.model_type} of {n} parameters on {dev}: {steps} steps, {len(train_stream)} tokens", flush=True)


def perplexity():
    m = protocol.manifest()
    p = protocol.read_params(m)
    protocol.setup({"shards": 1})
    dev = protocol.device()
    tokenizer = read_tokenizer(m)
    model = load(m)
    if model.config.vocab_size != len(tokenizer["vocab"]):
        raise SystemExit(f"the model's vocabulary ({model.config.vocab_size}) is not the tokenizer's ({len(tokenizer['vocab'])})")
    stream = protocol.token_stream(tokenizer, protocol.read_texts(m["inputs"]["test"]["path"]))
    if p["maxTokens"] > 0:
        stream = stream[:p["maxTokens"]]
    if len(stream) < 2:
        raise SystemExit(f"the test stream has {len(stream)} tokens: nothing to predict")
    W = min(window_of(model), len(stream) - 1)
    stride = min(p["stride"], W)
    last = len(stream) - 1 - W
    starts = list(range(0, last, stride)) + [last]
    total, count, scored_up_to = 0.0, 0, 0
    with torch.no_grad():
        for b0 in range(0, len(starts), p["batch"]):
            group = starts[b0:b0 + p["batch"]]
            ids = torch.stack([stream[s:s + W] for s in group]).to(dev)
            logp = model(ids).logits.double().log_softmax(-1).cpu()
            for i, s in enumerate(group):
                j0 = max(0, scored_up_to - s)
                targets = stream[s + j0 + 1:s + W + 1]
                total -= logp[i, torch.arange(j0, W), targets].sum().item()
                count += W - j0
                scored_up_to = s + W
    nll = total / count
    with open(m["outputs"]["metrics"]["path"], "w", encoding="utf-8") as f:
        json.dump({"artifact": "metrics", "values": {"perplexity": math.exp(nll), "nll": nll, "test_tokens": count}}, f)
    print(f"perplexity {math.exp(nll):.4f} on {count} tokens ({dev})", flush=True)


def decode(tokenizer, ids):
    """Ids to text as src/lm/tokenizer.ts decodes them (so the text re-encodes to the same ids)."""
    vocab, word = tokenizer["vocab"], tokenizer["kind"] == "word"

    def piece(i):
        return ("<unk>" if word else "\ufffd") if i == UNK_ID else "\n" if i == EOS_ID else vocab[i]

    if not word:
        return "".join(piece(i) for i in ids)
    parts, prev = [], "\n"
    for i in ids:
        s = piece(i)
        parts.append(s if s == "\n" or prev == "\n" or s in NO_SPACE_BEFORE or prev in NO_SPACE_AFTER else " " + s)
        prev = s
    return "".join(parts)


def sample():
    m = protocol.manifest()
    p = protocol.read_params(m)
    protocol.setup({"shards": 1})
    dev = protocol.device()
    tokenizer = read_tokenizer(m)
    model = load(m)
    W = window_of(model)
    gen = torch.Generator().manual_seed(p["seed"])
    ids, texts = [], []
    width = len(str(max(0, p["documents"] - 1)))
    with torch.no_grad():
        for d in range(p["documents"]):
            doc = [EOS_ID]  # every document starts after an <eos>, as it does in the training stream
            out = []
            for _ in range(p["maxLength"]):
                x = torch.tensor([doc[-W:]], dtype=torch.long, device=dev)
                logits = model(x).logits[0, -1].double().cpu() / p["temperature"]
                nxt = int(torch.multinomial(logits.softmax(-1), 1, generator=gen).item())
                if nxt == EOS_ID:
                    break
                doc.append(nxt)
                out.append(nxt)
            ids.append(f"s{p['seed']}-{str(d).zfill(width)}")
            texts.append(decode(tokenizer, out))
    table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})
    pq.write_table(table, m["outputs"]["corpus"]["path"])
    print(f"sampled {len(texts)} documents ({dev})", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "train" and len(sys.argv) > 2:
        train()
    elif mode == "perplexity":
        perplexity()
    elif mode == "sample":
        sample()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} train CONFIG | perplexity | sample (run by Train.hf / Evaluate.hf / Sample.hf)")
