"""Vibe's Megatron trainer against its peers, interleaved so the ratio survives a busy machine.

Peers, all on the same shapes (pre-norm RMSNorm, RoPE, SwiGLU, no biases, untied output layer), the same
token batches and the same AdamW settings with gradient clipping, in one process:

- ``megatron``: Vibe's trainer model (``trainers.build_model``: Megatron-core ``GPTModel``, local spec, the
  CPU fast path of ``trainers.cpu_compat``);
- ``megatron_ref``: the same model with the CPU fast path off (Megatron's own unfused RoPE and SwiGLU), so
  ``megatron / megatron_ref`` is what the fast path gains;
- with ``--compile``, ``megatron`` is the trainer under ``training.compile`` (every layer under
  ``torch.compile``, ``trainers._model.compile_layers``; compiled in its warm-up steps, like ``compiled``),
  and ``megatron_eager`` (add it to ``--systems``) the same model with ``training.compile`` off;
- ``eager``: a minimal plain-PyTorch GPT (nanoGPT style, below);
- ``compiled``: the same plain GPT under ``torch.compile``;
- ``hf``: Hugging Face ``transformers``' ``LlamaForCausalLM`` (``MixtralForCausalLM`` with ``--experts``),
  SDPA attention, what TRL and the HF Trainer train.

Timing is interleaved: every round runs a short block of steps of each system in turn (the order rotates
each round) and one fp32 matmul peak measurement, so a burst of other work lands on every system alike. Each
round gives a ratio per pair (Megatron / peer) and an MFU against that round's own peak; the report is the
median over rounds with the spread (min, max, and the interquartile range relative to the median), next to
the load average seen in each round. Every figure comes twice: per wall second, and per second of this
process's CPU time (divided by the threads). On a machine shared with many other runnable threads, wall time
also counts the time the scheduler gave to others, and with 2 threads every OpenMP barrier waits for the
descheduled one, which penalises the system with more, smaller ops; CPU time counts only what the cores
did for us, so with ``--threads 1`` (no barriers, no spinning) its ratio is the load-robust figure. Peak memory is measured afterwards, one child process per system
(``--memory-of NAME``): the peak RSS (``VmHWM``, reset after the imports) during a few steps minus the
RSS before the model was built: weights, gradients, optimizer state and activations.

    python bench/trainer_throughput.py                          # the reference configuration
    python bench/trainer_throughput.py --layers 12 --hidden 768 --heads 12 --tag large
    python bench/trainer_throughput.py --experts 4 --topk 2 --tag moe
    python bench/trainer_throughput.py --threads 1 --rounds 30  # the load-robust ratio on a busy machine
    python bench/trainer_throughput.py --threads 1 --compile --systems megatron,megatron_eager,eager,compiled,hf
    python bench/trainer_throughput.py --profile megatron       # torch.profiler table of one system
    python bench/trainer_throughput.py --layers 2 --hidden 128 --seq 128 --rounds 3   # a quick look

Results go to ``bench/results/trainer_throughput[_TAG].json``; BENCHMARKS.md summarises them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SYSTEMS = ("megatron", "megatron_ref", "eager", "compiled", "hf")
EXTRA = ("megatron_eager",)  # with --compile: the trainer's model with training.compile off
Step = Callable[[torch.Tensor, torch.Tensor], float]


def measure_peak(*, n: int = 2048, repeats: int = 3) -> tuple[float, float]:
    """fp32 matmul FLOP/s of ``repeats`` n x n x n products after one warm-up: per wall second, and per
    second of this process's CPU time divided by the threads (what the cores gave us, busy neighbours aside)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        a @ b
    flops = 2 * n**3 * repeats
    return flops / (time.perf_counter() - wall), flops / (
        (time.process_time() - cpu) / torch.get_num_threads()
    )


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


