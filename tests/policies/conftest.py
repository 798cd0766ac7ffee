"""Fixtures for the policy tests: write YAML text to a real file and load it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from policies import PolicySet, load_policies

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write(name, yaml_text)`` -> the path of a real file holding the dedented text."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load(write: Callable[[str, str], Path]) -> Callable[..., PolicySet]:
    """``load(org_yaml, team_yaml, ...)`` -> the composed PolicySet of those texts, in order."""

    def _load(*texts: str) -> PolicySet:
        return load_policies([write(f"p{i}.yaml", text) for i, text in enumerate(texts)])

    return _load


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Error lines printed by ``user_errors`` are not wrapped at 80 columns, so tests can match them whole."""
    from vibe.core.log import console

    monkeypatch.setattr(console, "_width", 10_000)
