"""The study in its storage: opening it (sampler, pruner), the driver's heartbeat, crash recovery, queries.

The study lives in Optuna's RDB storage, not in the driver, and so does everything a new driver needs to
continue it: trial states, their usage (user attrs) and the heartbeat of the driver that drives it (user attr
``driver``: host, pid and time of the last beat). :class:`Heartbeat` refuses to drive a study another live
driver beats for, beats every ``HEARTBEAT_S`` and releases the study at the end; :func:`recover` fails (and
maybe re-enqueues) the trials a dead driver left RUNNING.

Why not ``RDBStorage(heartbeat_interval=...)``: Optuna's heartbeat thread runs in ``study.optimize`` only; with
ask/tell the driver would have to start it per trial through private API, and its ``fail_stale_trials``
cannot re-enqueue or stop orphans. Here a crash is detected at the next start, which is the only moment it
matters (no one else acts on the study meanwhile).
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.hpo._budget import affordable_trials
from tools.hpo._config import HPOConfig, TrialSummary
from tools.hpo._trial import stop_trial
from vibe.core.errors import UserError
from vibe.core.procs import pid_alive

if TYPE_CHECKING:
    import optuna

__all__ = [
    "HEARTBEAT_GRACE_S",
    "HEARTBEAT_S",
    "HYPERBAND_TRIALS",
    "Heartbeat",
    "finished_points",
    "hyperband_brackets",
    "n_finished",
    "open_study",
    "recover",
    "rung_steps",
    "summarize",
    "trial_values",
    "with_driver",
]

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
HYPERBAND_TRIALS = (
    10  # x brackets x TPE's start-up: the full-length trials a budget needs for Hyperband (_pruner)
)
HEARTBEAT_GRACE_S = 30.0


def open_study(config: HPOConfig, *, load_only: bool = False) -> optuna.Study:
    """The study in ``config``'s storage (created unless ``load_only``), with its sampler and pruner."""
    import optuna

    from tools.hpo._sampler import make_sampler  # imports optuna: only when a study is opened

    url = with_driver(config.storage_url())
    try:
        storage = optuna.storages.RDBStorage(
            url,
            engine_kwargs={"connect_args": {"timeout": 60}}
            if url.startswith("sqlite")
            else {"pool_pre_ping": True},
        )
    except Exception as error:  # bad URL, unreachable server, missing driver
        raise UserError(f"storage: cannot open {url!r} ({str(error).splitlines()[0][:300]})") from None
    try:  # a continued study: how many trials it holds already (see make_sampler)
        held = len(
            optuna.load_study(study_name=config.study_name, storage=storage).get_trials(deepcopy=False)
        )
    except KeyError:
        held = 0
    sampler = make_sampler(config, held=held)
    pruner = _pruner(config)
    if load_only:
        return optuna.load_study(
            study_name=config.study_name, storage=storage, sampler=sampler, pruner=pruner
        )
    return optuna.create_study(
        study_name=config.study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )


