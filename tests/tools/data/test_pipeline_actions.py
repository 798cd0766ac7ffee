"""What happens to files with secrets or personal data under the ``drop`` and ``fail`` actions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_corpus import Corpus, small_config

from tools.data import DatasetInfo, ingest, load_dataset_info
from vibe.core.errors import UserError


@pytest.fixture(scope="module")
def dropped(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """files.jsonl, by path, of an ingest that drops files with secrets and files with personal data."""
    out = tmp_path_factory.mktemp("dropped")
    config = small_config(corpus.inputs, out, actions={"secrets": "drop", "personal_data": "drop"})
    ingest(config, progress=False)
    return {
        r["path"]: r for r in map(json.loads, (out / "files.jsonl").read_text(encoding="utf-8").splitlines())
    }


def test_drop_secrets_drops_the_file(corpus: Corpus, dropped: dict[str, dict]) -> None:
    for path in (corpus.settings, corpus.env):
        assert (dropped[path]["status"], dropped[path]["reason"]) == ("dropped", "secret")
        assert {f["action"] for f in dropped[path]["findings"]} == {"drop"}


def test_drop_personal_data_drops_the_file(corpus: Corpus, dropped: dict[str, dict]) -> None:
    record = dropped[corpus.contact]
    assert (record["status"], record["reason"]) == ("dropped", "personal_data")
    assert "email at line 5" in record["detail"]


def test_fail_on_secrets_names_file_line_and_kind(corpus: Corpus, tmp_path: Path) -> None:
    config = small_config(corpus.inputs, tmp_path / "out", actions={"secrets": "fail"})
    with pytest.raises(UserError, match=r"repo/app/settings\.py: line 3: found aws_access_key"):
        ingest(config, progress=False)


def test_fail_on_personal_data_names_file_line_and_kind(corpus: Corpus, tmp_path: Path) -> None:
    config = small_config(corpus.inputs, tmp_path / "out", actions={"personal_data": "fail"})
    with pytest.raises(UserError, match=r"repo/docs/contact\.md: line 5: found email"):
        ingest(config, progress=False)


def test_failed_rerun_leaves_no_finished_dataset(
    ingested: DatasetInfo, corpus: Corpus, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    ingest(small_config(corpus.inputs, out), progress=False)
    with pytest.raises(UserError):
        ingest(small_config(corpus.inputs, out, actions={"secrets": "fail"}), progress=False)
    with pytest.raises(UserError, match=r"manifest\.json is missing"):
        load_dataset_info(out)
