"""The post-training driver: check the base and the data, prepare the run directory, run the workers.

Run directory (a run in its own right: ``vibe eval``, ``open_run`` and a later post-training stage read it)::

    config.yaml            the base's RunConfig (model, data sources for held-out evaluation), out = here
    posttrain.yaml         the resolved PostTrainConfig
    tokenizer/             tokenizer.json (a copy of the base's) and meta.json (eod_id)
    chat_template.jinja    the template the data was rendered with (serve the model with it)
    metrics.jsonl          one record per logged step; metrics.discarded.jsonl after a --resume
    reference_logps.pt     DPO: the base model's log-probs of every pair, computed once
    checkpoints/           as pre-training's (trainers/_checkpoint.py)
    report.md, *.png       at the end
    attempt, logs/, ray/   as pre-training's

``--resume`` continues from the last checkpoint: records after it are moved to ``metrics.discarded.jsonl``,
so ``metrics.jsonl`` holds every step exactly once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainers import MetricsTail, finish_tracking, init_ray, latest_checkpoint, read_metrics, truncate_metrics
from trainers.posttrain._config import PostTrainConfig
from trainers.posttrain._policy import BaseRun, read_base_run
from trainers.posttrain._records import read_preference_data, read_prompt_data, read_sft_data
from trainers.posttrain._report import REPORT_FILES, write_posttrain_report
from vibe.core.config import dump_yaml, load_yaml
from vibe.core.errors import UserError
from vibe.core.log import run_log
from vibe.tracking import Tracker, start_run

__all__ = [
    "PostTrainResult",
    "check_data",
    "end_tracking",
    "posttrain",
    "prepare_run_dir",
    "resolve_paths",
    "start_tracking",
]

log = logging.getLogger(__name__)
# What a resumed run may change; anything else must equal posttrain.yaml.
_FREE = {"ray", "in_process", "tracking"}
_FREE_TRAINING = {"max_steps", "log_interval", "checkpoint_interval", "keep_checkpoints"}


@dataclass(frozen=True)
class PostTrainResult:
    run_dir: Path
    method: str
    final_step: int
    final_loss: float | None
    wall_time_s: float
    report: Path


def resolve_paths(config: PostTrainConfig) -> PostTrainConfig:
    """Absolute base, data, out and policy paths (Ray workers run elsewhere)."""
    rl = config.rl.model_copy(update={"policies": [Path(p).resolve() for p in config.rl.policies]})
    return config.model_copy(
        update={
            "base": Path(config.base).resolve(),
            "data": Path(config.data).resolve(),
            "out": Path(config.out).resolve(),
            "rl": rl,
        }
    )


def check_data(config: PostTrainConfig, base: BaseRun) -> int:
    """Read and tokenize the whole data file on the driver (fail before anything starts); returns its size."""
    seq = config.training.seq_length or base.config.model.seq_length
    kwargs: dict[str, Any] = {"template": base.template(), "encode": base.encoder(), "seq_length": seq}
    if config.method == "sft":
        return len(read_sft_data(config.data, **kwargs))
    if config.method == "dpo":
        return len(read_preference_data(config.data, **kwargs))
    return len(read_prompt_data(config.data, max_new_tokens=config.rl.max_new_tokens, **kwargs))


def _check_resumable(saved: PostTrainConfig, config: PostTrainConfig) -> None:
    old, new = saved.model_dump(mode="json"), config.model_dump(mode="json")
    changed = []
    for key, value in new.items():
        if key in _FREE:
            continue
        if isinstance(value, dict):
            free = _FREE_TRAINING if key == "training" else set()
            changed += [f"{key}.{k}" for k, v in value.items() if k not in free and v != old[key].get(k)]
        elif value != old[key]:
            changed.append(key)
    if changed:
        raise UserError(
            f"--resume: {', '.join(changed)} differs from {config.out}/posttrain.yaml; a resumed run keeps its "
            "method, base, data and hyper-parameters (choose a new --out to change them)"
        )


def prepare_run_dir(config: PostTrainConfig, base: BaseRun, *, resume: bool, attempt: str) -> int:
    """Create or check ``config.out``, claim it for ``attempt``, store tokenizer and template; returns the
    step to continue from (0: a fresh start)."""
    out = config.out
    has_run = (out / "metrics.jsonl").is_file() or (out / "checkpoints").is_dir()
    if has_run and not resume:
        ckpt = latest_checkpoint(out)
        hint = f"add --resume to continue from step {ckpt.step}" if ckpt else "add --resume to restart it"
        raise UserError(f"{out}: already holds a run; {hint}, or choose a new --out")
    if out == base.path:
        raise UserError(f"--out {out}: is the base run itself; choose a new directory")
    out.mkdir(parents=True, exist_ok=True)
    if resume and (out / "posttrain.yaml").is_file():
        _check_resumable(load_yaml(out / "posttrain.yaml", PostTrainConfig), config)
    tmp = out / f"attempt.{attempt}.tmp"
    tmp.write_text(attempt)
    os.replace(tmp, out / "attempt")
    step = 0
    if resume:
        time.sleep(0.5)  # an orphaned worker between its attempt check and its write finishes first
        ckpt = latest_checkpoint(out)
        step = ckpt.step if ckpt else 0
        moved = truncate_metrics(out, step=step)
        if moved:
            log.info("moved %d metric records after step %d to metrics.discarded.jsonl", moved, step)
    for sub in ("logs", "checkpoints", "tokenizer"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    dump_yaml(base.config.model_copy(update={"out": out}), out / "config.yaml")
    dump_yaml(config, out / "posttrain.yaml")
    _store_tokenizer(
        base, out / "tokenizer", seq_length=config.training.seq_length or base.config.model.seq_length
    )
    (out / "chat_template.jinja").write_text(base.template_source, encoding="utf-8")
    return step


def _store_tokenizer(base: BaseRun, target: Path, *, seq_length: int) -> None:
    """The base's tokenizer files in ``target`` (as an imported model carries them, so an HF export of the
    post-trained run finds them), with the chat template and the end-of-turn token declared."""
    source = base.tokenizer_path.parent
    if source.resolve() == target.resolve():
        return
    if source == base.path / "tokenizer":  # an imported model's own files: all of them
        for item in source.iterdir():
            if item.is_file():
                shutil.copyfile(item, target / item.name)
    else:  # a dataset's tokenizer: its end-of-document token ends a turn
        shutil.copyfile(base.tokenizer_path, target / "tokenizer.json")
        (target / "generation_config.json").write_text(
            json.dumps({"bos_token_id": base.eod_id, "eos_token_id": base.eod_id}) + "\n"
        )
    config_path = target / "tokenizer_config.json"
    tok_config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    if not tok_config:
        eod = base.tokenizer().id_to_token(base.eod_id)
        tok_config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": seq_length,
                      "clean_up_tokenization_spaces": False, "bos_token": eod, "eos_token": eod}  # fmt: skip
    tok_config["chat_template"] = base.template_source
    config_path.write_text(json.dumps(tok_config, indent=2) + "\n", encoding="utf-8")


def posttrain(config: PostTrainConfig, *, resume: bool = False) -> PostTrainResult:
    """SFT or DPO from ``config.base`` to ``training.max_steps`` (RL runs through ``tools.posttrain``)."""
    if config.method == "rl":
        raise UserError("method rl: run it with tools.posttrain.run_rl (`vibe posttrain rl`)")
    started = time.perf_counter()
    config = resolve_paths(config)
    base = read_base_run(config.base)
    examples = check_data(config, base)
    config.out.mkdir(parents=True, exist_ok=True)
    with run_log(config.out / "logs" / "driver.log"):
        attempt = uuid.uuid4().hex
        start = prepare_run_dir(config, base, resume=resume, attempt=attempt)
        log.info(
            "%s %s: %d examples, steps %d..%d",
            config.method,
            config.out,
            examples,
            start + 1,
            config.training.max_steps,
        )
        if start >= config.training.max_steps:
            return _result(config, started)
        payload = {"config": config.model_dump(mode="json"), "start_step": start, "attempt": attempt}
        tracker = start_tracking(config, start_step=start)
        tail = MetricsTail(
            config.out / "metrics.jsonl",
            first_step=start,
            max_steps=config.training.max_steps,
            tracker=tracker,
        ).start()
        try:
            if config.in_process:
                run_in_process(payload)
            else:
                _run_on_ray(config, payload)
        except BaseException:
            tail.close()
            end_tracking(tracker, config, status="FAILED")
            raise
        tail.close()
        result = _result(config, started)
        end_tracking(tracker, config)
        return result


def start_tracking(
    config: PostTrainConfig, *, start_step: int, tags: dict[str, str] | None = None
) -> Tracker:
    """The run's MLflow run (experiment ``vibe-posttrain``): every setting as a param (never blocks)."""
    return start_run(
        config.tracking,
        experiment="vibe-posttrain",
        name=config.out.name,
        params=config.model_dump(mode="json", exclude={"tracking"}),
        tags={
            "vibe.run_dir": str(config.out),
            "vibe.kind": f"posttrain.{config.method}",
            "vibe.base": str(config.base),
            "vibe.start_step": str(start_step),
            **(tags or {}),
        },
    )


