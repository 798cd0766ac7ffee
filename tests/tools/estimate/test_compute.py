import pytest

from tools.estimate import TOKENS_PER_PARAM, ClusterConfig, estimate_compute, plan_proxy, shape_for_params
from vibe.core.config import ConfigError, validate


def test_compute_optimal_tokens_and_gpu_hours_follow_the_formulas() -> None:
    shape = shape_for_params(1e9)
    cluster = ClusterConfig(gpu="H100", gpus_per_node=8, nodes=2, expected_mfu=0.5, gpu_hour_cost=2.0)
    est = estimate_compute(shape, cluster)
    assert est.tokens_planned == int(TOKENS_PER_PARAM * shape.active_params)
    expected_gpu_hours = est.train_flops / (989e12 * 0.5) / 3600
    assert est.gpu_hours == pytest.approx(expected_gpu_hours)
    assert est.cost == pytest.approx(2.0 * expected_gpu_hours)
    assert est.hours == pytest.approx(expected_gpu_hours / 16)


def test_small_data_warns_about_epochs() -> None:
    est = estimate_compute(shape_for_params(7e9), ClusterConfig(), tokens_available=1_000_000)
    assert est.epochs is not None and est.epochs > 4
    assert any("epochs" in w for w in est.warnings)


def test_over_budget_is_reported() -> None:
    est = estimate_compute(shape_for_params(7e9), ClusterConfig(), gpu_hour_budget=10)
    assert any("over the budget of 10" in w for w in est.warnings)


def test_unknown_gpu_names_the_field() -> None:
    with pytest.raises(ConfigError, match="unknown gpu 'B9000'"):
        validate(ClusterConfig, {"gpu": "B9000"}, source="cluster.yaml")


def test_proxy_fits_the_time_budget() -> None:
    plan = plan_proxy(vocab_size=4096, flops_per_second=20e9, time_budget_s=300, tokens_available=10_000_000)
    assert plan.expected_seconds <= 300


def test_more_time_buys_a_bigger_proxy() -> None:
    kwargs = dict(vocab_size=4096, flops_per_second=20e9, tokens_available=50_000_000)
    small = plan_proxy(time_budget_s=60, **kwargs)
    big = plan_proxy(time_budget_s=60_000, **kwargs)
    assert big.shape.total_params > small.shape.total_params


def test_moe_request_gets_a_moe_proxy() -> None:
    plan = plan_proxy(
        vocab_size=4096, flops_per_second=20e9, time_budget_s=300, tokens_available=10**7, num_experts=64
    )
    assert plan.shape.num_experts == 4


def test_profile_skips_what_the_ingest_skips(tmp_path) -> None:
    from tools import profile

    (tmp_path / "site-packages").mkdir()
    (tmp_path / "site-packages" / "big.py").write_text("x = 1\n" * 1000)
    (tmp_path / "mod.py").write_text("y = 2\n")
    result = profile([str(tmp_path)])
    assert result.files == 1 and result.text_bytes == len("y = 2\n")
