"""An imported model trains (``init_from``, under TP=2 and, a MoE, under EP=2) and exports back, resharded;
the export imported again evaluates to the run's own held-out loss; another tokenizer is refused."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny_hf import tiny_config, write_model

from trainers import RunConfig, launch
from trainers.hf import export_run, import_model
from vibe.core.errors import UserError
from vibe.tracking import TrackingConfig


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hf-train")
    write_model(root / "src", tiny_config("llama"))
    return import_model(root / "src", root / "imported", seq_length=32).out


def _ingest(out: Path, *, tokenizer: Path | None) -> Path:
    from tools.data import IngestConfig, ingest

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    source = out.parent / f"{out.name}-source"
    source.mkdir(parents=True)
    for name in ("bisect.py", "colorsys.py", "heapq.py", "keyword.py", "fnmatch.py", "glob.py", "shlex.py"):
        shutil.copy(stdlib / name, source / name)
    tok = {"path": str(tokenizer)} if tokenizer else {"vocab_size": 400}
    ingest(IngestConfig(inputs=[source], out=out, valid_fraction=0.3, tokenizer=tok), progress=False)
    return out


def _run(imported: Path, data: Path, out: Path, **parallel: int) -> RunConfig:
    return RunConfig.model_validate(
        {
            "out": str(out),
            "init_from": str(imported),
            "model": {**_model(imported), "seq_length": 32},
            "parallel": parallel,
            "training": {"micro_batch_size": 2, "global_batch_size": 4, "max_steps": 2, "eval_iters": 2},
            "optimizer": {"lr": 1e-9, "min_lr": 0.0, "warmup_steps": 0},
            "data": {"sources": [{"path": str(data)}]},
        }
    )


def _model(run: Path) -> dict:
    import yaml

    return yaml.safe_load((run / "config.yaml").read_text())["model"]


def test_a_dataset_with_another_tokenizer_is_refused_before_any_step(imported: Path, tmp_path: Path) -> None:
    data = _ingest(tmp_path / "own-tokenizer", tokenizer=None)
    with pytest.raises(UserError, match=r"tokenized with another tokenizer than init_from .*--tokenizer"):
        launch(_run(imported, data, tmp_path / "run"))
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_init_from_refuses_another_model(imported: Path, tmp_path: Path) -> None:
    data = _ingest(tmp_path / "data", tokenizer=imported)
    config = _run(imported, data, tmp_path / "run")
    config = config.model_copy(update={"model": config.model.model_copy(update={"num_query_groups": 4})})
    with pytest.raises(UserError, match=r"model.num_query_groups: 4 here, 2 in"):
        launch(config)


@pytest.mark.slow
def test_fine_tune_an_imported_model_under_tp2_and_export_it(
    imported: Path, tmp_path: Path, local_ray: str
) -> None:
    data = _ingest(tmp_path / "data", tokenizer=imported)  # the model's own tokenizer
    result = launch(_run(imported, data, tmp_path / "run", tp=2))
    assert result.final_step == 2
    assert (tmp_path / "run" / "tokenizer" / "tokenizer_config.json").is_file()  # carried from the import

    exported = export_run(tmp_path / "run", tmp_path / "exported")  # TP=2 checkpoint resharded to one
    assert exported.ok and exported.record["trained_layout"] == {"dp": 1, "tp": 2, "ep": 1}
    assert exported.record["verification"]["logits"]["max_abs_diff"] <= 1e-3
    source = load_file(str(imported.parent / "src" / "model.safetensors"))
    back = load_file(str(tmp_path / "exported" / "model.safetensors"))
    # two steps at lr 1e-9 move no weight by more than ~2e-9: the run started from the imported weights
    assert max((back[k] - v).abs().max().item() for k, v in source.items()) < 1e-6
    assert not all(torch.equal(back[k], v) for k, v in source.items())  # ... and it did train

    # exported, imported back, evaluated: the same held-out loss as the run itself (fp32, CPU)
    from tools.eval import evaluate

    reimported = import_model(tmp_path / "exported", tmp_path / "reimported", seq_length=32)
    assert reimported.ok
    off = TrackingConfig(enabled=False)
    run_loss = evaluate(tmp_path / "run", tracking=off).valid
    back_loss = evaluate(tmp_path / "reimported", data=[data], tracking=off).valid
    assert back_loss.tokens == run_loss.tokens > 0
    assert back_loss.loss == pytest.approx(run_loss.loss, abs=1e-5), (run_loss, back_loss)


@pytest.mark.slow
def test_a_moe_trained_under_expert_parallel_exports_resharded(tmp_path: Path, local_ray: str) -> None:
    src = write_model(tmp_path / "src", tiny_config("mixtral"))  # 4 experts, top-2
    imported = import_model(src, tmp_path / "imported", seq_length=32).out
    data = _ingest(tmp_path / "data", tokenizer=imported)
    result = launch(_run(imported, data, tmp_path / "run", dp=2, ep=2))  # 2 experts on each rank
    assert result.final_step == 2

    exported = export_run(tmp_path / "run", tmp_path / "exported")  # EP=2 checkpoint resharded to one
    assert exported.ok and exported.record["trained_layout"] == {"dp": 2, "tp": 1, "ep": 2}
    assert exported.record["architecture"] == "MixtralForCausalLM"
    assert exported.record["verification"]["logits"]["max_abs_diff"] <= 1e-3
    source = load_file(str(src / "model.safetensors"))
    back = load_file(str(tmp_path / "exported" / "model.safetensors"))
    assert sorted(back) == sorted(source)
    # every expert of every layer back in its own slot: a swapped random expert differs by ~0.1; two steps
    # at lr 1e-9 moved each weight by ~1e-9
    assert max((back[k] - v).abs().max().item() for k, v in source.items()) < 1e-6
    assert not all(torch.equal(back[k], v) for k, v in source.items())


def test_cli_init_from_takes_the_models_shape_and_enforces_its_tokenizer(
    imported: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from vibe.cli import app

    data = _ingest(tmp_path / "own-tokenizer", tokenizer=None)
    args = ["train", "--init-from", str(imported), "--data", str(data), "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, [*args, "--max-steps", "2"])
    assert result.exit_code == 2
    assert "tokenized with another tokenizer than init_from" in result.output
    assert f"vibe data ingest SRC --tokenizer {imported}" in result.output.replace("\n", "")
    result = CliRunner().invoke(app, [*args, "--heads", "2"])  # a flag that changes the model
    assert result.exit_code == 2 and "model.num_attention_heads: 2 here, 4 in" in result.output.replace(
        "\n", ""
    )
