"""Chunking, templates, filters, code extraction and the concurrent client on their own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from synth_helpers import GUIDE, MATH, ScriptedServer

from tools.synth import (
    ChatPool,
    Decontaminator,
    FilterConfig,
    SynthConfig,
    chunk_text,
    extract_python,
    quality_problem,
    resolve_templates,
)
from vibe.core.errors import UserError
from vibe.llm import LLMConfig, LLMUnavailable


def test_python_is_cut_at_top_level_functions_and_classes() -> None:
    chunks = list(chunk_text(MATH, doc=0, path="m.py", language="python", max_chars=3000, min_chars=10))
    assert [c.symbol for c in chunks] == ["clamp", "mean", "word_count", "Counter"]
    clamp = chunks[0]
    assert clamp.id == "m.py:4-10" and clamp.kind == "code"
    assert clamp.text == "".join(MATH.splitlines(keepends=True)[3:10])


def test_documents_are_packed_by_paragraph_up_to_max_chars() -> None:
    chunks = list(chunk_text(GUIDE, doc=0, path="g.md", language="markdown", max_chars=300, min_chars=10))
    assert all(len(c.text) <= 300 and c.kind == "document" and c.symbol is None for c in chunks)
    assert "rolling update" in chunks[0].text and "service.toml" in chunks[-1].text
    whole = list(chunk_text(GUIDE, doc=0, path="g.md", language="markdown", max_chars=3000, min_chars=10))
    assert [c.text for c in whole] == [GUIDE.strip("\n")]


def test_template_file_with_an_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text("- {name: my.task, version: 1, kind: code, prompt: 'Explain {snippet}'}\n")
    with pytest.raises(UserError, match=r"prompt: unknown placeholder \{snippet\}"):
        resolve_templates(["my.task"], [path])


def test_unknown_template_name_lists_the_choices() -> None:
    with pytest.raises(UserError, match=r"unknown code\.poem; choose from code\.api_questions"):
        resolve_templates(["code.poem"])


def test_quality_filters_name_the_reason() -> None:
    config = FilterConfig(min_chars=20)
    assert quality_problem("short", finish_reason="stop", config=config)[0] == "too_short"  # type: ignore[index]
    assert quality_problem("x" * 50, finish_reason="length", config=config)[0] == "truncated"  # type: ignore[index]
    assert quality_problem("{}[]();" * 10, finish_reason="stop", config=config)[0] == "low_alpha"  # type: ignore[index]
    assert quality_problem("same line\n" * 6, finish_reason="stop", config=config)[0] == "repetitive"  # type: ignore[index]
    refusal = "I'm sorry, but I cannot help with writing this."
    assert quality_problem(refusal, finish_reason="stop", config=config)[0] == "refusal"  # type: ignore[index]
    assert quality_problem("A perfectly ordinary answer.", finish_reason="stop", config=config) is None


def test_decontaminator_counts_shared_ngrams_only() -> None:
    held_out = Decontaminator(["one two three four five six"], n=4)
    assert held_out.overlap("zero ONE two, three four nine") == 1
    assert held_out.overlap("one two three nine four five six") == 0


def test_extract_python_takes_the_fenced_block_or_plain_code() -> None:
    assert extract_python("Sure!\n```python\nx = 1\n```\nDone.") == "x = 1\n"
    assert extract_python("def f():\n    return 1\n") == "def f():\n    return 1\n"
    assert extract_python("Just prose, no code at all.") is None


def test_samples_must_cover_one_request(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"samples \(1\) is fewer than sampling\.n \(2\)"):
        SynthConfig(dataset=tmp_path, out=tmp_path / "o", samples=1, sampling={"n": 2})


def test_one_request_at_a_time_when_max_concurrency_is_1(
    openai_server: Callable[..., ScriptedServer],
) -> None:
    server = openai_server(lambda p: "ok", delay_s=0.05)
    payload = {"messages": [{"role": "user", "content": "hi"}]}
    with ChatPool(LLMConfig(url=server.url), max_concurrency=1) as pool:
        results = dict(pool.generate([payload] * 4))
    assert sorted(results) == [0, 1, 2, 3] and server.max_in_flight == 1
    assert results[0].texts == ["ok"] and results[0].completion_tokens == 1


def test_unreachable_endpoint_raises_llm_unavailable() -> None:
    with (
        ChatPool(
            LLMConfig(url="http://127.0.0.1:9/v1", max_retries=0, timeout_s=2), max_concurrency=2
        ) as pool,
        pytest.raises(LLMUnavailable),
    ):
        list(pool.generate([{"messages": []}]))
