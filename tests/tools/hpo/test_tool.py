"""The agent tool ``hpo``: the search in-process under the caller's gate, with a transfer to a target."""

from __future__ import annotations

from pathlib import Path

import pytest
from hpo_helpers import proxy_run

from policies import Gate, GateDecision
from tools import ToolContext, registered


@pytest.mark.slow
def test_the_hpo_tool_searches_and_transfers_the_best_settings(
    hpo_data: Path, hpo_ray: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", hpo_ray)
    base = proxy_run(hpo_data, tmp_path / "base", max_steps=8).model_dump(mode="json")
    args = {
        "base": base,
        "study_name": "tool",
        "space": [{"name": "optimizer.lr", "kind": "float", "low": 1e-3, "high": 3e-2, "log": True}],
        "max_trials": 2,
        "pruner": "none",
        "target_model": {"preset": "small"},
    }
    result = registered()["hpo"](args, ToolContext(workdir=tmp_path, show_progress=False))
    assert result.n_complete == 2 and result.stopped_by == "max_trials"
    assert Path(result.report).is_file() and result.out == str(tmp_path / "hpo" / "tool")
    lr = result.best_params["optimizer.lr"]
    assert result.transferred is not None
    assert result.transferred["optimizer.lr"] == pytest.approx(lr * 64 / 384)


def test_the_hpo_tool_rejects_an_invalid_space_before_running(tmp_path: Path) -> None:
    from tools import ToolError

    args = {"base": {}, "study_name": "bad", "space": [{"name": "lr", "kind": "float", "low": 0, "high": 1}]}
    with pytest.raises(ToolError, match="dotted"):
        registered()["hpo"](args, ToolContext(workdir=tmp_path, show_progress=False))


class _DenyAll(Gate):
    def __init__(self) -> None:
        self.asked: list[str] = []

    def check(self, *, kind: str, attributes: dict) -> GateDecision:
        self.asked.append(kind)
        return GateDecision(outcome="deny", rule_ids=["test:no"], reason="nothing today")


def test_the_hpo_tool_asks_the_gate_in_its_context(hpo_data: Path, tmp_path: Path) -> None:
    gate = _DenyAll()
    base = proxy_run(hpo_data, tmp_path / "base", max_steps=8).model_dump(mode="json")
    args = {"base": base, "study_name": "denied", "max_trials": 2}
    result = registered()["hpo"](args, ToolContext(workdir=tmp_path, show_progress=False, gate=gate))
    assert "hpo.search" in gate.asked
    assert result.stopped_by == "policy" and result.n_complete == 0
    assert "nothing today" in result.stop_reason
