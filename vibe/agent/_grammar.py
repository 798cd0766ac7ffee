"""Training data for the agent's own model: requests from a grammar, labelled by construction with the Draft.

Every template is a sentence with slots (``{size}``, ``{path}``, ``{cluster}``, ``{run}``, ``{clock}``...);
filling a slot picks a written form of a value (``"40M"``, ``"1.3 billion"``, ``"4 nodes of 8 H100"``,
``"yesterday's run"``) and sets the :class:`~vibe.agent._draft.Draft` fields it stands for, so each request
comes with the exact JSON the agent asks the LLM for. Requests are varied by politeness prefixes and suffixes,
negations ("don't tune"), typos in the verbs and refusals (uploads, e-mail) that ride along with a training.

:func:`intake_dataset` keeps only examples whose label passes the one validation (``_validate.py``) and none
that shares a template with the evaluation sets: a request is compared with every held-out request by its
*skeleton* (values replaced by placeholders), so a template that could write a held-out request is dropped
whole. The report gives the counts and the overlap left (zero, checked again after filtering).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibe.agent._draft import EMPTY_DRAFT, Draft, intent_from_draft
from vibe.agent._rules import read_rules
from vibe.agent._validate import validate_intent

__all__ = ["DraftExample", "destinations", "grammar_examples", "intake_dataset", "read_requests", "skeleton"]


@dataclass(frozen=True)
class DraftExample:
    request: str
    draft: dict[str, Any]  # the Draft's fields, in the schema's order
    template: str  # the template id (kind/number)


_EMPTY: dict[str, Any] = dict(EMPTY_DRAFT)  # every Draft field, 'not named'


@dataclass
class _Fill:
    """One template being filled: the text so far and the draft fields set by its slots."""

    rng: random.Random
    fields: dict[str, Any] = field(default_factory=dict)

    def set(self, **values: Any) -> None:
        self.fields.update(values)


# ----------------------------------------------------------------------------------------------- values
_ROOTS = [
    "/data",
    "/srv",
    "/mnt",
    "/opt",
    "/scratch",
    "/home/ml",
    "/corpora",
    "/lake",
    "/nfs/team",
    "/var/data",
]
_LEAVES = ["code", "docs", "web", "books", "wiki", "papers", "tickets", "logs-clean", "py", "java", "go-src",
           "manuals", "support", "chat", "legal", "finance", "mail-archive", "notes", "rust", "sql", "corpus2",
           "v3", "kb", "faq", "contracts", "reports", "train-set", "news", "forum", "specs"]  # fmt: skip
_SIZES = [  # (written form, draft size)
    ("{n}M", "M"), ("{n}m", "M"), ("{n}B", "B"), ("{n}b", "B"), ("{n} million", "M"), ("{n} billion", "B"),
    ("{n}M-parameter", "M"), ("{n}B-param", "B"), ("{n} million parameter", "M"),
]  # fmt: skip
_M = [
    1,
    2,
    3,
    5,
    6,
    9,
    10,
    14,
    20,
    25,
    35,
    45,
    50,
    60,
    70,
    90,
    100,
    110,
    160,
    200,
    300,
    400,
    500,
    600,
    700,
    760,
]
_B = [1, 1.5, 2.7, 3, 4, 6, 7, 8, 11, 13, 20, 22, 33, 40, 70, 120, 175, 405]
_GPUS = [("H100", "H100"), ("H200", "H200"), ("B200", "B200"), ("GH200", "GH200"), ("A100 80GB", "A100-80GB"),
         ("A100-80GB", "A100-80GB"), ("A100 40GB", "A100-40GB"), ("L40S", "L40S"), ("A10", "A10"), ("L4", "L4"),
         ("h100", "H100"), ("a100 80gb", "A100-80GB")]  # fmt: skip
_COUNTS = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 2048, 4096]
_HEX = "0123456789abcdef"


def _size(f: _Fill) -> str:
    form, unit = f.rng.choice(_SIZES)
    n = f.rng.choice(_M if unit == "M" else _B)
    f.set(size=f"{n:g}{unit}")
    return form.format(n=f"{n:g}")


def _path(f: _Fill, *, key: str = "data") -> str:
    path = f"{f.rng.choice(_ROOTS)}/{f.rng.choice(_LEAVES)}"
    f.set(**{key: [*f.fields.get(key, []), path]})
    return path


def _paths(f: _Fill) -> str:
    if f.rng.random() < 0.75:
        return _path(f)
    return f"{_path(f)} and {_path(f)}"


def _cluster(f: _Fill) -> str:
    written, gpu = f.rng.choice(_GPUS)
    if f.rng.random() < 0.35:
        nodes, per = f.rng.choice([2, 3, 4, 6, 8, 16, 32]), f.rng.choice([4, 8])
        if f.rng.random() < 0.3:  # no GPU type: "4 nodes of 8 GPUs", "a 4 x 8 GPU cluster"
            f.set(gpus=nodes * per, gpu="")
            return f.rng.choice([f"{nodes} nodes of {per} GPUs", f"{nodes} nodes of {per}",
                                 f"a {nodes} x {per} GPU cluster", f"{nodes}x{per} GPUs"])  # fmt: skip
        f.set(gpus=nodes * per, gpu=gpu)
        return f.rng.choice(
            [f"{nodes} nodes of {per} {written}", f"{nodes} nodes with {per} {written}s each",
             f"{nodes} x {per} {written}s", f"{nodes}x{per} {written}", f"{nodes} nodes x {per} {written}"]
        )  # fmt: skip
    n = f.rng.choice(_COUNTS)
    f.set(gpus=n, gpu=gpu)
    return f.rng.choice([f"{n} {written}s", f"{n}x {written}", f"{n} {written} GPUs", f"{n} {written}"])


def _run(f: _Fill) -> str:
    roll = f.rng.random()
    if roll < 0.5:
        run = "t-" + "".join(f.rng.choice(_HEX) for _ in range(f.rng.choice([4, 6, 8])))
        f.set(run=run)
        return f.rng.choice([run, f"run {run}"])
    if roll < 0.75:
        f.set(run="yesterday")
        return f.rng.choice(["yesterday's run", "the run from yesterday", "yesterday's training"])
    f.set(run="last")
    return f.rng.choice(["the last run", "my latest run", "the most recent run", "the previous run"])


def _clock(f: _Fill) -> str:
    hour = f.rng.choice([4, 5, 6, 7, 8, 9, 10, 11, 17, 18, 19, 20, 21, 22, 23])
    f.set(until=f"{hour:02d}:00")
    if hour < 12:
        return f.rng.choice([f"{hour}am", f"{hour} am", f"{hour:02d}:00", f"{hour}:00", f"{hour} a.m."])
    return f.rng.choice([f"{hour}:00", f"{hour - 12}pm", f"{hour - 12} pm"])


def _hours(f: _Fill) -> str:
    unit = f.rng.choice(["hours", "h", "days", "minutes"])
    if unit == "days":
        n = f.rng.choice([1, 2, 3, 5])
        f.set(hours=n * 24)
        return f"{n} day{'s' if n > 1 else ''}"
    if unit == "minutes":
        n = f.rng.choice([30, 45, 90])
        f.set(hours=n / 60)
        return f"{n} minutes"
    n = f.rng.choice([2, 4, 6, 8, 10, 16, 20, 36, 48])
    f.set(hours=n)
    return f"{n} {unit}" if unit == "hours" else f"{n}h"


def _count(f: _Fill) -> str:
    n = f.rng.choice([50, 100, 120, 200, 300, 400, 600, 800, 1000, 2500, 3000, 5000, 10000])
    f.set(n=n)
    return f.rng.choice([f"{n}", f"{n:,}"]) if n >= 1000 else str(n)


_LR = [("half the learning rate", 0.5), ("double the learning rate", 2.0), ("a quarter of the learning rate", 0.25),
       ("twice the lr", 2.0), ("the lr halved", 0.5), ("lr x0.3", 0.3), ("0.2 times the learning rate", 0.2),
       ("a tenth of the learning rate", 0.1), ("learning rate times 0.7", 0.7)]  # fmt: skip


def _lr(f: _Fill) -> str:
    written, factor = f.rng.choice(_LR)
    f.set(lr=factor)
    return written


_KINDS_OF_SYNTH = [  # (written, templates)
    ("docstring examples", ["code.docstring"]), ("docstrings", ["code.docstring"]),
    ("question-answer pairs", ["doc.qa"]), ("Q&A pairs", ["doc.qa"]), ("test cases", ["code.tests"]),
    ("unit tests", ["code.tests"]), ("summaries", ["doc.summary"]), ("document summaries", ["doc.summary"]),
    ("code explanations", ["code.explain"]), ("API questions", ["code.api_questions"]),
    ("docstrings and unit tests", ["code.docstring", "code.tests"]),
    ("summaries and Q&A pairs", ["doc.summary", "doc.qa"]), ("synthetic samples", []), ("examples", []),
    ("training samples", []),
]  # fmt: skip


def _what(f: _Fill) -> str:
    written, templates = f.rng.choice(_KINDS_OF_SYNTH)
    f.set(tpl=templates)
    return written


_PARAM_WORDS = {"lr": ["learning rate", "lr"], "warmup": ["warmup", "warm-up"], "batch": ["batch size"],
                "weight_decay": ["weight decay"], "width": ["width"], "depth": ["depth", "number of layers"]}  # fmt: skip


def _params(f: _Fill) -> str:
    names = f.rng.sample(list(_PARAM_WORDS), f.rng.choice([1, 1, 2, 2, 3]))
    f.set(params=[n for n in _PARAM_WORDS if n in names])  # the rules' order
    words = [f.rng.choice(_PARAM_WORDS[n]) for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _factor(f: _Fill) -> str:
    written, factor = f.rng.choice([("twice as many steps", 2.0), ("double the steps", 2.0),
                                    ("2x the steps", 2.0), ("3x as many steps", 3.0),
                                    ("three times as many steps", 3.0), ("4x the steps", 4.0),
                                    ("1.5x the steps", 1.5)])  # fmt: skip
    f.set(sf=factor)
    return written


def _gpu_hours(f: _Fill) -> str:
    n = f.rng.choice([20, 40, 100, 250, 500, 1000, 5000, 20000])
    f.set(gh=float(n))
    written = f"{n:,}" if n >= 1000 and f.rng.random() < 0.5 else str(n)
    return f.rng.choice([f"{written} GPU hours", f"{written} GPU-hours", f"{written} gpu hours"])


_NIGHT = ["overnight", "tonight", "while I sleep", "by the morning", "over night"]
_BASES = ["SmolLM2-135M", "SmolLM2-360M", "Llama-3.2-1B", "Qwen2.5-0.5B", "gemma-2-2b", "mistral-7b"]


def _base(f: _Fill) -> str:
    name = f.rng.choice(_BASES)
    f.set(base=name)
    return name


_EMAILS = ["bob@partner.com", "ops@gmail.com", "carol@vendor.io", "team@outside.org"]
_DESTS = ["to hugging face", "to huggingface", "to the hf hub", "to s3://public-bucket", "to github",
          "to gs://shared-models", "to dropbox", "to https://files.example.net/in", "to our public S3 bucket",
          "to https://hooks.slack.com/services/T01/B02/x9", "to the slack webhook https://hooks.slack.com/x",
          "to s3://team-share/out", "to my google drive", "to wandb",
          "to https://api.partner.io/upload"]  # fmt: skip


def _dest(f: _Fill) -> str:
    if f.rng.random() < 0.3:
        return f"to {f.rng.choice(_EMAILS)}"
    return f.rng.choice(_DESTS)


# -------------------------------------------------------------------------------------------- templates
Slot = Callable[[_Fill], str]
_SLOTS: dict[str, Slot] = {
    "size": _size, "path": _path, "paths": _paths, "cluster": _cluster, "run": _run, "clock": _clock,
    "hours": _hours, "count": _count, "lr": _lr, "dest": _dest, "what": _what, "params": _params,
    "factor": _factor, "gh": _gpu_hours, "base": _base, "evalpath": lambda f: _path(f),
}  # fmt: skip

# (kind, template, fixed fields). A "{train}" verb may get a typo; a "{moe}" slot is "MoE " or "".
_TEMPLATES: list[tuple[str, str, dict[str, Any]]] = [
    ("train", "{train} a {size} model on {paths}", {}),
    ("train", "{train} a {size} {moe}on {paths}", {}),
    ("train", "{train} a {size} {moe}model from {paths}", {}),
    ("train", "I want a {size} {moe}language model trained on {paths}", {}),
    ("train", "can we get a {size} {moe}LLM built from {paths}", {}),
    ("train", "{train} a {size} on {paths} within {hours}", {}),
    ("train", "{train} a {size} {moe}on {paths}, it must finish in {hours}", {}),
    ("train", "{train} a {size} on {paths} and tune the learning rate first", {"tune": True}),
    ("train", "{train} a {size} on {paths} with a hyperparameter search", {"tune": True}),
    ("train", "{train} a {size} on {paths}, don't tune anything", {}),
    ("train", "{train} a {size} on {paths} without any hyperparameter search", {}),
    ("train", "skip the tuning and {train} a {size} on {paths}", {}),
    ("train", "{train} a {size} {moe}on {paths} and upload it {dest}", {}),
    ("train", "{train} a {size} on {paths}, then send the weights {dest}", {}),
    ("train", "{train} a {size} on {paths} and post the metrics {dest}", {}),
    ("train", "pretrain a {size} {moe}GPT using the files in {paths}", {}),
    ("train", "{train} a mixture of experts model of {size} on {paths}", {"moe": True}),
    ("train", "{train} a {size} sparse model on {paths} by {clock}", {"moe": True}),
    ("train", "{train} something with {size} parameters on {paths}", {}),
    ("train", "{train} a {size} on {paths} on {cluster}", {}),
    ("train", "{train} a {size} on {paths}, it has to be done by {clock}", {}),
    ("train", "{train} a {size} on {paths} with a budget of {gh}", {}),
    ("train", "fine-tune {base} on {paths}", {}),
    ("train", "start from {base} and finetune it on {paths}", {}),
    ("estimate", "what would a {size} {moe}cost on {cluster}", {}),
    ("estimate", "how long would a {size} take on {cluster}?", {}),
    ("estimate", "estimate the cost of training a {size} {moe}on {cluster}", {}),
    ("estimate", "how much is a {size} {moe}model on {cluster}?", {}),
    ("estimate", "give me a price for a {size} on {cluster}", {}),
    ("estimate", "how many GPU hours for a {size} on {paths}?", {}),
    ("estimate", "what does a {size} cost?", {}),
    ("estimate", "budget check: {size} {moe}on {cluster}, how long and how much", {}),
    ("estimate", "could we afford a {size} with only {gh}?", {}),
    ("estimate", "is {gh} enough for a {size} {moe}?", {}),
    ("estimate", "what would a {size} on {paths} cost if we only have {gh}", {}),
    ("estimate", "how long does a {size} run on {cluster}", {}),
    ("tune", "tune the {params} of a {size} on {paths}", {"tune": True}),
    ("tune", "tune the {params} for a {size} on {paths}, stop at {clock}", {"tune": True}),
    ("tune", "run a hyperparameter search for a {size} on {paths} until {clock}", {"tune": True}),
    ("tune", "search the {params} for the {size} on {paths}", {"tune": True}),
    ("tune", "sweep the {params} on {paths} for a {size}, finish by {clock}", {"tune": True}),
    ("tune", "optimize the hyperparameters of a {size} {moe}on {paths} for {hours}", {"tune": True}),
    ("tune", "do an HPO run for a {size} on {paths}", {"tune": True}),
    ("tune", "tune {params} for a {size} on {paths} {night}", {"tune": True, "night": True}),
    ("tune", "find the best {params} for a {size} on {paths} {night}", {"tune": True, "night": True}),
    ("tune", "hyperparameter search on {paths} for a {size} {night}", {"tune": True, "night": True}),
    ("synth", "generate {count} synthetic {what} from {paths}", {}),
    ("synth", "create {count} synthetic {what} out of {paths}", {}),
    ("synth", "synthesize {count} {what} using {paths}", {}),
    ("synth", "generate {count} {what} from {paths} and add them to the training mix", {"blend": True}),
    ("synth", "generate {count} {what} from {paths} and blend them into the training data", {"blend": True}),
    ("synth", "augment {paths} with {count} synthetic {what}", {}),
    ("synth", "I need {count} {what} generated from {paths}", {}),
    ("eval", "evaluate {run}", {}),
    ("eval", "evaluate {run} on {evalpath}", {}),
    ("eval", "evaluate {run} against the release gates", {"gates": True}),
    ("eval", "does {run} pass our release gates?", {"gates": True}),
    ("eval", "score {run} on the held-out data in {evalpath}", {}),
    ("eval", "run the evaluation suite on {run}", {}),
    ("eval", "benchmark {run} and check it against the gates", {"gates": True}),
    ("eval", "how good is {run} on {evalpath}?", {}),
    ("eval", "how well does {run} do on {evalpath}", {}),
    ("eval", "measure {run} on {evalpath}", {}),
    ("eval", "is {run} ready for release? check the gates", {"gates": True}),
    ("continue", "continue {run} with {lr}", {}),
    ("continue", "resume {run} for {count} more steps", {}),
    ("continue", "keep training {run} with {lr}", {}),
    ("continue", "continue {run} and add {path}", {}),
    ("continue", "pick up {run} again with {lr} and {count} more steps", {}),
    ("continue", "restart {run} from its checkpoint with {lr}", {}),
    ("continue", "continue {run} for {factor}", {}),
    ("continue", "train {run} for {factor}", {}),
    ("continue", "keep going with {run}, {factor}", {}),
    ("continue", "resume {run} with {lr} and {factor}", {}),
    ("status", "how is {run} doing?", {"topic": "run"}),
    ("status", "what's the status of {run}?", {"topic": "run"}),
    ("status", "what is waiting for approval?", {"topic": "approvals"}),
    ("status", "which runs are still going?", {"topic": "runs"}),
    ("status", "show me the loss of {run}", {"topic": "run"}),
    ("status", "what did last night's loop find?", {"topic": "loop"}),
    ("status", "any approvals pending for me?", {"topic": "approvals"}),
    ("status", "is {run} finished yet?", {"topic": "run"}),
    ("status", "how are things going?", {"topic": "runs"}),
    ("status", "what's running right now?", {"topic": "runs"}),
    ("status", "did anything fail overnight?", {"topic": "loop"}),
    ("status", "what happened in the overnight loop?", {"topic": "loop"}),
    ("status", "anything I need to sign off on?", {"topic": "approvals"}),
    ("status", "give me an update on the runs", {"topic": "runs"}),
    ("status", "where is {run} at?", {"topic": "run"}),
    ("post_train", "fine-tune {run} with SFT on {path}", {"method": "sft"}),
    ("post_train", "run DPO on {run} with the pairs in {path}", {"method": "dpo"}),
    ("post_train", "do RL on {run} against our alignment policy", {"method": "rl"}),
    ("post_train", "run SFT on {run} using {path}", {"method": "sft"}),
    ("post_train", "post-train {run} on the chats in {path}", {"method": "sft"}),
    ("post_train", "an SFT pass on {run} with {path}", {"method": "sft"}),
    ("post_train", "align {run} with DPO on the preference pairs in {path}", {"method": "dpo"}),
    ("post_train", "do GRPO on {run}", {"method": "rl"}),
    ("post_train", "instruction-tune {run} with SFT on {path}", {"method": "sft"}),
    ("release", "release {run}", {}),
    ("release", "publish {run} to the model registry", {}),
    ("release", "promote {run} to production", {}),
    ("release", "register {run} in our registry as the new version", {}),
    ("release", "ship {run} to the registry", {}),
    ("release", "promote {run} to the registry", {}),
    ("refuse", "upload {run} {dest}", {}),
    ("refuse", "send the weights {dest}", {}),
    ("refuse", "push the dataset in {path} {dest}", {}),
    ("refuse", "email the checkpoint to {email}", {}),
    ("refuse", "share the model with {email}", {}),
    ("refuse", "post the eval results {dest}", {}),
    ("refuse", "copy the checkpoints {dest}", {}),
    ("refuse", "sync {path} {dest}", {}),
    ("unclear", "what's the weather like today", {}),
    ("unclear", "tell me a joke", {}),
    ("unclear", "hmm not sure what I want", {}),
    ("unclear", "write me a poem about cats", {}),
    ("unclear", "who won the football yesterday", {}),
    ("unclear", "asdf qwer", {}),
    ("unclear", "can you help", {}),
    ("unclear", "do the thing", {}),
]
_TRAIN_VERBS = ["train", "Train", "please train", "build", "trian", "trainn", "tarin", "train up", "traing"]
_PREFIXES = ["", "", "", "", "please ", "hey vibe, ", "could you ", "I'd like to ", "ok, ", "quick one: "]
_QUESTION_PREFIXES = ["", "", "", "hey vibe, ", "ok, ", "quick one: ", "so "]
_QUESTION_WORDS = {"what", "how", "is", "does", "could", "which", "any", "where", "did", "give"}
_SUFFIXES = ["", "", "", "", " please", " thanks", "!", ".", " asap", " when you can"]


def _fill(kind: str, template: str, fixed: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]]:
    f = _Fill(rng)

    def slot(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "train":
            return rng.choice(_TRAIN_VERBS)
        if name == "moe":
            if rng.random() < 0.3:
                f.set(moe=True)
                return rng.choice(["MoE ", "mixture-of-experts ", "moe "])
            return ""
        if name == "email":
            return rng.choice(_EMAILS)
        if name == "night":
            return rng.choice(_NIGHT)
        return _SLOTS[name](f)

    question = template.split()[0] in _QUESTION_WORDS
    prefixes = _QUESTION_PREFIXES if question else _PREFIXES
    prefix = "" if kind in ("status", "unclear") else rng.choice(prefixes)  # questions stay questions
    text = prefix + re.sub(r"\{(\w+)\}", slot, template) + rng.choice(_SUFFIXES)
    if kind in ("refuse", "unclear"):  # what would be sent is no source, a run no target: k alone
        return text, _EMPTY | {"k": kind}
    return text, _EMPTY | f.fields | fixed | {"k": kind}


def grammar_examples(count: int, *, seed: int = 0) -> Iterable[DraftExample]:
    """``count`` requests drawn from the templates (uniformly by template), each with its Draft label."""
    rng = random.Random(seed)
    for _ in range(count):
        number = rng.randrange(len(_TEMPLATES))
        kind, template, fixed = _TEMPLATES[number]
        text, fields = _fill(kind, template, fixed, rng)
        text = text[0].upper() + text[1:] if rng.random() < 0.3 else text
        yield DraftExample(request=text, draft=Draft(**fields).model_dump(), template=f"{kind}/{number}")


_SKELETON = [
    (re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b"), "<email>"),
    (re.compile(r"\b(?:https?|s3|gs)://\S+"), "<url>"),
    (re.compile(r"~?/[^\s,;'\"()?]+"), "<path>"),
    (re.compile(r"\bt-[0-9a-z]{3,}\b"), "<run>"),
    (re.compile(r"\d[\d,.]*\s*(?:k|m|b|t|million|billion|am|pm|h|gb)?\b"), "<n>"),
    (re.compile(r"[^\w<> ]+"), " "),
    (re.compile(r"\s+"), " "),
]


def skeleton(request: str) -> str:
    """``request`` with its values replaced by placeholders: the template it is an instance of."""
    text = request.lower()
    for pattern, placeholder in _SKELETON:
        text = pattern.sub(placeholder, text)
    for word in ("please", "thanks", "asap", "hey vibe", "could you", "ok", "quick one", "when you can"):
        text = re.sub(rf"^{word}\b|\b{word}$", "", text.strip())
    return text.strip()


def read_requests(paths: Iterable[Path]) -> list[str]:
    """The ``request`` of every line of the benchmark's JSONL sets ``paths``."""
    out = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["request"])
    return out


