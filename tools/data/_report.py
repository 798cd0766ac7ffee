"""The short summary of an ingest: a rich table for the terminal and the same rows as ``report.md``."""

from __future__ import annotations

from rich.table import Table

from tools.data._manifest import DatasetInfo

__all__ = ["summary_markdown", "summary_rows", "summary_table"]


def summary_rows(info: DatasetInfo) -> list[tuple[str, str]]:
    rows = [
        ("files seen", f"{info.files.seen:,}"),
        ("files kept", f"{info.files.kept:,}"),
    ]
    rows += [(f"dropped: {reason}", f"{n:,}") for reason, n in sorted(info.files.dropped.items())]
    rows += [(f"finding: {kind}", f"{n:,}") for kind, n in sorted(info.findings.items())]
    rows += [(f"documents: {kind}", f"{n:,}") for kind, n in info.documents.types.items()]
    if info.documents.image_pairs:
        rows.append(
            ("image-text pairs", f"{info.documents.image_pairs:,} in {info.documents.image_pairs_path}")
        )
    if info.documents.ocr_low_confidence_pages:
        rows.append(("OCR pages of low confidence", f"{info.documents.ocr_low_confidence_pages:,}"))
    for name, split in info.splits.items():
        rows.append(
            (f"{name} tokens", f"{split.tokens:,} in {split.documents:,} docs, {split.bytes:,} bytes")
        )
    trained = "trained" if info.tokenizer.trained else "reused"
    rows.append(
        ("tokenizer", f"{trained}, vocab {info.tokenizer.vocab_size:,}, sha256 {info.tokenizer.sha256[:12]}")
    )
    reused = [name for name, stage in info.stages.items() if stage.reused]
    rows.append(("time", f"{info.seconds:.1f} s" + (f" (reused: {', '.join(reused)})" if reused else "")))
    return rows


def summary_table(info: DatasetInfo) -> Table:
    table = Table(title=f"ingest: {info.root}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in summary_rows(info):
        table.add_row(name, value)
    return table


def summary_markdown(info: DatasetInfo) -> str:
    lines = [
        "# Ingest report",
        "",
        f"fingerprint `{info.fingerprint}`, created {info.created.isoformat()}",
        "",
    ]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in summary_rows(info)]
    lines += ["", "Every input file, with its status, reason and findings: `files.jsonl`.", ""]
    return "\n".join(lines)
