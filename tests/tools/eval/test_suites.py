"""The evaluation suites on a tiny model trained in the test: canaries planted and found, code doctests that
pass and fail in known ways (run in the sandbox), leak rates of the policy suite, the CLI and eval.json."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.eval import (
    MegatronGenerator,
    OpenAIGenerator,
    Sampling,
    code_suite,
    code_tasks,
    evaluate,
    parse_suites,
    policy_suite,
    split_documents,
)
from trainers import open_run
from vibe.cli import app
from vibe.core.errors import UserError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # the session fixture trains a model


class Canned:
    """A stand-in model at the Generator boundary: answers each prompt with a fixed completion."""

    def __init__(self, answer: dict[str, str] | str) -> None:
        self.answer = answer

    def generate(self, prompts: Sequence[str], *, sampling: Sampling, stop: Sequence[str] = ()) -> list[str]:
        return [self.answer if isinstance(self.answer, str) else self.answer[p] for p in prompts]


def _valid_helpers(data: Path) -> list[str]:
    files = [json.loads(line) for line in (data / "files.jsonl").read_text().splitlines()]
    return sorted(f["path"] for f in files if f.get("split") == "valid" and "helpers_" in f["path"])


def test_canaries_are_planted_in_train_only_and_recorded_in_the_manifest(suite_data: Path) -> None:
    manifest = json.loads((suite_data / "manifest.json").read_text())
    canaries = manifest["canaries"]
    assert canaries["repeats"] == 150 and len(canaries["values"]) == 2
    assert all(len(c["secret"]) == 10 and c["secret"].isdigit() for c in canaries["values"])
    assert manifest["splits"]["train"]["documents"] >= 300


def test_planted_canaries_are_found_and_unplanted_ones_are_not(suite_run: Path) -> None:
    from tools.eval import sequence_nll

    result = evaluate(
        suite_run, suites=["memorisation"], options={"memorisation": {"candidates": 500, "prompts": 4}}
    )
    report = result.suites["memorisation"]
    ceiling = math.log2(501)
    assert report["exposure_ceiling"] == pytest.approx(ceiling)
    # memorised: each planted canary ranks in the top 1% of 500 random candidates of its format
    assert all(c["rank"] <= 5 for c in report["canaries"]), report["canaries"]
    assert result.metrics["canary_exposure_max"] >= ceiling - math.log2(5)
    # a control: a secret of the same format that was never planted ranks anywhere (here: not near the top)
    with open_run(suite_run) as run:
        gen = MegatronGenerator(run)
        prefix = report["canaries"][0]["prefix"]
        import random

        rng = random.Random(7)
        controls = ["".join(rng.choice("0123456789") for _ in range(10)) for _ in range(201)]
        nll = sequence_nll(gen, [prefix + c for c in controls])
        ranks = [1 + sum(o < nll[i] for o in nll[:i] + nll[i + 1 :]) for i in range(5)]
        assert sum(ranks) / len(ranks) > 10  # unplanted secrets are not special to the model
    assert 0.0 <= result.metrics["canary_extraction_rate"] <= 1.0
    assert 0.0 <= result.metrics["regurgitation_rate"] <= 1.0 and report["regurgitation_prompts"] > 0


def test_code_suite_pass_and_fail_in_known_ways(suite_run: Path, suite_data: Path) -> None:
    held_out = _valid_helpers(suite_data)
    assert held_out, "no doctest module landed in the valid split"
    with open_run(suite_run) as run:
        from tools.eval import split_documents

        tasks = code_tasks(split_documents(run, "valid"))
        assert len(tasks) == 3 * len(held_out)
        oracle = Canned({t.prompt: t.reference for t in tasks})  # the source's own bodies
        right = code_suite(run, oracle)
        assert right["code_parse_rate"] == 1.0
        assert right["code_pass_at_1"] == pytest.approx(2 / 3)  # wrong_K's doctest fails its own body
        failed = {r["name"].split("_")[0] for r in right["results"] if not r["passed"]}
        assert failed == {"wrong"}
        broken = code_suite(run, Canned("    return (\n"))
        assert broken["code_parse_rate"] == 0.0 and broken["code_pass_at_1"] == 0.0
        model = code_suite(run, MegatronGenerator(run))  # the tiny model itself
        assert model["tasks"] == len(tasks) and "greedy" in model["sampling"]
        assert 0.0 <= model["code_pass_at_1"] <= model["code_parse_rate"] <= 1.0


@pytest.mark.llm
def test_the_code_suite_generates_through_the_served_model(suite_run: Path, llm_server: object) -> None:
    """Generation for evaluation through vLLM's OpenAI API (the served model, here the local SmolLM2): the
    suite's completions are what the server itself answers greedily to the same prompts."""
    import httpx

    url, model = llm_server.url.rstrip("/"), llm_server.model  # type: ignore[attr-defined]  # .../v1
    with open_run(suite_run) as run:
        tasks = code_tasks(split_documents(run, "valid"))
        report = code_suite(run, OpenAIGenerator(url, model=model))
    assert report["tasks"] == len(tasks) > 0 and "greedy" in report["sampling"]
    assert 0.0 <= report["code_pass_at_1"] <= report["code_parse_rate"] <= 1.0
    prompts = [t.prompt for t in tasks]  # the same request, sent directly
    body = {"model": model, "prompt": prompts, "max_tokens": 128, "temperature": 0.0, "seed": 0}
    choices = sorted(
        httpx.post(f"{url}/completions", json=body, timeout=600).json()["choices"], key=lambda c: c["index"]
    )
    assert [r["completion"] for r in report["results"]] == [c["text"] for c in choices]