def destinations(request: str) -> list[str]:
    """Where ``request`` wants things sent, by the rules (which the agent takes refusals from)."""
    try:
        return [r.destination for r in read_rules(request).refused]
    except ValueError:  # a request the rules trip on: no refusal read from it
        return []


def _label_ok(example: DraftExample) -> bool:
    try:
        intent = intent_from_draft(Draft(**example.draft), destinations=destinations(example.request))
    except ValueError:
        return False
    return not validate_intent(example.request, intent)


@dataclass(frozen=True)
class HeldOut:
    """The requests training must not contain: their normalised texts and their templates (skeletons)."""

    texts: frozenset[str]
    skeletons: frozenset[str]

    @classmethod
    def of(cls, requests: Sequence[str]) -> HeldOut:
        return cls(frozenset(_norm(r) for r in requests), frozenset(skeleton(r) for r in requests))

    def exact(self, request: str) -> bool:
        return _norm(request) in self.texts

    def template(self, request: str) -> bool:
        return skeleton(request) in self.skeletons


def _norm(request: str) -> str:
    return " ".join(request.lower().split())


def intake_dataset(
    count: int, *, seed: int = 0, held_out: list[str] | None = None
) -> tuple[list[DraftExample], dict[str, Any]]:
    """``count`` distinct grammar examples whose labels validate and which share no template with
    ``held_out`` (requests of the evaluation sets); and the report (counts, per kind, the overlap left)."""
    held = HeldOut.of(held_out or [])
    kept: list[DraftExample] = []
    seen: set[str] = set()
    dropped = Counter[str]()
    for example in grammar_examples(count * 20, seed=seed):
        if len(kept) >= count:
            break
        key = _norm(example.request)
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        if held.exact(example.request) or held.template(example.request):
            dropped["held-out template"] += 1
            continue
        if not _label_ok(example):
            dropped["label does not validate"] += 1
            continue
        kept.append(example)
    overlap_exact = sum(held.exact(e.request) for e in kept)
    overlap_template = sum(held.template(e.request) for e in kept)
    report = {
        "examples": len(kept),
        "templates": len(_TEMPLATES),
        "templates_used": len({e.template for e in kept}),
        "per_kind": dict(Counter(e.draft["k"] for e in kept)),
        "dropped": dict(dropped),
        "held_out_requests": len(held_out or []),
        "overlap": {"exact": overlap_exact, "template": overlap_template},
    }
    return kept, report
