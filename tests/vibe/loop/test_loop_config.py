"""The loop's configuration and command line: deadlines, and the errors a person sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from vibe.cli import app
from vibe.loop import LoopConfig, parse_until

EVENING = datetime(2026, 11, 29, 22, 30, tzinfo=UTC)


def test_until_a_time_of_day_is_the_next_such_time() -> None:
    at = parse_until("07:00", now=EVENING)
    assert at > EVENING and at - EVENING < timedelta(days=1)
    assert at.astimezone().strftime("%H:%M") == "07:00"


def test_until_a_date_time_is_taken_as_given() -> None:
    at = parse_until("2026-11-30T07:00:00+01:00", now=EVENING)
    assert at == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert parse_until("2026-11-30T07:00", now=EVENING).tzinfo is not None


@pytest.mark.parametrize("text", ["25:00", "7am", "tomorrow"])
def test_an_unreadable_until_says_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_until(text, now=EVENING)


def test_exactly_one_deadline_is_required() -> None:
    with pytest.raises(ValidationError, match="exactly one of until"):
        LoopConfig(goal="tune a 20M on /data")
    with pytest.raises(ValidationError, match="exactly one of until"):
        LoopConfig(goal="tune a 20M on /data", hours=1, until=EVENING)
    config = LoopConfig(goal="tune a 20M on /data", hours=8)
    assert config.deadline(EVENING) == EVENING + timedelta(hours=8)
    assert (
        LoopConfig(goal="g", until=EVENING.astimezone(timezone(timedelta(hours=2)))).deadline(EVENING)
        == EVENING
    )


def test_the_loop_runs_the_agent_unattended_with_its_policies_and_team() -> None:
    config = LoopConfig(goal="g", hours=1, workdir="w", policies=["/p/org.yaml"], team="nlp")
    settings = config.agent_settings()
    assert settings.unattended and settings.workdir == "w"
    assert settings.policies == ["/p/org.yaml"] and settings.team == "nlp"


def test_the_command_wants_one_deadline(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["loop", "tune a 20M on /data", "--workdir", str(tmp_path)])
    assert result.exit_code != 0 and "exactly one of --until HH:MM and --hours N" in result.output
    result = CliRunner().invoke(app, ["loop", "g", "--until", "31:00", "--workdir", str(tmp_path)])
    assert result.exit_code != 0 and "HH:MM" in result.output
