"""``vibe posttrain sft|dpo|rl --base RUN --data FILE --out RUN``, and ``vibe posttrain from-synth`` and
``vibe posttrain pairs`` (on-policy DPO pairs).

Flags override ``--config`` (a PostTrainConfig YAML); with ``--resume`` and no ``--config`` the run's own
``OUT/posttrain.yaml`` is the base. ``--policy`` files gate the run like a training run and, for ``rl``, their
``alignment:`` rules are the reward. The ledger is ``WORKDIR/ledger.sqlite``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from vibe.cli._errors import user_errors

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

Base = Annotated[Path | None, typer.Option("--base", help="Base run directory (`vibe train` --out).")]
Data = Annotated[Path | None, typer.Option("--data", help="JSONL data file.")]
Out = Annotated[Path | None, typer.Option("--out", help="The new run directory.")]
Config = Annotated[Path | None, typer.Option("--config", help="PostTrainConfig YAML; flags override it.")]
Policy = Annotated[
    list[Path] | None, typer.Option("--policy", help="Policy file (repeat: organisation first).")
]
Steps = Annotated[int | None, typer.Option("--max-steps")]
Lr = Annotated[float | None, typer.Option("--lr")]
Batch = Annotated[
    int | None, typer.Option("--global-batch", help="Conversations, pairs or (rl) prompts per step.")
]
Micro = Annotated[int | None, typer.Option("--micro-batch")]
Ckpt = Annotated[int | None, typer.Option("--checkpoint-interval")]
Dp = Annotated[int | None, typer.Option("--dp")]
Tp = Annotated[int | None, typer.Option("--tp")]
InProcess = Annotated[bool, typer.Option("--in-process", help="No Ray: run in this process (one worker).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint.")]
Team = Annotated[str | None, typer.Option(help="The team it works for (team policy and budget).")]
Workdir = Annotated[
    Path, typer.Option(help="Where the ledger lives ($VIBE_LEDGER, else WORKDIR/ledger.sqlite).")
]


def _run(
    method: str,
    flags: dict[str, Any],
    *,
    config: Path | None,
    out: Path | None,
    policy: list[Path] | None,
    team: str | None,
    workdir: Path,
    resume: bool,
) -> None:
    with user_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tools.posttrain import run_posttrain
        from trainers.posttrain import load_posttrain_config
        from vibe.ledger import SqliteLedger, default_ledger_path

        overrides = {k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items() if v is not None}
        overrides["method"] = method
        if method == "rl" and policy:
            overrides["rl.policies"] = [str(p.resolve()) for p in policy]
        source = config
        if source is None and resume and out is not None and (out / "posttrain.yaml").is_file():
            source = out / "posttrain.yaml"
        run_config = load_posttrain_config(source, overrides=overrides)
        gate = None
        if policy:
            from policies import PolicyGate

            gate = PolicyGate.from_files([p.resolve() for p in policy], team=team)
        workdir.mkdir(parents=True, exist_ok=True)
        with SqliteLedger(default_ledger_path(workdir)) as ledger:
            result = run_posttrain(
                run_config, resume=resume, gate=gate, ledger=ledger, thread_id=f"cli-posttrain-{method}"
            )
    loss = getattr(result, "final_loss", None)
    reward = getattr(result, "last_reward", None)
    shown = f"loss {loss:.4f}" if loss is not None else f"reward {reward:.3f}" if reward is not None else ""
    typer.echo(
        f"{method} step {result.final_step}: {shown}, {result.wall_time_s:.1f}s; report: {result.report}"
    )


def _common(
    base: Path | None,
    data: Path | None,
    out: Path | None,
    max_steps: int | None,
    lr: float | None,
    batch: int | None,
    micro: int | None,
    ckpt: int | None,
    in_process: bool,
) -> dict[str, Any]:
    return {
        "base": base, "data": data, "out": out, "training.max_steps": max_steps, "optimizer.lr": lr,
        "training.global_batch_size": batch, "training.micro_batch_size": micro,
        "training.checkpoint_interval": ckpt, "in_process": True if in_process else None,
    }  # fmt: skip


@app.command("sft")
def sft(
    base: Base = None, data: Data = None, out: Out = None, config: Config = None, policy: Policy = None,
    max_steps: Steps = None, lr: Lr = None, global_batch: Batch = None, micro_batch: Micro = None,
    checkpoint_interval: Ckpt = None, dp: Dp = None, tp: Tp = None, in_process: InProcess = False,
    resume: Resume = False, team: Team = None, workdir: Workdir = Path("runs"),
) -> None:  # fmt: skip
    """Supervised fine-tuning on chat data ({"messages": [...]} per line), assistant tokens only."""
    flags = _common(
        base, data, out, max_steps, lr, global_batch, micro_batch, checkpoint_interval, in_process
    )
    _run(
        "sft",
        {**flags, "parallel.dp": dp, "parallel.tp": tp},
        config=config,
        out=out,
        policy=policy,
        team=team,
        workdir=workdir,
        resume=resume,
    )


@app.command("dpo")
def dpo(
    base: Base = None, data: Data = None, out: Out = None, config: Config = None, policy: Policy = None,
    max_steps: Steps = None, lr: Lr = None, global_batch: Batch = None, micro_batch: Micro = None,
    checkpoint_interval: Ckpt = None, dp: Dp = None, tp: Tp = None, in_process: InProcess = False,
    beta: Annotated[float | None, typer.Option("--beta", help="DPO beta (default 0.1).")] = None,
    resume: Resume = False, team: Team = None, workdir: Workdir = Path("runs"),
) -> None:  # fmt: skip
    """Direct preference optimisation on {"prompt", "chosen", "rejected"} pairs (sigmoid loss)."""
    flags = _common(
        base, data, out, max_steps, lr, global_batch, micro_batch, checkpoint_interval, in_process
    )
    _run(
        "dpo",
        {**flags, "parallel.dp": dp, "parallel.tp": tp, "dpo.beta": beta},
        config=config,
        out=out,
        policy=policy,
        team=team,
        workdir=workdir,
        resume=resume,
    )


@app.command("rl")
def rl(
    base: Base = None, data: Data = None, out: Out = None, config: Config = None, policy: Policy = None,
    max_steps: Steps = None, lr: Lr = None, global_batch: Batch = None, micro_batch: Micro = None,
    checkpoint_interval: Ckpt = None, in_process: InProcess = False,
    group_size: Annotated[int | None, typer.Option("--group-size", help="Completions per prompt.")] = None,
    max_new_tokens: Annotated[int | None, typer.Option("--max-new-tokens")] = None,
    kl_coef: Annotated[float | None, typer.Option("--kl-coef")] = None,
    generator: Annotated[str | None, typer.Option("--generator", help="megatron (in process) or vllm.")] = None,
    generator_url: Annotated[str | None, typer.Option("--generator-url", help="vllm: the server's URL.")] = None,
    resume: Resume = False, team: Team = None, workdir: Workdir = Path("runs"),
) -> None:  # fmt: skip
    """GRPO-style RL on {"prompt", ...} records, rewarded by the --policy files' alignment: rules."""
    flags = _common(
        base, data, out, max_steps, lr, global_batch, micro_batch, checkpoint_interval, in_process
    )
    flags |= {"rl.group_size": group_size, "rl.max_new_tokens": max_new_tokens, "rl.kl_coef": kl_coef,
              "rl.generator.kind": generator, "rl.generator.url": generator_url}  # fmt: skip
    _run("rl", flags, config=config, out=out, policy=policy, team=team, workdir=workdir, resume=resume)


