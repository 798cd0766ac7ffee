"""Intake accuracy: how well requests become typed intents, by the rules, by the LLM's drafts, and by both.

Over the splits of ``bench/data``: ``visible`` (``intake_requests.jsonl``, the one tests and reader changes
may look at), ``heldout`` (``intake_heldout.jsonl``, kept apart for the fine-tune of issue #16) and ``blind2``
(``intake_blind2.jsonl``, written before the reader's generalisation; its failures were then seen, so it
is no longer blind), ``blind3`` (``intake_blind3.jsonl``, 52 requests written after that, before the last
round of reader changes) and ``blind4`` (``intake_blind4.jsonl``, 89 requests written in session 4 before
anyone read the rules for them; its misses were then seen) and ``blind5`` (``intake_blind5.jsonl``, 92 requests
written blind in session 4 after blind4's round, also the held-out set for the tuned model of issue #16)
and ``blind6`` (``intake_blind6.jsonl``, 100 requests written blind in session 5, before any reader saw them).
``--set all`` (the default) reports each split. Each line is a request and the fields its intent must have (``kind``
plus the fields that matter; keys starting with ``_`` are the side notes: refusals, policy override, URLs,
directories needing confirmation). Reported: intent (kind) accuracy and field accuracy (every expected field
right) for

- **rules**: :func:`vibe.agent.read_rules` alone;
- **llm**: the LLM's draft alone, counted right only if it was accepted by the validation *and* correct;
- **combined**: :func:`vibe.agent.read_request` (what the agent uses);

- **tuned** / **combined_tuned**: the same two with the agent's own tuned model (``vibe llm tune-agent``,
  issue #16), asked zero-shot as the agent asks it (``--tuned-url``, a server with the served name vibe-agent);

plus LLM calls, tokens and seconds per request (and of the first draft alone). The LLM is ``--url`` (default
``$VIBE_LLM_URL``, else the local server on port 8011 or 8000 if one answers); ``--no-llm`` for no base model.

    python bench/intake_accuracy.py --no-llm            # every split, rules and combined
    python bench/intake_accuracy.py --no-llm --set blind2 -v
    python bench/intake_accuracy.py --url http://127.0.0.1:8011/v1 [--limit 20]
    vibe llm serve --port 8013 --model runs/agent-model/export --served-model-name vibe-agent
    python bench/intake_accuracy.py --set heldout --no-llm --tuned-url http://127.0.0.1:8013/v1
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parent / "results"
SETS = {
    "visible": DATA / "intake_requests.jsonl",
    "heldout": DATA / "intake_heldout.jsonl",
    "blind2": DATA / "intake_blind2.jsonl",
    "blind3": DATA / "intake_blind3.jsonl",
    "blind4": DATA / "intake_blind4.jsonl",
    "blind5": DATA / "intake_blind5.jsonl",
    "blind6": DATA / "intake_blind6.jsonl",
}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, float) or isinstance(got, float):
        return (
            expected is not None
            and got is not None
            and abs(float(expected) - float(got)) <= 1e-6 * abs(float(expected))
        )
    if isinstance(expected, list) and isinstance(got, list):
        return sorted(map(str, expected)) == sorted(map(str, got))
    if isinstance(expected, dict) and isinstance(got, dict):
        return all(_same(v, got.get(k)) for k, v in expected.items())
    return expected == got


def score(expected: dict[str, Any], reading: Any) -> tuple[bool, int, int, list[str]]:
    """(kind right, fields right, fields expected, what was wrong) for a ``Reading`` (or None)."""
    if reading is None:
        return False, 0, len(expected), ["no reading"]
    intent = reading.intent.model_dump(mode="json")
    wrong: list[str] = []
    right = 0
    for key, want in expected.items():
        if key == "_refused":
            got: Any = [r.destination for r in reading.refused]
            ok = len(got) == len(want) and all(any(w.lower() in g.lower() for g in got) for w in want)
        elif key == "_policy_override":
            got, ok = reading.policy_override, reading.policy_override == want
        elif key == "_urls":
            got, ok = reading.urls, _same(want, reading.urls)
        elif key == "_confirm":
            got, ok = reading.confirm_dirs, bool(reading.confirm_dirs) == want
        else:
            got = intent.get(key)
            ok = _same(want, got)
        right += ok
        if not ok:
            wrong.append(f"{key}: want {want!r}, got {got!r}")
    if not expected.get("_refused") and reading.refused:
        wrong.append(f"refused {[r.destination for r in reading.refused]} unasked")
        right -= 1
    return intent["kind"] == expected["kind"], max(right, 0), len(expected), wrong


def _cached(inner: Any) -> Any:
    """``inner`` behind a cache of its answers by prompt: the combined reader's first call is the same prompt
    the LLM-alone measure just sent, so it is asked once (its retries are real calls)."""
    from vibe.llm import ChatModel

    class Cached(ChatModel):
        def __init__(self) -> None:
            super().__init__()
            self.inner, self.seen = inner, {}
            self.model = inner.model

        def _generate(self, messages: Any, *, schema: Any) -> Any:
            key = json.dumps([m.model_dump() for m in messages])
            if key not in self.seen:
                self.seen[key] = inner._generate(messages, schema=schema)
                inner._usage = inner.usage + _usage_of(self.seen[key])
            return self.seen[key]

    return Cached()


def _usage_of(completion: Any) -> Any:
    from vibe.llm import Usage

    return Usage(
        calls=1, prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens
    )


def _llm(url: str | None) -> Any:
    from vibe.llm import LLMConfig, OpenAIChatModel, list_models

    candidates = (
        [url]
        if url
        else [os.environ.get("VIBE_LLM_URL"), "http://127.0.0.1:8011/v1", "http://127.0.0.1:8000/v1"]
    )
    for candidate in filter(None, candidates):
        models = list_models(candidate)
        if models:
            config = LLMConfig(url=candidate, model=models[0], max_tokens=256, max_retries=0, timeout_s=900)
            return _cached(OpenAIChatModel(config))
    return None


def _llm_column(request: str, rules: Any, llm: Any, stats: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """(the draft alone if accepted, the combined reading, usage) of one LLM on one request."""
    from vibe.agent import read_request
    from vibe.agent._draft import (
        Draft,
        build_prompt,
        intent_from_draft,
        prompt_examples,
    )  # the bench measures the parts
    from vibe.agent._validate import validate_intent

    before = llm.inner.usage
    started = time.perf_counter()
    # the LLM alone: one draft (the prompt its model is asked with), accepted only if it validates
    answer = llm.structured(build_prompt(request, examples=prompt_examples(llm.model)), Draft)
    alone = None
    if answer.value is not None:
        try:
            intent = intent_from_draft(answer.value, destinations=[r.destination for r in rules.refused])
            if not validate_intent(request, intent):
                alone = rules.model_copy(update={"intent": intent, "reader": "llm"})
        except ValueError:
            pass
    first_s = time.perf_counter() - started
    combined = read_request(request, llm=llm)
    spent = llm.inner.usage
    usage = {"calls": spent.calls - before.calls, "tokens": spent.total_tokens - before.total_tokens,
             "seconds": round(time.perf_counter() - started, 1), "draft_seconds": round(first_s, 1),
             "draft_tokens": answer.usage.total_tokens, "combined": combined.llm}  # fmt: skip
    stats["calls"] += usage["calls"]
    stats["tokens"] += usage["tokens"]
    stats["seconds"] += time.perf_counter() - started
    stats["draft_seconds"] += first_s
    stats["draft_tokens"] += answer.usage.total_tokens
    stats["accepted" if alone is not None else "rejected"] += 1
    stats["merged"] += combined.llm in ("merged", "accepted")
    return alone, combined.reading, usage


def run(
    cases: list[dict[str, Any]], *, llm: Any, verbose: bool, progress: Any = None, tuned: Any = None
) -> dict[str, Any]:
    """Score every reader. ``llm``: the base model's server (columns llm, combined); ``tuned``: the tuned agent
    model's (columns tuned, combined_tuned: issue #16)."""
    from vibe.agent import read_request, read_rules

    llms = {name: model for name, model in (("llm", llm), ("tuned", tuned)) if model is not None}
    combined_of = {"llm": "combined", "tuned": "combined_tuned"}
    modes = ["rules", *(m for name in llms for m in (name, combined_of[name]))]
    if not llms:
        modes.append("combined")
    tally = {m: {"kinds": 0, "fields": 0, "expected": 0, "all_fields": 0} for m in modes}
    stats = {name: {"calls": 0, "tokens": 0, "seconds": 0.0, "draft_seconds": 0.0, "draft_tokens": 0,
                    "accepted": 0, "merged": 0, "rejected": 0} for name in llms}  # fmt: skip
    rows = []
    for case in cases:
        request, expected = case["request"], case["expected"]
        rules = read_rules(request)
        results = {"rules": rules}
        row: dict[str, Any] = {"request": request}
        for name, model in llms.items():
            results[name], results[combined_of[name]], row[f"{name}_usage"] = _llm_column(
                request, rules, model, stats[name]
            )
        if not llms:
            results["combined"] = read_request(request).reading
        for mode, reading in results.items():
            kind_ok, right, total, wrong = score(expected, reading)
            t = tally[mode]
            t["kinds"] += kind_ok
            t["fields"] += right
            t["expected"] += total
            t["all_fields"] += right == total and not wrong
            row[mode] = wrong
            if verbose and wrong and mode not in llms:
                print(f"[{mode}] {request!r}: {'; '.join(wrong)}")
        rows.append(row)
        if progress is not None:
            progress(len(rows), row)
    n = len(cases)
    summary: dict[str, Any] = {"requests": n}
    for mode, t in tally.items():
        summary[mode] = {
            "intent_accuracy": round(t["kinds"] / n, 4),
            "field_accuracy": round(t["fields"] / max(1, t["expected"]), 4),
            "exact": round(t["all_fields"] / n, 4),
        }
    for name, model in llms.items():
        st = stats[name]
        summary[f"{name}_usage" if name == "tuned" else "llm_usage"] = {
            "calls_per_request": round(st["calls"] / n, 2),
            "tokens_per_request": round(st["tokens"] / n, 1),
            "seconds_per_request": round(st["seconds"] / n, 2),
            "draft_tokens_per_request": round(st["draft_tokens"] / n, 1),
            "draft_seconds_per_request": round(st["draft_seconds"] / n, 2),
            "drafts_accepted_alone": st["accepted"],
            "combined_used_the_draft": st["merged"],
            "model": model.model,
        }
    summary["rows"] = rows
    return summary


