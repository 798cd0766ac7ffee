"""The synthetic-data pipeline end to end against a scripted OpenAI-compatible server and the real sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from synth_helpers import GUIDE, VALID, ScriptedServer, prompt_of, symbol_of

from tools.data import load_dataset_info
from tools.synth import SynthConfig, synthesize

Start = Callable[..., ScriptedServer]

PASSING_TESTS = {
    "clamp": "from subject import clamp\n\ndef test_clamp():\n    assert clamp(5, 0, 3) == 3\n    assert clamp(-1, 0, 3) == 0\n",
    "mean": "from subject import mean\n\ndef test_mean():\n    assert mean([1, 2, 3]) == 2\n",
}
FAILING_TESTS = {
    "word_count": "from subject import word_count\n\ndef test_word_count():\n    assert word_count('a b c') == 4\n",
    "Counter": "from subject import Counter\n\ndef test_counter():\n    assert Counter().bump() == 2\n",
}


def _tests_answer(payload: dict[str, Any]) -> str:
    symbol = symbol_of(payload)
    code = PASSING_TESTS.get(symbol) or FAILING_TESTS[symbol]
    return f"Here are the tests:\n```python\n{code}```\n"


def _config(corpus: Path, out: Path, server: ScriptedServer, **fields: Any) -> SynthConfig:
    base: dict[str, Any] = {
        "dataset": str(corpus),
        "out": str(out),
        "llm": {"url": server.url, "max_retries": 0, "timeout_s": 30},
        "chunks": {"min_chars": 40},
        "valid_fraction": 0.0,
    }
    return SynthConfig.model_validate(base | fields)


def test_generated_tests_run_in_the_sandbox_failures_dropped_with_reason(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    server = openai_server(_tests_answer)
    result = synthesize(
        _config(corpus, tmp_path / "out", server, templates=["code.tests"], samples=4), progress_bar=False
    )
    kept = {s["source"]["symbol"]: s for s in map(json.loads, result.samples_path.read_text().splitlines())}
    rejects = {
        r["source"]["symbol"]: r for r in map(json.loads, result.rejects_path.read_text().splitlines())
    }
    assert set(kept) == set(PASSING_TESTS)
    assert set(rejects) == set(FAILING_TESTS)
    assert all(r["reason"] == "failed" and "tests failed" in r["detail"] for r in rejects.values())
    assert "assert 3 == 4" in rejects["word_count"]["detail"]
    assert kept["clamp"]["verification"]["verdict"] == "passed"
    assert kept["clamp"]["text"].startswith("# Tests for `clamp`")


def test_docstring_must_keep_the_code_and_its_doctests_must_pass(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    answers = {
        # correct docstring with a passing doctest
        "clamp": 'def clamp(value, low, high):\n    """Clamp.\n\n    >>> clamp(7, 0, 5)\n    5\n    """\n'
        "    if value < low:\n        return low\n    if value > high:\n        return high\n    return value\n",
        # the code was changed: dropped
        "mean": 'def mean(values):\n    """Average."""\n    return sum(values) / len(values)\n',
        # a wrong doctest: dropped by the sandbox run
        "word_count": 'def word_count(text):\n    """Count words.\n\n    >>> word_count("a b")\n    3\n    """\n'
        "    words = [word for word in text.split() if word.strip()]\n    return len(words)\n",
        # no docstring at all
        "Counter": "class Counter:\n    def __init__(self):\n        self.count = 0\n\n"
        "    def bump(self, by=1):\n        self.count += by\n        return self.count\n",
    }
    server = openai_server(lambda p: f"```python\n{answers[symbol_of(p)]}```")
    result = synthesize(
        _config(corpus, tmp_path / "out", server, templates=["code.docstring"], samples=4), progress_bar=False
    )
    kept = [json.loads(line) for line in result.samples_path.read_text().splitlines()]
    reasons = {
        json.loads(r)["source"]["symbol"]: json.loads(r)["reason"]
        for r in result.rejects_path.read_text().splitlines()
    }
    assert [s["source"]["symbol"] for s in kept] == ["clamp"]
    assert "1 doctest examples, 0 failed" in kept[0]["verification"]["detail"]
    assert reasons == {"mean": "code_changed", "word_count": "failed", "Counter": "no_docstring"}


def test_near_duplicates_of_corpus_and_of_each_other_are_dropped(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    same = "The guide explains a rolling update where every node is drained, upgraded and checked again."

    def answer(payload: dict[str, Any]) -> str:
        passage = prompt_of(payload).split("<passage>\n")[1].split("\n</passage>")[0]
        if "rolling update" in passage:
            return passage  # a copy of the corpus text itself
        return same  # the same summary for every other chunk

    server = openai_server(answer)
    config = _config(
        corpus,
        tmp_path / "out",
        server,
        templates=["doc.summary"],
        samples=3,
        chunks={"min_chars": 40, "max_chars": 200},
    )
    result = synthesize(config, progress_bar=False)
    rejects = [json.loads(line) for line in result.rejects_path.read_text().splitlines()]
    kept = [json.loads(line) for line in result.samples_path.read_text().splitlines()]
    assert result.candidates == 3
    assert [s["output"] for s in kept] == [same]
    assert sorted(r["reason"] for r in rejects) == ["near_duplicate_corpus", "near_duplicate_sample"]


def test_samples_sharing_text_with_the_valid_split_are_dropped(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    leaked = " ".join(VALID.split()[4:24])  # 20 words of the held-out handbook
    answers = iter(
        [f"In short: {leaked}.", "Nodes are drained, upgraded, checked and put back one at a time."]
    )
    server = openai_server(lambda p: next(answers), delay_s=0.0)
    config = _config(
        corpus,
        tmp_path / "out",
        server,
        templates=["doc.summary"],
        samples=2,
        max_concurrency=1,
        chunks={"min_chars": 40, "max_chars": 200},
    )
    result = synthesize(config, progress_bar=False)
    (reject,) = [json.loads(line) for line in result.rejects_path.read_text().splitlines()]
    assert reject["reason"] == "contaminated"
    assert result.kept == 1


def test_every_sample_carries_its_provenance(corpus: Path, tmp_path: Path, openai_server: Start) -> None:
    server = openai_server(
        lambda p: '{"question": "Which port does the service listen on?", "answer": "8443."}'
    )
    config = _config(
        corpus,
        tmp_path / "out",
        server,
        templates=["doc.qa"],
        samples=2,
        sampling={"temperature": 0.3, "top_p": 0.9, "max_tokens": 64, "n": 2},
    )
    result = synthesize(config, progress_bar=False)
    samples = [json.loads(line) for line in result.samples_path.read_text().splitlines()]
    assert len(server.requests) == 1 and server.requests[0]["n"] == 2
    assert server.requests[0]["response_format"]["type"] == "json_schema"
    sample = samples[0]
    chunk_id = sample["source"]["chunk_id"]
    assert chunk_id.startswith("src/guide.md:")
    first, last = sample["source"]["lines"]
    chunk_text = "".join(GUIDE.splitlines(keepends=True)[first - 1 : last]).strip("\n")
    import hashlib

    assert sample["source"]["chunk_sha256"] == hashlib.sha256(chunk_text.encode()).hexdigest()
    assert sample["source"]["dataset_fingerprint"] == load_dataset_info(corpus).fingerprint
    assert sample["model"] == "scripted-model" and sample["endpoint"] == server.url
    assert (sample["template"], sample["template_version"]) == ("doc.qa", 1)
    assert sample["sampling"] | {"choice": 0} == {
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 64,
        "n": 2,
        "seed": None,
        "choice": 0,
    }
    assert sample["verification"]["verdict"] == "not_required"
    assert sample["text"] == "Question: Which port does the service listen on?\nAnswer: 8443.\n"
    # the second choice is the same text: dropped as a duplicate of the first
    assert [json.loads(r)["reason"] for r in result.rejects_path.read_text().splitlines()] == [
        "near_duplicate_sample"
    ]


def test_requests_go_out_concurrently_up_to_max_concurrency(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    counter = iter(range(1000))
    server = openai_server(
        lambda p: f"Summary number {next(counter)} of a passage about deployments.", delay_s=0.3
    )
    config = _config(
        corpus,
        tmp_path / "out",
        server,
        templates=["doc.summary", "code.explain"],
        samples=6,
        max_concurrency=4,
        chunks={"min_chars": 40, "max_chars": 200},
    )
    result = synthesize(config, progress_bar=False)
    assert result.requests == 6
    assert 1 < server.max_in_flight <= 4


def test_templates_take_turns_and_no_unit_is_planned_twice(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    counter = iter(range(1000))
    server = openai_server(lambda p: f"Answer number {next(counter)} about this part of the code or guide.")
    config = _config(
        corpus,
        tmp_path / "out",
        server,
        templates=["doc.summary", "code.explain"],
        samples=6,
        chunks={"min_chars": 40, "max_chars": 200},
    )
    synthesize(config, progress_bar=False)
    units = [json.loads(line)["unit"] for line in (tmp_path / "out" / "units.jsonl").read_text().splitlines()]
    assert len(set(units)) == 6
    assert sorted(u.split("|")[1] for u in units) == ["code.explain@v1"] * 3 + ["doc.summary@v1"] * 3


def test_resume_does_not_redo_finished_units(corpus: Path, tmp_path: Path, openai_server: Start) -> None:
    counter = iter(range(1000))
    server = openai_server(lambda p: f"Explanation {next(counter)}: this code computes a small helper value.")
    out = tmp_path / "out"
    first = synthesize(
        _config(corpus, out, server, templates=["code.explain"], samples=2), progress_bar=False
    )
    assert len(server.requests) == 2 and first.kept == 2
    again = synthesize(
        _config(corpus, out, server, templates=["code.explain"], samples=2), progress_bar=False
    )
    assert len(server.requests) == 2 and again.units_run == 0 and again.kept == 2
    more = synthesize(_config(corpus, out, server, templates=["code.explain"], samples=4), progress_bar=False)
    assert len(server.requests) == 4 and more.units_run == 2 and more.kept == 4
    ids = [json.loads(line)["id"] for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 4


def test_changed_settings_in_the_same_out_dir_are_refused(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    from vibe.core.errors import UserError

    server = openai_server(lambda p: "An explanation of a small helper function in the module.")
    synthesize(
        _config(corpus, tmp_path / "out", server, templates=["code.explain"], samples=1), progress_bar=False
    )
    with pytest.raises(UserError, match="other settings"):
        synthesize(
            _config(
                corpus,
                tmp_path / "out",
                server,
                templates=["code.explain"],
                samples=1,
                sampling={"temperature": 0.1},
            ),
            progress_bar=False,
        )


def test_output_is_a_dataset_with_the_corpus_tokenizer(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    counter = iter(range(1000))
    server = openai_server(lambda p: f"Explanation {next(counter)}: this code computes a small helper value.")
    config = _config(
        corpus, tmp_path / "out", server, templates=["code.explain"], samples=4, valid_fraction=0.25
    )
    result = synthesize(config, progress_bar=False)
    info = load_dataset_info(result.out)
    source = load_dataset_info(corpus)
    assert info.tokenizer.sha256 == source.tokenizer.sha256
    assert info.splits["train"].documents + info.splits["valid"].documents == 4
    assert info.splits["valid"].documents >= 1
    report = (result.out / "report.md").read_text()
    assert "| code.explain | 4 |" in report


def test_a_batch_cut_short_is_trimmed_and_redone(corpus: Path, tmp_path: Path, openai_server: Start) -> None:
    counter = iter(range(1000))
    server = openai_server(lambda p: f"Explanation {next(counter)}: this code computes a small helper value.")
    out = tmp_path / "out"
    synthesize(_config(corpus, out, server, templates=["code.explain"], samples=2), progress_bar=False)
    # a run killed mid-batch: a sample written for a unit that was never marked done, and a torn line
    with (out / "samples.jsonl").open("a") as samples:
        samples.write(json.dumps({"id": "orphan", "unit": "never-finished", "dedup_text": "x"}) + "\n")
    with (out / "units.jsonl").open("a") as units:
        units.write('{"unit": "src/math')
    result = synthesize(
        _config(corpus, out, server, templates=["code.explain"], samples=3), progress_bar=False
    )
    assert len(server.requests) == 3 and result.units_run == 1 and result.kept == 3
    ids = [json.loads(line)["id"] for line in (out / "samples.jsonl").read_text().splitlines()]
    assert "orphan" not in ids and len(ids) == 3


def test_runaway_generated_tests_are_stopped_by_the_sandbox_limits(
    corpus: Path, tmp_path: Path, openai_server: Start
) -> None:
    def spin(payload: dict[str, Any]) -> str:
        symbol = symbol_of(payload)
        return f"```python\nfrom subject import {symbol}\n\ndef test_forever():\n    while {symbol}:\n        pass\n```"

    server = openai_server(spin)
    config = _config(
        corpus,
        tmp_path / "out",
        server,
        templates=["code.tests"],
        samples=1,
        verify={"cpu_seconds": 1, "wall_seconds": 20},
    )
    result = synthesize(config, progress_bar=False)
    (reject,) = [json.loads(line) for line in result.rejects_path.read_text().splitlines()]
    assert result.kept == 0
    assert reject["reason"] in {"stopped_cpu", "stopped_timeout"}, reject
