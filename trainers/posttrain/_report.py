"""A post-training run's ``report.md`` and plots (``vibe.core.render``) from its ``metrics.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainers import read_metrics
from trainers.posttrain._config import PostTrainConfig
from vibe.core.render import plot

__all__ = ["REPORT_FILES", "write_posttrain_report"]

# plot file -> (title, metric keys or key prefixes)
_PLOTS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "sft": {"loss.png": ("SFT loss (nats per assistant token)", ("loss",))},
    "dpo": {
        "loss.png": ("DPO loss", ("loss",)),
        "rewards.png": ("implicit rewards and accuracy", ("reward_chosen", "reward_rejected", "accuracy")),
    },
    "rl": {
        "reward.png": ("reward: total and per rule (mean)", ("reward_mean", "reward/")),
        "kl.png": ("KL to the base, entropy, trainer/generator ratio", ("kl", "entropy", "ratio_mean")),
        "seconds.png": ("seconds per step", ("generate_s", "reward_s", "train_s", "sync_s")),
    },
}


# What a run's MLflow entry carries as artifacts (those that exist): report, plots, config, metrics.
REPORT_FILES: dict[str, tuple[str, ...]] = {
    method: ("report.md", *plots, "posttrain.yaml", "config.yaml", "metrics.jsonl")
    + (("alignment.json",) if method == "rl" else ())
    for method, plots in _PLOTS.items()
}


def _plot(records: list[dict[str, Any]], keys: tuple[str, ...], title: str, path: Path) -> bool:
    names = sorted(
        {
            k
            for r in records
            for k in r
            if any(k == x or (x.endswith("/") and k.startswith(x) and k.endswith("/mean")) for x in keys)
        }
    )
    if not names:
        return False
    with plot(path, dpi=100, title=title) as ax:
        for name in names:
            points = [(r["step"], r[name]) for r in records if isinstance(r.get(name), int | float)]
            ax.plot([p[0] for p in points], [p[1] for p in points], label=name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return True


def write_posttrain_report(
    run_dir: Path, config: PostTrainConfig, *, wall_time_s: float, extra: dict[str, Any] | None = None
) -> Path:
    records = read_metrics(run_dir / "metrics.jsonl")
    plots = [
        name
        for name, (title, keys) in _PLOTS[config.method].items()
        if records and _plot(records, keys, title, run_dir / name)
    ]
    first, last = (records[0], records[-1]) if records else ({}, {})
    t = config.training
    lines = [
        f"# Post-training run `{run_dir.name}` ({config.method.upper()})",
        "",
        "## Setup",
        f"- base: `{config.base}`; data: `{config.data}`",
        f"- chat template: `{run_dir / 'chat_template.jinja'}`",
        f"- parallel: dp={config.parallel.dp} tp={config.parallel.tp}; batch {t.global_batch_size} "
        f"({t.micro_batch_size} per micro batch), {t.max_steps} steps, seed {t.seed}",
        f"- optimizer: AdamW lr {config.optimizer.lr:g} -> {config.optimizer.min_lr:g}, clip {config.optimizer.clip_grad:g}",
    ]
    if config.method == "dpo":
        lines.append(
            f"- DPO: sigmoid loss, beta {config.dpo.beta:g}, reference log-probs from the base (once)"
        )
    if config.method == "rl":
        rl = config.rl
        lines.append(
            f"- RL: group {rl.group_size}, {rl.max_new_tokens} new tokens, temperature {rl.temperature:g}, "
            f"clip {rl.clip_eps:g}, KL {rl.kl_coef:g}, TIS cap {rl.tis_cap:g}, generator {rl.generator.kind}; "
            f"policies: {', '.join(str(p) for p in rl.policies)}"
        )
    for key, value in (extra or {}).items():
        lines.append(f"- {key}: {value}")
    lines += [
        "",
        "## Result",
        f"- steps: {last.get('step', 0)} of {t.max_steps}; wall time {wall_time_s:.1f} s",
    ]
    for key in ("loss", "accuracy", "margin", "reward_mean", "violation_rate", "ratio_mean", "kl"):
        if key in first:
            lines.append(
                f"- {key}: {first[key]:.4f} at step {first['step']} -> {last.get(key, float('nan')):.4f} at step {last['step']}"
            )
    alarms = [r["step"] for r in records if r.get("ratio_alarm")]
    if alarms:
        lines.append(
            f"- ALARM: trainer/generator probability ratio outside {config.rl.ratio_alarm} at steps {alarms[:20]}"
        )
    lines += ["", *[f"![{p}]({p})" for p in plots], "", "```json"]
    lines += [json.dumps({k: v for k, v in last.items() if k != "time"}, indent=2), "```", ""]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
