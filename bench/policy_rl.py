"""Policy RL on real work: violation rate and held-out bits per byte before and after SFT, DPO and RL.

A model pre-trained here on a code corpus (the Python standard library, ingested by ``vibe data ingest``) is
prompted with held-out function signatures and docstrings (files of the valid split), under a policy that
requires valid Python, no secrets, no e-mail addresses, and passing doctests where the source has them
(``policies`` alignment rules; doctests run in the sandbox). Each stage starts from the previous one:

    base --SFT (train-split functions as chat)--> sft --DPO (real body vs. a corrupted one)--> dpo --RL--> rl

For every stage: the policy violation rate of completions for the same held-out prompts with the same
sampling (seeded), held-out bits per byte (``tools.eval``, the valid split), and for RL the time per step split
into generation, reward, train and weight sync. The aim: violations cut to a quarter or less by RL with held-out
bits per byte no more than 5% worse. Results go to ``bench/results/policy_rl.json`` (and BENCHMARKS.md by hand).

    python bench/policy_rl.py --quick          # tiny model, few steps: minutes on 2 cores
    python bench/policy_rl.py --pretrain-steps 600 --rl-steps 60
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import statistics
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
POLICY = """\
version: 1
name: code-assistant
default: allow
alignment:
  rules:
    - {id: valid-python, type: must_parse, language: python, weight: 2}
    - {id: no-secrets, type: no_secrets}
    - {id: no-emails, type: no_personal_data}
    - {id: doctests-pass, type: passes_tests, tests_field: tests, wall_seconds: 10, timeout_s: 300}
