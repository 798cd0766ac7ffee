"""``evaluate``: validation-split and text-file loss / bits per byte of a run's latest checkpoint, and the
suites asked for (:data:`SUITES`: memorisation, code, policy, and standard tasks through lm-evaluation-harness).

Bits per byte are exact: total NLL (nats) / ln 2 / UTF-8 bytes. For the validation split the byte count is
the manifest's (``splits.valid.bytes``, the normalised text the split was tokenized from), and the NLL total
is ``loss × tokens`` with the manifest's token count, as the dataset contract defines. A text file is read
as UTF-8, tokenized with the run's tokenizer, scored after an end-of-document token, and divided by its
own byte count.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vibe.core.errors import UserError
from vibe.tracking import TrackingConfig, start_run

__all__ = ["SUITES", "EvalResult", "SplitScore", "evaluate", "parse_suites"]

# The suites ``evaluate(suites=...)`` runs; "heldout" (loss, bits per byte) always runs.
SUITES: tuple[str, ...] = ("heldout", "memorisation", "code", "policy", "tasks")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitScore:
    """Loss (nats per predicted token) and bits per byte of one body of text."""

    name: str
    loss: float
    bpb: float
    tokens: int  # tokens predicted
    bytes: int


@dataclass(frozen=True)
class EvalResult:
    run_dir: Path
    step: int
    valid: SplitScore
    texts: list[SplitScore] = field(default_factory=list)
    wall_time_s: float = 0.0
    suites: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # what release gates read (val_bpb, ...)
    tracking: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "run_dir": str(self.run_dir)}


def parse_suites(text: str | Sequence[str]) -> list[str]:
    """``"code,policy"`` -> ``["heldout", "code", "policy"]``; an unknown name is a UserError."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise UserError(f"--suite {','.join(unknown)}: unknown suite; choose from {', '.join(SUITES)}")
    return ["heldout", *(n for n in dict.fromkeys(names) if n != "heldout")]


