"""The real graph on the real SQLite checkpointer and ledger (no training here: see test_run.py)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from policies import Gate, GateDecision
from vibe.agent import EMPTY_DRAFT, Agent, AgentSettings, Draft
from vibe.ledger import SqliteLedger
from vibe.llm import LLMConfig, OpenAIChatModel, ScriptedChatModel


def _kinds(workdir: Path, thread: str) -> list[str]:
    with SqliteLedger(workdir / "ledger.sqlite") as ledger:
        return [e.record.kind for e in ledger.entries(thread_id=thread)]


def _draft(**fields: Any) -> Draft:
    return Draft.model_validate(EMPTY_DRAFT | {"k": "train"} | fields)


def _open(tmp_path: Path, **kwargs: Any):
    return Agent.open(AgentSettings(workdir=str(tmp_path)), **kwargs)


def test_estimate_request_writes_a_report_with_the_numbers(tmp_path: Path, corpus: Path) -> None:
    with _open(tmp_path, yes=True) as agent:
        outcome = agent.run(f"how much would a 7B on {corpus} cost?", thread_id="est")
    assert outcome.status == "estimated"
    report = Path(outcome.report).read_text()
    assert (
        "GPU-hours" in report and "TP=" in report and "epochs" in report and '"hidden_size": 4096' in report
    )
    assert (tmp_path / "est" / "report.html").read_text().startswith("<!doctype html>")
    assert _kinds(tmp_path, "est") == ["goal_parsed", "plan_chosen", "report"]


def test_every_decision_lands_in_a_verifiable_ledger(tmp_path: Path) -> None:
    with _open(tmp_path, yes=True) as agent:
        agent.run(f"how much would a 1B MoE on {tmp_path} cost?", thread_id="a")
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.verify().ok


def test_nonsense_request_gets_a_question_back(tmp_path: Path) -> None:
    with _open(tmp_path, yes=True) as agent:
        outcome = agent.run("what's the weather like?", thread_id="w")
    assert outcome.status == "question"
    assert "I could not tell what to do" in outcome.reason and "train a 125M on /data/code" in outcome.reason
    assert "plan" not in outcome.values


def test_missing_data_path_stops_naming_the_path(tmp_path: Path) -> None:
    with _open(tmp_path, yes=True) as agent:
        outcome = agent.run("train a 125M on /nonexistent/code", thread_id="m")
    assert outcome.status == "stopped"
    assert "/nonexistent/code" in outcome.reason


def test_llm_draft_is_validated_and_used(tmp_path: Path) -> None:
    llm = ScriptedChatModel([_draft(k="estimate", size="3B", data=[str(tmp_path)])])
    with _open(tmp_path, yes=True, llm=llm) as agent:
        outcome = agent.run(f"what would a 3B on {tmp_path} cost", thread_id="l")
    assert outcome.values["goal"]["parameters"] == 3e9
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        first = next(ledger.entries(thread_id="l")).record
    assert (first.kind, first.actor) == ("goal_parsed", "llm")


def test_invalid_llm_drafts_are_retried_then_fall_back_to_rules(tmp_path: Path) -> None:
    llm = ScriptedChatModel(["{not json", '{"objective": "train"}'])
    with _open(tmp_path, yes=True, llm=llm) as agent:
        outcome = agent.run(f"how much would a 7B on {tmp_path} cost?", thread_id="f")
    assert outcome.status == "estimated"
    assert len(llm.requests) == 2
    assert "validation error" in llm.requests[1][-1].content or "invalid" in llm.requests[1][-1].content
    kinds = _kinds(tmp_path, "f")
    assert kinds[:3] == ["retry", "fallback", "goal_parsed"]
    assert any("failed validation twice" in e for e in outcome.values["events"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_llm_falls_back_and_says_so(tmp_path: Path) -> None:
    llm = OpenAIChatModel(
        LLMConfig(url=f"http://127.0.0.1:{_closed_port()}/v1", model="m", max_retries=0, timeout_s=2)
    )
    with _open(tmp_path, yes=True, llm=llm) as agent:
        outcome = agent.run(f"how much would a 7B on {tmp_path} cost?", thread_id="u")
    assert outcome.status == "estimated"
    assert any("LLM unavailable" in e for e in outcome.values["events"])
    assert _kinds(tmp_path, "u")[0] == "fallback"


def test_plan_waits_for_confirmation_across_a_restart(tmp_path: Path, corpus: Path) -> None:
    request = f"train a 7B on {corpus}"
    with _open(tmp_path) as agent:
        outcome = agent.run(request, thread_id="c")
    assert outcome.waiting_for is not None and outcome.waiting_for["kind"] == "confirm"
    with _open(tmp_path) as agent:  # a new process would open the same checkpointer
        outcome = agent.resume("c", answer="no")
    assert outcome.status == "stopped" and "cancelled" in outcome.reason
    assert not (tmp_path / "c" / "steps").exists()  # nothing ran


class _DenyTraining(Gate):
    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        if kind == "data.ingest":
            return GateDecision(outcome="deny", rule_ids=["data-1"], reason="this archive is restricted")
        return GateDecision(outcome="allow", reason="ok")


def test_denied_step_never_runs_and_the_reason_is_reported(tmp_path: Path, corpus: Path) -> None:
    with _open(tmp_path, yes=True, gate=_DenyTraining()) as agent:
        outcome = agent.run(f"train a 7B on {corpus}", thread_id="d")
    assert outcome.status == "stopped"
    assert "ingest denied by policy: this archive is restricted (data-1)" in outcome.reason
    assert not (tmp_path / "d" / "steps").exists()
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        gate = next(e.record for e in ledger.entries(thread_id="d") if e.record.kind == "gate")
    assert gate.outcome == "deny" and gate.rule_ids == ["data-1"]


def test_thread_ids_are_not_reused(tmp_path: Path) -> None:
    from vibe.core.errors import UserError

    with _open(tmp_path, yes=True) as agent:
        agent.run(f"how much would a 7B on {tmp_path} cost?", thread_id="x")
        with pytest.raises(UserError, match="vibe resume x"):
            agent.run("again", thread_id="x")


def test_a_finished_step_is_reused_after_a_restart_not_run_again(tmp_path: Path, corpus: Path) -> None:
    """The process died after the tool finished but before the graph checkpointed: the saved result is used."""
    from vibe.agent import AgentDeps, PlanSettings, Recorder, execute, make_plan, parse_request

    saved = tmp_path / "t" / "steps" / "ingest.json"
    saved.parent.mkdir(parents=True)
    saved.write_text('{"out": "x", "files_seen": 3}')
    step = {"id": "ingest", "tool": "ingest", "args": {"paths": ["/nonexistent"], "out": "x"}, "why": "w"}
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        deps = AgentDeps(record=Recorder(ledger), settings=PlanSettings(workdir=str(tmp_path)))
        base = make_plan(parse_request(f"train a 1M model on {corpus}"), tokens_available=1_000_000,
                         settings=deps.settings, thread_id="t")  # fmt: skip
        plan = {**base.model_dump(mode="json"), "steps": [step]}
        update = execute({"thread_id": "t", "plan": plan, "cursor": 0, "results": {}}, deps)
        record = next(ledger.entries(thread_id="t")).record
    assert update["results"]["ingest"] == {"out": "x", "files_seen": 3}  # /nonexistent was never read
    assert "result reused" in record.reason


def test_llm_proposal_within_bounds_changes_the_local_run(tmp_path: Path, corpus: Path) -> None:
    from vibe.agent import AgentSettings, Proposal

    llm = ScriptedChatModel(
        [_draft(k="train", size="7B", data=[str(corpus)]),
         Proposal(learning_rate=3e-4, reason="a gentler rate for a small proxy")]
    )  # fmt: skip
    settings = AgentSettings(workdir=str(tmp_path), llm_proposals=True, measure_local_flops=False)
    with Agent.open(settings, llm=llm) as agent:
        outcome = agent.run(f"train a 7B on {corpus}", thread_id="p")
    train = next(s for s in outcome.values["plan"]["steps"] if s["tool"] == "train")
    assert train["args"]["config"]["optimizer"]["lr"] == 3e-4
    assert "plan_proposed" in _kinds(tmp_path, "p")


def test_llm_proposal_out_of_bounds_is_rejected_and_recorded(tmp_path: Path, corpus: Path) -> None:
    from vibe.agent import AgentSettings, Proposal

    llm = ScriptedChatModel([_draft(k="train", size="7B", data=[str(corpus)]), Proposal(learning_rate=0.5)])
    settings = AgentSettings(workdir=str(tmp_path), llm_proposals=True, measure_local_flops=False)
    with Agent.open(settings, llm=llm) as agent:
        outcome = agent.run(f"train a 7B on {corpus}", thread_id="q")
    train = next(s for s in outcome.values["plan"]["steps"] if s["tool"] == "train")
    assert train["args"]["config"]["optimizer"]["lr"] != 0.5
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        rejected = [e.record for e in ledger.entries(thread_id="q") if e.record.kind == "proposal_rejected"]
    assert rejected and "learning_rate 0.5 is outside" in rejected[0].reason


def test_an_impossible_budget_is_said_plainly_in_the_report(tmp_path: Path, corpus: Path) -> None:
    with _open(tmp_path, yes=True) as agent:
        outcome = agent.run(f"how much would a 70B on {corpus} cost within 10 GPU-hours?", thread_id="b")
    assert outcome.status == "estimated"
    assert "over the budget of 10" in Path(outcome.report).read_text()


def test_slow_llm_times_out_and_the_agent_falls_back(tmp_path: Path, corpus: Path) -> None:
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # answers nothing for 5 s: longer than the client waits
            time.sleep(5)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        llm = OpenAIChatModel(LLMConfig(url=url, model="m", max_retries=0, timeout_s=0.5))
        with _open(tmp_path, yes=True, llm=llm) as agent:
            outcome = agent.run(f"how much would a 7B on {corpus} cost?", thread_id="s")
    finally:
        server.shutdown()
    assert outcome.status == "estimated"
    assert any("LLM unavailable" in e for e in outcome.values["events"])
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        fallback = next(ledger.entries(thread_id="s")).record
    assert fallback.kind == "fallback" and url in str(fallback.outputs)