def _one(name: str, args: argparse.Namespace, llm: Any, tuned: Any) -> dict[str, Any]:
    cases = load(SETS[name])[:: args.every][: args.limit]
    partial = RESULTS / f"intake_accuracy_{name}.partial.jsonl"
    partial.write_text("")

    def progress(done: int, row: dict[str, Any]) -> None:
        with partial.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if llm is not None or tuned is not None:
            print(f"{name} {done}/{len(cases)}", flush=True)

    summary = run(cases, llm=llm, tuned=tuned, verbose=args.verbose, progress=progress)
    out = RESULTS / f"intake_accuracy_{name}{'_llm' if llm else ''}{'_tuned' if tuned else ''}.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"== {name} ({out})")
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=2))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=[*sorted(SETS), "all"], default="all")
    parser.add_argument("--url", default=None, help="OpenAI-compatible endpoint (default: a local one)")
    parser.add_argument("--no-llm", action="store_true", help="no base-model column")
    parser.add_argument(
        "--tuned-url",
        default=None,
        help="the tuned agent model's endpoint (served as vibe-agent): its columns",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N requests")
    parser.add_argument("--every", type=int, default=1, help="only every N-th request (a spread-out sample)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every wrong field")
    args = parser.parse_args()
    llm = None if args.no_llm else _llm(args.url)
    if llm is None and not args.no_llm:
        print("no LLM answers (tried --url, $VIBE_LLM_URL, :8011, :8000): rules only")
    RESULTS.mkdir(exist_ok=True)
    tuned = None
    if args.tuned_url:
        tuned = _llm(args.tuned_url)
        if tuned is None:
            raise SystemExit(f"--tuned-url {args.tuned_url}: nothing answers there")
    names = list(SETS) if args.set == "all" else [args.set]
    table = {name: _one(name, args, llm, tuned) for name in names}
    first = next(iter(table.values()))
    columns = [m for m in ("rules", "llm", "combined", "tuned", "combined_tuned") if m in first]
    print("\nsplit      requests  " + "  ".join(f"{m + ' intent/fields':>22}" for m in columns))
    for name, summary in table.items():
        cells = [f"{summary[m]['intent_accuracy']:>10.1%} / {summary[m]['field_accuracy']:>7.1%}"
                 for m in columns]  # fmt: skip
        print(f"{name:<10} {summary['requests']:>8}  " + "  ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
