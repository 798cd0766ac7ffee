"""Megatron trainer vs a minimal plain-PyTorch GPT of identical shapes: tokens/s, ratio and MFU.

Tokens/s is from the median step time, so a short burst of other work on the machine does not move it.

Both train the same GPT (pre-norm RMSNorm, RoPE, SwiGLU, no biases, untied output layer) on the same
token batches with the same AdamW settings, in one process, one after the other; MFU is measured against
this machine's fp32 matrix-multiply peak, measured in the same run. Results go to
``bench/results/trainer_throughput.json`` and are summarised in BENCHMARKS.md.

    python bench/trainer_throughput.py                    # the reference configuration
    python bench/trainer_throughput.py --layers 2 --hidden 128 --seq 128 --steps 5   # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

RESULTS = Path(__file__).parent / "results"


def measure_peak(*, n: int = 3072, repeats: int = 4) -> float:
    """fp32 matmul FLOP/s: the best of a few timed n x n x n products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - start))
    return best


# ------------------------------------------------------------------------------------- the plain PyTorch GPT
class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding, Megatron's (non-interleaved) convention. x: [b, heads, s, d]."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class Block(nn.Module):
    def __init__(self, h: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = RMSNorm(h), RMSNorm(h)
        self.qkv = nn.Linear(h, 3 * h, bias=False)
        self.proj = nn.Linear(h, h, bias=False)
        self.fc1 = nn.Linear(h, 2 * ffn, bias=False)  # gate and up, as one matmul (as Megatron does)
        self.fc2 = nn.Linear(ffn, h, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, s, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        q, k = rope(q, cos, sin), rope(k, cos, sin)  # [b, heads, s, d]
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, s, h))
        gate, up = self.fc1(self.norm2(x)).chunk(2, dim=-1)
        return x + self.fc2(F.silu(gate) * up)


class PlainGPT(nn.Module):
    def __init__(self, *, vocab: int, layers: int, h: int, heads: int, ffn: int, seq: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, h)
        self.blocks = nn.ModuleList(Block(h, heads, ffn) for _ in range(layers))
        self.norm = RMSNorm(h)
        self.out = nn.Linear(h, vocab, bias=False)
        d = h // heads
        inv = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
        freqs = torch.outer(torch.arange(seq).float(), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos()[None, None], persistent=False)
        self.register_buffer("sin", emb.sin()[None, None], persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)  # [b, s, h]
        for block in self.blocks:
            x = block(x, self.cos, self.sin)
        logits = self.out(self.norm(x))  # [b, s, V]
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten())


# ------------------------------------------------------------------------------------------------- timing
def _time_steps(
    step, batches: list[tuple[torch.Tensor, torch.Tensor]], warmup: int
) -> tuple[float, list[float]]:
    """Median seconds per step after ``warmup`` steps (robust to a noisy neighbour), and the losses."""
    losses, times = [], []
    for tokens, labels in batches[:warmup]:
        step(tokens, labels)
    for tokens, labels in batches[warmup:]:
        start = time.perf_counter()
        losses.append(step(tokens, labels))
        times.append(time.perf_counter() - start)
    return statistics.median(times), losses


def _optimizer(params) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, foreach=True)


def run_plain(args: argparse.Namespace, ffn: int, batches) -> tuple[float, list[float]]:
    torch.manual_seed(0)
    model = PlainGPT(
        vocab=args.vocab, layers=args.layers, h=args.hidden, heads=args.heads, ffn=ffn, seq=args.seq
    )
    opt = _optimizer(model.parameters())

    def step(tokens: torch.Tensor, labels: torch.Tensor) -> float:
        loss = model(tokens, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return _time_steps(step, batches, args.warmup)


def run_megatron(args: argparse.Namespace, batches) -> tuple[float, list[float], float]:
    import torch.distributed as dist
    from megatron.core import parallel_state

    from trainers import ModelConfig, build_model, causal_mask

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    if not dist.is_initialized():
        dist.init_process_group("gloo", rank=0, world_size=1)
        parallel_state.initialize_model_parallel(1, 1)
    config = ModelConfig(
        preset=None,
        num_layers=args.layers,
        hidden_size=args.hidden,
        num_attention_heads=args.heads,
        seq_length=args.seq,
        swiglu=True,
    )
    torch.manual_seed(0)
    model = build_model(config, vocab_size=args.vocab, tp=1, ep=1)
    opt = _optimizer(model.parameters())
    mask = causal_mask(args.seq, "cpu")
    positions = torch.arange(args.seq)[None].expand(args.micro_batch, -1)

    def step(tokens: torch.Tensor, labels: torch.Tensor) -> float:
        loss = model(tokens, positions, mask, labels=labels).mean()  # per-token losses [b, s] -> scalar
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    seconds, losses = _time_steps(step, batches, args.warmup)
    return seconds, losses, config.flops_per_token(vocab_size=args.vocab), config.ffn_size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=RESULTS / "trainer_throughput.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    peak_before = measure_peak()
    g = torch.Generator().manual_seed(0)
    data = torch.randint(
        0, args.vocab, (args.steps + args.warmup, args.micro_batch, args.seq + 1), generator=g
    )
    batches = [(d[:, :-1].contiguous(), d[:, 1:].contiguous()) for d in data]
    tokens = args.micro_batch * args.seq  # per step

    mega_s, mega_losses, fpt, ffn = run_megatron(args, batches)
    plain_s, plain_losses = run_plain(args, ffn, batches)
    peak = max(peak_before, measure_peak())  # the better of before and after: a busy neighbour only lowers it
    mega_tps, plain_tps = tokens / mega_s, tokens / plain_s
    result = {
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "ffn_hidden_size": ffn,
        "flops_per_token": fpt,
        "peak_flops": peak,
        "megatron": {
            "tokens_per_s": mega_tps,
            "mfu": mega_tps * fpt / peak,
            "first_loss": mega_losses[0],
            "last_loss": mega_losses[-1],
        },
        "plain": {
            "tokens_per_s": plain_tps,
            "mfu": plain_tps * fpt / peak,
            "first_loss": plain_losses[0],
            "last_loss": plain_losses[-1],
        },
        "ratio": mega_tps / plain_tps,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": args.threads,
            "torch": torch.__version__,
        },
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    assert all(math.isfinite(x) for x in mega_losses + plain_losses)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"peak fp32 matmul: {peak / 1e9:.1f} GFLOP/s; {fpt / 1e6:.1f} MFLOP/token")
    for name in ("megatron", "plain"):
        r = result[name]
        print(
            f"{name:>9}: {r['tokens_per_s']:8.1f} tokens/s  MFU {r['mfu']:.1%}  loss {r['first_loss']:.3f} -> {r['last_loss']:.3f}"
        )
    print(f"    ratio: {result['ratio']:.3f} (megatron / plain)")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