def test_policy_suite_counts_leaked_secrets_and_personal_data(suite_run: Path) -> None:
    with open_run(suite_run) as run:
        leaks = Canned(
            {
                "a": " contact jane.doe@acmebank.co.uk",
                "b": ' key = "AKIAIOSFODNN7EXAMPLE"',
                "c": " nothing here",
                "d": " again: mail bob.smith@northwind.io",
            }
        )
        report = policy_suite(run, leaks, prompts=["a", "b", "c", "d"])
        assert report["pii_leak_rate"] == 0.5 and report["secret_leak_rate"] == 0.25
        assert report["policy_violation_rate"] == 0.75
        echo = policy_suite(run, Canned(" as above"), prompts=["mail jane.doe@acmebank.co.uk"])
        assert echo["pii_leak_rate"] == 0.0  # what the prompt already held is not a leak
        model = policy_suite(run, MegatronGenerator(run))
        assert model["completions"] > 0 and 0.0 <= model["pii_leak_rate"] <= 1.0


def test_cli_runs_suites_and_writes_metrics(suite_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = CliRunner().invoke(
        app, ["eval", str(suite_run), "--suite", "policy,code"]
    )  # all held-out prompts
    assert result.exit_code == 0, result.output
    written = json.loads((suite_run / "eval.json").read_text())
    assert set(written["suites"]) == {"heldout", "policy", "code"}
    for key in ("val_bpb", "val_loss", "pii_leak_rate", "secret_leak_rate", "code_pass_at_1"):
        assert key in written["metrics"]
    assert "code (greedy" in result.output
    # ... and logged to MLflow (the embedded store: no MLFLOW_TRACKING_URI here)
    from mlflow.tracking import MlflowClient

    from vibe.tracking import tracking_uri

    client = MlflowClient(tracking_uri=tracking_uri())
    runs = client.search_runs(
        [client.get_experiment_by_name("vibe-eval").experiment_id],
        filter_string=f"tags.`vibe.run_dir` = '{suite_run.resolve()}'",
    )
    assert runs and runs[0].data.metrics["code_pass_at_1"] == written["metrics"]["code_pass_at_1"]
    assert runs[0].data.params["suites"] == "heldout,policy,code"


def test_unknown_and_unavailable_suites_are_user_errors(suite_run: Path) -> None:
    with pytest.raises(UserError, match="unknown suite; choose from heldout"):
        parse_suites("heldout,vibes")
    with pytest.raises(UserError, match=r"has no HF export \(RUN_DIR/export\)"):
        evaluate(suite_run, suites=["tasks"])
