"""``metrics.jsonl`` (one JSON object per logged step) and the peak FLOP/s that MFU divides by.

MFU = ``flops_per_token`` (see ``trainers._arithmetic``) × tokens/s ÷ peak FLOP/s of the hardware the
run uses. Peak on CPU is measured once per machine and thread count (an fp32 matmul benchmark, cached in
``vibe.core.paths.cache_dir("peak_flops")``) and scaled to the threads the run uses; on GPU it is the dense bf16
peak of the device from :data:`trainers._arithmetic.GPU_SPECS` times the number of workers. ``RunConfig.peak_flops``
(per worker) overrides both.

On resume, :func:`truncate_metrics` moves the records of steps after the checkpoint (work lost in the
crash, redone by the resumed run) to ``metrics.discarded.jsonl``, so ``metrics.jsonl`` ends up with every
step exactly once.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from vibe.core.paths import cache_dir

__all__ = [
    "MetricsWriter",
    "cpu_peak_flops",
    "read_metrics",
    "truncate_metrics",
]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_peak_flops(threads: int) -> float:
    """fp32 matmul FLOP/s of this machine with ``threads`` threads: the best ever measured here.

    Each call measures for about half a second and keeps the best figure seen (cached per CPU model, core
    count, thread count and torch version), so one measurement taken while the machine was busy does not
    inflate every later MFU.
    """
    key = f"{_cpu_name()}|{os.cpu_count()}|{threads}|torch{torch.__version__}"
    cache = cache_dir("peak_flops") / "cpu.json"
    table: dict[str, float] = json.loads(cache.read_text()) if cache.is_file() else {}
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        n = 1024
        a, b = torch.randn(n, n), torch.randn(n, n)
        for _ in range(3):
            a @ b  # warm up
        best = 0.0
        for _ in range(5):
            start, reps = time.perf_counter(), 0
            while time.perf_counter() - start < 0.1:
                a @ b
                reps += 1
            best = max(best, 2 * n**3 * reps / (time.perf_counter() - start))
    finally:
        torch.set_num_threads(previous)
    if best > table.get(key, 0.0):
        table[key] = best
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, indent=2))
        os.replace(tmp, cache)
    return table[key]


class MetricsWriter:
    """Appends one JSON line per record to ``metrics.jsonl`` and flushes (survives SIGKILL of the writer)."""

    def __init__(self, path: Path) -> None:
        self._file = Path(path).open("a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics file (a torn last line, from a crash, is skipped)."""
    records = []
    if Path(path).is_file():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def truncate_metrics(run_dir: Path, *, step: int) -> int:
    """Keep records of steps <= ``step`` in metrics.jsonl; move the rest to metrics.discarded.jsonl.

    Returns how many records were moved. Idempotent; the rewrite is atomic (tmp file + rename).
    """
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return 0
    keep, moved = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            moved.append(json.dumps({"torn_line": line, "discarded_at": time.time()}))
            continue
        if record.get("step", 0) <= step:
            keep.append(line)
        else:
            moved.append(json.dumps({**record, "discarded_at": time.time()}))
    if moved:
        with (Path(run_dir) / "metrics.discarded.jsonl").open("a", encoding="utf-8") as out:
            out.write("".join(m + "\n" for m in moved))
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
    os.replace(tmp, path)
    return len(moved)
