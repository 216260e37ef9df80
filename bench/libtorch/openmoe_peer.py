#!/usr/bin/env python3
"""The libtorch (PyTorch CPU) peer of bench/vs-libtorch.sh: the same model shapes as an openmoe spec,
random weights, timed the same way (median of repeats after a warm-up, 2 threads).

It is a timing peer, not a reference for values: OpenMoE's computation in plain PyTorch ops (RMSNorm,
multi-head or grouped-query attention with RoPE, OpenMoE's gated FFN or SwiGLU, top-k routing with
capacity and OpenMoE's drop priority, OpenMoE's extra FFN or DeepSeekMoE's shared experts, the LM head).

  openmoe_peer.py --spec-json SPEC.json --mode forward|train --batch B --seq T [--repeats R] [--optimizer adamw]
prints one JSON object with tokens_per_s and median_s.
"""
import argparse, json, math, resource, statistics, time
import torch
import torch.nn.functional as F


def rms_norm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, theta=10000.0):  # x [B, H, T, hd]
    t, hd = x.shape[-2], x.shape[-1]
    freqs = theta ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    angles = torch.arange(t, dtype=torch.float32)[:, None] * freqs[None, :]
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class Ffn(torch.nn.Module):
    def __init__(self, d, f, kind):
        super().__init__()
        self.kind, self.f = kind, f
        gate = 2 * f if kind == "OpenMoEGated" else f
        self.gate = torch.nn.Linear(d, gate, bias=False)
        self.up = torch.nn.Linear(d, f, bias=False)
        self.down = torch.nn.Linear(f, d, bias=False)

    def forward(self, x):
        g = self.gate(x)
        h = g[:, :self.f] * F.silu(g[:, self.f:]) if self.kind == "OpenMoEGated" else F.silu(g)
        return self.down(h * self.up(x))


class Moe(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        d, self.e, self.k = s["hidden"], s["experts"], s["topK"]
        self.router = torch.nn.Linear(d, self.e, bias=False)
        self.experts = torch.nn.ModuleList(Ffn(d, s["expertFfn"], s["ffnKind"]) for _ in range(self.e))
        self.min_capacity = s.get("minCapacity", 4)
        self.shared = Ffn(d, s["sharedExperts"] * s["sharedExpertFfn"], s["ffnKind"]) if s["sharedExpertKind"] == "ParallelShared" else None

    def forward(self, x, cf):  # x [N, D]
        n = x.shape[0]
        probs = torch.softmax(self.router(x).float(), dim=-1)
        weights, choices = probs.topk(self.k, dim=-1)                      # [N, K]
        capacity = max(self.min_capacity, math.ceil(self.k * cf * n / self.e))
        # OpenMoE's priority: every token's first choice before any second choice, then token order.
        order = choices.t().reshape(-1)                                    # [K*N], choice-major
        onehot = F.one_hot(order, self.e)
        slot = (onehot.cumsum(0) - 1).gather(1, order[:, None]).squeeze(1)
        keep = (slot < capacity).reshape(self.k, n).t()                    # [N, K]
        out = torch.zeros_like(x)
        for e in range(self.e):
            token, rank = torch.nonzero((choices == e) & keep, as_tuple=True)
            if token.numel():
                out.index_add_(0, token, self.experts[e](x[token]) * weights[token, rank, None])
        if self.shared is not None:
            out = out + self.shared(x)
        return out


class Layer(torch.nn.Module):
    def __init__(self, s, moe):
        super().__init__()
        d, self.h, self.kv, self.hd = s["hidden"], s["heads"], s["kvHeads"], s["headDim"]
        self.norm1 = torch.nn.Parameter(torch.ones(d))
        self.norm2 = torch.nn.Parameter(torch.ones(d))
        self.q = torch.nn.Linear(d, self.h * self.hd, bias=False)
        self.k = torch.nn.Linear(d, self.kv * self.hd, bias=False)
        self.v = torch.nn.Linear(d, self.kv * self.hd, bias=False)
        self.o = torch.nn.Linear(self.h * self.hd, d, bias=False)
        self.moe = Moe(s) if moe else None
        self.ffn = None if moe else Ffn(d, s["ffn"], s["ffnKind"])
        self.extra = Ffn(d, s["sharedExpertFfn"], s["ffnKind"]) if moe and s["sharedExpertKind"] == "SequentialExtraFfn" else None
        self.norm3 = torch.nn.Parameter(torch.ones(d)) if self.extra is not None else None

    def forward(self, x, b, t, cf):  # x [N, D]
        h = rms_norm(x, self.norm1)
        q = rope(self.q(h).view(b, t, self.h, self.hd).transpose(1, 2))
        k = rope(self.k(h).view(b, t, self.kv, self.hd).transpose(1, 2))
        v = self.v(h).view(b, t, self.kv, self.hd).transpose(1, 2)
        if self.kv != self.h:
            k, v = k.repeat_interleave(self.h // self.kv, 1), v.repeat_interleave(self.h // self.kv, 1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        a = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b * t, self.h * self.hd))
        h = rms_norm(x, self.norm2)
        x = x + (self.moe(h, cf) if self.moe is not None else self.ffn(h))
        if self.extra is not None:
            x = x + self.extra(rms_norm(x, self.norm3))
        return x


class Model(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        self.embed = torch.nn.Embedding(s["vocab"], s["hidden"])
        self.layers = torch.nn.ModuleList(Layer(s, l in s["moeLayers"]) for l in range(s["layers"]))
        self.norm = torch.nn.Parameter(torch.ones(s["hidden"]))
        self.head = None if s.get("tiedEmbeddings") else torch.nn.Linear(s["hidden"], s["vocab"], bias=False)

    def forward(self, tokens, cf):  # tokens [B, T]
        b, t = tokens.shape
        x = self.embed(tokens).view(b * t, -1)
        for layer in self.layers:
            x = layer(x, b, t, cf)
        x = rms_norm(x, self.norm)
        return self.head(x) if self.head is not None else x @ self.embed.weight.t()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--spec-json", required=True)
    p.add_argument("--mode", choices=["forward", "train"], default="forward")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    spec = json.load(open(args.spec_json))
    model = Model(spec)
    tokens = torch.randint(0, spec["vocab"], (args.batch, args.seq))
    targets = torch.roll(tokens, -1, 1).reshape(-1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3) if args.mode == "train" else None

    def step():
        if optimizer is None:
            with torch.no_grad():
                model(tokens, spec["evalCapacityFactor"])
            return
        loss = F.cross_entropy(model(tokens, spec["trainCapacityFactor"]), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    print(json.dumps({"peer": f"libtorch {torch.__version__} (PyTorch CPU, {args.threads} threads)", "spec": spec["name"], "mode": args.mode,
                      "batch": args.batch, "seq": args.seq, "median_s": median, "tokens_per_s": args.batch * args.seq / median,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


if __name__ == "__main__":
    main()
