"""Synthetic-data generation throughput: samples/s and tokens/s with requests in flight at once vs one at a time.

Ingests a few standard-library modules (a throwaway corpus), then runs ``tools.synth.synthesize`` against
the local vLLM server (started on port 8011 with ``vibe.llm.ensure_server`` if nothing answers there, as the
tests do) with ``max_concurrency`` 1 and then higher, the same units (chunk, template ``code.explain``), the
same sampling. Each run gets a fresh output directory. Throughput is over the generation time only
(requests sent until the last answer of each batch; filters and dedup excluded): candidates/s and
completion tokens/s. The machine's load average is recorded: other work shares the CPU.

    python bench/synth_throughput.py                       # concurrency 1 and 8, 16 samples each
    python bench/synth_throughput.py --concurrency 1 4 16 --samples 32 --max-tokens 96
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sysconfig
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
PORT = 8011
MODULES = [
    "bisect.py",
    "colorsys.py",
    "fnmatch.py",
    "heapq.py",
    "keyword.py",
    "shlex.py",
    "textwrap.py",
    "numbers.py",
    "glob.py",
    "string.py",
]


def corpus(root: Path) -> Path:
    from tools.data import IngestConfig, ingest

    source = root / "src"
    source.mkdir()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in MODULES:
        shutil.copy(stdlib / name, source / name)
    out = root / "dataset"
    ingest(IngestConfig(inputs=[source], out=out, tokenizer={"vocab_size": 1024}), progress=False)
    return out


def run(
    dataset: Path, out: Path, *, url: str, model: str, concurrency: int, samples: int, max_tokens: int
) -> dict:
    from tools.synth import SynthConfig, synthesize

    config = SynthConfig.model_validate(
        {
            "dataset": str(dataset),
            "out": str(out),
            "templates": ["code.explain"],
            "samples": samples,
            "llm": {"url": url, "model": model, "timeout_s": 600},
            "sampling": {"temperature": 0.7, "top_p": 0.95, "max_tokens": max_tokens, "seed": 0},
            "max_concurrency": concurrency,
        }
    )
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    result = synthesize(config, progress_bar=False)
    wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": result.requests,
        "candidates": result.candidates,
        "kept": result.kept,
        "completion_tokens": result.completion_tokens,
        "generation_s": result.generation_seconds,
        "samples_per_s": result.samples_per_s,
        "tokens_per_s": result.tokens_per_s,
        "wall_s": round(wall, 2),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    from vibe.llm import ServerConfig, ensure_server

    server = ServerConfig(port=PORT)
    endpoint = ensure_server(url=server.url, config=server)
    root = Path(tempfile.mkdtemp(prefix="vibe-synth-bench-"))
    try:
        dataset = corpus(root)
        rows = [
            run(
                dataset,
                root / f"out-c{c}",
                url=endpoint.url,
                model=endpoint.model,
                concurrency=c,
                samples=args.samples,
                max_tokens=args.max_tokens,
            )
            for c in args.concurrency
        ]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = rows[0]
    for row in rows:
        row["speedup_tokens_per_s"] = (
            round(row["tokens_per_s"] / base["tokens_per_s"], 2) if base["tokens_per_s"] else None
        )
    report = {
        "date": datetime.now(UTC).date().isoformat(),
        "model": endpoint.model,
        "url": endpoint.url,
        "samples": args.samples,
        "max_tokens": args.max_tokens,
        "cpu_count": os.cpu_count(),
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "synth_throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
