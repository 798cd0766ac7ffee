"""The run's final report: ``report.md`` (setup, final numbers, validation) and ``loss.png`` (matplotlib, Agg)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainers._config import RunConfig
from trainers._metrics import read_metrics
from vibe.core.render import LossSeries, loss_plot

__all__ = ["write_report"]


def _fmt(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def write_report(run_dir: Path, config: RunConfig, *, wall_time_s: float, extra: dict[str, Any]) -> Path:
    """Write ``report.md`` and ``loss.png`` from ``metrics.jsonl``; returns the report path."""
    records = read_metrics(run_dir / "metrics.jsonl")
    if records:
        loss_plot(run_dir / "loss.png", [LossSeries(records=records)], dpi=100)
    last = records[-1] if records else {}
    val = next((r for r in reversed(records) if "val_loss" in r), {})
    m, p, t = config.model, config.parallel, config.training
    moe = f", MoE {m.num_experts} experts top-{m.moe_router_topk}" if m.num_experts else ""
    mean_tps = sum(r["tokens_per_s"] for r in records) / len(records) if records else None
    mfus = [r["mfu"] for r in records if r.get("mfu") is not None]
    lines = [
        f"# Training run `{run_dir.name}`",
        "",
        "## Setup",
        f"- model: {m.num_layers} layers, hidden {m.hidden_size}, {m.num_attention_heads} heads, "
        f"FFN {m.ffn_size}{' SwiGLU' if m.swiglu else ''}, seq {m.seq_length}, RoPE{moe}",
        f"- parameters: {extra.get('params_total', 'n/a'):,} total, {extra.get('params_active', 'n/a'):,} active",
        f"- parallel: dp={p.dp} tp={p.tp} ep={p.ep} ({p.world_size} workers, {extra.get('device', '?')}, "
        f"{extra.get('precision', '?')})",
        f"- batch: {t.global_batch_size} sequences/step ({config.num_microbatches} micro batches of "
        f"{t.micro_batch_size} per DP rank), {t.max_steps} steps, seed {t.seed}",
        f"- optimizer: AdamW lr {config.optimizer.lr:g} -> {config.optimizer.min_lr:g} "
        f"({config.optimizer.schedule}, warmup {config.optimizer.warmup_steps}), clip {config.optimizer.clip_grad:g}",
        f"- data: {', '.join(f'{s.path} (weight {s.weight:g})' for s in config.data.sources)}",
        "",
        "## Result",
        f"- final step: {last.get('step', 0)} of {t.max_steps}",
        f"- final train loss: {_fmt(last.get('loss'), '.4f')} nats/token",
        f"- validation (full split): loss {_fmt(val.get('val_loss'), '.4f')} nats/token, "
        f"{_fmt(val.get('val_bpb'), '.4f')} bits/byte over {val.get('val_tokens', 'n/a')} tokens "
        f"(at step {val.get('step', 'n/a')})",
        f"- throughput: {_fmt(mean_tps, ',.0f')} tokens/s mean; MFU "
        f"{_fmt(sum(mfus) / len(mfus) if mfus else None, '.2%')} (peak {_fmt(extra.get('peak_flops'), '.3g')} FLOP/s "
        f"per worker)",
        f"- wall time: {wall_time_s:.1f} s (of which start-up: Ray, worker imports, data and model set-up {extra.get('startup_s', 0):.1f} s)",
        "",
        "![loss](loss.png)" if records else "(no metrics recorded)",
        "",
        "Files: `config.yaml` (resolved config), `metrics.jsonl` (one record per step), `checkpoints/`, `logs/`.",
        "",
        "```json",
        json.dumps({k: v for k, v in last.items() if k not in ("time", "train_s")}, indent=2),
        "```",
        "",
    ]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