def evaluate(
    run_dir: str | Path,
    *,
    texts: Sequence[str | Path] = (),
    data: Sequence[str | Path] = (),
    suites: Sequence[str] = ("heldout",),
    generator: Any = None,
    tracking: TrackingConfig | None = None,
    options: dict[str, Any] | None = None,
    hf_model: str | Path | None = None,
) -> EvalResult:
    """Score ``run_dir``'s latest checkpoint; writes and returns ``RUN_DIR/eval.json``'s content.

    ``generator`` (a :class:`tools.eval.Generator`) completes prompts for the memorisation, code and policy
    suites; default: in-process sampling from the run's own Megatron model. ``options`` maps a suite name to
    its config fields (e.g. ``{"code": {"max_tasks": 10}}``). The ``tasks`` suite (lm-evaluation-harness)
    runs on the HF model ``hf_model`` (default: the run's export, ``RUN_DIR/export``). ``data``: dataset
    directories whose valid split is scored instead of the run's own (an imported base model has none; score it
    on its fine-tune's held-out split)."""
    from trainers import open_run

    suites = parse_suites(suites)
    options = options or {}
    started = time.perf_counter()
    run_dir = Path(run_dir)
    contents = []
    for text in texts:
        path = Path(text)
        try:
            contents.append((path, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(
                f"--text {path}: cannot be read as UTF-8 text ({error}); pass a text file"
            ) from None
    with open_run(run_dir, data=[Path(d) for d in data] or None) as run:
        val = run.validate()
        manifest_tokens = sum(s.valid_tokens for s in run.sources)
        manifest_bytes = sum(s.valid_bytes for s in run.sources)
        valid = SplitScore(
            name="valid",
            loss=val["val_loss"],
            bpb=val["val_loss"] * manifest_tokens / manifest_bytes / math.log(2),
            tokens=val["val_tokens"],
            bytes=manifest_bytes,
        )
        scores = []
        for path, content in contents:
            nll, count = run.text_nll(run.tokenizer.tokenize(content))
            size = len(content.encode("utf-8"))
            scores.append(
                SplitScore(
                    name=str(path),
                    loss=nll / max(1, count),
                    bpb=nll / math.log(2) / max(1, size),
                    tokens=count,
                    bytes=size,
                )
            )
        step = run.checkpoint.step
        reports = {"heldout": {"val_loss": valid.loss, "val_bpb": valid.bpb, "val_tokens": valid.tokens}}
        reports |= _run_suites(run, suites, generator=generator, options=options, run_dir=run_dir)
    if "tasks" in suites:
        reports["tasks"] = _tasks(run_dir, generator, hf_model, options.get("tasks", {}))
    metrics = {
        key: float(value)
        for report in reports.values()
        for key, value in report.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and key.endswith(_METRIC_ENDINGS)
    }
    result = EvalResult(run_dir, step, valid, scores, time.perf_counter() - started, reports, metrics)
    tracker = start_run(
        tracking,
        experiment="vibe-eval",
        name=f"{run_dir.name}-eval",
        params={"suites": ",".join(suites), "step": step, **{f"options.{k}": v for k, v in options.items()}},
        tags={"vibe.run_dir": str(run_dir.resolve()), "vibe.kind": "eval"},
    )
    tracker.log_metrics(metrics, step=step)
    (run_dir / "eval.json").write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    tracker.log_artifact(run_dir / "eval.json")
    result.tracking.extend([*tracker.finish(), *tracker.report_lines()])
    log.info("%s step %d: valid loss %.4f, %.4f bits/byte", run_dir, step, valid.loss, valid.bpb)
    return result


# Report entries that are metrics (what gates and MLflow read); other numbers are counts or settings.
_METRIC_ENDINGS = ("_loss", "_bpb", "_rate", "_at_1", "_max", "_mean", "_acc", "_acc_norm")


def _tasks(
    run_dir: Path, generator: Any, hf_model: str | Path | None, options: dict[str, Any]
) -> dict[str, Any]:
    """lm-evaluation-harness on the shipped tasks: against the served model when generation goes through one
    (an :class:`OpenAIGenerator`; the HF directory then gives its tokenizer), else on the HF model in process."""
    from tools.eval._generate import OpenAIGenerator
    from tools.eval._tasks import find_export, tasks_suite

    model_dir = Path(hf_model) if hf_model else find_export(run_dir)
    if model_dir is None:
        raise UserError(
            f"--suite tasks: {run_dir} has no HF export (RUN_DIR/export); export it (`vibe model export "
            f"{run_dir}`) or pass --hf-model DIR (with --served: the served model's directory, for its tokenizer)"
        )
    served = generator if isinstance(generator, OpenAIGenerator) else None
    started = time.perf_counter()
    report = tasks_suite(
        model_dir,
        served=served.url if served else None,
        served_model=served.model if served else None,
        **options,
    )
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def _run_suites(
    run: Any, suites: Sequence[str], *, generator: Any, options: dict[str, Any], run_dir: Path
) -> dict[str, Any]:
    from tools.eval._code import CodeConfig, code_suite
    from tools.eval._generate import MegatronGenerator
    from tools.eval._memorisation import MemorisationConfig, memorisation_suite
    from tools.eval._policy import PolicyEvalConfig, policy_suite

    generator = generator or MegatronGenerator(run)
    out: dict[str, Any] = {}
    for name in suites:
        started = time.perf_counter()
        try:
            if name == "memorisation":
                config = MemorisationConfig.model_validate(options.get(name, {}))
                out[name] = memorisation_suite(run, generator, config=config)
            elif name == "code":
                out[name] = code_suite(
                    run, generator, config=CodeConfig.model_validate(options.get(name, {}))
                )
            elif name == "policy":
                config = PolicyEvalConfig.model_validate(options.get(name, {}))
                out[name] = policy_suite(run, generator, config=config, run_dir=run_dir)
            else:
                continue
        except ValidationError as error:
            raise UserError(f"--suite {name}: bad options: {error}") from None
        out[name]["seconds"] = round(time.perf_counter() - started, 3)
        log.info("suite %s: %s", name, {k: v for k, v in out[name].items() if k.endswith(_METRIC_ENDINGS)})
    return out