class MoE(nn.Module):
    """Top-k router over SwiGLU experts, a loop over experts (as Mixtral's reference code), switch aux loss."""

    def __init__(self, h: int, ffn: int, experts: int, topk: int, aux_coeff: float) -> None:
        super().__init__()
        self.topk, self.aux_coeff = topk, aux_coeff
        self.router = nn.Linear(h, experts, bias=False)
        self.fc1 = nn.ModuleList(nn.Linear(h, 2 * ffn, bias=False) for _ in range(experts))
        self.fc2 = nn.ModuleList(nn.Linear(ffn, h, bias=False) for _ in range(experts))
        self.aux = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])  # [t, h]
        probs = self.router(x).softmax(-1)  # [t, E]
        weights, chosen = probs.topk(self.topk, dim=-1)  # [t, k]
        weights = weights / weights.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        for e, (fc1, fc2) in enumerate(zip(self.fc1, self.fc2, strict=True)):
            rows, slot = (chosen == e).nonzero(as_tuple=True)
            gate, up = fc1(x[rows]).chunk(2, dim=-1)
            out.index_add_(0, rows, fc2(F.silu(gate) * up) * weights[rows, slot, None])
        load = F.one_hot(chosen, probs.size(-1)).sum((0, 1)).float() / chosen.numel()  # [E]
        self.aux = self.aux_coeff * probs.size(-1) * (load * probs.mean(0)).sum()
        return out.view(shape)


class Block(nn.Module):
    def __init__(self, h: int, heads: int, ffn: int, moe: dict[str, Any] | None) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = RMSNorm(h), RMSNorm(h)
        self.qkv = nn.Linear(h, 3 * h, bias=False)
        self.proj = nn.Linear(h, h, bias=False)
        self.moe = MoE(h, ffn, **moe) if moe else None
        if not moe:
            self.fc1 = nn.Linear(h, 2 * ffn, bias=False)  # gate and up, as one matmul (as Megatron does)
            self.fc2 = nn.Linear(ffn, h, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, s, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        q, k = rope(q, cos, sin), rope(k, cos, sin)  # [b, heads, s, d]
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, s, h))
        if self.moe is not None:
            return x + self.moe(self.norm2(x))
        gate, up = self.fc1(self.norm2(x)).chunk(2, dim=-1)
        return x + self.fc2(F.silu(gate) * up)


class PlainGPT(nn.Module):
    def __init__(
        self, *, vocab: int, layers: int, h: int, heads: int, ffn: int, seq: int, moe: dict[str, Any] | None
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, h)
        self.blocks = nn.ModuleList(Block(h, heads, ffn, moe) for _ in range(layers))
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
        loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        for block in self.blocks:
            if block.moe is not None:
                loss = loss + block.moe.aux
        return loss