def with_driver(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; Vibe ships psycopg 3, so name it when psycopg2 is absent."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg2") is None:
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _pruner(config: HPOConfig) -> optuna.pruners.BasePruner:
    """Rungs in optimizer steps, from the first validation after a quarter of ``max_steps`` to ``max_steps``.

    Why not from the very first validation: early validation values rank how far warmup has got and how
    fast a wide model starts, not where a run ends; in ``bench/hpo_efficiency.py`` a first rung at 1/8 of the
    steps pruned the narrow models that end best. A quarter is the usual end of warmup in the default space.

    Hyperband's brackets are sized to the budget: TPE models each bracket from that bracket's trials alone
    (Optuna filters the study by bracket), so with B brackets it needs B times its start-up trials before it
    models anything, and the later brackets have no early rung: a trial there costs at least 36 of 48 steps
    however bad it is. A budget that affords fewer than ``HYPERBAND_TRIALS x B x TPE_STARTUP`` full-length
    trials (100 for two brackets) gets one bracket (successive halving with the same rungs), so every trial
    informs the one model. Measured on ``bench/hpo_efficiency.py`` (a budget of 33 base trials, seed 0,
    2026-12-02): with two brackets a start-up trial at lr 1e-4 and the widest model landed in the second
    bracket and ran to the end (14% of the budget), and the search matched its one-bracket result (2.996 bpb)
    at 0.65 of the budget instead of 0.26.

    ``HPOConfig.reduction_factor`` (3 by default) is both the share a rung keeps (1/3) and the spacing of the
    rungs (12, 36 of 48 steps). Measured on ``bench/hpo_efficiency.py`` at a third of random search's compute
    (seeds 0, 1, 3, 2026-12-02): 2 (rungs 12, 24; half kept) and 4 (one rung at 12; a quarter kept) both
    ended worse than 3 on seed 0 and no better on the others. A first rung at 1/8 ranks badly: over the 120
    complete random trials of that benchmark, the Spearman correlation of the value at step 6 with the final
    one is 0.35 to 0.70 per seed, at step 12 (a quarter) 0.70 to 0.80.

    A trial holds at each rung (:func:`rung_steps`) until the driver has the pruner's verdict, so a pruned
    trial trains no step past its rung (before, a busy machine let them train on for up to 12 steps).
    """
    import optuna

    from tools.hpo._sampler import TPE_STARTUP

    t, rf = config.base.training, config.reduction_factor
    first = _first_rung(config)
    if config.pruner == "hyperband":
        brackets = hyperband_brackets(min_resource=first, max_resource=t.max_steps, reduction_factor=rf)
        afford = affordable_trials(config)
        if (
            brackets > 1
            and config.sampler == "tpe"
            and afford is not None
            and afford < HYPERBAND_TRIALS * brackets * TPE_STARTUP
        ):
            log.info("budget of %.1f full trials: one Hyperband bracket (successive halving) instead of %d",
                     afford, brackets)  # fmt: skip
            return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=rf)
        return optuna.pruners.HyperbandPruner(
            min_resource=first, max_resource=t.max_steps, reduction_factor=rf
        )
    if config.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=rf)
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=first - 1)
    return optuna.pruners.NopPruner()


