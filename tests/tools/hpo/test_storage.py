"""The study lives where ``storage`` says: here a throwaway PostgreSQL server (the ``postgres_url`` fixture, tests/postgres_server.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hpo_helpers import lr_space, proxy_run

from tools.hpo import Budget, HPOConfig, run_search


@pytest.mark.slow
def test_a_study_on_postgresql_continues_from_the_server(
    hpo_data: Path,
    hpo_ray: str,
    tmp_path: Path,
    postgres_url: str,
) -> None:
    import optuna

    def config(trials: int) -> HPOConfig:
        return HPOConfig(out=tmp_path / "study", study_name="pg", storage=postgres_url, pruner="none",
                         base=proxy_run(hpo_data, tmp_path / "base", max_steps=8), space=lr_space(1e-3, 3e-2),
                         budget=Budget(max_trials=trials))  # fmt: skip

    assert run_search(config(1)).n_complete == 1
    result = run_search(config(2))  # a second invocation continues the study on the server
    assert result.n_complete == 2 and result.storage == postgres_url
    assert not (tmp_path / "study" / "study.sqlite").exists()
    study = optuna.load_study(
        study_name="pg", storage=postgres_url.replace("postgresql://", "postgresql+psycopg://")
    )
    assert [t.number for t in study.trials] == [0, 1]
