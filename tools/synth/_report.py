"""``report.md`` of a synthetic-data run: counts by template and verdict, throughput, examples."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from tools.data import atomic_write_text

__all__ = ["write_report"]

_EXAMPLE_CHARS = 1200


def _fence(text: str) -> str:
    text = text if len(text) <= _EXAMPLE_CHARS else text[:_EXAMPLE_CHARS] + "\n[...]"
    return "````text\n" + text.replace("````", "` ` ` `") + "\n````"


def write_report(
    path: Path,
    *,
    result: dict[str, Any],
    samples: list[dict[str, Any]],
    rejects: list[dict[str, Any]],
    config: dict[str, Any],
) -> None:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for sample in samples:
        table[sample["template"]]["kept"] += 1
    for reject in rejects:
        table[reject["template"]][reject["reason"]] += 1
    columns = ["kept", *sorted({c for counts in table.values() for c in counts} - {"kept"})]
    lines = [
        "# Synthetic data",
        "",
        f"Corpus `{config['dataset']}`, model `{result['model']}` at `{config['llm']['url']}`; "
        f"{result['units_planned']} units (chunk, template) planned, {result['units_run']} run by the last call.",
        "",
        f"**{result['kept']} samples kept** of {result['candidates']} generated "
        f"({result['requests']} requests, {config['max_concurrency']} in flight at most).",
        "",
        "## Throughput",
        "",
        "| generation seconds | candidates/s | completion tokens | tokens/s |",
        "|---:|---:|---:|---:|",
        f"| {result['generation_seconds']:.1f} | {result['samples_per_s']:.3f} | {result['completion_tokens']} "
        f"| {result['tokens_per_s']:.1f} |",
        "",
        "## Kept and dropped by template",
        "",
        "| template | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for template in sorted(table):
        lines.append(f"| {template} | " + " | ".join(str(table[template][c]) for c in columns) + " |")
    lines += [
        "",
        "Reasons: `near_duplicate_corpus`/`_sample` (MinHash LSH), `contaminated` (shares a "
        f"{config['decontamination_ngram']}-word run with the valid split), `failed` (generated tests or "
        "doctests failed in the sandbox), `too_short`, `truncated`, `unparseable`, ...",
        "",
    ]
    if result["dataset"]:
        lines += [
            f"Indexed dataset: `{result['dataset']}` (blend it with `data.sources: [{{path: ...}}, "
            f"{{path: {result['dataset']}, weight: 0.1}}]`).",
            "",
        ]
    lines += ["## Examples", ""]
    seen: set[str] = set()
    for sample in samples:
        if sample["template"] in seen:
            continue
        seen.add(sample["template"])
        src = sample["source"]
        lines += [
            f"### kept: {sample['template']} v{sample['template_version']} — `{src['chunk_id']}` "
            f"(verification: {sample['verification']['verdict']})",
            "",
            _fence(sample["text"]),
            "",
        ]
    reasons: set[str] = set()
    for reject in rejects:
        if reject["reason"] in reasons:
            continue
        reasons.add(reject["reason"])
        lines += [
            f"### dropped ({reject['reason']}): {reject['template']} — `{reject['source']['chunk_id']}`",
            "",
            f"Why: {(reject.get('detail') or '').splitlines()[0] if reject.get('detail') else '-'}",
            "",
            _fence(str(reject.get("output") or "")),
            "",
        ]
    atomic_write_text(path, "\n".join(lines) + "\n")