def _first_rung(config: HPOConfig) -> int:
    """The first validation step at or after a quarter of ``max_steps`` (see :func:`_pruner`)."""
    t = config.base.training
    every = t.eval_interval or t.max_steps
    return min(t.max_steps, every * math.ceil(max(1, t.max_steps // 4) / every))


def rung_steps(config: HPOConfig) -> list[int]:
    """The validation steps before ``max_steps`` at which the pruner may stop a trial: where a trial holds
    until the driver's verdict (``trainers.await_verdict``), so a pruned trial trains no step past its rung.

    Successive halving and Hyperband decide at ``first x reduction_factor^k`` (every bracket's rungs are
    among these), each at the first validation at or after it; the median pruner at every validation from
    the first rung on; no pruner, nowhere."""
    t = config.base.training
    every = t.eval_interval or t.max_steps
    first = _first_rung(config)
    if config.pruner == "none":
        return []
    if config.pruner == "median":
        return list(range(first, t.max_steps, every))
    steps, rung = [], first
    while rung < t.max_steps:
        steps.append(every * math.ceil(rung / every))
        rung *= config.reduction_factor
    return sorted({s for s in steps if s < t.max_steps})


def hyperband_brackets(*, min_resource: int, max_resource: int, reduction_factor: int) -> int:
    """How many brackets Optuna's HyperbandPruner makes of these resources (its own formula)."""
    return math.floor(math.log(max_resource / min_resource, reduction_factor)) + 1


class Heartbeat:
    """The driver's claim on a study, in the study itself: one live driver per study at a time."""

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self.last = 0.0

    def claim(self) -> None:
        """Refuse to drive a study another live driver drives; then beat."""
        study = self.study
        other = study.user_attrs.get("driver")
        me = {"host": socket.gethostname(), "pid": os.getpid()}
        if other and time.time() - float(other.get("beat", 0)) < HEARTBEAT_GRACE_S:
            same_host = other.get("host") == me["host"]
            if (
                same_host and other.get("pid") != me["pid"] and pid_alive(int(other.get("pid", 0)))
            ) or not same_host:
                raise UserError(
                    f"study {study.study_name}: another driver (pid {other.get('pid')} on {other.get('host')}) is "
                    f"running it (heartbeat {time.time() - float(other['beat']):.0f}s ago); wait for it to finish, "
                    f"or stop it, then run again"
                )
        self.beat()

    def beat(self) -> None:
        self.last = time.time()
        self.study.set_user_attr(
            "driver", {"host": socket.gethostname(), "pid": os.getpid(), "beat": self.last}
        )

    def beat_if_due(self) -> None:
        if time.time() - self.last > HEARTBEAT_S:
            self.beat()

    def release(self) -> None:
        self.study.set_user_attr("driver", {"host": socket.gethostname(), "pid": os.getpid(), "beat": 0.0})


def recover(study: optuna.Study, config: HPOConfig) -> list[int]:
    """Fail (and maybe re-enqueue) every trial a previous driver left RUNNING; returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    recovered = []
    for t in trials:
        if t.state != TrialState.RUNNING:
            continue
        run_dir = Path(t.user_attrs.get("run_dir", config.out / "trials" / f"trial_{t.number:04d}"))
        stop_trial(run_dir, reason="driver-restarted")
        handle = optuna.trial.Trial(study, t._trial_id)
        for key, value in _usage_from_dir(run_dir, t.user_attrs).items():
            handle.set_user_attr(key, value)
        why = "the driver stopped (crash or kill) while this trial ran"
        if "started_at" not in t.user_attrs:  # killed between ask and start: nothing ran, nothing to retry
            why = "the driver stopped (crash or kill) before this trial started; not retried (nothing ran)"
        elif config.on_interrupted == "retry":
            if t.number not in retried:
                study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
            why += "; its params were enqueued again (see the trial whose retry_of is this number)"
        handle.set_user_attr("interrupted", why)
        study.tell(t.number, state=TrialState.FAIL)
        recovered.append(t.number)
        log.warning("trial %d: %s", t.number, why)
    return recovered


def _usage_from_dir(run_dir: Path, attrs: dict[str, Any]) -> dict[str, Any]:
    """Wall time and compute of an interrupted trial, from what its run directory shows."""
    from trainers import read_metrics

    path = run_dir / "metrics.jsonl"
    records = read_metrics(path) if path.is_file() else []
    started = float(attrs.get("started_at", 0.0))
    end = records[-1]["time"] if records else started
    wall = max(0.0, end - started) if started else 0.0
    steps = int(records[-1]["step"]) if records else 0
    tokens = steps * int(attrs.get("tokens_per_step", 0))
    return {
        "wall_s": wall,
        "cpu_hours": wall * float(attrs.get("cpus", 0.0)) / 3600,
        "gpu_hours": wall * float(attrs.get("gpus", 0.0)) / 3600,
        "steps": steps,
        "tokens": tokens,
        "flops": tokens * float(attrs.get("flops_per_token", 0.0)),
    }


def n_finished(study: optuna.Study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def finished_points(study: optuna.Study) -> set[str]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return {json.dumps(t.params, sort_keys=True) for t in trials}


def trial_values(frozen: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The values a trial ran with: its ``values`` user attr (set when it starts), else its params (a study
    from before ordered categoricals, whose params are the values)."""
    values = frozen.user_attrs.get("values")
    return dict(values) if isinstance(values, dict) else dict(frozen.params)


def summarize(frozen: optuna.trial.FrozenTrial, *, out: Path) -> TrialSummary:
    a = frozen.user_attrs
    return TrialSummary(
        number=frozen.number,
        state=frozen.state.name,
        value=frozen.value,
        params=trial_values(frozen),
        run_dir=Path(a.get("run_dir", out / "trials" / f"trial_{frozen.number:04d}")),
        steps=int(a.get("steps", 0)),
        cpu_hours=float(a.get("cpu_hours", 0.0)),
        gpu_hours=float(a.get("gpu_hours", 0.0)),
        flops=float(a.get("flops", 0.0)),
        wall_s=float(a.get("wall_s", 0.0)),
        user_attrs=dict(a),
    )
