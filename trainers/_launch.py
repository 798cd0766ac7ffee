"""The driver: prepare the run directory, start (or join) Ray, run the workers with Ray Train, report.

``launch(config)`` runs ``_worker.train_loop`` on ``dp * tp`` Ray Train workers (``TorchTrainer``,
gloo on CPU, nccl on GPU). Ray is an embedded local instance (started once per process and kept for
later runs) unless ``ray.address`` or ``$RAY_ADDRESS`` names an existing cluster, which then runs the
same workers. Workers write to the run directory directly (a shared filesystem on a real cluster).
While they run, the driver tails ``metrics.jsonl`` into a progress bar.

Run directory::

    config.yaml               the resolved RunConfig
    metrics.jsonl             one JSON record per logged step (step, loss, lr, grad_norm, tokens_per_s,
                              mfu, aux_loss for MoE, val_loss / val_bpb at eval steps)
    metrics.discarded.jsonl   records of steps redone after a crash (only after --resume)
    checkpoints/step_NNNNNNN/ see _checkpoint.py
    logs/driver.log, logs/worker_<rank>.log
    attempt                   the token of the driver that owns the run now (see _prepare_run_dir)
    cache/                    Megatron's dataset index cache
    tokenizer/                with init_from: the source's tokenizer files (chat template), for export
    report.md, loss.png       written at the end
    ray/                      Ray Train's own bookkeeping
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainers._checkpoint import CheckpointInfo, latest_checkpoint
from trainers._config import RayConfig, RunConfig
from trainers._data import read_sources
from trainers._init import check_init_from, copy_init_tokenizer
from trainers._metrics import cpu_peak_flops, read_metrics, truncate_metrics
from trainers._model import param_counts
from trainers._report import write_report
from trainers._tracking import MetricsTail, finish_tracking
from vibe.core.config import dump_yaml, load_yaml
from vibe.core.errors import UserError
from vibe.core.log import run_log
from vibe.tracking import Tracker, start_run

__all__ = ["RunResult", "init_ray", "launch"]

log = logging.getLogger(__name__)

# Fields that may differ between a run and its resumption; everything else must match config.yaml.
_RESUMABLE_CHANGES = {"ray", "out", "peak_flops", "tracking"}
_RESUMABLE_TRAINING = {
    "max_steps",
    "log_interval",
    "eval_interval",
    "eval_iters",
    "checkpoint_interval",
    "keep_checkpoints",
}


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports; details are in ``run_dir`` (report.md, metrics.jsonl)."""

    run_dir: Path
    final_step: int
    final_loss: float | None
    val_loss: float | None
    val_bpb: float | None
    wall_time_s: float
    report: Path
    params_total: int = 0
    params_active: int = 0
    flops_per_token: float = 0.0  # training FLOPs per token, what MFU counts (trainers._arithmetic)


def _check_resumable(saved: RunConfig, config: RunConfig) -> None:
    """A resumed run must keep everything that shapes the model, the data order and the optimizer."""
    old, new = saved.model_dump(mode="json"), config.model_dump(mode="json")
    changed = []
    for section, value in new.items():
        if section in _RESUMABLE_CHANGES:
            continue
        if not isinstance(value, dict):
            changed += [section] if value != old[section] else []
            continue
        free = _RESUMABLE_TRAINING if section == "training" else set()
        changed += [f"{section}.{k}" for k, v in value.items() if k not in free and v != old[section].get(k)]
    if changed:
        raise UserError(
            f"--resume: {', '.join(changed)} differs from {config.out}/config.yaml; a resumed run keeps its "
            "model, data, parallel layout and optimizer (start a new run with a new --out to change them)"
        )


