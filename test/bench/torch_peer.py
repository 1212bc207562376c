#!/usr/bin/python3
"""The PyTorch peer of the benchmark: mergekit's arithmetic for task_arithmetic, ties, dare_ties
and della written plainly with torch on the CPU (tensors in the recipe dtype, bfloat16, as
mergekit computes them), reading safetensors through mmap and writing one output file.

usage: torch_peer.py OP OUT BASE EXPERT... [--max-bytes N] [--threads N]
Prints one JSON line: input bytes processed, seconds, tensors.
"""
import json
import mmap
import struct
import sys
import time

import torch

DENSITY = 0.2
EPSILON = 0.15
WEIGHTS = {"task_arithmetic": [0.5, 0.3, 0.2], "ties": [1.0, 1.0, 1.0], "dare_ties": [1.0, 1.0, 1.0], "della": [1.0, 1.0, 1.0]}


def open_st(path):
    f = open(path, "rb")
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    (n,) = struct.unpack("<Q", mm[:8])
    header = json.loads(mm[8 : 8 + n])
    header.pop("__metadata__", None)
    return mm, 8 + n, header


def load(st, name):
    mm, start, header = st
    h = header[name]
    b, e = h["data_offsets"]
    t = torch.frombuffer(mm, dtype=torch.bfloat16, count=(e - b) // 2, offset=start + b)
    return t.view(h["shape"]).clone()


def magnitude(delta, density):
    k = int(density * delta.numel())
    mask = torch.zeros_like(delta)
    w = delta.abs().view(-1).float()
    top = torch.argsort(w, descending=True)[:k]
    mask.view(-1)[top] = 1
    return delta * mask


def bernoulli_rescaled(delta, density):
    mask = torch.bernoulli(torch.full_like(delta, density))
    masked = delta * mask
    before, after = delta.abs().sum(), masked.abs().sum()
    if before < 1e-7 or after < 1e-7:
        return masked
    return masked * (before / after)


def rank_sampled(delta, density, epsilon):
    """DELLA: keep probabilities by rank of |delta| within each row, Bernoulli mask, 1/p rescale."""
    rows = delta.view(1, -1) if delta.dim() < 2 else delta
    n = rows.shape[-1]
    ranks = torch.argsort(torch.argsort(rows.abs().float(), dim=-1), dim=-1).float()
    probs = (density - epsilon) + 2 * epsilon * ranks / max(n - 1, 1)
    mask = torch.bernoulli(probs)
    return (rows.float() * mask / probs).to(delta.dtype).view(delta.shape)


def ties_combine(deltas, weights, normalize):
    d = torch.stack(deltas, 0)
    w = torch.tensor(weights, dtype=d.dtype).view(-1, *([1] * (d.dim() - 1)))
    wd = d * w
    sign = wd.sign()
    majority = (wd.sum(0) >= 0).to(d.dtype) * 2 - 1
    mask = sign == majority
    mixed = (wd * mask).sum(0)
    if normalize:
        div = (w * mask).sum(0)
        div[div == 0] = 1
        mixed = mixed / div
    return mixed


def merge(op, base, xs):
    weights = WEIGHTS[op]
    deltas = [x - base for x in xs]
    if op == "task_arithmetic":
        mixed = sum(w * d for w, d in zip(weights, deltas))
    elif op == "ties":
        mixed = ties_combine([magnitude(d, DENSITY) for d in deltas], weights, True)
    elif op == "dare_ties":
        mixed = ties_combine([bernoulli_rescaled(d, DENSITY) for d in deltas], weights, False)
    else:
        mixed = ties_combine([rank_sampled(d, DENSITY, EPSILON) for d in deltas], weights, True)
    return (base + mixed).to(base.dtype)


def main():
    args = sys.argv[1:]
    max_bytes = float("inf")
    if "--max-bytes" in args:
        i = args.index("--max-bytes")
        max_bytes = float(args[i + 1])
        del args[i : i + 2]
    if "--threads" in args:
        i = args.index("--threads")
        torch.set_num_threads(int(args[i + 1]))
        del args[i : i + 2]
    op, out, base_path, *expert_paths = args
    torch.manual_seed(0)
    started = time.perf_counter()
    base_st = open_st(base_path)
    experts = [open_st(p) for p in expert_paths]
    names = sorted(base_st[2], key=lambda n: base_st[2][n]["data_offsets"][0])
    done_bytes, outputs = 0, []
    for name in names:
        if done_bytes >= max_bytes:
            break
        base = load(base_st, name)
        xs = [load(st, name) for st in experts]
        outputs.append((name, merge(op, base, xs)))
        done_bytes += base.numel() * 2 * (1 + len(xs))
    header, pos = {}, 0
    for name, t in outputs:
        n = t.numel() * 2
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [pos, pos + n]}
        pos += n
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, t in outputs:
            f.write(t.contiguous().view(torch.int16).numpy().tobytes())
    seconds = time.perf_counter() - started
    print(json.dumps({"op": op, "input_bytes": done_bytes, "seconds": seconds, "tensors": len(outputs), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
