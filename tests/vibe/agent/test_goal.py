import pytest

from vibe.agent import GoalDraft, goal_from_draft, parse_request, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("7B", 7e9), ("a 125M model", 125e6), ("1.3 billion", 1.3e9), ("20m", 20e6), ("no size", None)],
)
def test_parse_size(text: str, size: float | None) -> None:
    assert parse_size(text) == size


def test_train_request_with_path() -> None:
    goal = parse_request("train a 7B on our code archive in /data/code")
    assert (goal.objective, goal.parameters, goal.architecture, goal.data_sources) == (
        "train",
        7e9,
        "dense",
        ["/data/code"],
    )


def test_cost_question_is_an_estimate_of_a_moe() -> None:
    goal = parse_request("how much would a 1B MoE on /data/docs cost?")
    assert goal.objective == "estimate"
    assert goal.architecture == "moe" and goal.num_experts == 8


def test_budget_deadline_and_expert_count() -> None:
    goal = parse_request("train a 125M with 16 experts on /srv/a within 2 days, 500 GPU-hours")
    assert (goal.num_experts, goal.deadline_hours, goal.gpu_hour_budget) == (16, 48.0, 500.0)


def test_standard_library_alias_resolves_to_the_interpreters_stdlib() -> None:
    import sysconfig

    goal = parse_request("train a small model on the Python standard library")
    assert goal.data_sources == [sysconfig.get_paths()["stdlib"]]


def test_nonsense_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="names no model, size or data"):
        parse_request("what's the weather like?")


def test_draft_with_a_path_not_in_the_request_is_invalid() -> None:
    draft = GoalDraft(objective="train", model_size="7B", data_paths=["/etc/shadow"])
    with pytest.raises(ValueError, match="does not appear in the request"):
        goal_from_draft("train a 7B on /data/code", draft)


def test_draft_with_a_bad_size_is_invalid() -> None:
    draft = GoalDraft(objective="train", model_size="huge", data_paths=["/data/code"])
    with pytest.raises(ValueError, match="is not a size"):
        goal_from_draft("train a huge model on /data/code", draft)


def test_draft_size_must_match_the_request() -> None:
    draft = GoalDraft(objective="train", model_size="70B", data_paths=["/data/code"])
    with pytest.raises(ValueError, match="does not match the request"):
        goal_from_draft("train a 7B on /data/code", draft)


def test_draft_that_drops_a_named_path_is_invalid() -> None:
    draft = GoalDraft(objective="train", model_size="7B", data_paths=[])
    with pytest.raises(ValueError, match="missing: /data/code"):
        goal_from_draft("train a 7B on /data/code", draft)


def test_a_url_is_never_a_data_source() -> None:
    # issue #10, medium 11: "upload it to http://host/upload" made //host/upload a data source
    goal = parse_request("train a 125M model on /srv/data/code and upload it to http://host/upload")
    assert goal.data_sources == ["/srv/data/code"]
    goal = parse_request("train a 125M model on https://files.example.com/corpus.tar")
    assert goal.data_sources == []
