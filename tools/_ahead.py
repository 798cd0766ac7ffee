"""Training started ahead of its step: the child up, its imports done and Ray started while ingest runs.

The train tool trains in a child process (``python -m trainers``); before its first step that child spends
seconds importing torch and Megatron and starting Ray, none of which needs the data. The agent calls
:func:`start_training_ahead` when a plan's earlier steps begin, so those seconds overlap them. The child so
started (``python -m trainers RUN.yaml --wait-for GO``) reads no data and writes nothing in the run
directory until the train tool, called after the gate has allowed the step, writes the final ``RUN.yaml``
and ``GO`` (:meth:`Ahead.go`). A child that failed meanwhile (Ray would not start, say) is reported by
the train tool as a retryable error naming its log, never silently replaced. :func:`stop_training_ahead`
ends children whose step will not run (the thread stopped or was denied); a child whose parent died kills
itself and its Ray, and one never told to go exits after ``WAIT_S``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.registry import ToolContext

__all__ = ["WAIT_S", "Ahead", "run_spec_path", "start_training_ahead", "stop_training_ahead", "take_ahead"]

WAIT_S = 3600.0  # how long a child started ahead waits for its step

_AHEAD: dict[Path, Ahead] = {}  # RUN.yaml -> the child started ahead for it
_LOCK = threading.Lock()


@dataclass
class Ahead:
    """A training child started ahead of its step, waiting for ``go``."""

    child: subprocess.Popen[bytes]
    spec: Path
    go_file: Path
    log: Path  # the child's stderr: "ready: Ray at ..." once Ray is up, then the run's own messages

    def failure(self) -> str | None:
        """Why the child is gone before it was told to go (None: it is alive and waiting)."""
        if self.child.poll() is None:
            return None
        lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        last = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "")
        return f"exit status {self.child.returncode}: {last[:300]}; see {self.log}"

    def ready(self) -> bool:
        """Ray is up and the imports are done: the child waits for ``go``."""
        return self.log.is_file() and "ready: Ray at " in self.log.read_text(errors="replace")

    def go(self, *, resume: bool, timeout_s: float) -> str | None:
        """Tell the child to train ``spec`` as it now is, once it is ready (training needs its Ray anyway);
        the reason it cannot (None: it was told). A child not ready within ``timeout_s`` is killed."""
        import time

        deadline = time.monotonic() + timeout_s
        while not self.ready():
            problem = self.failure()
            if problem is not None:
                return problem
            if time.monotonic() > deadline:
                _kill(self.child)
                return f"Ray was not up after {timeout_s:.0f} s; see {self.log}"
            time.sleep(0.1)
        tmp = self.go_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"resume": resume}))
        os.replace(tmp, self.go_file)
        return None


def run_spec_path(config: dict[str, Any], context: ToolContext) -> Path:
    """Where the train tool writes the run's RUN.yaml (``STEPS/NAME.run.yaml``, NAME the run directory's)."""
    return context.workdir / "steps" / f"{Path(config['out']).name}.run.yaml"


def start_training_ahead(config: dict[str, Any], context: ToolContext) -> bool:
    """Start the child for the train step with run config ``config`` (a ``trainers.RunConfig`` as data);
    False when one is already waiting for it. Writes the planned RUN.yaml (the child reads only its ``ray``
    section until it is told to go)."""
    from trainers import RunConfig
    from vibe.core.config import dump_yaml

    spec = run_spec_path(config, context)
    with _LOCK:
        held = _AHEAD.get(spec)
        if held is not None and held.failure() is None:
            return False
        spec.parent.mkdir(parents=True, exist_ok=True)
        dump_yaml(RunConfig.model_validate(config), spec)
        go_file, log = spec.with_suffix(".go.json"), spec.with_suffix(".ahead.log")
        go_file.unlink(missing_ok=True)
        result = spec.with_suffix(".result.json")
        result.unlink(missing_ok=True)
        command = [sys.executable, "-m", "trainers", str(spec), "--result", str(result),
                   "--wait-for", str(go_file), "--wait-timeout", str(WAIT_S)]  # fmt: skip
        env = {**os.environ, **({} if context.show_progress else {"VIBE_NO_PROGRESS": "1"})}
        with log.open("wb") as err:
            child = subprocess.Popen(command, env=env, stderr=err, start_new_session=True)
        if not _AHEAD:
            atexit.register(stop_training_ahead)
        _AHEAD[spec] = Ahead(child=child, spec=spec, go_file=go_file, log=log)
    return True


def take_ahead(spec: Path) -> Ahead | None:
    """The child started ahead for ``spec``, handed over to its caller (the train tool), or None."""
    with _LOCK:
        return _AHEAD.pop(spec, None)


def stop_training_ahead(workdir: Path | None = None) -> list[int]:
    """Kill the children started ahead (under ``workdir``, or all) whose step did not take them; their pids."""
    with _LOCK:
        specs = [s for s in _AHEAD if workdir is None or Path(workdir) in s.parents]
        stopped = [_AHEAD.pop(s) for s in specs]
    for ahead in stopped:
        _kill(ahead.child)
    return [a.child.pid for a in stopped]


def _kill(child: subprocess.Popen[bytes]) -> None:
    """The child and its process group (its Ray); reaped."""
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    child.wait()
