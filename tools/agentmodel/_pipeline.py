"""Tune a model for one of the agent's own tasks, stage by stage, each stage's output reused on a rerun.

    OUT/base/      1 import   the base HF model as a trainer run (tools.model: verified, hashed)
    OUT/data/      2 data     the task's SFT conversations and RL prompts, and data.json (sizes, overlap)
    OUT/sft/       3 sft      supervised fine-tuning (trainers.posttrain, resumable from its checkpoints)
    OUT/rl/        4 rl       GRPO against the task's reward (tools.posttrain.run_rl, same)
    OUT/export/    5 export   an HF directory, round trip bit-exact and logits checked against transformers
                   6 register the agent's model (vibe.llm), unless told not to
    OUT/tune.json  what each stage did and how long it took: the run's readable report

A stage is done when its marker exists (``import.json``, ``data.json``, the last checkpoint at the planned
step, ``export.json``); a killed run started again skips what is done and resumes the stage it was in.
What the task is (its data and its reward) comes from above: :class:`TuneTask`. ``vibe llm tune-agent``
passes the agent's intake task (``vibe.agent``: requests into Drafts, rewarded by the intent validation).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.agentmodel._config import TuneConfig
from tools.posttrain import FunctionReward
from vibe.core.errors import UserError

__all__ = ["STAGES", "TaskData", "TuneResult", "TuneTask", "tune_model"]

log = logging.getLogger(__name__)

STAGES = ("import", "data", "sft", "rl", "export", "register")


@dataclass(frozen=True)
class TaskData:
    sft: list[dict[str, Any]]  # {"messages": [...], "provenance": {...}}
    rl: list[dict[str, Any]]  # {"prompt": [...], ...fields the reward reads}
    report: dict[str, Any]  # sizes, per kind, overlap with the held-out sets ("overlap": {...: 0})


@dataclass(frozen=True)
class TuneTask:
    """What to tune for: ``make_data(config)`` builds the data, ``reward`` scores RL completions."""

    name: str
    make_data: Callable[[TuneConfig], TaskData]
    reward: FunctionReward


@dataclass(frozen=True)
class TuneResult:
    out: Path
    export: Path
    report: Path
    summary: dict[str, Any]


class _Report:
    """OUT/tune.json, rewritten after every stage."""

    def __init__(self, path: Path, config: TuneConfig) -> None:
        self.path = path
        old = json.loads(path.read_text()) if path.is_file() else {}
        self.data: dict[str, Any] = {
            "config": config.model_dump(mode="json"),
            "stages": old.get("stages", {}),
        }

    def stage(self, stage: str, **fields: Any) -> None:
        self.data["stages"][stage] = {**self.data["stages"].get(stage, {}), **fields}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n")
        tmp.replace(self.path)


def _say(number: int, name: str, message: str) -> None:
    log.info("[%d/%d] %s: %s", number, len(STAGES), name, message)


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    tmp.replace(path)


def _stage_import(config: TuneConfig, out: Path) -> dict[str, Any]:
    from tools.model import import_base_model

    target = out / "base"
    record = target / "import.json"
    if record.is_file():
        return {"reused": True, **_import_summary(json.loads(record.read_text()))}
    shutil.rmtree(target, ignore_errors=True)  # a killed import leaves no half-run behind
    result = import_base_model(_base_model(config), target, seq_length=config.seq_length)
    return {"reused": False, **_import_summary(result.record)}


def _import_summary(record: dict[str, Any]) -> dict[str, Any]:
    v = record["verification"]
    return {"ok": v["ok"], "round_trip_bit_exact": v["round_trip"]["bit_exact"],
            "logits_max_abs_diff": v["logits"].get("max_abs_diff")}  # fmt: skip


def _base_model(config: TuneConfig) -> Path:
    if config.base_model is not None:
        return Path(config.base_model)
    from vibe.llm import default_model_dir

    path = default_model_dir()
    if not (path / "config.json").is_file():
        raise UserError(f"{path}: the base model is not converted yet; run `vibe llm install` first")
    return path


def _stage_data(config: TuneConfig, out: Path, task: TuneTask) -> dict[str, Any]:
    target = out / "data"
    marker = target / "data.json"
    if marker.is_file():
        return {"reused": True, **json.loads(marker.read_text())}
    target.mkdir(parents=True, exist_ok=True)
    data = task.make_data(config)
    overlap = data.report.get("overlap", {})
    if any(overlap.values()):
        raise UserError(
            f"{task.name}: the training data overlaps the held-out sets ({overlap}); not training"
        )
    sft, rl, lengths = _fit(config, out, data)
    _write_jsonl(target / "sft.jsonl", sft)
    _write_jsonl(target / "rl.jsonl", rl)
    report = {**data.report, "sft_records": len(sft), "rl_records": len(rl), "tokens": lengths}
    marker.write_text(json.dumps(report, indent=2) + "\n")
    return {"reused": False, **report}


def _fit(config: TuneConfig, out: Path, data: TaskData) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """The SFT conversations that fit ``seq_length`` and the RL prompts that fit it with ``max_new_tokens``,
    tokenized as the trainer will (the imported base's template); the lengths and what was dropped."""
    from trainers.posttrain import read_base_run, tokenize_chat, tokenize_prompt

    base = read_base_run(out / "base")
    template, encode = base.template(), base.encoder()
    seq, room = config.seq_length, config.seq_length - config.rl.max_new_tokens
    sft_lengths = [len(tokenize_chat(r["messages"], template, encode).ids) - 1 for r in data.sft]
    rl_lengths = [len(tokenize_prompt(_as_messages(r["prompt"]), template, encode)) for r in data.rl]
    sft = [r for r, n in zip(data.sft, sft_lengths, strict=True) if n <= seq]
    rl = [r for r, n in zip(data.rl, rl_lengths, strict=True) if n <= room]

    def stats(values: list[int]) -> dict[str, Any]:
        ordered = sorted(values) or [0]
        return {"max": ordered[-1], "mean": round(sum(ordered) / len(ordered), 1),
                "p95": ordered[int(0.95 * (len(ordered) - 1))]}  # fmt: skip

    lengths = {
        "seq_length": seq, "sft": stats(sft_lengths), "rl_prompt": stats(rl_lengths),
        "sft_dropped_too_long": len(data.sft) - len(sft), "rl_dropped_too_long": len(data.rl) - len(rl),
    }  # fmt: skip
    if lengths["sft_dropped_too_long"] or lengths["rl_dropped_too_long"]:
        log.warning("data: %d SFT / %d RL samples longer than seq_length %d dropped",
                    lengths["sft_dropped_too_long"], lengths["rl_dropped_too_long"], seq)  # fmt: skip
    return sft, rl, lengths


def _as_messages(prompt: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def _done_at(run: Path, steps: int) -> bool:
    from trainers import latest_checkpoint

    checkpoint = latest_checkpoint(run) if run.is_dir() else None
    return checkpoint is not None and checkpoint.step >= steps


def _started(run: Path) -> bool:
    return (run / "metrics.jsonl").is_file() or (run / "checkpoints").is_dir()


def _last_metrics(run: Path) -> dict[str, Any]:
    from trainers.posttrain import read_metrics

    records = read_metrics(run / "metrics.jsonl") if (run / "metrics.jsonl").is_file() else []
    return records[-1] if records else {}


@contextlib.contextmanager
def _watch(run: Path, *, stage: str, steps: int, key: str, every_s: float = 5.0) -> Iterator[None]:
    """Log each new record of ``run``'s metrics.jsonl (step i/N, ``key``, seconds per step) while in the block."""
    stop = threading.Event()

    def poll() -> None:
        seen = 0
        while not stop.wait(every_s):
            path = run / "metrics.jsonl"
            lines = path.read_text().splitlines() if path.is_file() else []
            for line in lines[seen:]:
                try:
                    record = json.loads(line)
                except ValueError:  # a line being written
                    break
                seen += 1
                value = record.get(key)
                shown = f"{value:.4f}" if isinstance(value, float) else value
                seconds = record.get("step_s") or sum(
                    record.get(k, 0.0) for k in ("generate_s", "train_s", "sync_s")
                )
                log.info(
                    "%s: step %s/%d, %s %s, %.0f s/step",
                    stage,
                    record.get("step"),
                    steps,
                    key,
                    shown,
                    seconds,
                )

    thread = threading.Thread(target=poll, name=f"watch-{stage}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every_s + 1)


def _sft_steps(config: TuneConfig, out: Path) -> int:
    """The SFT stage's steps: ``sft.steps``, or (None) one pass over the data stage's conversations."""
    if config.sft.steps is not None:
        return config.sft.steps
    records = json.loads((out / "data" / "data.json").read_text())["sft_records"]
    return -(-records // config.sft.global_batch_size)


def _stage_sft(config: TuneConfig, out: Path) -> dict[str, Any]:
    from tools.posttrain import run_posttrain
    from trainers import OptimizerConfig
    from trainers.posttrain import PostTrainConfig, PostTrainingConfig

    s, run = config.sft, out / "sft"
    steps = _sft_steps(config, out)
    if _done_at(run, steps):
        return {"reused": True, "steps": steps, "loss": _last_metrics(run).get("loss")}
    post = PostTrainConfig(
        method="sft", base=out / "base", data=out / "data" / "sft.jsonl", out=run, in_process=True,
        optimizer=OptimizerConfig(lr=s.lr, min_lr=s.min_lr, warmup_steps=s.warmup_steps, weight_decay=0.0),
        training=PostTrainingConfig(
            micro_batch_size=s.micro_batch_size, global_batch_size=s.global_batch_size, max_steps=steps,
            checkpoint_interval=s.checkpoint_interval, seq_length=config.seq_length, seed=config.seed,
        ),
    )  # fmt: skip
    log.info("sft: %d steps x %d conversations (one pass: %s)", steps, s.global_batch_size, s.steps is None)
    with _watch(run, stage="sft", steps=steps, key="loss"):
        result = run_posttrain(post, resume=_started(run))
    return {"reused": False, "steps": result.final_step, "loss": result.final_loss,
            "first_loss": (_first_metrics(run) or {}).get("loss"), "report": str(result.report)}  # fmt: skip


def _first_metrics(run: Path) -> dict[str, Any] | None:
    from trainers.posttrain import read_metrics

    records = read_metrics(run / "metrics.jsonl")
    return records[0] if records else None


def _stage_rl(config: TuneConfig, out: Path, task: TuneTask) -> dict[str, Any]:
    from tools.posttrain import run_rl
    from trainers import OptimizerConfig
    from trainers.posttrain import (
        PostTrainConfig,
        PostTrainingConfig,
        RLConfig,
        read_base_run,
        read_prompt_data,
    )

    r, run = config.rl, out / "rl"
    if _done_at(run, r.steps):
        return {"reused": True, "steps": r.steps, "reward": _last_metrics(run).get("reward_mean")}
    post = PostTrainConfig(
        method="rl", base=out / "sft", data=out / "data" / "rl.jsonl", out=run, in_process=True,
        optimizer=OptimizerConfig(lr=r.lr, min_lr=r.lr / 10, warmup_steps=0, weight_decay=0.0),
        training=PostTrainingConfig(
            micro_batch_size=r.group_size, global_batch_size=r.prompts_per_step, max_steps=r.steps,
            checkpoint_interval=r.checkpoint_interval, seq_length=config.seq_length, seed=config.seed,
        ),
        rl=RLConfig(group_size=r.group_size, max_new_tokens=r.max_new_tokens, temperature=r.temperature),
    )  # fmt: skip
    base = read_base_run(out / "sft")
    prompts = read_prompt_data(
        post.data, template=base.template(), encode=base.encoder(), seq_length=config.seq_length,
        max_new_tokens=r.max_new_tokens,
    )  # fmt: skip
    stops = [s[0] for s in base.stop_sequences() if len(s) == 1]

    def generator(trainer: Any) -> Any:
        from tools.agentmodel._generate import TransformersGenerator

        return TransformersGenerator(
            trainer, hf_dir=_base_model(config), probe=(prompts[0].prompt, 8), stops=stops
        )

    result = run_rl(post, resume=_started(run), generator=generator, reward=task.reward)
    return {"reused": False, "steps": result.final_step, "first_reward": result.first_reward,
            "last_reward": result.last_reward, "report": str(result.report)}  # fmt: skip


def _stage_export(config: TuneConfig, out: Path) -> dict[str, Any]:
    from tools.model import export_model

    source = out / ("rl" if config.rl.steps else "sft" if config.sft.steps != 0 else "base")
    target = out / "export"
    record_path = target / "export.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else None
    if record is not None and _is_export_of(record, source):
        reused = True
    else:
        shutil.rmtree(target, ignore_errors=True)
        record = export_model(source, target).record
        reused = False
    v = record["verification"]
    return {
        "reused": reused, "from": str(source), "ok": v["ok"], "round_trip_bit_exact": v["round_trip"]["bit_exact"],
        "round_trip_tensors": v["round_trip"].get("tensors"), "logits_max_abs_diff": v["logits"].get("max_abs_diff"),
        "logits_top1_agreement": v["logits"].get("top1_agreement"),
    }  # fmt: skip


def _is_export_of(record: dict[str, Any], source: Path) -> bool:
    """Whether an export record is of ``source``'s latest checkpoint (else it is stale: export again)."""
    from trainers import latest_checkpoint

    checkpoint = latest_checkpoint(source)
    return (
        record.get("run") == str(source) and checkpoint is not None and record.get("step") == checkpoint.step
    )


def tune_model(config: TuneConfig, *, task: TuneTask) -> TuneResult:
    """Run (or continue) the tune ``config`` for ``task``; see the module docstring for the stages."""
    started = time.perf_counter()
    out = Path(config.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = config.model_copy(update={"out": out})
    report = _Report(out / "tune.json", config)
    stages: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("import", lambda: _stage_import(config, out)),
        ("data", lambda: _stage_data(config, out, task)),
        ("sft", lambda: _stage_sft(config, out)),
        ("rl", lambda: _stage_rl(config, out, task)),
        ("export", lambda: _stage_export(config, out)),
    ]
    for number, (name, run) in enumerate(stages, start=1):
        if (name == "sft" and config.sft.steps == 0) or (name == "rl" and not config.rl.steps):
            _say(number, name, "skipped (0 steps)")
            report.stage(name, skipped=True)
            continue
        _say(number, name, "starting")
        t0 = time.perf_counter()
        report.stage(name, state="running")
        fields = run()
        seconds = round(time.perf_counter() - t0, 1)
        report.stage(name, state="done", seconds=seconds, **fields)
        _say(number, name, f"{'reused' if fields.get('reused') else 'done'} in {seconds:g} s")
    export = out / "export"
    if not report.data["stages"]["export"].get("ok"):
        raise UserError(f"{export}: exported, but the parity check failed (see {export}/export.json)")
    if config.make_agent_model:
        from vibe.llm import register_agent_model

        data = report.data["stages"].get("data", {})
        details = {"task": task.name, "examples": data.get("sft_records"), "sft_steps": _sft_steps(config, out),
                   "rl_steps": config.rl.steps, "overlap": data.get("overlap")}  # fmt: skip
        model = register_agent_model(
            export, base=str(_base_model(config)), report=out / "tune.json", details=details
        )
        report.stage("register", state="done", path=str(model.path), sha256=model.sha256, name=model.name)
        _say(6, "register", f"{model.path} is the agent's model (served as {model.name})")
    else:
        report.stage("register", skipped=True)
        _say(6, "register", "skipped (--no-register)")
    report.data["seconds"] = round(time.perf_counter() - started, 1)
    report.stage("export")  # rewrites the file with the total
    return TuneResult(out=out, export=export, report=out / "tune.json", summary=report.data)
