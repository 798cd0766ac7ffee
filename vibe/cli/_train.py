"""``vibe train``: build a RunConfig from ``--config`` YAML plus flags (flags win) and launch it under Ray.

With ``--resume`` and no ``--config``, the run's own ``RUN_DIR/config.yaml`` is the base, so
``vibe train --out RUN_DIR --resume`` continues a run exactly as it was configured.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from vibe.cli._errors import user_errors

__all__ = ["train"]


def _init_model(init_from: Path) -> dict[str, Any]:
    from vibe.core.errors import UserError

    path = init_from / "config.yaml"
    if not path.is_file():
        raise UserError(
            f"--init-from {init_from}: no config.yaml; give a `vibe train` or `vibe model import` --out"
        )
    from trainers import RunConfig
    from vibe.core.config import load_yaml  # the one bounded YAML reader; a malformed file names its field

    return load_yaml(path, RunConfig).model.model_dump(mode="json")


def train(
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="Dataset dir from `vibe data ingest` (repeatable).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Run directory.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="RunConfig YAML; flags override it.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model preset: tiny, small, base, medium, large.")
    ] = None,
    layers: Annotated[int | None, typer.Option("--layers")] = None,
    hidden: Annotated[int | None, typer.Option("--hidden")] = None,
    heads: Annotated[int | None, typer.Option("--heads")] = None,
    seq_len: Annotated[int | None, typer.Option("--seq-len")] = None,
    experts: Annotated[
        int | None, typer.Option("--experts", help="MoE experts per layer (omit: dense).")
    ] = None,
    topk: Annotated[int | None, typer.Option("--topk", help="MoE experts per token.")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps")] = None,
    micro_batch: Annotated[int | None, typer.Option("--micro-batch")] = None,
    global_batch: Annotated[int | None, typer.Option("--global-batch")] = None,
    lr: Annotated[float | None, typer.Option("--lr")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    eval_interval: Annotated[int | None, typer.Option("--eval-interval")] = None,
    checkpoint_interval: Annotated[int | None, typer.Option("--checkpoint-interval")] = None,
    dp: Annotated[int | None, typer.Option("--dp", help="Data parallel size.")] = None,
    tp: Annotated[int | None, typer.Option("--tp", help="Tensor parallel size.")] = None,
    ep: Annotated[int | None, typer.Option("--ep", help="Expert parallel size.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu or cuda.")] = None,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Existing Ray cluster.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint.")] = False,
    init_from: Annotated[
        Path | None,
        typer.Option(
            "--init-from",
            help="Start from this run's or imported model's weights (fresh optimizer); its model is the default.",
        ),
    ] = None,
) -> None:
    """Train a GPT with Megatron-core under Ray."""
    with user_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Megatron / torch deprecation noise; workers log theirs to logs/
        from trainers import launch, load_run_config

        overrides: dict[str, Any] = {
            "out": str(out) if out else None,
            "model.preset": model,
            "model.num_layers": layers,
            "model.hidden_size": hidden,
            "model.num_attention_heads": heads,
            "model.seq_length": seq_len,
            "model.num_experts": experts,
            "model.moe_router_topk": topk,
            "training.max_steps": max_steps,
            "training.micro_batch_size": micro_batch,
            "training.global_batch_size": global_batch,
            "training.seed": seed,
            "training.eval_interval": eval_interval,
            "training.checkpoint_interval": checkpoint_interval,
            "optimizer.lr": lr,
            "parallel.dp": dp,
            "parallel.tp": tp,
            "parallel.ep": ep,
            "device": device,
            "ray.address": ray_address,
        }
        if data:
            overrides["data.sources"] = [{"path": str(d)} for d in data]
        overrides = {k: v for k, v in overrides.items() if v is not None}  # sizes override the preset's
        if init_from is not None:
            overrides["init_from"] = str(init_from)
            if config is None and not resume:  # the source's model, with any model flag on top
                overrides = {"model": _init_model(init_from), **overrides}
        base = config
        if base is None and resume and out is not None and (out / "config.yaml").is_file():
            base = out / "config.yaml"
        run_config = load_run_config(base, overrides=overrides)
        result = launch(run_config, resume=resume)

        def fmt(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.4f}"

        typer.echo(
            f"step {result.final_step}: loss {fmt(result.final_loss)}, val loss {fmt(result.val_loss)}, "
            f"val {fmt(result.val_bpb)} bits/byte, {result.wall_time_s:.1f}s; report: {result.report}"
        )