@app.command("from-synth")
def from_synth(
    samples: Annotated[Path, typer.Argument(help="A `vibe synth` output directory or its samples.jsonl.")],
    out: Annotated[Path, typer.Option("--out", help="The chat JSONL to write.")],
) -> None:
    """Convert `vibe synth` samples into chat SFT data, keeping each sample's provenance."""
    with user_errors():
        from tools.posttrain import chat_from_synth

        n = chat_from_synth(samples, out)
    typer.echo(f"{n} conversations written to {out}")


@app.command("pairs")
def pairs(
    base: Annotated[Path, typer.Option("--base", help="The model to sample from (a run directory).")],
    data: Annotated[Path, typer.Option("--data", help='RL prompt JSONL ({"prompt": ...} per line).')],
    policy: Annotated[list[Path], typer.Option("--policy", help="Policy file(s) with alignment: rules.")],
    out: Annotated[Path, typer.Option("--out", help="The preference JSONL to write.")],
    k: Annotated[int, typer.Option("-k", help="Completions sampled per prompt.")] = 4,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 32,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """On-policy DPO pairs: k samples per prompt, the best against the worst by the policy reward."""
    with user_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tools.posttrain import sample_preference_pairs

        n = sample_preference_pairs(
            base=base, prompts=data, policies=policy, out=out, k=k, max_new_tokens=max_new_tokens, seed=seed
        )
    typer.echo(f"{n} preference pairs written to {out}")
