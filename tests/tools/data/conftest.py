"""Fixtures of the data-pipeline tests: the corpus (built once per session) and one default ingest of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_corpus import Corpus, build_corpus, small_config

from tools.data import DatasetInfo, ingest


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def ingested(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> DatasetInfo:
    """The corpus ingested once with the default actions (redact secrets and personal data)."""
    return ingest(small_config(corpus.inputs, tmp_path_factory.mktemp("dataset")), progress=False)


@pytest.fixture(scope="session")
def records(ingested: DatasetInfo) -> dict[str, dict]:
    """files.jsonl of the default ingest, by path."""
    assert ingested.root is not None
    lines = (ingested.root / "files.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["path"]: r for r in map(json.loads, lines)}


@pytest.fixture
def fresh_corpus(tmp_path: Path) -> Iterator[Corpus]:
    """A private copy of the corpus, for tests that change their inputs."""
    yield build_corpus(tmp_path / "corpus")
