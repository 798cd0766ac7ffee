"""Bad input to training fails at once, naming the file or field, before Ray starts (issue #10)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tiny_dataset import build_tiny_dataset, tiny_config

from trainers import RunConfig, launch
from vibe.core.config import ConfigError, validate
from vibe.core.errors import UserError


def test_an_absurd_max_steps_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"training\.max_steps: got 99999999999999999999999"):
        validate(RunConfig, {"training": {"max_steps": 99999999999999999999999}}, source="run.yaml")


@pytest.mark.parametrize("suffix", [".bin", ".idx"])
def test_a_truncated_split_is_named_before_ray_starts(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    def no_ray(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray was started before the dataset was checked")

    data = build_tiny_dataset(tmp_path / "data")
    damaged = data / f"train_text_document{suffix}"
    os.truncate(damaged, damaged.stat().st_size - 7)
    config = tiny_config(data, tmp_path / "run")
    # Whatever Ray an earlier test of this process left up (its session cluster stays up for later tests),
    # launch must see none and must fail before it would start one.
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", no_ray)
    with pytest.raises(UserError, match=rf"{damaged}: truncated .*re-run `vibe data ingest`"):
        launch(config)
