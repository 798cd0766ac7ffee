"""The same graph on a real PostgreSQL server: the checkpointer is chosen by URL, threads survive a restart."""

from __future__ import annotations

from pathlib import Path

from vibe.agent import Agent, AgentSettings


def test_a_thread_paused_on_postgres_resumes_in_a_new_process(
    tmp_path: Path, corpus: Path, postgres_url: str
) -> None:
    settings = AgentSettings(workdir=str(tmp_path), checkpointer=postgres_url, measure_local_flops=False)
    with Agent.open(settings) as agent:
        paused = agent.run(f"train a 7B on {corpus}", thread_id="pg")
    assert paused.waiting_for is not None and paused.waiting_for["kind"] == "confirm"
    assert not (tmp_path / "agent.sqlite").exists()  # the state went to PostgreSQL, not a local file
    with Agent.open(settings) as agent:  # as a restarted process would
        outcome = agent.resume("pg", answer="no")
    assert outcome.status == "stopped" and "cancelled" in outcome.reason
    assert outcome.values["plan"]["full"]["total_params"] > 6e9
