#!/usr/bin/python3
"""DeepSeek-V3 in plain PyTorch (CPU, float32), written from docs/model.md
§2-§4 and docs/op-semantics.md, for scripts/bench-cpu.sh.

It reads a Hugging Face checkpoint (config.json + safetensors, sharded or
not; F32/BF16/F16/F8_E4M3 with 128x128 weight_scale_inv blocks) with its own
safetensors reader, so it needs only torch and numpy (Debian's python3-torch).

The model is written the way DeepSeek's own inference code writes it:
[batch, seq, ...] tensors, a per-layer latent KV cache (RMSNorm(c_kv)
[kv_lora_rank] and roped k_pe [rope] per token, docs/model.md §3), the expanded
("naive") attention for a prefill that starts the cache, the absorbed form
(W_UK folded into the query, W_UV after attention) for every step that
reads cached tokens, and MoE as a loop over the experts that received
tokens (torch.where on the top-k indices).

Subcommands:
  bench  time the workload of bench-cpu.sh (B prompts of P tokens prefilled
         together, then D greedy decode steps), best of --runs; prints JSON.
  check  compare with logits `deepc forward --precision fp32` wrote (.npy):
         --full (the whole-sequence pass) and --cached (with --prefill N);
         prints the per-position relative errors; exit 1 above --tol.
"""

import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# safetensors

_NP_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64,
              "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
              "U8": np.uint8, "BOOL": np.bool_}


def _e4m3_table():
    """The 256 float values of the E4M3 (fn) codes: bias 7, no infinities,
    0x7f/0xff NaN, subnormals m/8 * 2^-6."""
    t = np.zeros(256, dtype=np.float32)
    for c in range(256):
        s = -1.0 if c & 0x80 else 1.0
        e = (c >> 3) & 0xF
        m = c & 0x7
        if e == 0xF and m == 0x7:
            t[c] = np.nan
        elif e == 0:
            t[c] = s * (m / 8.0) * 2.0 ** -6
        else:
            t[c] = s * (1.0 + m / 8.0) * 2.0 ** (e - 7)
    return t


E4M3 = _e4m3_table()


