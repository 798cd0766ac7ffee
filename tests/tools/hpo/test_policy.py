"""The search under a real policy (``vibe.agent``'s PolicyGate on policy YAML): deny, approval, model limit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hpo_helpers import lr_space, proxy_run

from policies import PolicyGate
from tools.hpo import (
    Budget,
    HPOConfig,
    ParamSpec,
    SearchSpace,
    TrialSummary,
    policy_max_parameters,
    run_search,
)
from vibe.core.errors import UserError

MAX_PARAMETERS = 150_000


def _policy(tmp_path: Path, **sections: object) -> Path:
    policy = {"version": 1, "name": "lab", "scope": "organisation", "default": "allow", **sections}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def _config(data: Path, out: Path, **fields: object) -> HPOConfig:
    base = proxy_run(data, out / "base", **fields.pop("training", {}))  # type: ignore[arg-type]
    return HPOConfig.model_validate(
        {"out": out, "study_name": "test", "base": base, "space": lr_space(), **fields}
    )


def test_a_denied_search_starts_no_trial(hpo_data: Path, tmp_path: Path) -> None:
    rules = [
        {"id": "no-hpo", "kinds": ["hpo.search"], "effect": "deny", "reason": "no searches this quarter"}
    ]
    gate = PolicyGate.from_files([_policy(tmp_path, rules=rules)])
    result = run_search(
        _config(hpo_data, tmp_path / "study", budget=Budget(max_trials=3, cpu_hours=1)), gate=gate
    )
    assert result.stopped_by == "policy" and "no searches this quarter" in result.stop_reason
    assert result.trials == []


def test_a_search_that_needs_approval_raises_naming_the_rule(hpo_data: Path, tmp_path: Path) -> None:
    policy = _policy(tmp_path, compute={"approval_above": {"cpu_hours": 0.5}, "approvers": ["leads"]},
                     approvers={"leads": {"members": {"ann": "ed25519:" + "A" * 43 + "="}, "may_approve": ["*"]}})  # fmt: skip
    gate = PolicyGate.from_files([policy])
    with pytest.raises(UserError, match="approval_above"):
        run_search(_config(hpo_data, tmp_path / "study", budget=Budget(max_trials=3, cpu_hours=1)), gate=gate)


def test_the_model_limit_is_found_through_the_gate(tmp_path: Path) -> None:
    gate = PolicyGate.from_files([_policy(tmp_path, models={"max_parameters": MAX_PARAMETERS})])
    assert policy_max_parameters(gate, attributes={"cpu_hours": 1.0}, upper=10**9) == MAX_PARAMETERS
    assert policy_max_parameters(gate, attributes={"cpu_hours": 1.0}, upper=MAX_PARAMETERS) is None


@pytest.mark.slow
def test_policy_bounds_the_space_and_a_deny_mid_search_stops_it(
    hpo_data: Path, hpo_ray: str, tmp_path: Path
) -> None:
    usage = tmp_path / "usage.yaml"
    usage.write_text(yaml.safe_dump({"teams": {}}))
    policy = _policy(
        tmp_path, compute={"per_day": {"cpu_hours": 5}}, models={"max_parameters": MAX_PARAMETERS}
    )
    gate = PolicyGate.from_files([policy], usage_file=usage, team="nlp")
    space = SearchSpace(
        params=[
            ParamSpec(name="optimizer.lr", kind="float", low=1e-3, high=3e-2, log=True),
            ParamSpec(name="model.hidden_size", kind="categorical", choices=[32, 64, 128]),
            ParamSpec(name="model.num_layers", kind="int", low=1, high=4),
        ]
    )
    finished: list[TrialSummary] = []

    def spend_the_day(summary: TrialSummary) -> None:  # after the first trial, the team's day is used up
        finished.append(summary)
        usage.write_text(yaml.safe_dump({"teams": {"nlp": {"cpu_hours": 5}}}))

    config = _config(hpo_data, tmp_path / "study", space=space, pruner="none", max_concurrent=1,
                     training={"max_steps": 8}, budget=Budget(max_trials=10, cpu_hours=1))  # fmt: skip
    result = run_search(config, gate=gate, on_trial=spend_the_day)
    assert result.stopped_by == "policy" and "daily limit" in result.stop_reason
    assert len(finished) == 1 and result.n_complete == 1
    bounded = result.space
    assert bounded is not None and bounded != space
    assert 128 not in bounded.get("model.hidden_size").choices or bounded.get("model.num_layers").high < 4
    from tools.hpo import apply_params, model_parameters

    for trial in result.trials:
        if trial.state == "COMPLETE":
            model = apply_params(config.base, trial.params).model
            assert model_parameters(model, vocab_size=768) <= MAX_PARAMETERS
