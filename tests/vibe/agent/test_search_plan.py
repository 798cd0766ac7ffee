"""The planner's search step: where it goes, what it searches, how the gate sees it, and the transfer."""

from __future__ import annotations

from typing import Any

from vibe.agent import (
    STEP_KINDS,
    PlanSettings,
    SearchSettings,
    describe_step,
    make_plan,
    parse_request,
    transfer_into,
)


def _plan(request: str, **search: Any) -> dict[str, Any]:
    settings = PlanSettings(workdir="/tmp/w", local_vocab_size=512, search=SearchSettings(**search))
    plan = make_plan(parse_request(request), tokens_available=2_000_000, settings=settings, thread_id="t")
    return plan.model_dump(mode="json")


def test_a_search_request_gets_a_search_step_between_ingest_and_training() -> None:
    plan = _plan("lowest validation bits per byte for a 20M code model on /data/code", max_trials=5)
    assert [s["tool"] for s in plan["steps"]] == ["ingest", "hpo", "train", "eval"]
    search = plan["steps"][1]["args"]["config"]
    train = plan["steps"][2]["args"]["config"]
    assert search["objective"] == "val_bpb" and search["budget"]["max_trials"] == 5
    assert search["base"]["model"]["hidden_size"] < train["model"]["hidden_size"]  # a narrower proxy
    assert search["base"]["training"]["max_steps"] < train["training"]["max_steps"]
    assert search["base"]["data"]["sources"][0]["path"] == train["data"]["sources"][0]["path"]  # same data
    names = {p["name"] for p in search["space"]["params"]}
    assert {"optimizer.lr", "optimizer.warmup_steps", "optimizer.weight_decay"} <= names


def test_a_plain_request_gets_no_search_step() -> None:
    plan = _plan("train a 20M code model on /data/code")
    assert [s["tool"] for s in plan["steps"]] == ["ingest", "train", "eval"]


def test_the_gate_sees_the_search_budget_and_its_largest_model() -> None:
    plan = _plan("tune a 20M on /data/code", max_trials=4)
    step = plan["steps"][1]
    assert STEP_KINDS[step["tool"]] == "hpo.search"
    action = describe_step(step, plan=plan, local_flops_per_second=20e9)
    budget = step["args"]["config"]["budget"]
    assert action["cpu_hours"] == budget["cpu_hours"] > 0
    assert action["paths"] == ["/data/code"] and action["architecture"] == "dense"
    base = step["args"]["config"]["base"]["model"]
    assert action["parameters"] > 2 * base["hidden_size"] * 512  # at least the embeddings of the base


def test_more_trials_ask_the_gate_for_more_hours() -> None:
    few, many = (
        _plan("tune a 20M on /data/code", max_trials=2),
        _plan("tune a 20M on /data/code", max_trials=8),
    )
    hours = [
        describe_step(p["steps"][1], plan=p, local_flops_per_second=20e9)["cpu_hours"] for p in (few, many)
    ]
    assert hours[1] == 4 * hours[0]


def test_the_best_trial_is_transferred_onto_the_training_step_by_the_width_rule() -> None:
    plan = _plan("tune a 20M on /data/code")
    search, train = plan["steps"][1], plan["steps"][2]
    proxy_width = search["args"]["config"]["base"]["model"]["hidden_size"]
    target_width = train["args"]["config"]["model"]["hidden_size"]
    best = {"number": 3, "value": 2.5, "params": {"optimizer.lr": 4e-3, "optimizer.weight_decay": 0.05}}
    moved = transfer_into(train, search=search["args"]["config"], result={"best": best, "study_name": "s"})
    assert moved is not None
    step, overrides, reason = moved
    config = step.args["config"]  # a typed PlanStep
    assert config["optimizer"]["lr"] == overrides["optimizer.lr"] == 4e-3 * proxy_width / target_width
    assert config["optimizer"]["weight_decay"] == 0.05
    assert config["model"] == train["args"]["config"]["model"]  # the target keeps its shape
    assert config["out"] == train["args"]["config"]["out"]
    assert "proposed from search trial 3" in reason and "transferred by rule" in reason
    assert "search trial 3" in step.why


def test_no_best_trial_means_no_transfer() -> None:
    plan = _plan("tune a 20M on /data/code")
    assert (
        transfer_into(plan["steps"][2], search=plan["steps"][1]["args"]["config"], result={"best": None})
        is None
    )
