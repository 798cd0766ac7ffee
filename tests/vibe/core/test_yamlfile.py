"""The one bounded YAML reader: recursive aliases, billion laughs, deep nesting and non-UTF-8 are refused
with an error naming the file, for policies and run configs alike (issue #10, bad input)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import PolicyError, load_policies
from trainers import RunConfig
from vibe.core.config import ConfigError, load_yaml
from vibe.core.yamlfile import MAX_NODES, parse_yaml, read_yaml

RECURSIVE = "version: 1\nname: org\nx: &a [*a]\n"
LAUGHS = "version: 1\nname: org\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_plain_aliases_still_load() -> None:
    assert parse_yaml("a: &a [1, 2]\nb: [*a, *a]\n").data == {"a": [1, 2], "b": [[1, 2], [1, 2]]}


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        (RECURSIVE, "<aliases>", "recursive alias"),
        (LAUGHS, "<aliases>", f"expands to more than {MAX_NODES:,} values"),
        ("[" * 100 + "]" * 100, "<depth>", "nested more than 64 levels"),
        ("[" * 20000 + "]" * 20000, "<depth>", "nested too deeply"),
    ],
)
def test_refused_with_the_file_named(tmp_path: Path, text: str, field: str, says: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        read_yaml(path)
    assert str(error.value).startswith(f"{path}")
    assert f"{field}:" in str(error.value) and says in str(error.value)


@pytest.mark.parametrize("text", [RECURSIVE, LAUGHS])
def test_a_policy_with_a_bomb_is_a_policy_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=rf"{path}(:\d+)?: <aliases>:"):
        load_policies([path])


@pytest.mark.parametrize("text", [RECURSIVE, LAUGHS])
def test_a_run_config_with_a_bomb_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}(:\d+)?: <aliases>:"):
        load_yaml(path, RunConfig)


def test_non_utf8_config_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_bytes(b"out: runs/x\nname: caf\xe9\n")
    with pytest.raises(ConfigError, match=rf"{path}:2: <file>: is not UTF-8 text"):
        load_yaml(path, RunConfig)
