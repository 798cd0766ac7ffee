from vibe.agent import PlanSettings, Proposal, apply_proposal, make_plan, parse_request


def _plan(request: str, tokens: int | None = 5_000_000):
    return make_plan(parse_request(request), tokens_available=tokens, settings=PlanSettings(), thread_id="t")


def test_a_7b_request_gets_a_cluster_plan_and_a_local_proxy() -> None:
    plan = _plan("train a 7B on /data/code")
    assert not plan.runs_locally
    assert plan.full.layout is not None and plan.megatron_config["model"]["hidden_size"] == 4096
    assert plan.proxy is not None and plan.proxy.shape.total_params < 50e6
    assert any("proxy of the same family runs here" in note for note in plan.notes)
    assert [s.tool for s in plan.steps] == ["ingest", "train", "eval"]
    train = plan.steps[1].args["config"]
    assert train["model"]["hidden_size"] == plan.proxy.shape.hidden_size


def test_an_estimate_runs_nothing() -> None:
    plan = _plan("how much would a 7B on /data/code cost?")
    assert plan.steps == []
    assert plan.full.gpu_hours > 1000


def test_no_size_fits_the_model_to_the_data() -> None:
    plan = _plan("train a model on /data/code", tokens=200_000_000)
    assert 2e6 <= plan.full.total_params <= 40e6  # ~tokens / 20


def test_deadline_too_short_is_noted() -> None:
    plan = _plan("train a 7B on /data/code within 1 hours")
    assert any("deadline" in note for note in plan.notes)


def test_proposal_within_bounds_is_applied() -> None:
    plan = _plan("train a 7B on /data/code")
    updated, verdict, _ = apply_proposal(plan, Proposal(learning_rate=5e-4, reason="smaller lr"))
    assert verdict == "accepted"
    assert updated.steps[1].args["config"]["optimizer"]["lr"] == 5e-4


def test_proposal_out_of_bounds_is_rejected_with_the_reason() -> None:
    plan = _plan("train a 7B on /data/code")
    steps = plan.steps[1].args["config"]["training"]["max_steps"]
    updated, verdict, why = apply_proposal(plan, Proposal(max_steps=10 * steps))
    assert verdict == "rejected" and "outside" in why
    assert updated == plan


def test_the_demo_request_is_sized_for_its_data_consistently_and_gets_no_cluster_plan() -> None:
    # `vibe demo`: the standard library is ~9.1M tokens here; a size "for the data" must be the one planned
    from vibe.agent import summarize_plan

    def count(n: float) -> str:  # how the planner writes counts: 1.2M, 23.6M
        return f"{n / 1e6:.1f}M"

    plan = _plan("train a small GPT on the Python standard library", tokens=9_100_000)
    full = plan.full
    assert full.tokens_planned == min(20 * full.active_params, 4 * 9_100_000)  # never more passes than help
    note = next(n for n in plan.notes if n.startswith("no model size named"))
    assert count(full.total_params) in note and count(full.tokens_planned) in note  # the numbers it plans
    assert "compute-optimal for ~" not in note  # no second, different size
    summary = summarize_plan(plan)
    assert "cluster: none needed" in summary and "TP=" not in summary and "full-size model" not in summary
    assert full.shape.seq_length == 256  # a model this small trains at the local runs' sequence length
    assert plan.proxy is not None and plan.proxy.shape.total_params <= full.total_params


def test_too_little_data_for_the_smallest_shape_says_it_will_be_under_trained() -> None:
    plan = _plan("train a model on /data/code", tokens=500_000)
    assert plan.full.tokens_planned == 4 * 500_000
    assert any("under-trained" in n and "add data" in n for n in plan.notes)


def test_a_proxy_is_never_bigger_than_the_model_it_stands_for() -> None:
    plan = _plan("train a 2M model on /data/code", tokens=2_000_000)
    assert plan.proxy is not None and plan.proxy.shape.total_params <= plan.full.total_params * 1.01


def test_a_plan_step_is_built_from_its_tools_typed_arguments() -> None:
    import pytest
    from pydantic import ValidationError

    from tools import EvalArgs, IngestArgs
    from vibe.agent import PlanStep

    step = PlanStep.of(id="eval", tool="eval", args=EvalArgs(run_dir="runs/t/train"), why="held-out loss")
    assert step.args == {"run_dir": "runs/t/train"}  # the fields set: the ledger's format, unchanged
    moved = step.with_args(run_dir="runs/u/train", why="moved")
    assert (moved.args, moved.why, step.args["run_dir"]) == (
        {"run_dir": "runs/u/train"},
        "moved",
        "runs/t/train",
    )
    with pytest.raises(TypeError, match="tool eval takes EvalArgs, not IngestArgs"):
        PlanStep.of(id="eval", tool="eval", args=IngestArgs(paths=["/d"], out="o"), why="")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        step.with_args(run_dirr="runs/u/train")
    with pytest.raises(ValidationError, match="vocab_size"):
        IngestArgs(paths=["/d"], out="o", vocab_size=10)


def test_a_train_step_whose_run_config_is_invalid_cannot_be_built() -> None:
    import pytest
    from pydantic import ValidationError

    from tools import TrainArgs

    good = {"out": "runs/t/train", "data": {"sources": [{"path": "runs/t/data"}]}}
    assert TrainArgs(config=good).config == good  # kept as data: the ledger's format
    with pytest.raises(ValidationError, match="lr"):
        TrainArgs(config={**good, "optimizer": {"lr": -1.0}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        TrainArgs(config={**good, "trainig": {"max_steps": 3}})
