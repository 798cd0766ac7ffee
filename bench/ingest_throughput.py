"""``vibe data ingest`` against the tokenizer's own speed on the same text, measured side by side.

Each round runs, in turn (the order alternates between rounds):

- ``raw``: the dataset's own tokenizer (``tokenizers``, ``encode_batch_fast``, the same batches the pipeline
  encodes) over every kept document, already in memory: the tokenizer's own speed, nothing written;
- ``tokenize``: the pipeline's tokenize stage alone (``ingest`` after deleting the indexed datasets, so
  collect and tokenizer training are reused): read staged text, encode, write Megatron ``.bin``/``.idx``;
- ``ingest``: a fresh ingest from the input files, in a child process (collect: read, detect, secret scan,
  dedup, staging; train the tokenizer; tokenize), timed inside the child around ``ingest()``; its peak RSS
  from ``getrusage(RUSAGE_CHILDREN)``;
- ``given``: the same fresh ingest with the tokenizer given (``tokenizer.path``, the one the first ingest
  trained): collect and tokenize, no training. This is the like-for-like comparison with ``raw``, which
  trains nothing either;
- ``baseline`` (with ``--baseline ROOT``): the fresh ingest of another checkout (e.g. main before a change),
  in the same rounds, so that before and after are measured side by side.

Per round: ratio = raw seconds / pipeline seconds (1.0 = as fast as the bare tokenizer), then the median and
spread over rounds, with the load average of each round. The same ratio by CPU time (user + system, all
threads and subprocesses, the ingest child's around ``ingest()`` like its wall time) is recorded beside it: on a machine shared with many
runnable threads the wall time of a minutes-long block also counts what the neighbours did meanwhile, while
CPU time counts the work (it does not credit the pipeline's overlap of encoding with writing, so it is a
lower bound on the wall-time ratio of a quiet machine). Results: ``bench/results/ingest_throughput.json``.

    python bench/ingest_throughput.py                      # this interpreter's stdlib (the README's job)
    python bench/ingest_throughput.py --limit-mb 8 --rounds 3    # the first 8 MB of its .py files, quicker
    python bench/ingest_throughput.py --baseline /work/main      # and main's ingest, interleaved
    python bench/ingest_throughput.py --archive-gb 0.3 --text-mb 128    # bench/ingest_memory.py's archive
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "ingest_throughput.json"

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from tools.data import IngestConfig, ingest
given = {"tokenizer": {"path": Path(sys.argv[3])}} if len(sys.argv) > 3 else {}
config = IngestConfig(inputs=[Path(sys.argv[1])], out=Path(sys.argv[2]), **given)
def cpu():
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
start, cpu0 = time.perf_counter(), cpu()
info = ingest(config, progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu_s": cpu() - cpu0,
                  "stages": {k: v.seconds for k, v in info.stages.items()}}))
"""


