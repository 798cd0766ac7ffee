"""``evaluate`` / ``vibe eval``: full-split loss and exact bits per byte of a run's latest checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.eval import evaluate
from trainers import read_metrics
from vibe.cli import app
from vibe.core.errors import UserError

pytestmark = pytest.mark.slow


def _manifest(data: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((data / "manifest.json").read_text())["splits"]["valid"]


def test_valid_bpb_is_loss_times_tokens_over_bytes(trained_run: Path, eval_data: Path) -> None:
    result = evaluate(trained_run)
    split = _manifest(eval_data)
    assert math.isfinite(result.valid.loss) and 0 < result.valid.loss < math.log(768) + 0.5
    assert result.valid.bpb == pytest.approx(
        result.valid.loss * split["tokens"] / split["bytes"] / math.log(2)
    )
    assert result.valid.tokens == split["tokens"] - 1  # every valid token but the first is predicted once
    assert result.valid.bytes == split["bytes"] and result.step == 20


def test_single_rank_eval_of_tp2_checkpoint_matches_the_trainers_final_validation(trained_run: Path) -> None:
    final = read_metrics(trained_run / "metrics.jsonl")[-1]
    assert evaluate(trained_run).valid.loss == pytest.approx(final["val_loss"], rel=1e-5)


def test_text_file_bpb_uses_its_own_utf8_bytes(trained_run: Path, tmp_path: Path) -> None:
    text = tmp_path / "sample.py"
    text.write_text("def héllo(name):\n    return f'hi {name}'\n" * 20, encoding="utf-8")
    score = evaluate(trained_run, texts=[text]).texts[0]
    assert score.bytes == len(text.read_bytes())
    assert score.tokens > 0 and math.isfinite(score.loss)
    assert score.bpb == pytest.approx(score.loss * score.tokens / score.bytes / math.log(2))


def test_cli_prints_and_writes_eval_json(trained_run: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("import os\nprint(os.getcwd())\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(trained_run), "--text", str(text)])
    assert result.exit_code == 0, result.output
    written = json.loads((trained_run / "eval.json").read_text())
    assert written["step"] == 20 and written["texts"][0]["name"] == str(text)
    assert f"{written['valid']['bpb']:.4f} bits/byte" in result.output


def test_not_a_run_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"not a run directory \(no config\.yaml\)"):
        evaluate(tmp_path)
