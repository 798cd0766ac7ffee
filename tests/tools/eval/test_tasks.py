"""Standard tasks through lm-evaluation-harness, offline, on the task files shipped in tools/eval/tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.eval import TASKS_DIR, shipped_tasks, tasks_suite
from vibe.core.errors import UserError


def test_shipped_tasks_carry_their_data() -> None:
    assert "vibe_python_mc" in shipped_tasks()
    rows = [json.loads(line) for line in (TASKS_DIR / "python_mc.jsonl").read_text().splitlines()]
    assert len(rows) >= 10 and all(0 <= r["answer"] < len(r["choices"]) for r in rows)


def test_a_directory_that_is_not_an_hf_model_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"not an HF model directory \(no config\.json\)"):
        tasks_suite(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="nope: not shipped"):
        tasks_suite(tmp_path, tasks=["nope"])


@pytest.mark.llm
def test_lm_eval_runs_the_shipped_task_offline_on_the_local_hf_model() -> None:
    from vibe.llm import default_model_dir

    model = default_model_dir()
    if not (model / "config.json").is_file():
        pytest.fail(f"{model}: the llm tier's converted model is missing; run `vibe llm install`")
    report = tasks_suite(model)
    assert report["tasks"] == ["vibe_python_mc"] and report["harness"].startswith("lm_eval 0.4")
    assert 0.0 <= report["task_vibe_python_mc_acc"] <= 1.0
    assert report["task_vibe_python_mc_acc"] > 0.25  # better than chance on 4 choices (0.58 measured)


@pytest.mark.llm
def test_lm_eval_runs_the_shipped_task_against_the_served_model(llm_server: object) -> None:
    """The same rows scored through vLLM's OpenAI API (log-likelihoods from /v1/completions) and in process
    on the HF directory it serves give the same accuracy."""
    from vibe.llm import default_model_dir

    url, served_model = llm_server.url.rstrip("/"), llm_server.model  # type: ignore[attr-defined]  # .../v1
    model = default_model_dir()
    served = tasks_suite(model, served=url, served_model=served_model, limit=8)
    assert served["model"] == f"{served_model} at {url}"
    local = tasks_suite(model, limit=8)
    assert served["task_vibe_python_mc_acc"] == pytest.approx(local["task_vibe_python_mc_acc"], abs=0.125)
    with pytest.raises(UserError, match=r"serves .*, not 'nope'"):
        tasks_suite(model, served=url, served_model="nope")
