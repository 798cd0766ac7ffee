"""The model registry is MLflow's: a released model is a registered model version with tags and aliases.

Unlike tracking, registration is synchronous: a release that cannot reach the registry fails with a clear
error and registers nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibe.core.errors import UserError
from vibe.tracking._config import TrackingConfig, artifact_root, tracking_uri

__all__ = ["ModelVersionInfo", "model_path", "register_model", "resolve_model"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class ModelVersionInfo:
    """A registered model version as Vibe reads it back."""

    name: str
    version: str
    run_id: str | None
    source: str
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def export_dir(self) -> Path | None:
        """The HF export directory the version was released from (what `vibe llm serve` serves)."""
        return Path(self.tags["vibe.export_dir"]) if self.tags.get("vibe.export_dir") else None

    @property
    def run_dir(self) -> Path | None:
        return Path(self.tags["vibe.run_dir"]) if self.tags.get("vibe.run_dir") else None


def _client(config: TrackingConfig | None) -> tuple[Any, str]:
    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    uri = tracking_uri((config or TrackingConfig()).uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


def _unreachable(uri: str, error: Exception) -> UserError:
    return UserError(
        f"model registry at {uri}: {str(error).splitlines()[0][:300]}; check that the MLflow server runs "
        "(or unset MLFLOW_TRACKING_URI for the embedded store) and release again; nothing was registered"
    )


def register_model(
    *,
    name: str,
    files: Mapping[str, Path],
    tags: Mapping[str, str],
    aliases: Sequence[str] = (),
    description: str = "",
    config: TrackingConfig | None = None,
) -> ModelVersionInfo:
    """Register a new version of ``name``: a release run holding ``files`` (artifact path -> file) under
    ``release/``, the version pointing at them, ``tags`` on the version, each alias moved to it."""
    if not _NAME.match(name):
        raise UserError(
            f"--name {name!r}: a model name is letters, digits, '.', '_' or '-' (at most 100 characters)"
        )
    from mlflow.entities import RunTag
    from mlflow.exceptions import MlflowException

    client, uri = _client(config)
    try:
        experiment = client.get_experiment_by_name("vibe-release")
        experiment_id = (
            experiment.experiment_id
            if experiment
            else client.create_experiment("vibe-release", artifact_location=artifact_root(uri))
        )
        run = client.create_run(experiment_id, run_name=f"release-{name}")
        run_id = run.info.run_id
        client.log_batch(run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])
        with tempfile.TemporaryDirectory() as tmp:  # the artifacts laid out as ``files`` names them
            for artifact, path in files.items():
                target = Path(tmp) / artifact
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            client.log_artifacts(run_id, tmp, artifact_path="release")
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name, description=description or None)
        version = client.create_model_version(
            name,
            source=f"{run.info.artifact_uri}/release",
            run_id=run_id,
            tags={k: str(v)[:5000] for k, v in tags.items()},
            description=description or None,
        )
        for alias in aliases:
            client.set_registered_model_alias(name, alias, version.version)
        client.set_terminated(run_id)
    except MlflowException as error:
        raise _unreachable(uri, error) from None
    except OSError as error:
        raise _unreachable(uri, error) from None
    return resolve_model(f"{name}/{version.version}", config=config)


def resolve_model(ref: str, *, config: TrackingConfig | None = None) -> ModelVersionInfo:
    """``NAME@ALIAS`` (e.g. ``coder@production``), ``NAME/VERSION`` or ``NAME`` (its newest version)."""
    from mlflow.exceptions import MlflowException

    client, uri = _client(config)
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            version = client.get_model_version_by_alias(name, alias)
        elif "/" in ref:
            name, number = ref.split("/", 1)
            version = client.get_model_version(name, number)
        else:
            name = ref
            versions = client.search_model_versions(f"name = '{name}'")
            if not versions:
                raise UserError(
                    f"model {name!r}: no version is registered in {uri}; `vibe model release` one"
                )
            version = max(versions, key=lambda v: int(v.version))
    except MlflowException as error:
        if error.get_http_status_code() in (400, 404):
            raise UserError(
                f"model {ref!r}: not in the registry at {uri} ({str(error).splitlines()[0][:200]}); "
                "`vibe model release RUN --name NAME` registers one (aliases staging, production)"
            ) from None
        raise _unreachable(uri, error) from None
    return ModelVersionInfo(
        name=version.name,
        version=str(version.version),
        run_id=version.run_id,
        source=version.source,
        aliases=list(getattr(version, "aliases", []) or []),
        tags=dict(version.tags or {}),
    )


def model_path(ref: str | Path, *, config: TrackingConfig | None = None) -> Path:
    """What to serve for ``ref``: an existing directory as it is, else a registered ``NAME@ALIAS`` (or
    ``NAME/VERSION``) resolved to the HF export directory it was released from."""
    path = Path(ref)
    if path.exists():
        return path
    version = resolve_model(str(ref), config=config)
    export = version.export_dir
    if export is None or not (export / "config.json").is_file():
        raise UserError(
            f"model {ref!r} (version {version.version}): "
            + ("has no HF export recorded" if export is None else f"its export {export} is gone")
            + "; export the run (`vibe model export RUN`) and release it again"
        )
    return export
