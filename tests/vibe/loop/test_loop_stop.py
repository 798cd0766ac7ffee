"""When the loop starts no further round: deadline, rounds, budget, and rounds that could not search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vibe.loop import LoopConfig, LoopState, RoundRecord, RoundSettings, run_loop, why_stop

START = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)


def _state(*rounds: RoundRecord, hours: float = 8) -> LoopState:
    return LoopState(goal="g", name="loop-x", started=START, deadline=START + timedelta(hours=hours),
                     full_run_s=600, rounds=list(rounds))  # fmt: skip


def _round(number: int, **fields: Any) -> RoundRecord:
    search = {"n_complete": 3, "cpu_hours": 1.0, "gpu_hours": 0.0}
    return RoundRecord(number=number, thread_id=f"r{number}", kind="search", started=START, finished=START,
                       **{"search": search, **fields})  # fmt: skip


def _config(**fields: Any) -> LoopConfig:
    return LoopConfig(goal="g", hours=8, **fields)


def test_a_fresh_loop_starts_a_round() -> None:
    assert why_stop(_config(), _state(), START) == (None, "")


def test_no_round_starts_without_the_search_time_a_round_needs() -> None:
    config = _config(rounds=RoundSettings(min_round_s=60, run_overhead_s=45, report_reserve_s=20))
    late = START + timedelta(hours=8) - timedelta(seconds=600 + 45 + 20 + 59)
    assert why_stop(config, _state(), late)[0] == "deadline"
    assert why_stop(config, _state(), late - timedelta(seconds=2))[0] is None


def test_the_loop_stops_after_max_rounds_and_at_its_budget() -> None:
    assert why_stop(_config(rounds=RoundSettings(max_rounds=2)), _state(_round(1), _round(2)), START)[0] == (
        "max_rounds"
    )
    spent = _state(_round(1, cpu_hours=3.0), _round(2, cpu_hours=2.5))
    stopped_by, why = why_stop(_config(cpu_hours=5), spent, START)
    assert stopped_by == "budget" and "5.5 of 5 CPU core-hours" in why


def test_a_round_that_finished_no_trial_ends_the_loop_with_its_reason() -> None:
    denied = _round(1, search=None, status="stopped", reason="hpo denied by policy: too big (org:compute)")
    stopped_by, why = why_stop(_config(), _state(denied), START)
    assert stopped_by == "policy" and "hpo denied by policy" in why
    waiting = _round(1, search=None, status="stopped", pending=["abc"])
    assert why_stop(_config(), _state(waiting), START)[0] == "approval"


def test_a_search_that_finished_no_trial_says_why_and_what_to_change() -> None:
    search = {"n_complete": 0, "n_failed": 2, "stopped_by": "deadline", "stop_reason": "the deadline passed"}
    stopped_by, why = why_stop(_config(), _state(_round(1, search=search, status="done")), START)
    assert stopped_by == "failed"
    assert "2 failed; stopped by deadline: the deadline passed" in why and "longer window" in why


def test_a_loop_left_past_its_deadline_is_closed_and_a_new_one_starts(tmp_path: Path) -> None:
    old = tmp_path / "loop-20261128-220000"
    old.mkdir()
    yesterday = datetime.now(UTC) - timedelta(hours=10)
    stale = _state(_round(1, search=None), hours=8).model_copy(
        update={
            "goal": "tune a 20M on /data",
            "name": old.name,
            "started": yesterday,
            "deadline": yesterday + timedelta(hours=8),
        }
    )
    (old / "loop.json").write_text(stale.model_dump_json())
    lines: list[str] = []
    result = run_loop(
        LoopConfig(goal="tune a 20M on /data", hours=0.001, workdir=str(tmp_path)), on_event=lines.append
    )
    closed = LoopState.model_validate_json((old / "loop.json").read_text())
    assert (closed.status, closed.stopped_by) == ("done", "deadline")
    assert "not running" in closed.note and (old / "report.md").is_file()
    assert result.loop_dir != old and result.state.rounds == []  # no time for a round in the new one
    assert result.state.stopped_by == "deadline" and result.report.is_file()
    assert "No search trial finished." in result.report.read_text()
