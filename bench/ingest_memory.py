"""Peak memory of ``vibe data ingest`` on a synthetic archive larger than 1 GB.

    python bench/ingest_memory.py                     # 1.1 GB archive, ~512 MB of it text
    python bench/ingest_memory.py --archive-gb 0.3 --text-mb 128              # a smaller one, same RSS
    python bench/ingest_memory.py --stdlib            # the README's main job: this interpreter's stdlib
    python bench/ingest_memory.py --archive-gb 0.1 --text-mb 32 --documents 2000   # a mixed archive

The archive (a deterministic ``.tar.gz`` of generated Python/Markdown files, exact and near duplicates, a few
planted secrets, ``--documents N`` generated PDF/DOCX/PPTX/XLSX/ODT/HTML/e-mail documents (from
``bench/document_throughput.py``), and incompressible binary assets that fill it up to the target size) is cached under
``$VIBE_CACHE/bench/ingest_memory/``, never in git. The ingest runs in a child process; its peak RSS comes from
``getrusage(RUSAGE_CHILDREN)``. Results go to ``bench/results/ingest_memory.json`` and, unless
``--no-record``, as a row of the "Ingest memory" table in ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vibe.core.paths import cache_dir

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "ingest_memory.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
SECTION = "## Ingest memory"
HEADER = (
    "| date | input | input size | text in it | files | kept | wall time | peak RSS | RSS / input | input MB/s "
    "| tokens |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)
_ASSET_BYTES = 512 * 1024


class _Generator:
    """Deterministic synthetic source files: Python modules and Markdown notes over a made-up vocabulary."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        syllables = [
            a + b for a in "bcdfghklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en", "is", "on")
        ]
        self.words = sorted(
            {"".join(self.rng.choices(syllables, k=self.rng.randint(1, 4))) for _ in range(6000)}
        )
        self.history: list[str] = []

    def _name(self) -> str:
        return "_".join(self.rng.choices(self.words, k=self.rng.randint(1, 3)))

    def _sentence(self) -> str:
        return " ".join(self.rng.choices(self.words, k=self.rng.randint(6, 16))).capitalize() + "."

    def python(self, index: int) -> str:
        rng = self.rng
        lines = [f'"""{self._sentence()}\n\n{self._sentence()} {self._sentence()}\n"""', ""]
        lines += [f"import {self._name()}" for _ in range(rng.randint(1, 5))] + [""]
        if index % 500 == 7:  # a planted credential: the ingest redacts it
            lines += [f'API_KEY = "{rng.getrandbits(128):032x}"', ""]
        for _ in range(rng.randint(3, 14)):
            args = ", ".join(self._name() for _ in range(rng.randint(0, 4)))
            lines += ["", f"def {self._name()}({args}):", f'    """{self._sentence()}"""']
            for _ in range(rng.randint(2, 12)):
                target, source = self._name(), self._name()
                kind = rng.random()
                if kind < 0.4:
                    lines.append(f"    {target} = {source}({rng.randint(0, 9999)}, {self._name()!r})")
                elif kind < 0.7:
                    lines += [f"    if {source} > {rng.randint(0, 100)}:", f"        return {target}"]
                else:
                    lines += [
                        f"    for {target} in {source}:",
                        f"        {self._name()}.append({target} * 2)",
                    ]
            lines.append(f"    return {self._name()}")
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        parts = [f"# {self._sentence()}", ""]
        for _ in range(self.rng.randint(2, 8)):
            parts += [f"## {self._sentence()}", "", " ".join(self._sentence() for _ in range(5)), ""]
        return "\n".join(parts)

    def file(self, index: int) -> tuple[str, str]:
        """(member name, text); every 40th file repeats an earlier one, every 50th is a near duplicate."""
        if index % 40 == 39 and self.history:
            return f"src/pkg{index % 97}/dup_{index}.py", self.rng.choice(self.history)
        if index % 50 == 49 and self.history:
            lines = self.rng.choice(self.history).split("\n")
            lines[len(lines) // 2] = f"# changed in copy {index}"
            return f"src/pkg{index % 97}/near_{index}.py", "\n".join(lines)
        if index % 10 == 0:
            return f"docs/note_{index}.md", self.markdown()
        text = self.python(index)
        if len(self.history) < 200:
            self.history.append(text)
        return f"src/pkg{index % 97}/mod_{index}.py", text


def build_archive(
    path: Path, *, archive_bytes: int, text_bytes: int, seed: int, documents: int = 0
) -> dict[str, int]:
    """Write the synthetic .tar.gz (text first, then binary assets until the file reaches ``archive_bytes``)."""
    tmp = path.with_name(path.name + ".tmp")
    generator = _Generator(seed)
    assets = np.random.default_rng(seed)
    stats = {"text_files": 0, "text_bytes": 0, "asset_files": 0, "asset_bytes": 0}
    stats |= {"documents": 0, "document_bytes": 0}
    with tmp.open("wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=1) as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))

        while stats["text_bytes"] < text_bytes:
            name, text = generator.file(stats["text_files"])
            data = text.encode()
            add(name, data)
            stats["text_files"] += 1
            stats["text_bytes"] += len(data)
        from document_throughput import make_documents  # this directory: python bench/ingest_memory.py

        for name, data in make_documents(documents, seed=seed):
            add(f"office/{name}", data)
            stats["documents"] += 1
            stats["document_bytes"] += len(data)
        while raw.tell() < archive_bytes:
            add(f"assets/blob_{stats['asset_files']:05d}.bin", assets.bytes(_ASSET_BYTES))
            stats["asset_files"] += 1
            stats["asset_bytes"] += _ASSET_BYTES
    tmp.replace(path)
    return stats


def run_ingest(source: Path, out: Path, *, vocab_size: int) -> tuple[float, int, str]:
    """Run the CLI in a child process; (wall seconds, peak RSS bytes of the child, its output tail)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "vibe", "data", "ingest", str(source), "--out", str(out)]
    command += ["--vocab-size", str(vocab_size), "--no-progress"]
    started = time.perf_counter()
    child = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "VIBE_NO_PROGRESS": "1"}
    )
    wall = time.perf_counter() - started
    output = (child.stdout + child.stderr)[-4000:]
    if child.returncode != 0:
        raise SystemExit(f"ingest failed ({child.returncode}):\n{output}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB, the largest child
    return wall, peak_kib * 1024, output


def record_row(result: dict) -> str:
    mb = 1e6
    row = (
        f"| {result['date'][:10]} | {result['input']} | {result['input_bytes'] / mb:,.0f} MB "
        f"| {result['text_bytes'] / mb:,.0f} MB | {result['files_seen']:,} | {result['files_kept']:,} "
        f"| {result['wall_s']:.0f} s | {result['peak_rss_bytes'] / mb:,.0f} MB "
        f"| {result['peak_rss_bytes'] / result['input_bytes']:.2f} | {result['input_mb_per_s']:.1f} "
        f"| {result['tokens']:,} |"
    )
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{HEADER}\n"
    head, tail = text.split(SECTION, 1)
    body, sep, rest = tail.partition("\n## ")
    body = body.rstrip("\n") + "\n" + row + "\n"
    BENCHMARKS.write_text(
        head + SECTION + body + (("\n" + sep.lstrip("\n") + rest) if sep else ""), encoding="utf-8"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archive-gb", type=float, default=1.1, help="archive size on disk (default 1.1)")
    parser.add_argument(
        "--text-mb", type=float, default=512, help="uncompressed text inside it (default 512)"
    )
    parser.add_argument("--stdlib", action="store_true", help="ingest this interpreter's stdlib instead")
    parser.add_argument("--documents", type=int, default=0, help="generated documents in the archive")
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-record", action="store_true", help="don't add a row to BENCHMARKS.md")
    args = parser.parse_args()

    work = cache_dir("bench", "ingest_memory")
    docs = f"-{args.documents}docs" if args.documents else ""
    if args.stdlib:
        from tools.data import IngestConfig, list_inputs

        source = Path(sysconfig.get_paths()["stdlib"])
        label = "stdlib (directory)"
        input_bytes = list_inputs(
            [source], exclude=IngestConfig(inputs=[source], out=work).exclude
        ).total_bytes
    else:
        source = work / f"synthetic-{args.archive_gb:g}gb-{args.text_mb:g}mb{docs}-s{args.seed}.tar.gz"
        stats_path = source.with_suffix(".json")
        if not source.exists() or not stats_path.exists():
            print(f"generating {source} ...", flush=True)
            started = time.perf_counter()
            stats = build_archive(
                source,
                archive_bytes=int(args.archive_gb * 1e9),
                text_bytes=int(args.text_mb * 1e6),
                seed=args.seed,
                documents=args.documents,
            )
            stats_path.write_text(json.dumps(stats))
            print(f"generated in {time.perf_counter() - started:.0f} s: {stats}", flush=True)
        label = f"synthetic .tar.gz + {args.documents:,} documents" if args.documents else "synthetic .tar.gz"
        input_bytes = source.stat().st_size

    print(f"ingesting {source} ({input_bytes / 1e9:.2f} GB) ...", flush=True)
    out = work / "out"
    load_before = os.getloadavg()[0]
    wall, peak, output = run_ingest(source, out, vocab_size=args.vocab_size)
    manifest = json.loads((out / "manifest.json").read_text())
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "input": label,
        "input_bytes": input_bytes,
        "text_bytes": sum(split["bytes"] for split in manifest["splits"].values()),  # kept, normalised
        "files_seen": manifest["files"]["seen"],
        "files_kept": manifest["files"]["kept"],
        "dropped": manifest["files"]["dropped"],
        "findings": manifest["findings"],
        "documents": manifest.get("documents", {}),
        "tokens": sum(split["tokens"] for split in manifest["splits"].values()),
        "stages_s": {name: stage["seconds"] for name, stage in manifest["stages"].items()},
        "wall_s": round(wall, 1),
        "peak_rss_bytes": peak,
        "input_mb_per_s": round(input_bytes / 1e6 / wall, 2),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # other jobs on the CPUs
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    default = (args.archive_gb, args.text_mb) == (
        parser.get_default("archive_gb"),
        parser.get_default("text_mb"),
    )
    name = (
        "ingest_stdlib.json"
        if args.stdlib
        else RESULT.name
        if default and not args.documents
        else f"ingest_memory-{args.archive_gb:g}gb{docs}.json"
    )
    (RESULT.parent / name).write_text(json.dumps(result, indent=2) + "\n")
    print(output)
    print(json.dumps(result, indent=2))
    if not args.no_record:
        print(record_row(result))


if __name__ == "__main__":
    main()
