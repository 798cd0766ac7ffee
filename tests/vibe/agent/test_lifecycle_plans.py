"""Fine-tune, post-train, release and release-gate plans through the real graph (SQLite checkpointer and
ledger, real policy files; nothing is trained here: each thread stops at the confirmation)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "trainers" / "hf"))
from tiny_hf import tiny_config, write_model

from vibe.agent import Agent, AgentSettings

GATES = """\
version: 1
name: org
default: allow
evaluation:
  gates:
    - {metric: val_bpb, max: 3.0}
    - {metric: pii_leak_rate, max: 0.0}
alignment:
  rules:
    - {id: valid-python, type: must_parse, language: python, weight: 1.0}
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache holding a tiny random Llama named like the agent's own SmolLM2."""
    root = tmp_path_factory.mktemp("vibe-cache") / "models"
    write_model(root / "smollm2-tiny-instruct", tiny_config("llama"))
    return root


def _open(tmp_path: Path, **kwargs: Any):
    policies = kwargs.pop("policies", [])
    settings = AgentSettings(
        workdir=str(tmp_path / "runs"), measure_local_flops=False, policies=policies,
        approvals=str(tmp_path / "approvals.sqlite"),
    )  # fmt: skip
    return Agent.open(settings, **kwargs)


def _steps(outcome: Any) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in outcome.values["plan"]["steps"]}


def test_fine_tune_by_name_imports_ingests_with_its_tokenizer_and_scores_base_and_result(
    tmp_path: Path, corpus: Path, models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIBE_CACHE", str(models.parent))
    with _open(tmp_path) as agent:
        outcome = agent.run(f"fine-tune SmolLM2 on {corpus}", thread_id="ft")
    assert outcome.waiting_for is not None  # planned, shown, nothing run
    steps = _steps(outcome)
    assert list(steps) == ["import", "ingest", "eval-base", "train", "eval"]
    base_out = steps["import"]["args"]["out"]
    assert steps["import"]["tool"] == "model_import"
    assert steps["import"]["args"]["src"] == str((models / "smollm2-tiny-instruct").resolve())
    assert steps["ingest"]["args"]["tokenizer"] == base_out  # the base's tokenizer, not a new one
    config = steps["train"]["args"]["config"]
    assert config["init_from"] == base_out and config["data"]["sources"] == [
        {"path": steps["ingest"]["args"]["out"]}
    ]
    assert (
        config["model"]["num_query_groups"] == 2 and config["model"]["hidden_size"] == 64
    )  # the base's model
    # base and result on the same held-out split
    assert steps["eval-base"]["args"] == {"run_dir": base_out, "data": [steps["ingest"]["args"]["out"]]}
    assert steps["eval"]["args"]["run_dir"] == config["out"]
    events = "\n".join(outcome.values["events"])
    assert "import smollm2-tiny-instruct (LlamaForCausalLM" in events


def test_fine_tune_by_path_is_judged_as_a_model_import_against_the_model_roots(
    tmp_path: Path, corpus: Path, models: Path
) -> None:
    policy = tmp_path / "org.yaml"
    policy.write_text(
        f"version: 1\nname: org\ndefault: allow\nmodel_sources:\n  roots: [{tmp_path / 'elsewhere'}]\n"
    )
    base = models / "smollm2-tiny-instruct"
    with _open(tmp_path, policies=[str(policy)], yes=True) as agent:
        outcome = agent.run(f"fine-tune {base} on {corpus}", thread_id="roots")
    assert outcome.status == "stopped"
    assert "import denied by policy" in outcome.reason and "outside the model roots" in outcome.reason
    assert not list((tmp_path / "runs").glob("roots/steps/*.json"))  # nothing ran


def test_an_unknown_base_model_stops_naming_where_it_looked(
    tmp_path: Path, corpus: Path, models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIBE_CACHE", str(models.parent))
    with _open(tmp_path) as agent:
        outcome = agent.run(f"fine-tune mistral-7b on {corpus}", thread_id="nb")
    assert outcome.status == "stopped" and "no base model 'mistral-7b'" in outcome.reason
    assert str(models) in outcome.reason


def test_release_plans_the_gated_suites_then_the_release(tmp_path: Path, corpus: Path) -> None:
    policy = tmp_path / "org.yaml"
    policy.write_text(GATES)
    with _open(tmp_path, policies=[str(policy)]) as agent:
        first = agent.run(f"train a 2M on {corpus}", thread_id="first")
        release = agent.run("release the last run to the registry", thread_id="rel")
        gates = agent.run("evaluate run first and tell me if it passes our release gates", thread_id="gates")
    run_dir = next(s for s in first.values["plan"]["steps"] if s["tool"] == "train")["args"]["config"]["out"]
    steps = _steps(release)
    assert list(steps) == ["eval", "release"]
    assert steps["eval"]["args"]["suites"] == ["heldout", "policy"]  # val_bpb and pii_leak_rate are gated
    assert steps["release"]["args"] == {"run_dir": run_dir, "name": "first"}
    assert any("the release gates read val_bpb, pii_leak_rate" in n for n in release.values["plan"]["notes"])
    checked = _steps(gates)
    assert list(checked) == ["eval", "release-gates"] and checked["release-gates"]["tool"] == "release_check"
    assert not any("not yet available" in n for n in gates.values["plan"]["notes"])


def test_post_train_plans_a_posttrain_step_and_rl_takes_the_policy_rules(
    tmp_path: Path, corpus: Path
) -> None:
    policy = tmp_path / "org.yaml"
    policy.write_text(GATES)
    chat, prompts = tmp_path / "chat.jsonl", tmp_path / "prompts.jsonl"
    chat.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
    )
    prompts.write_text('{"prompt": "def add(a, b):"}\n')
    with _open(tmp_path, policies=[str(policy)]) as agent:
        first = agent.run(f"train a 2M on {corpus}", thread_id="first")
        sft = agent.run(f"post-train run first with SFT on {chat}", thread_id="sft")
        rl = agent.run(f"align the last run to our policy with RL on {prompts}", thread_id="rl")
        bare = agent.run("align the last run to our policy with RL", thread_id="bare")
    run_dir = next(s for s in first.values["plan"]["steps"] if s["tool"] == "train")["args"]["config"]["out"]
    (step,) = sft.values["plan"]["steps"]
    assert step["tool"] == "posttrain" and step["args"]["method"] == "sft"
    assert step["args"]["base"] == run_dir and step["args"]["data"] == str(chat)
    (step,) = rl.values["plan"]["steps"]
    assert step["args"]["method"] == "rl" and step["args"]["policies"] == [str(policy)]
    assert any("valid-python" in n for n in rl.values["plan"]["notes"])
    assert bare.status == "stopped" and "RL needs a JSONL of" in bare.reason


def test_rl_without_a_policy_stops_with_what_it_needs(tmp_path: Path, corpus: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "def add(a, b):"}\n')
    with _open(tmp_path) as agent:
        agent.run(f"train a 2M on {corpus}", thread_id="first")
        rl = agent.run(f"align the last run to our policy with RL on {prompts}", thread_id="rl")
    assert rl.status == "stopped" and "alignment:" in rl.reason and "--policy" in rl.reason