"""
DOCTEST_RUNNER = "import doctest\nraise SystemExit(1 if doctest.testmod().failed else 0)\n"


def _functions(path: Path, *, max_chars: int = 1200) -> list[tuple[str, str]]:
    """(prompt: signature + docstring, full source) of each documented top-level function of ``path`` whose
    source is under ``max_chars`` (so that a prompt and its answer fit the model's sequence)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    lines = text.splitlines()
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and ast.get_docstring(node) and node.end_lineno:
            doc = node.body[0]
            head = "\n".join(lines[node.lineno - 1 : doc.end_lineno])
            source = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            if len(source) < max_chars:
                out.append((head, source))
    return out


def _prompt(head: str) -> str:
    return f"Complete this Python function. Answer with one ```python code block.\n\n```python\n{head}\n```"


def _record(head: str, source: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"prompt": _prompt(head), "tests": DOCTEST_RUNNER if ">>>" in head else None}
    if source is not None:
        record["answer"] = f"```python\n{source}\n```"
    return record


def _corrupt(source: str, rng: random.Random) -> str:
    broken = source.replace(":", "", 1) if rng.random() < 0.5 else source
    return f"```python\n{broken}\n# contact: maintainer{rng.randint(1, 99)}@corp-mail.com\n```"


def _sample_stage(
    run: Path, prompts: list[dict[str, Any]], policy: Any, *, max_new_tokens: int, seed: int
) -> dict[str, Any]:
    """Violation rate of completions (seeded, temperature 1) for ``prompts`` and held-out bits per byte."""
    from tools.eval import evaluate
    from tools.posttrain import Sample, violation_rate
    from trainers.posttrain import PolicyTrainer, PostTrainConfig, read_base_run, tokenize_prompt

    base = read_base_run(run)
    encode, template = base.encoder(), base.template()
    config = PostTrainConfig(method="rl", base=run, data=run / "config.yaml", out=run, in_process=True)
    trainer = PolicyTrainer(config.model_dump(mode="json"), start_step=0)
    try:
        ids = [tokenize_prompt([{"role": "user", "content": p["prompt"]}], template, encode) for p in prompts]
        groups = trainer.sample(ids, n=1, max_new_tokens=max_new_tokens, temperature=1.0, seed=seed)
    finally:
        trainer.close()
    tok = base.tokenizer()
    texts = [tok.decode(g[0][0], skip_special_tokens=False).split("<|im_end|>")[0] for g in groups]
    report = violation_rate(policy, [Sample(p["prompt"], t, p) for p, t in zip(prompts, texts, strict=True)])
    held_out = evaluate(run)
    return {
        "violation_rate": report.policy_violation_rate,
        "per_rule": report.per_rule,
        "val_bpb": held_out.valid.bpb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny model and few steps")
    parser.add_argument("--base", type=Path, help="an existing base run (skip pre-training)")
    parser.add_argument("--pretrain-steps", type=int, default=400)
    parser.add_argument("--sft-steps", type=int, default=60)
    parser.add_argument("--dpo-steps", type=int, default=30)
    parser.add_argument("--rl-steps", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--eval-prompts", type=int, default=32)
    parser.add_argument("--max-chars", type=int, default=1200, help="longest function source used")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:  # a tiny model with 256-token sequences: functions short enough to fit one
        args.pretrain_steps, args.sft_steps, args.dpo_steps, args.rl_steps = 200, 20, 10, 10
        args.max_new_tokens, args.eval_prompts, args.max_chars = 48, 16, 320
    os.environ.setdefault("VIBE_NO_PROGRESS", "1")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="policy-rl-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)

    from tools.data import IngestConfig, ingest, load_dataset_info
    from tools.posttrain import load_alignment, run_posttrain
    from trainers import launch, load_run_config
    from trainers.posttrain import PostTrainConfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if p.stat().st_size < 120_000)
    rng.shuffle(files)
    held_out, train_files = files[: len(files) // 8], files[len(files) // 8 :]
    corpus = work / "corpus"
    corpus.mkdir(exist_ok=True)
    for f in train_files:
        (corpus / f.name).write_text(f.read_text(encoding="utf-8", errors="replace"))
    data = work / "data"
    if not (data / "manifest.json").is_file():
        ingest(
            IngestConfig(inputs=[corpus], out=data, valid_fraction=0.05, tokenizer={"vocab_size": 4096}),
            progress=False,
        )
    load_dataset_info(data)
    train_fns = [fn for f in train_files for fn in _functions(f, max_chars=args.max_chars)]
    eval_fns = [fn for f in held_out for fn in _functions(f, max_chars=args.max_chars)][: args.eval_prompts]
    (work / "policy.yaml").write_text(POLICY)
    policy = load_alignment([work / "policy.yaml"])

    base = args.base
    if base is None:
        base = work / "base"
        size = {"preset": "tiny", "seq_length": 256} if args.quick else {"preset": "small"}
        config = load_run_config(overrides={"out": str(base), "data.sources": [{"path": str(data)}],
            **{f"model.{k}": v for k, v in size.items()}, "training.max_steps": args.pretrain_steps,
            "training.eval_interval": 0, "training.checkpoint_interval": 0})  # fmt: skip
        if not (base / "checkpoints").is_dir():
            launch(config)
    if seq_limit := (256 if args.quick else None):  # what fits: prompt, answer, template, rejected note
        from trainers.posttrain import read_base_run

        encode = read_base_run(base).encoder()
        train_fns = [(h, s) for h, s in train_fns if len(encode(_prompt(h) + s)) + 72 <= seq_limit]
    chat = [
        {
            "messages": [
                {"role": "user", "content": _prompt(h)},
                {"role": "assistant", "content": f"```python\n{s}\n```"},
            ]
        }
        for h, s in train_fns
    ]
    pairs = [
        {"prompt": _prompt(h), "chosen": f"```python\n{s}\n```", "rejected": _corrupt(s, rng)}
        for h, s in train_fns
    ]
    prompts = [_record(h) for h, _ in train_fns]
    for name, rows in (("sft.jsonl", chat), ("dpo.jsonl", pairs), ("rl.jsonl", prompts)):
        (work / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    eval_prompts = [_record(h) for h, _ in eval_fns]
    seq = 256 if args.quick else None
    stages: dict[str, Any] = {}
    results: dict[str, Any] = {
        "stages": stages,
        "workdir": str(work),
        "eval_prompts": len(eval_prompts),
        "train_functions": len(train_fns),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    stages["base"] = _sample_stage(base, eval_prompts, policy, max_new_tokens=args.max_new_tokens, seed=1)
    previous = base
    for method, steps in (("sft", args.sft_steps), ("dpo", args.dpo_steps), ("rl", args.rl_steps)):
        out = work / method
        config = PostTrainConfig.model_validate({
            "method": method, "base": str(previous), "data": str(work / f"{method}.jsonl"), "out": str(out),
            "in_process": True, "training": {"max_steps": steps, "global_batch_size": 8 if method != "rl" else 4,
            "micro_batch_size": 4 if method != "rl" else 16, "seq_length": seq, "checkpoint_interval": 0},
            "optimizer": {"lr": 3e-4 if method != "rl" else 1e-4, "min_lr": 3e-5, "warmup_steps": 0},
            "rl": {"policies": [str(work / "policy.yaml")], "group_size": 4, "max_new_tokens": args.max_new_tokens},
        })  # fmt: skip
        started = time.perf_counter()
        if not (out / "checkpoints").is_dir():
            run_posttrain(config)
        stages[method] = _sample_stage(out, eval_prompts, policy, max_new_tokens=args.max_new_tokens, seed=1)
        stages[method]["wall_s"] = time.perf_counter() - started
        if method == "rl":
            from trainers.posttrain import read_metrics

            records = read_metrics(out / "metrics.jsonl")
            stages["rl"]["step_seconds"] = {
                k: statistics.fmean(r[k] for r in records)
                for k in ("generate_s", "reward_s", "train_s", "sync_s")
            }
        previous = out
    b, r = stages["base"], stages["rl"]
    results["violations_cut_to"] = r["violation_rate"] / b["violation_rate"] if b["violation_rate"] else None
    results["bpb_change"] = r["val_bpb"] / b["val_bpb"] - 1
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "policy_rl.json").write_text(json.dumps(results, indent=2) + "\n")
    for name, s in stages.items():
        print(
            f"{name:5s} violation rate {s['violation_rate']:.3f}  held-out {s['val_bpb']:.4f} bits/byte  {s['per_rule']}"
        )
    print(json.dumps({k: v for k, v in results.items() if k != "stages"}, indent=2))


if __name__ == "__main__":
    main()
