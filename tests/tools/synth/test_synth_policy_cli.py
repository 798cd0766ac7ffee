"""Policy gate, ledger, the ``vibe synth`` command and the agent tool, against the scripted server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from synth_helpers import ScriptedServer
from typer.testing import CliRunner

from policies import PolicyGate
from tools import ToolContext, ToolError, registered
from tools.synth import SynthConfig, synthesize
from vibe.cli import app
from vibe.core.errors import UserError
from vibe.ledger import SqliteLedger

Start = Callable[..., ScriptedServer]


def _policy(tmp_path: Path, *, endpoint: str, max_volume: int) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(
        f"version: 1\nname: org\nscope: organisation\ndefault: allow\n"
        f"endpoints:\n  llm: [{endpoint}]\n"
        f"synthetic:\n  enabled: true\n  max_volume_per_run: {max_volume}\n"
    )
    return path


def _explain(payload: dict) -> str:
    return f"This helper ({len(payload['messages'][-1]['content'])} characters of code) computes a value."


def _config(corpus: Path, out: Path, url: str, samples: int) -> SynthConfig:
    return SynthConfig.model_validate(
        {
            "dataset": str(corpus),
            "out": str(out),
            "templates": ["code.explain"],
            "samples": samples,
            "llm": {"url": url, "max_retries": 0},
        }
    )


def test_an_endpoint_the_policy_does_not_allow_is_never_called(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    server = openai_server(_explain)
    gate = PolicyGate.from_files([_policy(tmp_path, endpoint="http://127.0.0.1:9/v1", max_volume=100)])
    with pytest.raises(UserError, match=r"llm.call denied by org:endpoints.llm: .* not an allowed endpoint"):
        synthesize(_config(corpus, tmp_path / "out", server.url, 2), gate=gate, progress_bar=False)
    assert server.requests == [] and server.gets == []


def test_a_volume_over_the_policy_cap_is_denied_before_generating(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    server = openai_server(_explain)
    gate = PolicyGate.from_files([_policy(tmp_path, endpoint=server.url, max_volume=3)])
    with pytest.raises(UserError, match=r"synth\.generate denied by org:synthetic\.max_volume_per_run"):
        synthesize(_config(corpus, tmp_path / "out", server.url, 4), gate=gate, progress_bar=False)
    assert server.requests == []


def test_cli_checks_the_policy_and_records_every_batch_in_the_ledger(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    server = openai_server(_explain)
    policy = _policy(tmp_path, endpoint=server.url, max_volume=10)
    out, workdir = tmp_path / "out", tmp_path / "work"
    result = CliRunner().invoke(
        app,
        [
            "synth",
            str(corpus),
            "--out",
            str(out),
            "--templates",
            "code.explain",
            "--samples",
            "3",
            "--url",
            server.url,
            "--concurrency",
            "1",
            "--policy",
            str(policy),
            "--workdir",
            str(workdir),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "samples kept of 3" in result.output
    with SqliteLedger(workdir / "ledger.sqlite") as ledger:
        records = [e.record for e in ledger.entries()]
    gates = [(r.action, r.outcome) for r in records if r.kind == "gate"]
    assert gates == [("llm.call", "allow"), ("synth.generate", "allow")]
    batches = [r for r in records if r.kind == "tool_result" and r.action == "synth.generate"]
    assert len(batches) == 1 and batches[0].outputs["requests"] == 3  # type: ignore[index]
    written = [json.loads(line) for line in (out / "batches.jsonl").read_text().splitlines()]
    assert batches[0].outputs["samples_sha256"] == written[0]["samples_sha256"]  # type: ignore[index]
    assert [r.kind for r in records][-1] == "run_finished"


def test_cli_denial_names_the_rule_and_exits_2(corpus: Path, tmp_path: Path, openai_server: Start) -> None:
    server = openai_server(_explain)
    policy = _policy(tmp_path, endpoint=server.url, max_volume=2)
    result = CliRunner().invoke(
        app,
        [
            "synth",
            str(corpus),
            "--out",
            str(tmp_path / "out"),
            "--samples",
            "5",
            "--url",
            server.url,
            "--policy",
            str(policy),
            "--workdir",
            str(tmp_path / "work"),
        ],
    )
    assert result.exit_code == 2
    assert "org:synthetic.max_volume_per_run" in result.output
    assert server.requests == []


def test_agent_tool_generates_into_the_workdir(corpus: Path, tmp_path: Path, openai_server: Start) -> None:
    server = openai_server(_explain)
    tool = registered()["synth"]
    with SqliteLedger(tmp_path / "agent-ledger.sqlite") as ledger:
        result = tool(
            {
                "dataset": str(corpus),
                "templates": ["code.explain"],
                "samples": 2,
                "url": server.url,
            },
            ToolContext(
                workdir=tmp_path / "work",
                thread_id="t1",
                show_progress=False,
                gate=PolicyGate.from_files([_policy(tmp_path, endpoint=server.url, max_volume=5)]),
                ledger=ledger,
            ),
        )
        assert {e.record.thread_id for e in ledger.entries()} == {"t1"}  # into the ledger it was given
        assert {"gate", "tool_result"} <= {e.record.kind for e in ledger.entries()}
    assert result.kept == 2 and result.dataset == str(tmp_path / "work" / "synth" / corpus.name)
    assert not (tmp_path / "work" / "ledger.sqlite").exists()


def test_agent_tool_asks_the_gate_in_its_context(corpus: Path, tmp_path: Path, openai_server: Start) -> None:
    server = openai_server(_explain)
    gate = PolicyGate.from_files([_policy(tmp_path, endpoint=server.url, max_volume=5)])
    with pytest.raises(ToolError, match=r"org:synthetic\.max_volume_per_run"):
        registered()["synth"](
            {"dataset": str(corpus), "templates": ["code.explain"], "samples": 10, "url": server.url},
            ToolContext(workdir=tmp_path / "work", show_progress=False, gate=gate),
        )
    assert server.requests == []
