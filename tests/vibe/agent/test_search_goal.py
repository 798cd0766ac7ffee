"""Which requests ask for a search, and what it minimises (rules parser and the LLM draft)."""

from __future__ import annotations

import pytest

from vibe.agent import GoalDraft, goal_from_draft, parse_request


@pytest.mark.parametrize(
    "request_text",
    [
        "lowest validation bits per byte for a 20M code model on /data/code",
        "tune the learning rate of a 20M model on /data/code",
        "find the best settings for a small model on /data/code",
        "hyperparameter search for a 5M on /data/code",
        "optimise a 20M model on /data/code",
        "minimize validation loss of a 20M on /data/code",
    ],
)
def test_a_search_request_asks_for_a_search(request_text: str) -> None:
    assert parse_request(request_text).search


@pytest.mark.parametrize(
    "request_text",
    ["train a 7B on /data/code", "fine-tune a 125M on /data/docs", "how much would a 7B cost?"],
)
def test_other_requests_ask_for_none(request_text: str) -> None:
    assert not parse_request(request_text).search


def test_the_objective_is_bits_per_byte_unless_the_loss_is_named() -> None:
    assert parse_request("lowest validation bits per byte for a 20M on /d").search_objective == "val_bpb"
    assert parse_request("lowest validation loss for a 20M on /d").search_objective == "val_loss"


def test_the_llm_draft_can_ask_for_a_search_and_the_rules_back_it_up() -> None:
    draft = GoalDraft(objective="train", model_size="20M", data_paths=["/data/code"], search=True)
    assert goal_from_draft("train a 20M on /data/code", draft).search
    missed = draft.model_copy(update={"search": False})
    assert goal_from_draft("tune a 20M on /data/code", missed).search
    assert not goal_from_draft("train a 20M on /data/code", missed).search
