"""A run's MLflow side, shared by pre-training and post-training: follow ``metrics.jsonl`` into the progress
bar and the tracker as workers write it, and end the run with its report, plots and config as artifacts.

Both never block training (``vibe.tracking``): a store that is away only delays or lists what was logged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from vibe.core.log import progress
from vibe.tracking import Tracker

__all__ = ["MetricsTail", "describe_step", "finish_tracking"]


def describe_step(record: dict[str, Any]) -> str:
    """The progress bar's text for one metrics record (whatever of loss, val_loss, tokens/s it has)."""
    parts = [f"step {record['step']}"]
    if "loss" in record:
        parts.append(f"loss {record['loss']:.3f}")
    if "val_loss" in record:
        parts.append(f"val {record['val_loss']:.3f}")
    if "reward_mean" in record:
        parts.append(f"reward {record['reward_mean']:.3f}")
    if "tokens_per_s" in record:
        parts.append(f"{record['tokens_per_s']:,.0f} tok/s")
    return " ".join(parts)


class MetricsTail:
    """Follows ``path`` from its current end (a daemon thread): each complete record updates the progress bar
    and, with a ``tracker``, is logged as that step's metrics. ``start()``, then ``close()`` (reads the rest)."""

    def __init__(
        self,
        path: Path,
        *,
        first_step: int,
        max_steps: int,
        tracker: Tracker | None = None,
        describe: Callable[[dict[str, Any]], str] = describe_step,
    ) -> None:
        self.path, self.max_steps, self.tracker, self.describe = path, max_steps, tracker, describe
        self.offset = path.stat().st_size if path.is_file() else 0
        self.first_step = first_step
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"tail-{path.parent.name}", daemon=True)

    def start(self) -> MetricsTail:
        self.thread.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        self.stop.set()
        self.thread.join(timeout=timeout_s)

    def _run(self) -> None:
        with progress() as bar:
            task = bar.add_task("starting", total=self.max_steps, completed=self.first_step)
            while not self.stop.wait(0.5):
                self._poll(bar, task)
            self._poll(bar, task)

    def _poll(self, bar: Any, task: Any) -> None:
        if not self.path.is_file():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode("utf-8").splitlines():
            record = json.loads(line)
            if self.tracker is not None:
                self.tracker.log_metrics(
                    {k: v for k, v in record.items() if k != "step"}, step=record["step"]
                )
            bar.update(task, completed=record["step"], description=self.describe(record))


def finish_tracking(
    tracker: Tracker, run_dir: Path, *, files: Iterable[str], status: str = "FINISHED"
) -> None:
    """Upload the run's report, plots and config (those of ``files`` that exist), end the MLflow run, and say
    in report.md where it is (and what could not be logged)."""
    for name in files:
        if (run_dir / name).exists():
            tracker.log_artifact(run_dir / name)
    tracker.finish(status=status)
    report = run_dir / "report.md"
    if report.is_file():
        with report.open("a", encoding="utf-8") as f:
            f.write("\n## Tracking\n\n" + "\n".join(tracker.report_lines()) + "\n")
