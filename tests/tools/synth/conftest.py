"""Fixtures for the synthetic-data tests: the scripted OpenAI-compatible server and a small ingested corpus."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synth_helpers import GUIDE, MATH, VALID, Answer, ScriptedServer

from tools.data import IngestConfig, ingest


@pytest.fixture
def openai_server() -> Iterator[Callable[..., ScriptedServer]]:
    started: list[ScriptedServer] = []

    def start(answer: Answer, **kwargs: Any) -> ScriptedServer:
        server = ScriptedServer(answer, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ingested corpus: one Python module and one guide in train, the handbook in valid."""
    root = tmp_path_factory.mktemp("synth-corpus")
    source = root / "src"
    source.mkdir()
    (source / "mathutil.py").write_text(MATH)
    (source / "guide.md").write_text(GUIDE)
    (source / "handbook.md").write_text(VALID)
    out = root / "dataset"
    # valid_fraction 0.1 with seed 0 puts handbook.md (and only it) into valid: checked below
    ingest(
        IngestConfig(inputs=[source], out=out, valid_fraction=0.1, tokenizer={"vocab_size": 300}),
        progress=False,
    )
    splits = {}
    for line in (out / "files.jsonl").read_text().splitlines():
        record = json.loads(line)
        splits[Path(record["path"]).name] = record.get("split")
    assert splits == {"mathutil.py": "train", "guide.md": "train", "handbook.md": "valid"}, splits
    return out
