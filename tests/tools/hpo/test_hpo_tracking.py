"""A search logged to a real MLflow server: one run for the study, one nested run per trial."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hpo_helpers import lr_space, proxy_run

sys.path.insert(0, str(Path(__file__).parents[2] / "vibe" / "tracking"))
from mlflow_server import run_tags, shared_server

from tools.hpo import Budget, HPOConfig, run_search


@pytest.mark.slow
def test_trials_are_nested_under_their_study(
    hpo_data: Path, hpo_ray: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = shared_server(tmp_path_factory.mktemp("mlflow"))
    base = proxy_run(hpo_data, tmp_path / "base", max_steps=8)
    base = base.model_copy(update={"tracking": base.tracking.model_copy(update={"uri": server.url})})
    config = HPOConfig.model_validate(
        {"out": tmp_path / "study", "study_name": "tracked", "base": base, "space": lr_space(),
         "budget": Budget(max_trials=2), "seed": 0}
    )  # fmt: skip
    result = run_search(config)
    runs = {
        r["info"]["run_name"]: r
        for r in server.runs("vibe-hpo")
        if r["info"]["run_name"].startswith("tracked")
    }
    study = runs.pop("tracked")
    assert sorted(runs) == ["tracked-trial-0000", "tracked-trial-0001"]
    for trial in runs.values():
        assert run_tags(trial)["mlflow.parentRunId"] == study["info"]["run_id"]
        assert server.history(trial["info"]["run_id"], "loss")
    assert {"report.md"} <= set(server.artifacts(study["info"]["run_id"]))
    assert result.n_complete + result.n_pruned == 2
