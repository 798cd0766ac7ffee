"""Where tracked runs go: a setting, ``$MLFLOW_TRACKING_URI``, or the embedded SQLite store."""

from __future__ import annotations

import os

from pydantic import Field

from vibe.core.config import VibeConfig
from vibe.core.paths import cache_dir

__all__ = ["TrackingConfig", "artifact_root", "tracking_uri"]


class TrackingConfig(VibeConfig):
    """MLflow tracking for one run (training, search, evaluation, loop)."""

    enabled: bool = Field(True, description="log this run to MLflow")
    uri: str | None = Field(
        None, description="tracking server URL (http://host:5000); default $MLFLOW_TRACKING_URI or embedded"
    )
    parent_run_id: str | None = Field(None, description="nest this run under that MLflow run")
    finish_timeout_s: float = Field(
        30.0, gt=0, description="how long the end of a run waits for unsent logs before listing them"
    )


def tracking_uri(setting: str | None = None) -> str:
    """``setting``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///$VIBE_CACHE/mlflow/mlflow.db``."""
    uri = setting or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{cache_dir('mlflow') / 'mlflow.db'}"


def artifact_root(uri: str) -> str | None:
    """Where an embedded store keeps artifacts (a server chooses its own: None)."""
    if uri.startswith("sqlite:///") or uri.startswith("file:"):
        return str(cache_dir("mlflow", "artifacts"))
    return None
