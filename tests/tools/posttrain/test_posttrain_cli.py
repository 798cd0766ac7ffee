"""``vibe posttrain``, the ``posttrain`` agent tool and ``from-synth``: real runs on the tiny base, bad input
exits 2 naming the file and line, synth provenance survives the conversion."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from policies import GateDecision
from tools import ToolContext, ToolError, registered
from tools.posttrain import chat_from_synth
from trainers import read_metrics
from vibe.cli import app
from vibe.ledger import SqliteLedger

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers" / "posttrain"))
from posttrain_helpers import chats, pairs, write_jsonl


def test_cli_sft_then_dpo_and_bad_data(rl_base: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    sft_data = write_jsonl(tmp_path / "chat.jsonl", chats(8))
    common = [
        "--in-process",
        "--max-steps",
        "3",
        "--global-batch",
        "4",
        "--micro-batch",
        "2",
        "--workdir",
        str(tmp_path),
    ]
    result = runner.invoke(
        app,
        [
            "posttrain",
            "sft",
            "--base",
            str(rl_base),
            "--data",
            str(sft_data),
            "--out",
            str(tmp_path / "sft"),
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "sft step 3: loss" in result.output
    dpo_data = write_jsonl(tmp_path / "pairs.jsonl", pairs(4))
    result = runner.invoke(
        app,
        [
            "posttrain",
            "dpo",
            "--base",
            str(tmp_path / "sft"),
            "--data",
            str(dpo_data),
            "--out",
            str(tmp_path / "dpo"),
            "--beta",
            "0.2",
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(read_metrics(tmp_path / "dpo" / "metrics.jsonl")) == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(pairs(1)[0]) + "\n{not json\n")
    result = runner.invoke(
        app,
        [
            "posttrain",
            "dpo",
            "--base",
            str(rl_base),
            "--data",
            str(bad),
            "--out",
            str(tmp_path / "bad"),
            *common,
        ],
    )
    assert result.exit_code == 2 and "bad.jsonl:2: not valid JSON" in result.output


def test_the_agent_tool_is_typed_and_gated(rl_base: Path, tmp_path: Path) -> None:
    tool = registered()["posttrain"]
    with pytest.raises(ValidationError):
        tool(
            {"method": "sft", "base": "b", "data": "d", "out": "o", "unknown": 1},
            ToolContext(workdir=tmp_path),
        )

    class Deny:
        def check(self, *, kind: str, attributes: dict) -> GateDecision:
            assert kind == "train.run" and attributes["parameters"] > 0 and attributes["cpu_hours"] > 0
            return GateDecision(outcome="deny", reason="over budget", rule_ids=["org:compute"])

    args = {
        "method": "sft",
        "base": str(rl_base),
        "data": str(write_jsonl(tmp_path / "c.jsonl", chats(4))),
        "out": str(tmp_path / "o"),
    }
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        with pytest.raises(ToolError, match=r"sft\) is denied by org:compute: over budget"):
            tool(args, ToolContext(workdir=tmp_path, gate=Deny(), ledger=ledger, thread_id="t"))
        recorded = [e.to_entry().record for e in ledger.stored(thread_id="t")]
    assert not (tmp_path / "o").exists()
    # the tool records into the ledger it is given: the gate's decision, nothing run
    assert [(r.kind, r.outcome, r.rule_ids) for r in recorded] == [("gate", "deny", ["org:compute"])]


def test_synth_samples_become_chat_data_with_provenance(tmp_path: Path) -> None:
    samples = tmp_path / "synth" / "samples.jsonl"
    samples.parent.mkdir()
    qa = {
        "id": "a1",
        "template": "doc.qa",
        "source": {"path": "/d/a.md"},
        "model": "m",
        "output": {"question": "Q?", "answer": "A."},
        "text": "Question: Q?\nAnswer: A.\n",
    }
    explain = {"id": "b2", "template": "code.explain", "source": {"path": "/c/x.py"}, "verification": {"verdict": "not_required"},
               "output": "It adds.", "text": "Explain this code from /c/x.py:\n```python\nx+1\n```\n\nIt adds.\n"}  # fmt: skip
    write_jsonl(samples, [qa, explain])
    out = tmp_path / "chat.jsonl"
    assert chat_from_synth(samples.parent, out) == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["messages"] == [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]
    assert rows[1]["messages"][0]["content"].startswith("Explain this code from /c/x.py")
    assert rows[1]["messages"][1] == {"role": "assistant", "content": "It adds."}
    assert rows[1]["provenance"] == {k: v for k, v in explain.items() if k not in ("output", "text")}


def test_on_policy_pairs_put_the_best_completion_against_the_worst(
    rl_base: Path, rule_file: Path, tmp_path: Path
) -> None:
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": "write a"}, {"prompt": "write b"}])
    out = tmp_path / "pairs.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "posttrain",
            "pairs",
            "--base",
            str(rl_base),
            "--data",
            str(prompts),
            "--policy",
            str(rule_file),
            "--out",
            str(out),
            "-k",
            "6",
            "--max-new-tokens",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows, "six random completions of a random model should differ in capitals"
    for row in rows:
        assert (
            row["provenance"]["chosen_scores"]["no-capitals"] == 1.0
            and row["provenance"]["rejected_scores"]["no-capitals"] == 0.0
        )
        assert not any(c.isupper() for c in row["chosen"]) and any(c.isupper() for c in row["rejected"])
        assert row["prompt"][0]["role"] == "user"
