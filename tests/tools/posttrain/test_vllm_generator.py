"""The vLLM generator against the real local vLLM server (llm tier): token-id prompts in, n completions per
prompt out with their token ids and log-probs, and a greedy probe that tells a different model apart."""

from __future__ import annotations

import math

import pytest

from tools.posttrain import VLLMGenerator

pytestmark = pytest.mark.llm


class _OtherModel:
    """The trainer side of the probe: greedy ids of a model that is not the served one."""

    def sample(self, prompts: list[list[int]], **kwargs: object) -> list[list[tuple[list[int], list[float]]]]:
        return [[([0, 0, 0, 0], [0.0] * 4)] for _ in prompts]


def test_generate_parses_ids_and_logprobs_per_prompt(llm_server: object) -> None:
    url = llm_server.url.removesuffix("/").removesuffix("/v1")  # type: ignore[attr-defined]
    generator = VLLMGenerator(
        url=url,
        model=None,
        trainer=_OtherModel(),
        export=lambda step: None,
        probe=([1, 504, 3458], 4),
        stop_token_ids=[2],
    )  # type: ignore[arg-type,return-value]
    groups = generator.generate([[1, 504, 3458], [1, 504]], n=3, max_new_tokens=4, temperature=1.0, seed=7)
    assert [len(g) for g in groups] == [3, 3]
    for group in groups:
        for c in group:
            assert 1 <= len(c.ids) <= 4 and len(c.logps) == len(c.ids)
            assert all(isinstance(i, int) and i >= 0 for i in c.ids) and all(
                lp <= 0 and math.isfinite(lp) for lp in c.logps
            )
    again = generator.generate([[1, 504, 3458], [1, 504]], n=3, max_new_tokens=4, temperature=1.0, seed=7)
    assert [[c.ids for c in g] for g in again] == [[c.ids for c in g] for g in groups]  # seeded
    assert (
        generator.probe_matches() is False
    )  # the served model's greedy continuation is not the other model's
