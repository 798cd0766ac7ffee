"""Capable-model mode against a scripted OpenAI-compatible HTTP server that answers with tool calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies import Gate, GateDecision
from tests.vibe.llm.conftest import StubLLM
from vibe.agent import Agent, AgentSettings
from vibe.ledger import SqliteLedger
from vibe.llm import LLMConfig, OpenAIChatModel


@pytest.fixture
def server() -> Iterator[StubLLM]:
    stub = StubLLM(models=["capable"])
    stub.thread.start()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def _call(name: str, args: dict[str, Any], n: int = 1) -> dict[str, Any]:
    return {"id": f"c{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


class _DenyIngest(Gate):
    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        if kind == "data.ingest":
            return GateDecision(outcome="deny", rule_ids=["data-9"], reason="that archive is restricted")
        return GateDecision(outcome="allow", reason="ok")


def _agent(tmp_path: Path, server: StubLLM, **settings: Any):
    llm = OpenAIChatModel(LLMConfig(url=server.url, model="capable", max_retries=0))
    config = AgentSettings(workdir=str(tmp_path), measure_local_flops=False, llm_mode="tools", **settings)
    return Agent.open(config, llm=llm, gate=_DenyIngest())


def test_the_model_calls_typed_tools_through_the_gate(tmp_path: Path, server: StubLLM, corpus: Path) -> None:
    server.reply(tool_calls=[_call("estimate", {"parameters": 7e9, "architecture": "dense"})])
    server.reply(tool_calls=[_call("ingest", {"paths": [str(corpus)], "out": str(tmp_path / "d")}, 2),
                             _call("estimate", {"parameters": "seven"}, 3)])  # fmt: skip
    server.reply(content="A 7B needs about 10^23 FLOPs; the archive is restricted, so nothing was ingested.")
    with _agent(tmp_path, server) as agent:
        outcome = agent.run(f"how much would a 7B cost, and ingest {corpus}", thread_id="tm")
    assert outcome.status == "done" and "restricted" in outcome.reason
    results = [c["result"] for c in outcome.values["calls"]]
    assert "train_flops" in json.dumps(results[0])  # the real estimate tool ran
    assert results[1] == {"error": "denied by policy: that archive is restricted (data-9)"}
    assert results[2]["error"].startswith("invalid call")
    assert not (tmp_path / "d").exists()
    sent = server.requests[0]
    assert {t["function"]["name"] for t in sent["tools"]} >= {"estimate", "ingest", "train", "eval"}
    assert server.requests[1]["messages"][-1]["role"] == "tool"  # the result went back to the model
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        gates = [
            (e.record.action, e.record.outcome)
            for e in ledger.entries(thread_id="tm")
            if e.record.kind == "gate"
        ]
    assert gates == [("estimate", "allow"), ("data.ingest", "deny")]


def test_turns_are_bounded(tmp_path: Path, server: StubLLM) -> None:
    server.reply(times=5, tool_calls=[_call("estimate", {"parameters": 1e9})])
    with _agent(tmp_path, server, max_tool_turns=2) as agent:
        outcome = agent.run("estimate a 1B forever", thread_id="b")
    assert outcome.status == "stopped" and "2 turns without a final answer" in outcome.reason
    assert len(server.requests) == 2


def test_uploads_are_refused_before_the_model_sees_the_request(tmp_path: Path, server: StubLLM) -> None:
    with _agent(tmp_path, server) as agent:
        outcome = agent.run("upload the model to huggingface", thread_id="r")
    assert outcome.status == "refused" and server.requests == []
