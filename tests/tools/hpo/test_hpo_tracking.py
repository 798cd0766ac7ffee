"""A search logged to a real MLflow server: one run for the study, one nested run per trial."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hpo_helpers import lr_space, proxy_run

sys.path.insert(0, str(Path(__file__).parents[2] / "vibe" / "tracking"))
from mlflow_server import run_tags, shared_server

from tools.hpo import Budget, HPOConfig, run_search

pytestmark = pytest.mark.slow

END_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


def test_trials_are_nested_under_their_study(
    hpo_data: Path, hpo_ray: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = shared_server(tmp_path_factory.mktemp("mlflow"))
    base = proxy_run(hpo_data, tmp_path / "base", max_steps=8)
    tracking = base.tracking.model_copy(update={"uri": server.url, "finish_timeout_s": 120})
    config = HPOConfig.model_validate(
        {"out": tmp_path / "study", "study_name": "tracked", "base": base.model_copy(update={"tracking": tracking}),
         "space": lr_space(), "budget": Budget(max_trials=2), "seed": 0}
    )  # fmt: skip
    result = run_search(config)

    runs = {
        r["info"]["run_name"]: r
        for r in server.runs("vibe-hpo")
        if r["info"]["run_name"].startswith("tracked")
    }
    study = runs.pop("tracked")
    assert run_tags(study)["vibe.kind"] == "hpo.study"
    assert study["info"]["status"] == "FINISHED"
    assert {"report.md"} <= set(server.artifacts(study["info"]["run_id"]))
    assert sorted(runs) == ["tracked-trial-0000", "tracked-trial-0001"]
    states = {t.number: t.state for t in result.trials}
    for name, trial in runs.items():
        tags, number = run_tags(trial), int(name.rsplit("-", 1)[1])
        assert tags["mlflow.parentRunId"] == study["info"]["run_id"]
        assert tags["vibe.kind"] == "hpo.trial" and tags["vibe.trial"] == str(number)
        assert tags["vibe.run_dir"] == str(tmp_path / "study" / "trials" / f"trial_{number:04d}")
        assert trial["info"]["status"] == END_STATUS[states[number]]
        assert server.history(trial["info"]["run_id"], "loss")  # forwarded from its metrics.jsonl
    assert result.n_complete + result.n_pruned == 2