def read_safetensors(path):
    """Returns {name: float32/int numpy array} of one safetensors file."""
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt, shape = info["dtype"], info["shape"]
        a, b = info["data_offsets"]
        raw = np.frombuffer(data, dtype=np.uint8, count=b - a, offset=base + a)
        if dt == "BF16":
            arr = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt == "F8_E4M3":
            arr = E4M3[raw]
        elif dt in _NP_DTYPES:
            arr = raw.view(np.dtype(_NP_DTYPES[dt]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: {name}: unsupported dtype {dt}")
        arr = arr.reshape(shape)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        out[name] = arr
    return out


def load_checkpoint(d):
    """All tensors of checkpoint directory d as float32 torch tensors, FP8
    weights dequantised by their 128x128 weight_scale_inv blocks (partial
    edge blocks)."""
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = sorted(x for x in os.listdir(d) if x.endswith(".safetensors"))
    if not files:
        raise FileNotFoundError(f"{d}: no safetensors")
    raw = {}
    for fn in files:
        raw.update(read_safetensors(os.path.join(d, fn)))
    out = {}
    for name, arr in raw.items():
        if name.endswith("_scale_inv"):
            continue
        scale = raw.get(name + "_scale_inv")
        if scale is not None:
            r, c = arr.shape
            s = np.repeat(np.repeat(scale.astype(np.float32), 128, axis=0), 128, axis=1)[:r, :c]
            arr = arr * s
        out[name] = torch.from_numpy(np.ascontiguousarray(arr))
    return out


# ---------------------------------------------------------------------------
# the model


class Config:
    def __init__(self, hf):
        self.vocab = hf["vocab_size"]
        self.dim = hf["hidden_size"]
        self.inter_dim = hf["intermediate_size"]
        self.moe_inter_dim = hf["moe_intermediate_size"]
        self.n_layers = hf["num_hidden_layers"]
        self.n_dense = hf.get("first_k_dense_replace", 0)
        self.n_heads = hf["num_attention_heads"]
        self.q_lora_rank = hf.get("q_lora_rank") or 0
        self.kv_lora_rank = hf["kv_lora_rank"]
        self.nope = hf["qk_nope_head_dim"]
        self.rope = hf["qk_rope_head_dim"]
        self.v_dim = hf["v_head_dim"]
        self.n_experts = hf.get("n_routed_experts") or 0
        self.n_shared = hf.get("n_shared_experts") or 0
        self.topk = hf.get("num_experts_per_tok", 1)
        self.n_groups = hf.get("n_group", 1) or 1
        self.topk_groups = hf.get("topk_group", 1) or 1
        self.route_scale = hf.get("routed_scaling_factor", 1.0)
        self.score_func = hf.get("scoring_func", "sigmoid")
        self.eps = hf.get("rms_norm_eps", 1e-6)
        self.theta = hf.get("rope_theta", 10000.0)
        self.yarn = hf.get("rope_scaling")
        if self.yarn is not None and self.yarn.get("type", self.yarn.get("rope_type")) != "yarn":
            raise ValueError(f"unsupported rope_scaling {self.yarn}")


def rope_freqs(cfg):
    """freq[i], i < rope/2, with YaRN (docs/model.md §3), in float64."""
    d = cfg.rope
    freqs = 1.0 / (cfg.theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    y = cfg.yarn
    if y is not None:
        orig = y["original_max_position_embeddings"]

        def corr(rot):
            return d * math.log(orig / (rot * 2 * math.pi)) / (2 * math.log(cfg.theta))

        low = max(math.floor(corr(y["beta_fast"])), 0)
        high = min(math.ceil(corr(y["beta_slow"])), d - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(d // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
        freqs = freqs / y["factor"] * ramp + freqs * (1 - ramp)
    return freqs


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def apply_rope(x, cos, sin):
    """x [B, S, ..., d]; cos, sin [S, d/2]: rotates the consecutive pairs
    (x[2i], x[2i+1])."""
    shape = x.shape
    x = x.reshape(*shape[:-1], -1, 2)
    x0, x1 = x[..., 0], x[..., 1]
    extra = x0.dim() - 3  # head axes between S and d/2
    cos = cos.view(cos.shape[0], *([1] * extra), cos.shape[1])
    sin = sin.view(sin.shape[0], *([1] * extra), sin.shape[1])
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).reshape(shape)


class DeepSeekV3:
    def __init__(self, cfg, w, max_pos=4096):
        self.cfg = cfg
        self.w = w
        freqs = rope_freqs(cfg)
        ang = torch.outer(torch.arange(max_pos, dtype=torch.float64), freqs)
        self.cos, self.sin = ang.cos().float(), ang.sin().float()
        self.scale = (cfg.nope + cfg.rope) ** -0.5
        if cfg.yarn is not None and cfg.yarn["factor"] > 1.0:
            # docs/model.md §3: g(mscale_all_dim)² on the softmax, and the
            # rotated parts times g(mscale)/g(mscale_all_dim).
            g = lambda ms: 0.1 * ms * math.log(cfg.yarn["factor"]) + 1.0
            m = g(cfg.yarn.get("mscale_all_dim", 0.0))
            self.scale *= m * m
            r = g(cfg.yarn.get("mscale", 1.0)) / m
            self.cos, self.sin = self.cos * r, self.sin * r
        self.layers = []
        for i in range(cfg.n_layers):
            p = f"model.layers.{i}."
            L = {k[len(p):]: v for k, v in w.items() if k.startswith(p)}
            H = cfg.n_heads
            wkv_b = L["self_attn.kv_b_proj.weight"].view(H, cfg.nope + cfg.v_dim, cfg.kv_lora_rank)
            L["w_uk"] = wkv_b[:, :cfg.nope].contiguous()   # [H, nope, c]
            L["w_uv"] = wkv_b[:, cfg.nope:].contiguous()   # [H, v, c]
            if i >= cfg.n_dense:
                L["experts"] = [(L[f"mlp.experts.{e}.gate_proj.weight"], L[f"mlp.experts.{e}.up_proj.weight"],
                                 L[f"mlp.experts.{e}.down_proj.weight"]) for e in range(cfg.n_experts)]
            self.layers.append(L)

    def new_cache(self, batch, capacity):
        c = self.cfg
        return [(torch.zeros(batch, capacity, c.kv_lora_rank), torch.zeros(batch, capacity, c.rope))
                for _ in range(c.n_layers)]

    # -- blocks --

    @staticmethod
    def mlp(x, w1, w3, w2):
        return F.linear(F.silu(F.linear(x, w1)) * F.linear(x, w3), w2)

    def mla(self, L, x, start, cache):
        c = self.cfg
        B, S, _ = x.shape
        H = c.n_heads
        if c.q_lora_rank > 0:
            q = F.linear(rms_norm(F.linear(x, L["self_attn.q_a_proj.weight"]), L["self_attn.q_a_layernorm.weight"], c.eps),
                         L["self_attn.q_b_proj.weight"])
        else:
            q = F.linear(x, L["self_attn.q_proj.weight"])
        q = q.view(B, S, H, c.nope + c.rope)
        q_nope, q_pe = q.split([c.nope, c.rope], dim=-1)
        cos, sin = self.cos[start:start + S], self.sin[start:start + S]
        q_pe = apply_rope(q_pe, cos, sin)
        kv = F.linear(x, L["self_attn.kv_a_proj_with_mqa.weight"])
        c_kv, k_pe = kv.split([c.kv_lora_rank, c.rope], dim=-1)
        c_kv = rms_norm(c_kv, L["self_attn.kv_a_layernorm.weight"], c.eps)
        k_pe = apply_rope(k_pe, cos, sin)  # [B, S, rope], shared by all heads
        end = start + S
        if cache is not None:
            kv_cache, pe_cache = cache
            kv_cache[:B, start:end] = c_kv
            pe_cache[:B, start:end] = k_pe
        mask = None
        if S > 1:
            mask = torch.full((S, end), float("-inf")).triu_(start + 1)
        if start == 0:
            # Expanded ("naive") attention over this step's own tokens.
            kvu = F.linear(c_kv, L["self_attn.kv_b_proj.weight"]).view(B, S, H, c.nope + c.v_dim)
            k_nope, v = kvu.split([c.nope, c.v_dim], dim=-1)
            k = torch.cat([k_nope, k_pe.unsqueeze(2).expand(B, S, H, c.rope)], dim=-1)
            qq = torch.cat([q_nope, q_pe], dim=-1)
            scores = torch.einsum("bshd,bthd->bsht", qq, k) * self.scale
            if mask is not None:
                scores = scores + mask.unsqueeze(1)
            o = torch.einsum("bsht,bthd->bshd", scores.softmax(dim=-1), v)
        else:
            # Absorbed attention over the latent cache.
            kv_all, pe_all = kv_cache[:B, :end], pe_cache[:B, :end]
            q_c = torch.einsum("bshd,hdc->bshc", q_nope, L["w_uk"])
            scores = (torch.einsum("bshc,btc->bsht", q_c, kv_all)
                      + torch.einsum("bshr,btr->bsht", q_pe, pe_all)) * self.scale
            if mask is not None:
                scores = scores + mask.unsqueeze(1)
            o = torch.einsum("bsht,btc->bshc", scores.softmax(dim=-1), kv_all)
            o = torch.einsum("bshc,hdc->bshd", o, L["w_uv"])
        return F.linear(o.reshape(B, S, H * c.v_dim), L["self_attn.o_proj.weight"])

    def moe(self, L, x):
        c = self.cfg
        shape = x.shape
        x = x.reshape(-1, c.dim)
        N = x.shape[0]
        logits = F.linear(x, L["mlp.gate.weight"])
        if c.score_func == "sigmoid":
            s = logits.sigmoid()
        else:
            s = logits.softmax(dim=-1)
        sel = s
        bias = L.get("mlp.gate.e_score_correction_bias")
        if bias is not None:
            sel = s + bias
        if c.n_groups > 1:
            g = sel.view(N, c.n_groups, -1)
            gscore = g.amax(dim=-1) if bias is None else g.topk(2, dim=-1)[0].sum(dim=-1)
            keep = gscore.topk(c.topk_groups, dim=-1)[1]
            drop = torch.ones(N, c.n_groups, dtype=torch.bool).scatter_(1, keep, False)
            sel = g.masked_fill(drop.unsqueeze(-1), float("-inf")).flatten(1)
        idx = sel.topk(c.topk, dim=-1)[1]
        wts = s.gather(1, idx)
        if c.score_func == "sigmoid":
            wts = wts / wts.sum(dim=-1, keepdim=True)
        wts = wts * c.route_scale
        y = torch.zeros_like(x)
        counts = torch.bincount(idx.flatten(), minlength=c.n_experts).tolist()
        for e in range(c.n_experts):
            if counts[e] == 0:
                continue
            rows, top = torch.where(idx == e)
            w1, w3, w2 = L["experts"][e]
            y.index_add_(0, rows, self.mlp(x[rows], w1, w3, w2) * wts[rows, top, None])
        if c.n_shared > 0:
            y = y + self.mlp(x, L["mlp.shared_experts.gate_proj.weight"], L["mlp.shared_experts.up_proj.weight"],
                             L["mlp.shared_experts.down_proj.weight"])
        return y.view(shape)

    def forward(self, tokens, start=0, cache=None):
        """tokens [B, S] at positions start..start+S-1 → logits [B, S, V].
        With a cache, the step's latents are written at those positions."""
        c = self.cfg
        h = F.embedding(tokens, self.w["model.embed_tokens.weight"])
        for i, L in enumerate(self.layers):
            h = h + self.mla(L, rms_norm(h, L["input_layernorm.weight"], c.eps), start,
                             None if cache is None else cache[i])
            hn = rms_norm(h, L["post_attention_layernorm.weight"], c.eps)
            if i < c.n_dense:
                f = self.mlp(hn, L["mlp.gate_proj.weight"], L["mlp.up_proj.weight"], L["mlp.down_proj.weight"])
            else:
                f = self.moe(L, hn)
            h = h + f
        return F.linear(rms_norm(h, self.w["model.norm.weight"], c.eps), self.w["lm_head.weight"])


def load_model(ckpt):
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = Config(json.load(f))
    return DeepSeekV3(cfg, load_checkpoint(ckpt))


def prompt(b, j, vocab):
    """Token j of prompt b (scripts/bench/main.go's Prompt: keep in sync)."""
    return (1 + 31 * b + 7 * j + (j * j) % 13) % vocab


# ---------------------------------------------------------------------------
# subcommands


def blas_in_use():
    """The BLAS library this process mapped (torch's GEMMs go there)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "libblas" in line or "libopenblas" in line}
    except OSError:
        return "?"
    return ", ".join(sorted({os.path.dirname(x) for x in libs})) or "?"


def cmd_bench(a):
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model = load_model(a.checkpoint)
    load_s = time.perf_counter() - t0
    B, P, D = a.batch, a.prompt_len, a.decode
    prompts = torch.tensor([[prompt(b, j, model.cfg.vocab) for j in range(P)] for b in range(B)], dtype=torch.long)
    pre, dec, gen = [], [], None
    with torch.inference_mode():
        for _ in range(a.runs):
            cache = model.new_cache(B, P + D)
            t = time.perf_counter()
            logits = model.forward(prompts, 0, cache)
            nxt = logits[:, -1].argmax(dim=-1)
            pre.append(time.perf_counter() - t)
            out = [nxt]
            t = time.perf_counter()
            for i in range(D):
                logits = model.forward(nxt.view(B, 1), P + i, cache)
                nxt = logits[:, -1].argmax(dim=-1)
                out.append(nxt)
            dec.append(time.perf_counter() - t)
            gen = torch.stack(out, dim=1).tolist()
    res = {
        "impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_in_use(),
        "batch": B, "prompt_len": P, "decode": D, "runs": a.runs,
        "prefill_s": pre, "decode_s": dec,
        "prefill_tok_s": B * P / min(pre), "decode_tok_s": (B * D / min(dec)) if D else 0.0,
        "load_s": load_s, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "generated": gen,
    }
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


def cmd_train(a):
    """Training steps: next-token CE, backward, clip 1.0, AdamW (β 0.9/0.95,
    ε 1e-8, decay 0.1 on matrices): what deepc-bench -train runs."""
    torch.set_num_threads(a.threads)
    model = load_model(a.checkpoint)
    params = []
    for name, t in model.w.items():
        if name.endswith("e_score_correction_bias"):
            continue
        t.requires_grad_(True)
        params.append(t)
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    B, S, V = a.batch, a.seq, model.cfg.vocab
    steps, losses = [], []
    for s in range(a.steps):
        toks = torch.tensor([[prompt(b + s * B, j, V) for j in range(S)] for b in range(B)], dtype=torch.long)
        t = time.perf_counter()
        logits = model.forward(toks)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), toks[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        steps.append(time.perf_counter() - t)
        losses.append(loss.item())
    timed = sorted(steps[1:] or steps)
    res = {
        "impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_in_use(),
        "batch": B, "seq": S, "steps": a.steps, "step_s": steps, "losses": losses,
        "train_tok_s": B * S / timed[len(timed) // 2],
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


def rel_errors(got, want):
    """Per-position relative L2 error ||got - want|| / ||want|| over the
    vocabulary, both [B, S, V]."""
    got, want = got.astype(np.float64), want.astype(np.float64)
    return np.linalg.norm(got - want, axis=-1) / np.maximum(np.linalg.norm(want, axis=-1), 1e-30)


def cmd_check(a):
    torch.set_num_threads(a.threads)
    model = load_model(a.checkpoint)
    with open(a.tokens) as f:
        toks = torch.tensor(json.load(f), dtype=torch.long)
    B, S = toks.shape
    worst = 0.0
    with torch.inference_mode():
        if a.full:
            want = np.load(a.full)
            got = model.forward(toks).numpy()
            if got.shape != want.shape:
                raise SystemExit(f"check: shape {got.shape} vs deepc's {want.shape}")
            e = rel_errors(got, want)
            worst = max(worst, e.max())
            print(f"full pass   [{B}x{S}]: max per-position relative error {e.max():.3e} (mean {e.mean():.3e})")
        if a.cached:
            want = np.load(a.cached)
            N = a.prefill
            cache = model.new_cache(B, S)
            parts = [model.forward(toks[:, :N], 0, cache)]
            for t in range(N, S):
                parts.append(model.forward(toks[:, t:t + 1], t, cache))
            got = torch.cat(parts, dim=1).numpy()
            e = rel_errors(got, want)
            worst = max(worst, e.max())
            print(f"prefill {N} + decode {S - N} [{B}x{S}]: max per-position relative error {e.max():.3e} (mean {e.mean():.3e})")
    ok = worst <= a.tol
    print(f"logits {'agree' if ok else 'DISAGREE'} with deepc fp32: max relative error {worst:.3e} (tolerance {a.tol:g})")
    if not ok:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--checkpoint", required=True)
    b.add_argument("--batch", type=int, default=4)
    b.add_argument("--prompt-len", type=int, default=64)
    b.add_argument("--decode", type=int, default=32)
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--threads", type=int, default=os.cpu_count())
    c = sub.add_parser("check")
    c.add_argument("--checkpoint", required=True)
    c.add_argument("--tokens", required=True, help="JSON array of equal-length token arrays")
    c.add_argument("--full", help="deepc forward logits (.npy) of the whole-sequence pass")
    c.add_argument("--cached", help="deepc forward --prefill N logits (.npy)")
    c.add_argument("--prefill", type=int, default=0)
    c.add_argument("--tol", type=float, default=1e-4)
    c.add_argument("--threads", type=int, default=os.cpu_count())
    t = sub.add_parser("train")
    t.add_argument("--checkpoint", required=True)
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--seq", type=int, default=128)
    t.add_argument("--steps", type=int, default=6)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    {"bench": cmd_bench, "check": cmd_check, "train": cmd_train}[a.cmd](a)


if __name__ == "__main__":
    main()