def end_tracking(tracker: Tracker, config: PostTrainConfig, *, status: str = "FINISHED") -> None:
    """Report, plots, configs and metrics as artifacts; end the MLflow run; say where it is in report.md."""
    finish_tracking(tracker, config.out, files=REPORT_FILES[config.method], status=status)


def run_in_process(payload: dict[str, Any]) -> None:
    """The worker loop in this process, in a one-rank gloo group (created and torn down here if absent)."""
    import torch
    import torch.distributed as dist

    from trainers.posttrain._loop import posttrain_loop

    created = not dist.is_initialized()
    if created:
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        posttrain_loop(
            {**payload, "in_process": True, "threads": payload.get("threads", torch.get_num_threads())}
        )
    finally:
        if created:
            dist.destroy_process_group()


def _run_on_ray(config: PostTrainConfig, payload: dict[str, Any]) -> None:
    import ray
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer

    init_ray(config.ray)  # the one way to start or join Ray: an embedded one listens on loopback only
    world = config.parallel.world_size
    cpus = config.ray.cpus_per_worker or max(1.0, (os.cpu_count() or 1) // world)
    trainer = TorchTrainer(
        _entry,
        train_loop_config={**payload, "threads": max(1, int(cpus))},
        scaling_config=ray.train.ScalingConfig(
            num_workers=world, use_gpu=False, resources_per_worker={"CPU": cpus}
        ),
        torch_config=TorchConfig(backend="gloo"),
        run_config=ray.train.RunConfig(
            name=f"posttrain-{int(time.time() * 1000)}",
            storage_path=str(config.out / "ray"),
            failure_config=ray.train.FailureConfig(max_failures=0),
        ),
    )
    try:
        trainer.fit()
    except Exception as error:
        ckpt = latest_checkpoint(config.out)
        again = f"--resume continues from step {ckpt.step}" if ckpt else "--resume starts it over"
        lines = [ln for ln in str(error).splitlines() if "Error" in ln] or [repr(error)]
        raise UserError(
            f"{config.method} failed: {lines[-1].strip()[:400]}; see {config.out}/logs/; {again}"
        ) from None


def _entry(payload: dict[str, Any]) -> None:
    from trainers.posttrain._loop import posttrain_loop

    posttrain_loop(payload)


def _result(config: PostTrainConfig, started: float) -> PostTrainResult:
    wall = time.perf_counter() - started
    report = write_posttrain_report(config.out, config, wall_time_s=wall)
    records = read_metrics(config.out / "metrics.jsonl")
    last = records[-1] if records else {}
    return PostTrainResult(
        run_dir=config.out,
        method=config.method,
        final_step=int(last.get("step", 0)),
        final_loss=last.get("loss"),
        wall_time_s=wall,
        report=report,
    )