def _prepare_run_dir(config: RunConfig, *, resume: bool, attempt: str) -> int:
    """Create / check the run directory; on resume truncate metrics to the last checkpoint. Returns its step.

    First of all it claims the run for this ``attempt``: workers left running by a killed driver see the
    new token in ``RUN_DIR/attempt`` and stop before they write another record or checkpoint.
    """
    run_dir = config.out
    has_run = (run_dir / "metrics.jsonl").is_file() or (run_dir / "checkpoints").is_dir()
    if has_run and not resume:
        ckpt = latest_checkpoint(run_dir)
        hint = f"add --resume to continue from step {ckpt.step}" if ckpt else "add --resume to restart it"
        raise UserError(f"{run_dir}: already holds a run; {hint}, or choose a new --out")
    if resume and (run_dir / "config.yaml").is_file():
        _check_resumable(load_yaml(run_dir / "config.yaml", RunConfig), config)
    tmp = run_dir / f"attempt.{attempt}.tmp"
    tmp.write_text(attempt)
    os.replace(tmp, run_dir / "attempt")
    step = 0
    if resume:
        time.sleep(0.5)  # an orphan between its attempt check and its write finishes before we truncate
        ckpt = latest_checkpoint(run_dir)
        step = ckpt.step if ckpt else 0
        moved = truncate_metrics(run_dir, step=step)
        if moved:
            log.info("moved %d metric records after step %d to metrics.discarded.jsonl", moved, step)
    for sub in ("logs", "checkpoints"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    dump_yaml(config, run_dir / "config.yaml")
    return step


def init_ray(config: RayConfig) -> None:
    """Start or join Ray for ``config`` (a run's ``ray`` section): the running instance, ``ray.address`` /
    ``$RAY_ADDRESS``, or an embedded local one listening on loopback only. The one way every part of Vibe
    starts Ray (pre- and post-training, the search's trials, a child started ahead)."""
    import ray

    if not ray.is_initialized():
        _init_ray(config)


LOOPBACK = "127.0.0.1"


def _loopback_only() -> None:
    """Make the node Ray is about to start use 127.0.0.1 for everything it binds (GCS, raylet, agents).

    Ray turns a ``_node_ip_address`` of 127.0.0.1 into the machine's address unless its "no cluster" switch
    is off; there is no public API for it, so this sets the environment variable for the processes Ray
    starts and the module constant it was read into for this one.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants  # the switch above, as read when ray was imported

    ray_constants.ENABLE_RAY_CLUSTER = False


def _init_ray(config: RayConfig) -> None:
    import ray

    if ray.is_initialized():
        return
    address = config.resolved_address()
    if address:
        log.info("connecting to the Ray cluster at %s", address)
        try:
            ray.init(address=address, log_to_driver=False)
        except ValueError as error:  # not host:port (Ray's own message says which part)
            raise UserError(
                f"ray.address / RAY_ADDRESS {address!r}: {error}; give host:port of a running cluster's GCS"
            ) from None
        except ConnectionError as error:
            auth = "Authentication" in repr(error.__cause__)
            raise UserError(
                f"ray.address / RAY_ADDRESS: cannot connect to the Ray cluster at {address}"
                + (
                    " (it requires token authentication: export RAY_AUTH_MODE=token, with the cluster's token "
                    "in ~/.ray/auth_token or RAY_AUTH_TOKEN)"
                    if auth
                    else "; check that it is running (`ray status`) or unset RAY_ADDRESS for a local Ray"
                )
            ) from None
    else:  # an embedded Ray for this run: it listens on loopback only, never on the machine's address
        _loopback_only()
        ray.init(
            num_cpus=os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address=LOOPBACK,
            dashboard_host=LOOPBACK,
        )


def _resolve_device(config: RunConfig) -> tuple[bool, str]:
    """(use_gpu, precision) for the workers."""
    import ray

    use_gpu = config.ray.use_gpu
    if use_gpu is None:
        use_gpu = config.device == "cuda" or (
            config.device == "auto" and ray.cluster_resources().get("GPU", 0) >= config.parallel.world_size
        )
    if config.device == "cuda" and not use_gpu:
        raise UserError("device: cuda was asked for but ray.use_gpu is false; set ray.use_gpu: true")
    precision = config.precision if config.precision != "auto" else ("bf16" if use_gpu else "fp32")
    return use_gpu, precision


def launch(config: RunConfig, *, resume: bool = False) -> RunResult:
    """Train ``config`` to ``training.max_steps`` (continuing from the last checkpoint if ``resume``)."""
    started = time.perf_counter()
    config = _resolved(config)
    sources = read_sources(config)  # fail on a bad dataset before starting anything
    init_checkpoint = check_init_from(config, sources) if config.init_from is not None else None
    try:
        config.model.padded_vocab_size(sources[0].vocab_size)
    except ValueError as error:
        raise UserError(f"{error}; the dataset {sources[0].path} was tokenized for another model") from None
    config.out.mkdir(parents=True, exist_ok=True)
    with run_log(config.out / "logs" / "driver.log"):
        return _run(
            config, resume=resume, started=started, vocab_size=sources[0].vocab_size, init=init_checkpoint
        )


def _resolved(config: RunConfig) -> RunConfig:
    """``config`` with its paths resolved where the user runs the command: Ray workers run elsewhere."""
    sources = [src.model_copy(update={"path": Path(src.path).resolve()}) for src in config.data.sources]
    config = config.model_copy(
        update={
            "out": Path(config.out).resolve(),
            "data": config.data.model_copy(
                update={
                    "sources": sources,
                    "cache_dir": Path(config.data.cache_dir).resolve() if config.data.cache_dir else None,
                }
            ),
        }
    )
    if config.init_from is not None:
        config = config.model_copy(update={"init_from": Path(config.init_from).resolve()})
    return config


@dataclass(frozen=True)
class _Workers:
    """How the run's Ray workers are laid out: their count, device, precision, CPUs, threads and peak FLOP/s."""

    world: int
    use_gpu: bool
    precision: str
    cpus: float
    threads: int
    peak: float | None


def _workers(config: RunConfig) -> _Workers:
    use_gpu, precision = _resolve_device(config)
    world = config.parallel.world_size
    local = config.ray.resolved_address() is None
    cores = os.cpu_count() or 1
    cpus = config.ray.cpus_per_worker or (max(1.0, cores // world) if local else 1.0)
    threads = max(1, int(cpus))
    peak = config.peak_flops
    if peak is None and not use_gpu:
        peak = cpu_peak_flops(cores) * threads / cores  # per worker: its share of the measured cores
    return _Workers(world=world, use_gpu=use_gpu, precision=precision, cpus=cpus, threads=threads, peak=peak)


def _run(
    config: RunConfig, *, resume: bool, started: float, vocab_size: int, init: CheckpointInfo | None
) -> RunResult:
    """The run in its prepared directory: start (or find it complete), fit on Ray, report."""
    run_dir = config.out
    attempt = uuid.uuid4().hex
    start_step = _prepare_run_dir(config, resume=resume, attempt=attempt)
    if init is not None and start_step == 0:
        copy_init_tokenizer(config)
    if start_step >= config.training.max_steps:
        log.info("%s: already complete at step %d", run_dir, start_step)
        return _result(
            config, started, startup_s=0.0, device="-", precision="-", peak=None, vocab_size=vocab_size
        )
    _init_ray(config.ray)
    workers = _workers(config)
    payload = {
        "config": config.model_dump(mode="json"),
        "start_step": start_step,
        "init_checkpoint": str(init.path) if init and start_step == 0 else None,
        "attempt": attempt,
        "threads": workers.threads,
        "precision": workers.precision,
        "peak_flops_per_worker": workers.peak,
    }
    log.info(
        "run %s (driver pid %d): %d workers (%s, %s, %d threads each), steps %d..%d",
        run_dir,
        os.getpid(),
        workers.world,
        "gpu" if workers.use_gpu else "cpu",
        workers.precision,
        workers.threads,
        start_step + 1,
        config.training.max_steps,
    )
    trainer = _trainer(config, payload, workers)
    tracker = start_run(
        config.tracking,
        experiment="vibe-train",
        name=run_dir.name,
        params=config.model_dump(mode="json", exclude={"tracking"}),
        tags={"vibe.run_dir": str(run_dir), "vibe.kind": "train", "vibe.start_step": str(start_step)},
    )
    fit_s = _fit(trainer, config, start_step=start_step, tracker=tracker)
    records = read_metrics(run_dir / "metrics.jsonl")
    train_s = records[-1].get("train_s", 0.0) if records else 0.0
    result = _result(
        config,
        started,
        startup_s=max(0.0, fit_s - train_s),
        device="gpu" if workers.use_gpu else "cpu",
        precision=workers.precision,
        peak=workers.peak,
        vocab_size=vocab_size,
    )
    finish_tracking(tracker, run_dir, files=("report.md", "loss.png", "config.yaml", "metrics.jsonl"))
    return result


def _trainer(config: RunConfig, payload: dict[str, Any], workers: _Workers) -> Any:
    """The Ray ``TorchTrainer`` of the run: ``workers`` ranks, one attempt (a failure is reported, not retried)."""
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer

    return TorchTrainer(
        _train_loop_entry,
        train_loop_config=payload,
        scaling_config=ray.train.ScalingConfig(
            num_workers=workers.world,
            use_gpu=workers.use_gpu,
            resources_per_worker={"CPU": workers.cpus, **({"GPU": 1} if workers.use_gpu else {})},
        ),
        torch_config=TorchConfig(backend="nccl" if workers.use_gpu else "gloo"),
        run_config=ray.train.RunConfig(
            name=f"train-{int(time.time() * 1000)}",
            storage_path=str(config.out / "ray"),
            failure_config=ray.train.FailureConfig(max_failures=0),
        ),
    )


def _fit(trainer: Any, config: RunConfig, *, start_step: int, tracker: Tracker) -> float:
    """Fit, tailing the metrics into ``tracker``; the seconds it took. A failure ends the tracked run FAILED and
    raises a UserError naming the cause and how to resume."""
    run_dir = config.out
    tail = MetricsTail(
        run_dir / "metrics.jsonl", first_step=start_step, max_steps=config.training.max_steps, tracker=tracker
    ).start()
    fit_start = time.perf_counter()
    try:
        trainer.fit()
    except Exception as error:
        tail.close()
        tracker.finish(status="FAILED")
        raise UserError(_failure_message(run_dir, error)) from None
    finally:
        tail.close()
    return time.perf_counter() - fit_start


def _train_loop_entry(payload: dict[str, Any]) -> None:
    from trainers._worker import train_loop  # imported in the worker: torch / Megatron load there

    train_loop(payload)


def _failure_message(run_dir: Path, error: Exception) -> str:
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    cause = next(
        (ln for ln in reversed(lines) if "Error" in ln or "error" in ln), lines[-1] if lines else repr(error)
    )
    ckpt = latest_checkpoint(run_dir)
    again = (
        f"run with --resume to continue from step {ckpt.step}"
        if ckpt
        else "no checkpoint was written yet; run with --resume to start over in the same directory"
    )
    return f"training failed: {cause[:500]}; see {run_dir}/logs/worker_*.log and driver.log; {again}"


def _result(
    config: RunConfig,
    started: float,
    *,
    startup_s: float,
    device: str,
    precision: str,
    peak: float | None,
    vocab_size: int,
) -> RunResult:
    run_dir = config.out
    wall = time.perf_counter() - started
    total, active = param_counts(config.model, vocab_size=vocab_size)
    report = write_report(
        run_dir,
        config,
        wall_time_s=wall,
        extra={
            "params_total": total,
            "params_active": active,
            "device": device,
            "precision": precision,
            "peak_flops": peak,
            "startup_s": startup_s,
        },
    )
    records = read_metrics(run_dir / "metrics.jsonl")
    last = records[-1] if records else {}
    val = next((r for r in reversed(records) if "val_loss" in r), {})
    log.info(
        "%s: step %s, loss %s, val loss %s, val bpb %s, %.1fs (start-up %.1fs)",
        run_dir,
        last.get("step"),
        last.get("loss"),
        val.get("val_loss"),
        val.get("val_bpb"),
        wall,
        startup_s,
    )
    return RunResult(
        run_dir=run_dir,
        final_step=int(last.get("step", 0)),
        final_loss=last.get("loss"),
        val_loss=val.get("val_loss"),
        val_bpb=val.get("val_bpb"),
        wall_time_s=wall,
        report=report,
        params_total=total,
        params_active=active,
        flops_per_token=config.model.flops_per_token(vocab_size=vocab_size),
    )
