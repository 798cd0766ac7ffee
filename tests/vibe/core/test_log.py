"""A run's log file (``vibe.core.log.run_log``) holds that run's lines only, in one long process."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vibe.core.log import ROOTS, run_log

trainers_log = logging.getLogger("trainers._launch")
tools_log = logging.getLogger("tools.hpo._search")


def _file_handlers() -> list[logging.FileHandler]:
    """The file handlers on Vibe's roots, each once (one run's handler sits on every root)."""
    handlers = [h for name in ROOTS for h in logging.getLogger(name).handlers]
    return list(dict.fromkeys(h for h in handlers if isinstance(h, logging.FileHandler)))


def test_two_runs_in_one_process_each_log_only_their_own_lines(tmp_path: Path) -> None:
    before = _file_handlers()
    first, second = tmp_path / "one" / "logs" / "driver.log", tmp_path / "two" / "logs" / "driver.log"
    with run_log(first):
        trainers_log.info("first run line")
    assert _file_handlers() == before
    with run_log(second):
        trainers_log.info("second run line")
        tools_log.info("second run, another root")
    assert _file_handlers() == before
    trainers_log.info("after both runs")

    one, two = first.read_text(encoding="utf-8"), second.read_text(encoding="utf-8")
    assert "first run line" in one
    assert "second run" not in one and "after both runs" not in one
    assert "second run line" in two and "second run, another root" in two
    assert "first run line" not in two and "after both runs" not in two


def test_a_nested_run_gets_its_own_file_and_the_outer_file_keeps_all(tmp_path: Path) -> None:
    outer, inner = tmp_path / "hpo.log", tmp_path / "trials" / "0" / "logs" / "driver.log"
    with run_log(outer):
        tools_log.info("search starts")
        with run_log(inner):
            trainers_log.info("trial line")
        with run_log(outer):  # the same file again: not opened twice, so no line is written twice
            tools_log.info("search again")
        tools_log.info("search ends")
    assert "trial line" in inner.read_text(encoding="utf-8")
    assert "search" not in inner.read_text(encoding="utf-8")
    lines = outer.read_text(encoding="utf-8").splitlines()
    assert [ln.split(": ", 1)[1] for ln in lines] == [
        "search starts",
        "trial line",
        "search again",
        "search ends",
    ]


def test_the_handler_is_removed_and_closed_when_the_run_raises(tmp_path: Path) -> None:
    before = _file_handlers()
    path = tmp_path / "logs" / "driver.log"
    with pytest.raises(RuntimeError, match="the run failed"), run_log(path):
        added = [h for h in _file_handlers() if h not in before]
        trainers_log.info("before the failure")
        raise RuntimeError("the run failed")
    assert _file_handlers() == before
    assert len(added) == 1 and added[0].stream is None  # closed
    trainers_log.info("after the failure")
    text = path.read_text(encoding="utf-8")
    assert "before the failure" in text and "after the failure" not in text
