"""The agent's LLM boundary against the real local vLLM server (SmolLM2-135M-Instruct): the llm tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from vibe.agent import Agent, AgentSettings
from vibe.ledger import SqliteLedger
from vibe.llm import Endpoint, LLMConfig, OpenAIChatModel

pytestmark = pytest.mark.llm


def test_real_llm_drafts_a_goal_that_is_validated_or_replaced(
    tmp_path: Path, corpus: Path, llm_server: Endpoint
) -> None:
    llm = OpenAIChatModel(LLMConfig(url=llm_server.url, model=llm_server.model, max_tokens=200))
    with Agent.open(AgentSettings(workdir=str(tmp_path)), llm=llm, yes=True) as agent:
        outcome = agent.run(f"how much would a 7B on {corpus} cost?", thread_id="llm")
    assert llm.usage.calls >= 1 and llm.usage.completion_tokens > 0
    # whatever the small model drafted, what the planner got is valid and faithful to the request
    assert outcome.status == "estimated"
    assert outcome.values["goal"]["data_sources"] == [str(corpus)]
    assert outcome.values["goal"]["parameters"] == 7e9
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        records = [e.record for e in ledger.entries(thread_id="llm")]
    parsed = next(r for r in records if r.kind == "goal_parsed")
    llm_records = [r for r in records if r.actor == "llm"]
    assert llm_records, "the LLM's draft (accepted or rejected) is on the record"
    assert parsed.actor in ("llm", "planner")