# ------------------------------------------------------------------------------------------------ systems
def _train_step(model: nn.Module, loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Step:
    """Every system trains with Vibe's optimizer (``trainers.build_optimizer``: AdamW, decay on matrices,
    torch's fused kernel on CPU) and clipping at 1.0."""
    from trainers import OptimizerConfig, build_optimizer

    opt = build_optimizer(model, OptimizerConfig(lr=3e-4, weight_decay=0.1))

    def step(tokens: torch.Tensor, labels: torch.Tensor) -> float:
        loss = loss_of(tokens, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return step


def _model_config(args: argparse.Namespace):
    from trainers import ModelConfig

    moe = {"num_experts": args.experts, "moe_router_topk": args.topk} if args.experts else {}
    return ModelConfig(
        preset=None,
        num_layers=args.layers,
        hidden_size=args.hidden,
        num_attention_heads=args.heads,
        seq_length=args.seq,
        swiglu=True,
        **moe,
    )


def _init_megatron() -> None:
    import torch.distributed as dist
    from megatron.core import parallel_state

    if not dist.is_initialized():
        with socket.socket() as free:  # a port nobody holds, in this process's environment only
            free.bind(("127.0.0.1", 0))
            os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(free.getsockname()[1])
        dist.init_process_group("gloo", rank=0, world_size=1)
        parallel_state.initialize_model_parallel(1, 1)


def build_system(name: str, args: argparse.Namespace) -> tuple[Step, int]:
    """(a training step, parameter count) of system ``name``, seeded identically."""
    config = _model_config(args)
    ffn = config.ffn_size
    moe = (
        {"experts": args.experts, "topk": args.topk, "aux_coeff": config.moe_aux_loss_coeff}
        if args.experts
        else None
    )
    torch.manual_seed(0)
    model: nn.Module
    if name in ("megatron", "megatron_ref", "megatron_eager"):
        from megatron.core.transformer import attention

        from trainers import build_model, causal_mask

        _init_megatron()
        compile_ = args.compile and name == "megatron"
        model = build_model(config, vocab_size=args.vocab, tp=1, ep=1, compile=compile_)
        mask = causal_mask(args.seq, "cpu")
        positions = torch.arange(args.seq)[None].expand(args.micro_batch, -1)
        rope = attention.apply_rotary_pos_emb
        if name == "megatron_ref":  # the CPU fast path off: Megatron's own unfused RoPE and SwiGLU
            model.config.bias_activation_fusion = False
            rope = getattr(rope, "__wrapped__", rope)

        def loss_of(tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            fast = attention.apply_rotary_pos_emb
            attention.apply_rotary_pos_emb = rope  # forward only: backward needs no module global
            try:
                loss = model(tokens, positions, mask, labels=labels).mean()  # per-token losses [b, s]
            finally:
                attention.apply_rotary_pos_emb = fast
            if args.experts:  # the router's aux loss enters through MoEAuxLossAutoScaler in backward
                from megatron.core.transformer.moe.moe_utils import MoEAuxLossAutoScaler

                MoEAuxLossAutoScaler.set_loss_scale(torch.ones(()))
            return loss

    elif name in ("eager", "compiled"):
        model = PlainGPT(
            vocab=args.vocab,
            layers=args.layers,
            h=args.hidden,
            heads=args.heads,
            ffn=ffn,
            seq=args.seq,
            moe=moe,
        )
        forward = torch.compile(model) if name == "compiled" else model

        def loss_of(tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            return forward(tokens, labels)

    elif name == "hf":
        model = _hf_model(args, ffn)

        def loss_of(tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            out = model(input_ids=tokens, use_cache=False)
            loss = F.cross_entropy(out.logits.flatten(0, 1), labels.flatten())
            if args.experts:
                loss = loss + model.config.router_aux_loss_coef * out.aux_loss
            return loss

    else:
        raise ValueError(f"unknown system {name!r}; choose from {', '.join(SYSTEMS + EXTRA)}")
    return _train_step(model, loss_of), sum(p.numel() for p in model.parameters())


def _hf_model(args: argparse.Namespace, ffn: int) -> nn.Module:
    shared: dict[str, Any] = dict(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=ffn,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.heads,
        max_position_embeddings=args.seq,
        rms_norm_eps=1e-5,
        initializer_range=0.02,
        tie_word_embeddings=False,
        attention_dropout=0.0,
        attn_implementation="sdpa",
    )
    if args.experts:
        from transformers import MixtralConfig, MixtralForCausalLM

        config = MixtralConfig(
            **shared,
            num_local_experts=args.experts,
            num_experts_per_tok=args.topk,
            output_router_logits=True,
            router_aux_loss_coef=1e-2,
        )
        return MixtralForCausalLM(config)
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(**shared, mlp_bias=False, attention_bias=False))


# ------------------------------------------------------------------------------------------------- timing
def _batches(args: argparse.Namespace, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, args.vocab, (n, args.micro_batch, args.seq + 1), generator=g)
    return [(d[:, :-1].contiguous(), d[:, 1:].contiguous()) for d in data]


def _spread(values: list[float]) -> dict[str, float]:
    """Median, min, max and the interquartile range relative to the median."""
    med = statistics.median(values)
    q = statistics.quantiles(values, n=4) if len(values) >= 2 else [med, med, med]
    return {"median": med, "min": min(values), "max": max(values), "iqr_rel": (q[2] - q[0]) / med}


def interleaved(args: argparse.Namespace, systems: list[str]) -> dict[str, Any]:
    """Build every system, warm each up, then ``rounds`` rounds of ``block`` steps of each in turn."""
    fpt = _model_config(args).flops_per_token(vocab_size=args.vocab)
    tokens = args.micro_batch * args.seq
    batches = _batches(args, args.warmup + args.rounds * args.block)
    steps: dict[str, Step] = {}
    info: dict[str, dict[str, Any]] = {}
    for name in systems:
        start = time.perf_counter()
        steps[name], params = build_system(name, args)
        losses = [steps[name](*b) for b in batches[: args.warmup]]
        info[name] = {
            "params": params,
            "build_and_warmup_s": time.perf_counter() - start,
            "warmup_losses": losses,
            "losses": [],
        }
        print(
            f"{name:>9}: {params / 1e6:.2f} M parameters, built and warmed up in "
            f"{info[name]['build_and_warmup_s']:.1f} s, losses {[round(x, 4) for x in losses]}",
            flush=True,
        )
    rounds = []
    for r in range(args.rounds):
        order = systems[r % len(systems) :] + systems[: r % len(systems)]
        peak_wall, peak_cpu = measure_peak()
        row: dict[str, Any] = {
            "load_1min": os.getloadavg()[0],
            "peak_flops": peak_wall,
            "peak_flops_cpu": peak_cpu,
            "tps": {},
            "tps_cpu": {},
        }
        chunk = batches[args.warmup + r * args.block : args.warmup + (r + 1) * args.block]
        for name in order:
            wall, cpu = time.perf_counter(), time.process_time()
            for tokens_, labels in chunk:
                info[name]["losses"].append(steps[name](tokens_, labels))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            row["tps"][name] = tokens * len(chunk) / wall
            row["tps_cpu"][name] = tokens * len(chunk) / (cpu / args.threads)
            row.setdefault("cpu_per_wall", {})[name] = cpu / wall
        row["ratio"] = {p: row["tps"]["megatron"] / row["tps"][p] for p in systems if p != "megatron"}
        row["ratio_cpu"] = {
            p: row["tps_cpu"]["megatron"] / row["tps_cpu"][p] for p in systems if p != "megatron"
        }
        rounds.append(row)
        print(
            f"round {r + 1}/{args.rounds}: load {row['load_1min']:.1f}  peak "
            f"{row['peak_flops'] / 1e9:.0f} GF/s  "
            + "  ".join(f"{n} {row['tps'][n]:.0f}" for n in systems)
            + "  ratios "
            + " ".join(f"{p} {v:.3f}" for p, v in row["ratio"].items())
            + "  by CPU time "
            + " ".join(f"{p} {v:.3f}" for p, v in row["ratio_cpu"].items()),
            flush=True,
        )
    summary: dict[str, Any] = {}
    for name in systems:
        tps = [row["tps"][name] for row in rounds]
        mfu = [row["tps"][name] * fpt / row["peak_flops"] for row in rounds]
        mfu_cpu = [row["tps_cpu"][name] * fpt / row["peak_flops_cpu"] for row in rounds]
        summary[name] = {
            **info[name],
            "tokens_per_s": _spread(tps),
            "tokens_per_cpu_s": _spread([row["tps_cpu"][name] for row in rounds]),
            "mfu": _spread(mfu),
            "mfu_cpu": _spread(mfu_cpu),
            "cpu_per_wall": statistics.median(row["cpu_per_wall"][name] for row in rounds),
        }
        if name != "megatron":
            summary[name]["ratio"] = _spread([row["ratio"][name] for row in rounds])
            summary[name]["ratio_cpu"] = _spread([row["ratio_cpu"][name] for row in rounds])
    return {
        "flops_per_token": fpt,
        "peak_flops": _spread([row["peak_flops"] for row in rounds]),
        "peak_flops_cpu": _spread([row["peak_flops_cpu"] for row in rounds]),
        "load_1min": _spread([row["load_1min"] for row in rounds]),
        "systems": summary,
        "rounds": rounds,
    }


def memory_of(name: str, args: argparse.Namespace) -> None:
    """Child mode: peak RSS of a few training steps of ``name`` above the RSS before building it (MB)."""
    import megatron.core  # noqa: F401  # every child pays the same imports before the baseline
    import transformers  # noqa: F401

    batches = _batches(args, 3)
    base = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: the imports' own peak is not the model's
    step, _ = build_system(name, args)
    for b in batches:
        step(*b)
    print(json.dumps({"peak_rss_mb": (_status_kb("VmHWM") - base) / 1024}))


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure_memory(args: argparse.Namespace, systems: list[str]) -> dict[str, float]:
    out = {}
    for name in systems:
        command = [sys.executable, __file__, "--memory-of", name, *_shape_args(args)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=os.environ)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            raise RuntimeError(f"memory child for {name} failed:\n{done.stderr[-3000:]}")
        out[name] = json.loads(lines[-1])["peak_rss_mb"]
        print(f"{name:>9}: peak RSS {out[name]:.0f} MB above its pre-build baseline", flush=True)
    return out


def _shape_args(args: argparse.Namespace) -> list[str]:
    keys = ("layers", "hidden", "heads", "seq", "vocab", "micro_batch", "experts", "topk", "threads")
    flags = ["--compile"] if args.compile else []
    return [x for k in keys for x in (f"--{k.replace('_', '-')}", str(getattr(args, k)))] + flags


def profile(name: str, args: argparse.Namespace, rows: int) -> str:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    batches = _batches(args, 2 + args.warmup)
    step, _ = build_system(name, args)
    for b in batches[: args.warmup]:
        step(*b)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for b in batches[args.warmup :]:
            step(*b)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


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
    parser.add_argument("--experts", type=int, default=0, help="MoE: experts per layer (0: dense)")
    parser.add_argument("--topk", type=int, default=2, help="MoE: experts per token")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    parser.add_argument("--block", type=int, default=1, help="steps of each system per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument(
        "--compile", action="store_true", help="megatron under training.compile (torch.compile per layer)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the per-system memory children")
    parser.add_argument(
        "--profile", metavar="SYSTEM", help="print a torch.profiler table of SYSTEM; no timing"
    )
    parser.add_argument("--profile-rows", type=int, default=30)
    parser.add_argument("--memory-of", metavar="SYSTEM", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help="results file suffix (e.g. large, moe)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_of:
        memory_of(args.memory_of, args)
        return
    if args.profile:
        print(profile(args.profile, args, args.profile_rows))
        return

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if systems[0] != "megatron":
        parser.error("--systems must start with megatron (ratios are Megatron / peer)")
    load_before = os.getloadavg()
    started = time.time()
    result = interleaved(args, systems)
    if not args.no_memory:
        for name, mb in measure_memory(args, systems).items():
            result["systems"][name]["peak_rss_mb"] = mb
    result |= {
        "config": {k: v for k, v in vars(args).items() if k not in ("memory_of", "profile")},
        "ffn_hidden_size": _model_config(args).ffn_size,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
            "load_before": load_before,
            "load_after": os.getloadavg(),
        },
        "command": " ".join(["python", "bench/trainer_throughput.py", *sys.argv[1:]]),
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "wall_s": time.time() - started,
    }
    out = RESULTS / f"trainer_throughput{'_' + args.tag if args.tag else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    peak = result["peak_flops"]
    print(
        f"\npeak fp32 matmul {peak['median'] / 1e9:.0f} GF/s (per round {peak['min'] / 1e9:.0f}-"
        f"{peak['max'] / 1e9:.0f}); {result['flops_per_token'] / 1e6:.1f} MFLOP/token; load "
        f"{result['load_1min']['min']:.1f}-{result['load_1min']['max']:.1f}"
    )
    for name in systems:
        r = result["systems"][name]
        line = (
            f"{name:>9}: {r['tokens_per_s']['median']:7.1f} tokens/s, MFU {r['mfu']['median']:.1%}; by CPU "
            f"time {r['tokens_per_cpu_s']['median']:.1f} tokens/s, MFU {r['mfu_cpu']['median']:.1%}"
        )
        if "peak_rss_mb" in r:
            line += f"; peak RSS {r['peak_rss_mb']:.0f} MB"
        for key, label in (("ratio", "wall"), ("ratio_cpu", "CPU")):
            if key in r:
                x = r[key]
                line += (
                    f"\n           megatron/{name} ({label}) {x['median']:.3f} [{x['min']:.3f}, "
                    f"{x['max']:.3f}] IQR {x['iqr_rel']:.1%}"
                )
        print(line)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
