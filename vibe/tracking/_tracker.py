"""A non-blocking MLflow run: calls queue up; one daemon thread sends them, in order, retrying while offline.

Errors split two ways. The store refusing one call (HTTP 4xx: a bad value, a duplicate param) drops that call
and lists it as not logged; anything else (connection refused, timeout, 5xx) means the store is away: the
thread warns once, keeps the call at the head of the queue and retries every ``retry_s`` until it is back
(then it says so) or until :meth:`Tracker.finish` gives up after its timeout.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vibe.tracking._config import TrackingConfig, artifact_root, tracking_uri

__all__ = ["Tracker", "flatten_params", "start_run"]

log = logging.getLogger(__name__)

_MAX_PARAM_CHARS = 6000  # MLflow's limit on a param value
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000


@dataclass
class _Op:
    what: str  # shown in the report when it could not be logged
    send: Callable[[Any, str], None]  # (MlflowClient, run_id)


def flatten_params(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"model": {"hidden": 64}}`` -> ``{"model.hidden": "64"}`` (lists and scalars as text)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_params(value, prefix=f"{name}."))
        elif value is not None:
            out[name] = str(value)[:_MAX_PARAM_CHARS]
    return out


def _client_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException

    return (MlflowException,)


def _refused(error: BaseException) -> bool:
    """True when the store answered and refused this one call (retrying cannot help)."""
    from mlflow.exceptions import MlflowException, RestException

    if isinstance(error, RestException | MlflowException):
        status = error.get_http_status_code()
        return 400 <= status < 500 and "Max retries" not in str(error) and "Connection" not in str(error)
    return isinstance(error, ValueError | TypeError)


class Tracker:
    """One MLflow run. Every method returns immediately; :meth:`finish` ends the run (bounded wait)."""

    def __init__(
        self,
        config: TrackingConfig,
        *,
        experiment: str,
        name: str,
        tags: Mapping[str, str] | None = None,
        parent: Tracker | str | None = None,
        retry_s: float = 2.0,
    ) -> None:
        self.config = config
        self.enabled = config.enabled
        self.uri = tracking_uri(config.uri) if self.enabled else ""
        self.experiment, self.name = experiment, name
        self.run_id: str | None = None
        self.unlogged: list[str] = []  # calls the store refused, or that were still queued at the end
        self.outages = 0  # times the store went away during this run
        self._tags = dict(tags or {})
        self._parent = parent if parent is not None else config.parent_run_id
        self._retry_s = retry_s
        self._queue: deque[_Op] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._abandon = False
        self._created = threading.Event()
        self._thread: threading.Thread | None = None
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name=f"mlflow-{name}", daemon=True)
            self._thread.start()

    # -- what callers use ----------------------------------------------------------------------------------

    def log_params(self, params: Mapping[str, Any]) -> None:
        flat = flatten_params(params)
        items = sorted(flat.items())
        for first in range(0, len(items), _PARAMS_PER_BATCH):
            chunk = items[first : first + _PARAMS_PER_BATCH]

            def send(client: Any, run_id: str, chunk: list[tuple[str, str]] = chunk) -> None:
                from mlflow.entities import Param

                client.log_batch(run_id, params=[Param(k, v) for k, v in chunk])

            self._put(f"params {chunk[0][0]}..{chunk[-1][0]} ({len(chunk)})", send)

    def log_metrics(self, metrics: Mapping[str, float | int | None], *, step: int | None = None) -> None:
        values = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and v == v}
        if not values:
            return
        stamp = int(time.time() * 1000)

        def send(client: Any, run_id: str) -> None:
            from mlflow.entities import Metric

            batch = [Metric(k, v, stamp, step or 0) for k, v in values.items()]
            for first in range(0, len(batch), _METRICS_PER_BATCH):
                client.log_batch(run_id, metrics=batch[first : first + _METRICS_PER_BATCH])

        self._put(
            f"metrics {', '.join(sorted(values))}" + (f" at step {step}" if step is not None else ""), send
        )

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        values = {k: str(v)[:_MAX_PARAM_CHARS] for k, v in tags.items() if v is not None}

        def send(client: Any, run_id: str) -> None:
            from mlflow.entities import RunTag

            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in values.items()])

        if values:
            self._put(f"tags {', '.join(sorted(values))}", send)

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        """Upload the file or directory ``path`` (as it is when the call is sent)."""
        path = Path(path)

        def send(client: Any, run_id: str) -> None:
            if not path.exists():
                return
            if path.is_dir():
                client.log_artifacts(run_id, str(path), artifact_path=artifact_path)
            else:
                client.log_artifact(run_id, str(path), artifact_path=artifact_path)

        self._put(f"artifact {path}", send)

    def log_text(self, text: str, *, artifact_file: str) -> None:
        def send(client: Any, run_id: str) -> None:
            client.log_text(run_id, text, artifact_file)

        self._put(f"artifact {artifact_file}", send)

    def wait_created(self, timeout_s: float) -> str | None:
        """The MLflow run id once the run exists (None if the store did not answer within ``timeout_s``)."""
        self._created.wait(timeout_s if self.enabled else 0)
        return self.run_id

    def finish(self, *, status: str = "FINISHED", timeout_s: float | None = None) -> list[str]:
        """End the run; wait up to ``timeout_s`` for queued calls. Returns what could not be logged."""
        if not self.enabled or self._thread is None:
            return []

        def send(client: Any, run_id: str) -> None:
            client.set_terminated(run_id, status=status)

        self._put(f"end of run ({status})", send)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(self.config.finish_timeout_s if timeout_s is None else timeout_s)
        with self._cond:
            self._abandon = True
            left = [op.what for op in self._queue]
            self._queue.clear()
            self._cond.notify_all()
        if left:
            if self.run_id is None:
                left.insert(0, f"the run itself ({self.experiment}/{self.name})")
            log.warning(
                "tracking: %d call(s) could not be logged to %s before the end of %s: %s",
                len(left),
                self.uri,
                self.name,
                "; ".join(left[:5]) + (" ..." if len(left) > 5 else ""),
            )
        self.unlogged += left
        return list(self.unlogged)

    def report_lines(self) -> list[str]:
        """Markdown lines for a report: where the run is and what did not reach it."""
        if not self.enabled:
            return ["- tracking: off"]
        lines = [f"- tracking: MLflow {self.uri}, experiment `{self.experiment}`, run `{self.run_id or '-'}`"]
        if self.outages:
            lines.append(f"- tracking store was unreachable {self.outages} time(s) during the run")
        lines += [f"- not logged to MLflow: {what}" for what in self.unlogged]
        return lines

    # -- the sending thread --------------------------------------------------------------------------------

    def _put(self, what: str, send: Callable[[Any, str], None]) -> None:
        if not self.enabled:
            return
        with self._cond:
            if self._abandon:
                self.unlogged.append(what)
                return
            self._queue.append(_Op(what, send))
            self._cond.notify_all()

    def _run(self) -> None:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # we retry, without blocking anyone
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # CLI output stays ours
        for noisy in ("alembic", "mlflow.store.db.utils"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        client: Any = None
        offline = False
        while True:
            with self._cond:
                created = self.run_id is not None
                while created and not self._queue and not self._closing and not self._abandon:
                    self._cond.wait()
                if self._abandon or (created and not self._queue):
                    return
                op = self._queue[0] if self._queue else _Op("the run itself", lambda client, run_id: None)
            try:
                if client is None:
                    from mlflow.tracking import MlflowClient

                    client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
                if self.run_id is None:
                    self.run_id = self._create(client)
                    self._created.set()
                op.send(client, self.run_id)
            except Exception as error:
                if _refused(error):
                    log.warning("tracking: %s refused %s: %s", self.uri, op.what, str(error)[:300])
                    with self._cond:
                        if self._queue and self._queue[0] is op:
                            self._queue.popleft()
                        self.unlogged.append(f"{op.what} (refused: {str(error)[:200]})")
                    continue
                if not offline:
                    offline, self.outages = True, self.outages + 1
                    log.warning(
                        "tracking: MLflow at %s is unreachable (%s); the run goes on, logs are kept and retried",
                        self.uri,
                        str(error).splitlines()[0][:200] if str(error) else type(error).__name__,
                    )
                with self._cond:
                    if not self._abandon:
                        self._cond.wait(self._retry_s)
                continue
            with self._cond:
                if self._queue and self._queue[0] is op:
                    self._queue.popleft()
            if offline:
                offline = False
                log.warning("tracking: MLflow at %s is back; sending what was kept", self.uri)

    def _create(self, client: Any) -> str:
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is None:
            try:
                experiment_id = client.create_experiment(
                    self.experiment, artifact_location=artifact_root(self.uri)
                )
            except _client_errors():  # created meanwhile by another process
                experiment = client.get_experiment_by_name(self.experiment)
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
        tags = dict(self._tags)
        parent = self._parent.wait_created(120.0) if isinstance(self._parent, Tracker) else self._parent
        if parent:
            tags["mlflow.parentRunId"] = parent
        run = client.create_run(experiment_id, run_name=self.name, tags=tags)
        return str(run.info.run_id)


def start_run(
    config: TrackingConfig | None,
    *,
    experiment: str,
    name: str,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    parent: Tracker | str | None = None,
) -> Tracker:
    """Start a tracked run (a do-nothing one when ``config.enabled`` is false or ``$VIBE_TRACKING=off``)."""
    config = config or TrackingConfig()
    if os.environ.get("VIBE_TRACKING", "").lower() in ("0", "off", "false", "no"):
        config = config.model_copy(update={"enabled": False})
    tracker = Tracker(config, experiment=experiment, name=name, tags=tags, parent=parent)
    if params:
        tracker.log_params(params)
    return tracker
