"""Experiment tracking in MLflow: every training run, HPO trial, evaluation and loop round, never blocking.

A :class:`Tracker` is one MLflow run. Its calls (:meth:`~Tracker.log_params`, :meth:`~Tracker.log_metrics`,
:meth:`~Tracker.log_artifact`, ...) return at once: a background thread sends them in order. When the
tracking server goes away the thread reports it once, keeps what it could not send and retries; training
goes on. :meth:`Tracker.finish` waits a bounded time for the rest and returns what could still not be
logged (the caller lists it in its report).

Where runs go (:func:`tracking_uri`): a URL given by setting (``TrackingConfig.uri``), else
``$MLFLOW_TRACKING_URI``, else an embedded SQLite store under ``$VIBE_CACHE/mlflow`` (nothing to start).

    tracker = start_run(TrackingConfig(), experiment="vibe-train", name="run-1", params={"lr": 3e-3})
    tracker.log_metrics({"loss": 2.1}, step=10)
    tracker.log_artifact(run_dir / "report.md")
    unlogged = tracker.finish()  # [] when everything reached the store

The model registry is MLflow's too: :func:`register_model` makes a model version with tags and an alias;
:func:`resolve_model` turns ``NAME@ALIAS`` (or ``NAME/VERSION``) into the version's tags, and
:func:`model_path` into the export directory to serve (``vibe llm serve --model NAME@production``).
"""

from vibe.tracking._config import TrackingConfig, tracking_uri
from vibe.tracking._registry import ModelVersionInfo, model_path, register_model, resolve_model
from vibe.tracking._tracker import Tracker, flatten_params, start_run

__all__ = [
    "ModelVersionInfo",
    "Tracker",
    "TrackingConfig",
    "flatten_params",
    "model_path",
    "register_model",
    "resolve_model",
    "start_run",
    "tracking_uri",
]