def _subset(limit_mb: float, work: Path) -> Path:
    """The first ``limit_mb`` MB of the stdlib's .py files (sorted paths), copied under ``work``."""
    source = Path(sysconfig.get_paths()["stdlib"])
    if not limit_mb:
        return source
    target = work / f"stdlib_{limit_mb:g}mb"
    if target.is_dir():
        return target
    budget = limit_mb * 2**20
    for path in sorted(source.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts or budget <= 0:
            continue
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        budget -= path.stat().st_size
    return target


def _cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _fresh_ingest(
    inputs: Path, out: Path, *, root: Path = ROOT, tokenizer: Path | None = None
) -> dict[str, Any]:
    """A fresh ingest of ``root``'s checkout in a child process (with ``tokenizer`` given, if any)."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(inputs), str(out), *([str(tokenizer)] if tokenizer else [])],
        capture_output=True,
        text=True,
        timeout=3600,
        env=env,
        cwd=root,
    )
    if done.returncode:
        raise RuntimeError(f"ingest failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # cpu_s: around ingest(), as seconds


def _archive(archive_gb: float, text_mb: float) -> Path:
    """bench/ingest_memory.py's synthetic archive (seed 0, no documents), built once and cached."""
    sys.path.insert(0, str(ROOT / "bench"))
    from ingest_memory import build_archive

    from vibe.core.paths import cache_dir

    path = cache_dir("bench", "ingest_memory") / f"synthetic-{archive_gb:g}gb-{text_mb:g}mb-s0.tar.gz"
    stats = path.with_suffix(".json")
    if not path.exists() or not stats.exists():
        print(f"generating {path} ...", flush=True)
        built = build_archive(
            path, archive_bytes=int(archive_gb * 1e9), text_bytes=int(text_mb * 1e6), seed=0
        )
        stats.write_text(json.dumps(built))
    return path


def _tokenize_stage(inputs: Path, out: Path) -> tuple[float, float]:
    """(wall seconds of the tokenize stage, CPU seconds of the whole call)."""
    from tools.data import IngestConfig, ingest

    for path in out.glob("*_text_document.*"):
        path.unlink()
    cpu = _cpu_s()
    info = ingest(IngestConfig(inputs=[inputs], out=out), progress=False)
    assert not info.stages["tokenize"].reused and info.stages["collect"].reused
    assert info.stages["tokenizer"].reused  # the CPU time is the tokenize stage's
    return info.stages["tokenize"].seconds, _cpu_s() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit-mb", type=float, default=0.0, help="only this many MB of stdlib .py files")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--archive-gb", type=float, default=0.0, help="ingest_memory.py's archive of this size"
    )
    parser.add_argument("--text-mb", type=float, default=128.0, help="MB of text in that archive")
    parser.add_argument("--baseline", type=Path, help="also time this checkout's fresh ingest (e.g. main)")
    args = parser.parse_args()
    from tokenizers import Tokenizer

    from tools.data import StagedDocs
    from vibe.core.paths import cache_dir

    work = cache_dir("bench") / "ingest_throughput"
    inputs = _archive(args.archive_gb, args.text_mb) if args.archive_gb else _subset(args.limit_mb, work)
    out = work / "dataset"
    started, load_before = time.time(), os.getloadavg()
    first = _fresh_ingest(inputs, out)  # also builds the staging and tokenizer the other two read
    given = work / "tokenizer.json"  # outside `out`, which every fresh ingest deletes
    shutil.copyfile(out / "tokenizer" / "tokenizer.json", given)
    docs = StagedDocs(out / "staging")
    batches = [texts for _, texts in docs.batches(batch_bytes=1 << 20, max_docs=512)]
    text_mb = sum(len(t.encode()) for b in batches for t in b) / 2**20
    tokenizer = Tokenizer.from_file(str(out / "tokenizer" / "tokenizer.json"))
    tokenizer.encode_special_tokens = True

    def raw() -> tuple[float, float]:
        start, cpu = time.perf_counter(), _cpu_s()
        for texts in batches:
            tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        return time.perf_counter() - start, _cpu_s() - cpu

    blocks = ["raw", "tokenize", "ingest", "given", *(["baseline"] if args.baseline else [])]
    rounds = []
    for r in range(args.rounds):
        row: dict[str, Any] = {"load_1min": os.getloadavg()[0]}
        for name in blocks if r % 2 == 0 else blocks[::-1]:
            if name == "raw":
                row["raw_s"], row["raw_cpu_s"] = raw()
            elif name == "tokenize":
                row["tokenize_s"], row["tokenize_cpu_s"] = _tokenize_stage(inputs, out)
            elif name == "ingest":
                row["ingest"] = _fresh_ingest(inputs, out)
            elif name == "given":
                row["given"] = _fresh_ingest(inputs, work / "dataset_given", tokenizer=given)
            else:
                row["baseline"] = _fresh_ingest(
                    inputs, work / "dataset_baseline", root=args.baseline.resolve()
                )
        row["load_1min_end"] = os.getloadavg()[0]
        row["tokenize_ratio"] = row["raw_s"] / row["tokenize_s"]
        row["tokenize_ratio_cpu"] = row["raw_cpu_s"] / row["tokenize_cpu_s"]
        line = (
            f"round {r + 1}/{args.rounds}: load {row['load_1min']:.1f}-{row['load_1min_end']:.1f}  raw "
            f"{row['raw_s']:.2f} s ({row['raw_cpu_s']:.2f} s CPU)  tokenize {row['tokenize_s']:.2f} s "
            f"(x{row['tokenize_ratio']:.2f}; by CPU x{row['tokenize_ratio_cpu']:.2f})"
        )
        for name in ("ingest", "given", "baseline"):
            if name in row:
                row[f"{name}_ratio"] = row["raw_s"] / row[name]["seconds"]
                row[f"{name}_ratio_cpu"] = row["raw_cpu_s"] / row[name]["cpu_s"]
                line += (
                    f"\n  {name}: {row[name]['seconds']:.2f} s, {row[name]['cpu_s']:.2f} s CPU (x"
                    f"{row[f'{name}_ratio']:.2f}; by CPU x{row[f'{name}_ratio_cpu']:.2f}) stages "
                    f"{row[name]['stages']}"
                )
        rounds.append(row)
        print(line, flush=True)

    def spread(key: str) -> dict[str, float]:
        values = [row[key] for row in rounds]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    result = {
        "inputs": str(inputs),
        "text_mb": text_mb,
        "documents": len(docs.docs),
        "first_ingest": first,
        "tokenize_ratio": spread("tokenize_ratio"),
        "ingest_ratio": spread("ingest_ratio"),
        "tokenize_ratio_cpu": spread("tokenize_ratio_cpu"),
        "ingest_ratio_cpu": spread("ingest_ratio_cpu"),
        "given_ratio": spread("given_ratio"),
        "given_ratio_cpu": spread("given_ratio_cpu"),
        **(
            {"baseline": str(args.baseline), "baseline_ratio_cpu": spread("baseline_ratio_cpu")}
            if args.baseline
            else {}
        ),
        "raw_mb_per_s": text_mb / statistics.median(row["raw_s"] for row in rounds),
        "peak_rss_mb_ingest": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "rounds": rounds,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "command": " ".join(["python", "bench/ingest_throughput.py", *sys.argv[1:]]),
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2))
    t, i = result["tokenize_ratio"], result["ingest_ratio"]
    tc, ic = result["tokenize_ratio_cpu"], result["ingest_ratio_cpu"]
    print(
        f"\n{text_mb:.1f} MB of kept text in {len(docs.docs)} documents; raw encode "
        f"{result['raw_mb_per_s']:.2f} MB/s\ntokenize stage / raw: x{t['median']:.2f} [{t['min']:.2f}, "
        f"{t['max']:.2f}]\nfresh ingest / raw:   x{i['median']:.2f} [{i['min']:.2f}, {i['max']:.2f}]; "
        f"peak RSS {result['peak_rss_mb_ingest']:.0f} MB\nby CPU time: tokenize x{tc['median']:.2f} "
        f"[{tc['min']:.2f}, {tc['max']:.2f}], ingest x{ic['median']:.2f} [{ic['min']:.2f}, {ic['max']:.2f}]"
        + "".join(
            f", {name} x{result[f'{name}_ratio_cpu']['median']:.2f} [{result[f'{name}_ratio_cpu']['min']:.2f}, "
            f"{result[f'{name}_ratio_cpu']['max']:.2f}]"
            for name in ("given", "baseline")
            if f"{name}_ratio_cpu" in result
        )
        + f"\nwritten: {RESULT}"
    )


if __name__ == "__main__":
    main()
