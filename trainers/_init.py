"""``init_from``: start a run from another run's (or an imported model's) weights, and nothing else.

The optimizer, schedule, data order and step count start fresh; only the weights of the source's latest
checkpoint are loaded (under any layout: they reshard). Checked by the driver before any worker starts:

- the model must be the same model: every ``model`` field equal to the source's, except those that do not
  change the function it computes (``seq_length``, ``dropout``, ``init_method_std``, ``moe_aux_loss_coeff``);
- the data must be tokenized with the source's tokenizer (same ``tokenizer.json`` sha256): a dataset made
  with another one is refused, with the ``vibe data ingest --tokenizer`` command that makes a matching one.

The source's ``tokenizer/`` directory (an imported model's tokenizer, chat template and generation config)
is copied into the run, so an export of the run carries it.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from trainers._checkpoint import CheckpointInfo, latest_checkpoint
from trainers._config import RunConfig
from trainers._data import DatasetDir, read_dataset_dir
from vibe.core.config import load_yaml
from vibe.core.errors import UserError

__all__ = ["FREE_MODEL_FIELDS", "check_init_from", "copy_init_tokenizer", "run_tokenizer_path"]

FREE_MODEL_FIELDS = frozenset({"preset", "seq_length", "dropout", "init_method_std", "moe_aux_loss_coeff"})


def run_tokenizer_path(run_dir: Path, config: RunConfig) -> Path:
    """The ``tokenizer.json`` a run's model reads: its own ``tokenizer/`` or its first dataset's."""
    own = Path(run_dir) / "tokenizer" / "tokenizer.json"
    if own.is_file():
        return own
    if not config.data.sources:
        raise UserError(
            f"{run_dir}: no tokenizer/ and no data.sources in its config.yaml; cannot tell its tokenizer"
        )
    return read_dataset_dir(config.data.sources[0].path).tokenizer_path


def check_init_from(config: RunConfig, sources: list[DatasetDir]) -> CheckpointInfo:
    """The checkpoint ``config.init_from`` starts from; raises ``UserError`` on a model or tokenizer mismatch."""
    assert config.init_from is not None
    init = Path(config.init_from)
    if not (init / "config.yaml").is_file():
        raise UserError(
            f"init_from: {init} is not a run directory (no config.yaml); give a `vibe train` or `vibe model import` --out"
        )
    checkpoint = latest_checkpoint(init)
    if checkpoint is None:
        raise UserError(f"init_from: {init}/checkpoints holds no complete checkpoint")
    source = load_yaml(init / "config.yaml", RunConfig)
    mine, theirs = config.model.model_dump(mode="json"), source.model.model_dump(mode="json")
    changed = [k for k in mine if k not in FREE_MODEL_FIELDS and mine[k] != theirs.get(k)]
    if changed:
        details = ", ".join(f"model.{k}: {mine[k]!r} here, {theirs.get(k)!r} in {init}" for k in changed[:4])
        raise UserError(
            f"init_from: {details}; a run started from {init} keeps its model (omit the model flags, or "
            "set only seq_length / dropout)"
        )
    tokenizer = run_tokenizer_path(init, source)
    want = hashlib.sha256(tokenizer.read_bytes()).hexdigest()
    for dataset in sources:
        if dataset.tokenizer_sha256 != want:
            raise UserError(
                f"data.sources: {dataset.path} was tokenized with another tokenizer than init_from {init} "
                f"({tokenizer}); make the dataset with `vibe data ingest SRC --tokenizer {init} --out DIR`"
            )
    return checkpoint


def copy_init_tokenizer(config: RunConfig) -> None:
    """Copy ``init_from/tokenizer/`` into the run directory (an imported model's tokenizer files)."""
    assert config.init_from is not None
    source, target = Path(config.init_from) / "tokenizer", Path(config.out) / "tokenizer"
    if source.is_dir() and not target.exists():
        shutil.copytree(source, target)
