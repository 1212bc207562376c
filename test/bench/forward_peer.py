# The PyTorch peer of the forward-pass benchmark: the same Llama forward (float32 on the bf16
# weights), prefill of a right-padded batch and greedy decoding with a key/value cache.
# usage: forward_peer.py MODEL_DIR BATCH PROMPT_LEN NEW_TOKENS THREADS  -> JSON on stdout
import json, math, struct, sys, time
import numpy as np
import torch

model_dir, batch, plen, new, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
cfg = json.load(open(f"{model_dir}/config.json"))
raw = open(f"{model_dir}/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
def tensor(name):
    h = header[name]
    a, b = h["data_offsets"]
    buf = np.frombuffer(raw, dtype=np.uint16, count=(b - a) // 2, offset=8 + n + a)
    return torch.from_numpy((buf.astype(np.uint32) << 16).view(np.float32).reshape(h["shape"]).copy())
H, L, nh, nkv = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
hd, eps, theta = H // nh, cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
W = [{k: tensor(f"model.layers.{i}.{k}.weight") for k in ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]} for i in range(L)]
emb, norm = tensor("model.embed_tokens.weight"), tensor("model.norm.weight")
lm = tensor("lm_head.weight") if "lm_head.weight" in header else emb
inv = 1.0 / (theta ** (torch.arange(0, hd, 2).float() / hd))

def rms(x, w): return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
def rot(x): return torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1)
def rope(x, pos):
    f = pos[..., None].float() * inv
    e = torch.cat([f, f], -1)
    return x * e.cos()[:, None] + rot(x) * e.sin()[:, None]

def layer(x, w, pos, mask, cache):
    B, T, _ = x.shape
    h = rms(x, w["input_layernorm"])
    q = (h @ w["self_attn.q_proj"].T).view(B, T, nh, hd).transpose(1, 2)
    k = (h @ w["self_attn.k_proj"].T).view(B, T, nkv, hd).transpose(1, 2)
    v = (h @ w["self_attn.v_proj"].T).view(B, T, nkv, hd).transpose(1, 2)
    q, k = rope(q, pos), rope(k, pos)
    if cache is not None:
        k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
    kk, vv = k.repeat_interleave(nh // nkv, 1), v.repeat_interleave(nh // nkv, 1)
    a = torch.softmax(q @ kk.transpose(-1, -2) / math.sqrt(hd) + mask, -1) @ vv
    x = x + a.transpose(1, 2).reshape(B, T, nh * hd) @ w["self_attn.o_proj"].T
    h = rms(x, w["post_attention_layernorm"])
    g = h @ w["mlp.gate_proj"].T
    x = x + (g * torch.sigmoid(g) * (h @ w["mlp.up_proj"].T)) @ w["mlp.down_proj"].T
    return x, (k, v)

with torch.no_grad():
    ids = torch.randint(0, 250, (batch, plen))
    pos = torch.arange(plen)[None].expand(batch, plen)
    mask = torch.full((plen, plen), -1e9).triu(1)[None, None]
    t0 = time.perf_counter()
    x = emb[ids]
    caches = []
    for w in W:
        x, c = layer(x, w, pos, mask, None)
        caches.append(c)
    nxt = (rms(x[:, -1], norm) @ lm.T).argmax(-1)
    prefill = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in range(1, new):
        x = emb[nxt][:, None]
        p = torch.full((batch, 1), plen + s - 1)
        for i, w in enumerate(W):
            x, caches[i] = layer(x, w, p, torch.zeros(1, 1, 1, plen + s), caches[i])
        nxt = (rms(x[:, -1], norm) @ lm.T).argmax(-1)
    decode = time.perf_counter() - t0
print(json.dumps({"prefill_tps": batch * plen / prefill, "decode_tps": batch * (new - 1) / decode}))
