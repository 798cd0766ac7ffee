"""One trial = one real short training run, as a Ray task with the trial's own resource request.

Why a plain Ray task and not ``trainers.launch``: a proxy trial is one worker (``parallel.world_size == 1``),
and Ray Train's ``TorchTrainer`` adds 25 to 35 s of start-up per run on this kind of machine (see
``BENCHMARKS.md``, hpo section), more than a tiny trial trains. The task below runs the very same worker loop
(``trainers._worker.train_loop``) in the Ray worker process, on an in-process gloo group of size 1; Ray
reuses its worker processes across tasks, so torch and Megatron are imported once per worker, not per trial.
Trials whose layout needs several workers (dp/tp/ep > 1) go through ``trainers.launch`` from a task that
asks for no CPU itself (the Ray Train workers it starts hold the resources).

Stopping a trial (pruned, deadline, budget) uses the trainer's own ownership token: the driver writes a new
token to ``RUN_DIR/attempt``; the worker checks it before every metrics record and checkpoint and raises
(see ``trainers._worker.check_attempt``), so a stopped trial writes nothing after the decision. The same
mechanism stops trials orphaned by a killed driver once the next driver takes their run directory over.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from vibe.core.log import ROOTS

__all__ = ["STOP_PREFIX", "go_on", "prepare_trial_dir", "run_trial", "stop_trial"]

STOP_PREFIX = "stopped-by-hpo:"


def prepare_trial_dir(config: Any) -> str:
    """Create the trial's run directory (config.yaml, logs/, attempt token); returns the token."""
    from vibe.core.config import dump_yaml

    run_dir = Path(config.out)
    for sub in ("logs", "checkpoints"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    dump_yaml(config, run_dir / "config.yaml")
    attempt = uuid.uuid4().hex
    _write_token(run_dir, attempt)
    return attempt


def stop_trial(run_dir: Path, *, reason: str) -> None:
    """Make the trial's worker stop at its next record (it sees a token that is not its own).

    Creates the directory if the trial never got one (a driver killed between ``ask`` and the start, a
    trial the policy denied), so every trial number has exactly one run directory saying how it ended."""
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_token(run_dir, f"{STOP_PREFIX}{reason}")


def go_on(run_dir: Path, step: int) -> None:
    """The pruner's verdict at a rung: the worker holding at ``step`` (``trainers.await_verdict``) trains on."""
    tmp = run_dir / f"verdict.{uuid.uuid4().hex}.tmp"
    tmp.write_text(str(step))
    os.replace(tmp, run_dir / "verdict")


def _write_token(run_dir: Path, token: str) -> None:
    tmp = run_dir / f"attempt.{uuid.uuid4().hex}.tmp"
    tmp.write_text(token)
    os.replace(tmp, run_dir / "attempt")


def run_trial(payload: dict[str, Any]) -> dict[str, Any]:
    """The body of the Ray task: train ``payload["config"]`` in this process; returns timing facts.

    ``payload``: config (RunConfig as JSON), attempt, threads, precision. Raises what the training raised
    (a stopped trial raises ``RuntimeError`` naming the superseding token).
    """
    import torch.distributed as dist

    from trainers import train_loop

    started = time.time()
    handlers = {name: list(logging.getLogger(name).handlers) for name in (*ROOTS, "megatron", "py.warnings")}
    dist.init_process_group(backend="gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        train_loop({"start_step": 0, "peak_flops_per_worker": None, **payload})
    finally:
        dist.destroy_process_group()
        for name, before in handlers.items():  # the worker added a file handler for this run: drop it
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                if handler not in before:
                    logger.removeHandler(handler)
                    handler.close()
    return {"started": started, "finished": time.time(), "pid": os.getpid()}


def run_launched_trial(payload: dict[str, Any]) -> dict[str, Any]:
    """A multi-worker trial: ``trainers.launch`` under Ray Train (from a task that holds no CPU)."""
    from trainers import RunConfig, launch

    started = time.time()
    config = RunConfig.model_validate(payload["config"])
    config = config.model_copy(update={"tracking": config.tracking.model_copy(update={"enabled": False})})
    # the directory was prepared (config.yaml, attempt) by the driver; the driver tracks the trial in MLflow
    launch(config, resume=True)
    return {"started": started, "finished": time.time(), "pid": os.getpid()}
