"""The rules reader: any request to a :class:`~vibe.agent._intent.Reading`, deterministically.

It backs up the LLM (and is what the validator checks the LLM's fields against). In order:

1. typos in the words that decide the intent are corrected ("trian" -> "train", "evalute" -> "evaluate");
2. clauses that send anything out of the network are cut out and become refusals; a request to ignore the
   policy is cut out and noted; URLs are noted and never read as data;
3. the kind is decided (status questions, post-training, eval, release, continue, synth, estimate, tune,
   train, in that order; a refusal with nothing else left is ``refuse``; nothing readable is ``unclear``);
4. that kind's fields are read: sizes, paths, budgets, clock times, the cluster, runs, factors, counts.
"""

from __future__ import annotations

import difflib
import re
import sysconfig
from pathlib import Path
from typing import Any, Literal

from vibe.agent._goal import parse_size
from vibe.agent._intent import (
    Cluster,
    ContinueIntent,
    EstimateIntent,
    EvalIntent,
    Intent,
    PostTrainIntent,
    Reading,
    Refusal,
    RefuseIntent,
    ReleaseIntent,
    StatusIntent,
    SynthIntent,
    TrainIntent,
    TuneIntent,
    UnclearIntent,
)

__all__ = [
    "QUESTION",
    "TEMPLATE_NAMES",
    "find_cluster",
    "find_paths",
    "find_run",
    "find_until",
    "kind_evidence",
    "normalize",
    "read_rules",
    "system_dirs",
    "tune_negated",
    "wants_tuning",
]

QUESTION = (
    "I could not tell what to do. Say for example: 'train a 125M on /data/code', 'how much would a 7B cost "
    "on 64 H100s?', 'tune the learning rate of a 20M on /data/code overnight', 'evaluate the last run', "
    "'continue the last run with half the learning rate' or 'how is the run doing?'"
)

# ------------------------------------------------------------------------------------------------ words
_VOCAB = [
    "train",
    "training",
    "pretrain",
    "finetune",
    "evaluate",
    "evaluation",
    "estimate",
    "continue",
    "resume",
    "synthetic",
    "generate",
    "status",
    "approval",
    "approvals",
    "release",
    "upload",
    "tuning",
    "search",
    "learning",
    "overnight",
    "experts",
    "mixture",
    "model",
    "dataset",
    "samples",
    "examples",
    "hyperparameters",
    "tomorrow",
    "yesterday",
    "branch",
    "docstring",
    "docstrings",
    "running",
    "waiting",
    "pending",
    "release",
    "gates",
    "budget",
    "would",
]
_KEEP = set(
    ["python", "stdlib", "standard", "library", "files", "tokens", "cluster", "nodes", "gpus", "hours", "minutes", "steps", "rate", "about", "after", "before", "should", "their", "there", "these", "those", "which", "while", "where", "what", "when", "with", "without", "again", "other", "another", "first", "large", "small", "tiny", "little", "quick", "night", "around", "using", "times", "twice", "third", "quarter", "tenth"]
)  # fmt: skip
_WORD = re.compile(r"(?<![/\w.-])[A-Za-z]{5,}(?![/\w])")


def normalize(request: str) -> str:
    """Lower-case, with likely typos of the deciding words corrected; paths and URLs are left alone."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0).lower()
        if word in _VOCAB or word in _KEEP:
            return word
        close = difflib.get_close_matches(word, _VOCAB, n=1, cutoff=0.82)
        return close[0] if close else word

    text = _WORD.sub(fix, request)
    text = re.sub(r"\bfine[ -]?tun", "finetun", text, flags=re.I)
    text = re.sub(r"(\d)\s*(?:bn|mrd|milliards?|milliarden)\b", r"\1b", text, flags=re.I)
    text = re.sub(r"(\d)\s*(?:mio|millionen)\b", r"\1m", text, flags=re.I)
    return text.lower().replace("’", "'")


# ------------------------------------------------------------------------------------------------ paths
_PATH = re.compile(r"(?<![\w:/.])(~?/[^\s,;'\"()]+)")
_URL = re.compile(r"\b((?:https?|s3|gs|ftp|hf|az)://[^\s,;'\"()]+)", re.I)
_STDLIB = ("python standard library", "python stdlib", "standard library", "stdlib")
_SYSTEM = ("/etc", "/root", "/proc", "/sys", "/boot", "/dev", "/var/lib", "/var/log")


def _stdlib() -> str:
    return sysconfig.get_paths()["stdlib"]


def find_paths(request: str) -> tuple[list[str], list[str]]:
    """(absolute paths, URLs) the request names; '~' expands to the home directory; the standard library by
    its name. URLs are returned apart: they are never data sources."""
    urls = [u.rstrip(".:!?") for u in _URL.findall(request)]
    rest = _URL.sub(" ", request)
    paths = [str(Path(p.rstrip(".:!?")).expanduser()) if p.startswith("~") else p.rstrip(".:!?") for p in
             _PATH.findall(rest)]  # fmt: skip
    paths = [p.rstrip("/") or "/" for p in paths]
    if any(alias in rest.lower() for alias in _STDLIB):
        paths.append(_stdlib())
    return list(dict.fromkeys(paths)), list(dict.fromkeys(urls))


def system_dirs(paths: list[str]) -> list[str]:
    """Those of ``paths`` in a system directory (or the home directory of the user running Vibe)."""
    home = str(Path.home())
    stdlib = _stdlib()
    out = []
    for path in paths:
        if path == stdlib or path.startswith(stdlib + "/"):
            continue  # named as "the Python standard library", wherever it is installed
        if path in ("/", home) or any(path == d or path.startswith(d + "/") for d in (*_SYSTEM, home)):
            out.append(path)
    return out


# ------------------------------------------------------------------------------------------- refusals
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_HUB = (
    r"hugging ?face|\bhf\b|\bthe hub\b|model hub|\bhub\b|s3|\bgcs\b|google cloud|azure|dropbox|google drive|"
    r"github|gitlab|wandb|weights (?:&|and) biases|bucket|external server|the internet|public|outside|cloud"
)
_SEND = r"upload|push|send|e-?mail|mail|post|share|publish|export|copy|sync|put|ship|release|transfer"
_EXFIL = re.compile(rf"\b(?:{_SEND})\w*\b[^.;]*?(?:{_HUB})", re.I)
_OVERRIDE = re.compile(
    r"\b(?:ignore|bypass|override|skip|disable|forget|circumvent)\s+(?:the\s+|our\s+|all\s+|any\s+)?"
    r"(?:polic(?:y|ies)|rules|approvals?|guardrails|restrictions|checks)\b|\bwithout (?:any )?policy checks\b",
    re.I,
)
_CLAUSE = re.compile(r"\s*(?:,?\s+and then\s+|,?\s+then\s+|,?\s+and\s+|;\s*|,\s*|\.\s+|\s+also\s+)", re.I)


def _side_notes(request: str) -> tuple[str, list[str], bool]:
    """(the request without its outward sends and policy overrides, the destinations, override asked)."""
    destinations: list[str] = []
    override = False
    kept: list[str] = []
    for clause in _CLAUSE.split(request):
        if not clause.strip():
            continue
        urls = [u for u in _URL.findall(clause) if not re.match(r"https?://(127\.0\.0\.1|localhost)", u)]
        sends = re.search(rf"\b(?:{_SEND})\w*\b", clause, re.I)
        emails = _EMAIL.findall(clause)
        hub = _EXFIL.search(clause)
        if emails or hub or (sends and urls):
            dest = emails or urls or [re.search(_HUB, clause, re.I).group(0)]  # type: ignore[union-attr]
            destinations += dest
            continue
        if _OVERRIDE.search(clause):
            override = True
            clause = _OVERRIDE.sub(" ", clause)
        kept.append(clause)
    return " and ".join(kept), list(dict.fromkeys(destinations)), override


# ---------------------------------------------------------------------------------------------- kinds
_TRAIN = re.compile(
    r"\b(?:re-?train|pre-?train|train|finetun)\w*|\b(?:build|make|create)\b(?=[^.?!]*\b(?:model|gpt|llm|\d+(?:\.\d+)?\s*[mb]\b))",
    re.I,
)
_TUNE_WORD = r"(?:tun(?:e|ed|es|ing)\b|hyper-?param\w*|search\w*|sweep\w*|hpo\b|optimi[sz]\w*)"
_TUNE = re.compile(
    rf"(?<!finetun)(?<!fine-)(?<!fine )\b{_TUNE_WORD}|\bfind (?:the )?best|\bbest (?:settings|lr|learning rate|hyper)"
    r"|\b(?:lowest|minimi[sz]e|minimum)\s+(?:the\s+)?(?:validation|val|held-out|eval)",
    re.I,
)
_NEGATED_TUNE = re.compile(
    r"\b(?:don'?t|do not|no|skip|without|never|not|nor|bother)\b(?:\s+\w+){0,3}?\s*"
    rf"(?:the\s+|a\s+|any\s+)?(?:hyper-?parameter\s+)?{_TUNE_WORD}",
    re.I,
)
_ESTIMATE = re.compile(
    r"how much|how long|\bcost\w*|\bestimat\w*|what would it take|\bprice\b|how many gpu|\bafford|\bfeasible"
    r"|\bbudget for\b|\bwould it take\b",
    re.I,
)
_STATUS_Q = re.compile(
    r"^\s*(?:how(?:'s| is| are| did| far)|what(?:'s| is| are| did| has| have| happened)|is |are |did |has |"
    r"any |show|list|status|where|which|tell me)",
    re.I,
)
_STATUS_W = re.compile(
    r"\b(?:doing|going|progress|status|waiting|pending|approv\w*|find|found|running|finished|done|loss|runs?|"
    r"loop|queue|happened|stuck|far along|converg\w*|results?)\b",
    re.I,
)
_POST = re.compile(
    r"\b(?:sft|dpo|rlhf|rlaif|grpo|ppo|orpo|post-?train\w*|instruction[- ]?tun\w*|instruct-?tun\w*|"
    r"align\w*|preference (?:tuning|optimi[sz]ation|data|pairs)|reinforcement learning|chat[- ]?tun\w*)\b",
    re.I,
)
_RELEASE = re.compile(r"\b(?:release|publish|promote|register)\w*\b(?!\s+gates?)(?!\s+criteria)", re.I)
_EVAL = re.compile(
    r"\b(?:evaluat\w*|eval|evals|benchmark\w*|score|assess\w*|measure|test (?:the|run|it|model))\b|"
    r"\bpass(?:es)? (?:our |the )?(?:release )?(?:gates?|bar|criteria)|\bgates?\b",
    re.I,
)
_CONTINUE = re.compile(
    r"\b(?:continue|continuing|resume|pick up|keep training|carry on|extend|branch|fork|restart from|"
    r"train (?:it |that |the (?:last|previous) run )?(?:for )?longer|more steps)\b",
    re.I,
)
_SAMPLES = r"\b(?:samples?|examples?|pairs|data|docstrings?|questions|tests|summaries|explanations|items)\b"
_SYNTH = re.compile(r"\b(?:synthetic|synthesi[sz]\w*|augment\w*|generate)\b", re.I)


def tune_negated(text: str) -> bool:
    return bool(_NEGATED_TUNE.search(text))


def wants_tuning(text: str) -> bool:
    """Whether ``text`` (normalized) asks for a search, negations ("don't tune", "no search") removed."""
    return bool(_TUNE.search(_NEGATED_TUNE.sub(" ", text)))


def _kind(text: str, paths: list[str]) -> str:
    if (_STATUS_Q.search(text) and _STATUS_W.search(text) and not _ESTIMATE.search(text)
            and not re.search(r"\bgates?\b|\bevaluat|\bbenchmark", text)):  # fmt: skip
        return "status"
    if _POST.search(text):
        return "post_train"
    if _EVAL.search(text) and not _TRAIN.search(text.split("eval")[0] if "eval" in text else ""):
        return "eval"
    if _RELEASE.search(text):
        return "release"
    if _CONTINUE.search(text) or (
        _RUN_REF.search(text) and re.search(r"\bhalf|halve|double|more (?:steps|data)|lr\s*[x*/]", text)
    ):
        return "continue"
    if _SYNTH.search(text) and re.search(_SAMPLES, text):
        return "synth"
    if _ESTIMATE.search(text):
        return "estimate"
    if wants_tuning(text):
        tune_at = _TUNE.search(_NEGATED_TUNE.sub(" ", text))
        train_at = _TRAIN.search(text)
        if train_at is None or (tune_at is not None and tune_at.start() < train_at.start()):
            return "tune"
        return "train"
    if _TRAIN.search(text) or parse_size(text) is not None or (paths and re.search(r"\bmodel|gpt|llm", text)):
        return "train"
    if re.search(r"\b(?:model|gpt|llm)\b", text) and re.search(r"\bon\b", text):
        return "train"
    return "unclear"


# --------------------------------------------------------------------------------------------- fields
_EXPERTS = re.compile(r"(\d+)\s*experts?", re.I)
_MOE = re.compile(r"\bmoe\b|mixture[- ]of[- ]experts|\bexperts?\b|\bsparse\b", re.I)
_NUM = r"(\d+(?:[.,]\d+)?)\s*(k|thousand)?"
_GPU_HOURS = re.compile(rf"{_NUM}\s*(?:gpu|h100|a100)[- ]?(?:h\b|hrs?\b|hours?\b|stunden\b|heures\b)", re.I)
_MONEY = re.compile(rf"(?:[$€£]\s*{_NUM}|{_NUM}\s*(?:\$|€|£|usd|eur|euros?|dollars?|gbp|chf)\b)", re.I)
_HOURS = re.compile(
    r"(?:within|in|under|for|max(?:imum)?|at most|no more than|less than)\s+(?:a\s+)?(\d+(?:[.,]\d+)?)?\s*"
    r"(hours?|hrs?|h|days?|d|minutes?|mins?|stunden|heures?|tage?|jours?|weeks?)\b",
    re.I,
)
_CLOCK = re.compile(
    r"\b(?:by|until|till|til|before|at|stop(?:s|ping)? at|finish(?:ed)? by|done by|ends? at)\s+"
    r"(\d{1,2})(?::|h|\.)?(\d{2})?\s*(am|pm|a\.m\.|p\.m\.|o'?clock|uhr)?",
    re.I,
)
_OVERNIGHT = re.compile(
    r"\bover ?night\b|\btonight\b|\bwhile i sleep\b|\bnight'?s work\b|\ball night\b", re.I
)
_GPUS = "b200|gh200|h200|h100|a100|l40s|a10|l4"
_CLUSTER_GPUS = re.compile(rf"(\d+)\s*(?:x\s*|×\s*)?(?:nvidia\s+)?({_GPUS})s?\b(?:[\s-]*(40|80)\s*gb)?", re.I)
_CLUSTER_NODES = re.compile(
    rf"(\d+)\s*nodes?\s*(?:of|with|x|×|,)\s*(\d+)\s*(?:x\s*)?(?:({_GPUS})s?|gpus?)(?:[\s-]*(40|80)\s*gb)?",
    re.I,
)
_BARE_GPUS = re.compile(r"\bon\s+(\d+)\s+gpus?\b", re.I)
_RUN_ID = re.compile(r"\b(t-[0-9a-z]{3,}|run[-_][\w-]+|loop-[\w-]+)\b", re.I)
_RUN_REF = re.compile(
    r"\b(?:the )?(?:last|latest|most recent|previous|yesterday'?s?|last night'?s?|that|my)\s+(?:\w+\s+)?"
    r"(?:run|model|training|checkpoint|loop|search|thread)\b|\brun\s+[\w-]*\d[\w-]*",
    re.I,
)
_BASE = re.compile(
    r"\b(?:finetun\w*|starting from|start from|init(?:iali[sz]ed?)? from|based on|on top of|from (?:the )?"
    r"(?:base )?(?:model )?)\s+([a-z][\w.-]*\d[\w.-]*|smollm\w*|llama\w*|qwen\w*|mistral\w*|gemma\w*|"
    r"gpt-?2\w*|phi-?\w*)",
    re.I,
)
TEMPLATE_NAMES = (
    "code.explain",
    "code.docstring",
    "code.tests",
    "code.api_questions",
    "doc.qa",
    "doc.summary",
)
_PARAMS = {
    "lr": r"learning[- ]rates?|\blr\b",
    "warmup": r"warm-?up",
    "batch": r"batch(?:[- ]size)?",
    "weight_decay": r"weight[- ]decay|\bwd\b",
    "width": r"\bwidth\b|hidden size",
    "depth": r"\bdepth\b|\blayers\b",
}
_TEMPLATES = {
    "code.docstring": r"docstrings?",
    "code.explain": r"explanations?|explain",
    "code.tests": r"\btests?\b|unit tests?",
    "code.api_questions": r"api questions?",
    "doc.qa": r"\bq&a\b|\bqa\b|question[- ]answer|questions? and answers?",
    "doc.summary": r"summar\w+",
}


def _number(value: str, k: str | None = None) -> float:
    return float(value.replace(",", "")) * (1e3 if k else 1)


def find_until(text: str) -> str | None:
    """A clock-time deadline as HH:MM (24 h): 'stop at 6am' -> '06:00', 'by 07:00 tomorrow' -> '07:00'."""
    for match in _CLOCK.finditer(text):
        hour, minute, suffix = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "").lower()
        if not (match.group(2) or suffix):
            if not re.search(r"\b(?:by|until|till|before)\s+\d", match.group(0)):
                continue  # "at 8" alone could be anything
            if not re.search(r"tomorrow|morning|tonight|overnight|am\b", text):
                continue
        if suffix.startswith("p") and hour < 12:
            hour += 12
        if suffix.startswith("a") and hour == 12:
            hour = 0
        if hour <= 23 and minute <= 59:
            return f"{hour:02d}:{minute:02d}"
    return None


def find_cluster(text: str) -> Cluster | None:
    """The cluster a request names: 'on 256 H100s', 'on 64 A100s 80GB', 'with 8 nodes of 8 GPUs'."""

    def gpu_name(name: str | None, memory: str | None) -> str | None:
        if name is None:
            return None
        name = name.upper().replace("L40S", "L40S")
        if name == "A100":
            return f"A100-{memory or '80'}GB"
        return name

    nodes = _CLUSTER_NODES.search(text)
    if nodes:
        per = int(nodes.group(2))
        return Cluster(gpu=gpu_name(nodes.group(3), nodes.group(4)), gpus=int(nodes.group(1)) * per,
                       gpus_per_node=per)  # fmt: skip
    gpus = _CLUSTER_GPUS.search(text)
    if gpus:
        return Cluster(gpu=gpu_name(gpus.group(2), gpus.group(3)), gpus=int(gpus.group(1)))
    bare = _BARE_GPUS.search(text)
    if bare:
        return Cluster(gpus=int(bare.group(1)))
    return None


def find_run(text: str) -> str | None:
    """Which earlier run a request means: an id, a path under a run, 'last' or 'yesterday'."""
    ident = _RUN_ID.search(text)
    if ident:
        return ident.group(1)
    if re.search(r"\byesterday", text):
        return "yesterday"
    if re.search(r"\blast night", text):
        return "last"
    if re.search(
        r"\b(?:last|latest|most recent|previous|that|my|the)\s+(?:\w+\s+)?(?:run|model|training|checkpoint)\b",
        text,
    ):
        return "last"
    named = re.search(r"\brun\s+([\w-]*\d[\w-]*)", text)
    return named.group(1) if named else None


def _budgets(text: str, paths: list[str]) -> dict[str, Any]:
    size = None if re.search(r"\b\d+(?:\.\d+)?\s*(?:k|thousand)?\s*(?:samples|examples|steps)", text) and \
        not re.search(r"\d\s*(?:m|b|million|billion)\b", text) else parse_size(_CLUSTER_GPUS.sub(" ", text))  # fmt: skip
    experts = _EXPERTS.search(text)
    moe = bool(_MOE.search(text))
    gpu_hours = _GPU_HOURS.search(text)
    money = _MONEY.search(text)
    out: dict[str, Any] = {
        "parameters": size,
        "architecture": "moe" if moe else "dense",
        "num_experts": (int(experts.group(1)) if experts else 8) if moe else None,
        "data": paths,
        "gpu_hours": _number(gpu_hours.group(1), gpu_hours.group(2)) if gpu_hours else None,
        "until": find_until(text),
        "cluster": find_cluster(text),
    }
    if money:
        value, k = (money.group(1), money.group(2)) if money.group(1) else (money.group(3), money.group(4))
        out["money"] = _number(value, k)
    for match in _HOURS.finditer(_GPU_HOURS.sub(" ", text)):
        unit = match.group(2).lower()
        amount = _number(match.group(1)) if match.group(1) else 1.0
        scale = 24 if unit[0] in "dtj" else 168 if unit[0] == "w" else 1 / 60 if unit.startswith("min") else 1
        out["hours"] = amount * scale
        break
    return out


def _objective(text: str) -> Literal["val_bpb", "val_loss"]:
    return "val_loss" if re.search(r"\b(?:validation|val|held-out)[ _]loss\b", text) else "val_bpb"


def _intent(kind: str, text: str, paths: list[str], request: str) -> Intent:
    if kind == "status":
        topic = (
            "approvals"
            if re.search(r"approv|waiting|pending|sign", text)
            else "loop"
            if re.search(r"\bloop|last night|overnight|tonight", text)
            else "run"
            if find_run(text) or re.search(r"\bthe (?:run|training)\b|\bit\b", text)
            else "runs"
        )
        return StatusIntent(topic=topic, run=find_run(text) if topic == "run" else None)
    if kind == "post_train":
        method = "dpo" if re.search(r"dpo|orpo|preference", text) else "rl" if re.search(
            r"\brl|ppo|grpo|reinforcement", text) else "sft"  # fmt: skip
        return PostTrainIntent(method=method, run=find_run(text), data=paths)
    if kind == "eval":
        run = find_run(text)
        run_paths = [p for p in paths if "/runs/" in p or p.startswith(("runs/", "./runs"))]
        if run is None and run_paths:
            run = run_paths[0]
        if run is None and paths:
            run, run_paths = paths[0], paths[:1]
        gates = bool(
            re.search(r"\bgates?\b|release (?:criteria|bar)|ready (?:for|to) (?:release|ship)", text)
        )
        if re.search(
            r"\b(?:without|no|skip|don'?t (?:check|apply|use))\s+(?:the\s+)?(?:release\s+)?gates?", text
        ):
            gates = False
        return EvalIntent(run=run or "last", data=[p for p in paths if p not in run_paths], gates=gates)
    if kind == "release":
        return ReleaseIntent(run=find_run(text) or "last")
    if kind == "continue":
        return _continue(text, paths)
    if kind == "synth":
        return _synth(text, paths)
    if kind == "unclear":
        return UnclearIntent(question=QUESTION)
    budgets = _budgets(text, paths)
    if kind == "estimate":
        return EstimateIntent(**budgets)
    if kind == "tune":
        params = [name for name, pattern in _PARAMS.items() if re.search(pattern, text)]
        overnight = bool(_OVERNIGHT.search(text)) or (
            budgets["until"] is not None and int(budgets["until"][:2]) < 10
        )
        return TuneIntent(**budgets, params=params, overnight=overnight, objective=_objective(text))  # type: ignore[arg-type]
    base = _BASE.search(text)
    base_model = base.group(1) if base and not re.match(r"scratch", base.group(1)) else None
    if base_model and (original := re.search(re.escape(base_model), request, re.I)):
        base_model = original.group(0)
    if base_model and parse_size(base_model) == budgets["parameters"]:
        budgets["parameters"] = None  # "fine-tune SmolLM2-135M": the size is the base model's
    return TrainIntent(
        **budgets, base_model=base_model, search=wants_tuning(text), objective=_objective(text)
    )


def _continue(text: str, paths: list[str]) -> ContinueIntent:
    lr: float | None = None
    if re.search(r"\bhalf (?:the )?(?:learning rate|lr)|\bhalve|\blr\s*(?:x|\*|times)\s*0?\.5\b|"
                 r"(?:learning rate|lr) (?:by|in) half", text):  # fmt: skip
        lr = 0.5
    elif re.search(r"\bdouble (?:the )?(?:learning rate|lr)|\blr\s*(?:x|\*|times)\s*2\b", text):
        lr = 2.0
    elif match := re.search(r"\b(?:learning rate|lr)\s*(?:x|\*|times)\s*(\d*\.?\d+)", text):
        lr = float(match.group(1))
    elif match := re.search(
        r"\b(?:learning rate|lr)\s*/\s*(\d+)|divide the (?:learning rate|lr) by (\d+)", text
    ):
        lr = 1 / float(match.group(1) or match.group(2))
    elif match := re.search(r"\ba (third|quarter|tenth) of the (?:learning rate|lr)", text):
        lr = {"third": 1 / 3, "quarter": 0.25, "tenth": 0.1}[match.group(1)]
    more = re.search(r"(?:another\s+|\+)?(\d[\d,]*)\s*(k)?\s*(?:more|extra|additional)?\s*steps", text)
    more_steps = None
    if more and re.search(r"more|extra|additional|another|\+", more.group(0)):
        more_steps = int(_number(more.group(1), more.group(2)))
    factor = 2.0 if re.search(r"twice as (?:many|long)|double the steps|2x (?:the )?steps", text) else None
    branch = bool(re.search(r"\bbranch|\bfork|as a new run|new run|separate run|\bcopy\b", text))
    run = find_run(text) or "last"
    return ContinueIntent(run=run, lr_factor=lr, more_steps=more_steps, steps_factor=factor, data=paths,
                          branch=branch)  # fmt: skip


def _synth(text: str, paths: list[str]) -> SynthIntent:
    count = re.search(rf"(\d[\d,]*)\s*(k)?\s+(?:[\w&-]+\s+){{0,3}}?{_SAMPLES}", text)
    if count is None:
        count = re.search(r"generate\s+(\d[\d,]*)\s*(k)?", text)
    templates = [name for name, pattern in _TEMPLATES.items() if re.search(pattern, text)]
    share = re.search(r"(\d+(?:\.\d+)?)\s*%", text)
    blend = bool(re.search(r"\bblend|\bmix\b|training mix|add (?:them|it|those) to|into the training", text))
    return SynthIntent(
        samples=int(_number(count.group(1), count.group(2))) if count else None,
        templates=templates,
        data=paths,
        blend=blend or share is not None,
        share=float(share.group(1)) / 100 if share and 0 < float(share.group(1)) < 100 else None,
    )


def kind_evidence(kind: str, text: str, request: str) -> bool:
    """Whether ``text`` (the normalized ``request``) has words that ask for an intent of ``kind``."""
    paths, _ = find_paths(request)
    checks = {
        "train": lambda: bool(_TRAIN.search(text)) or parse_size(text) is not None or bool(paths),
        "estimate": lambda: bool(_ESTIMATE.search(text)),
        "tune": lambda: wants_tuning(text),
        "synth": lambda: bool(_SYNTH.search(text)),
        "eval": lambda: bool(_EVAL.search(text)),
        "continue": lambda: bool(_CONTINUE.search(text) or _RUN_REF.search(text)),
        "status": lambda: bool(_STATUS_Q.search(text)),
        "post_train": lambda: bool(_POST.search(text)),
        "release": lambda: bool(_RELEASE.search(text)),
        "refuse": lambda: bool(_side_notes(request)[1]),
        "unclear": lambda: True,
    }
    return checks[kind]()


def read_rules(request: str) -> Reading:
    """The rules' :class:`Reading` of ``request`` (never raises: an unreadable request is ``unclear``)."""
    rest, destinations, override = _side_notes(request)
    paths, urls = find_paths(rest)
    text = normalize(_URL.sub(" ", rest))
    kind = _kind(text, paths)
    if kind == "unclear" and destinations:
        intent: Intent = RefuseIntent(destinations=destinations)
    else:
        intent = _intent(kind, text, paths, rest)
    refused = [Refusal(destination=d) for d in destinations]
    data = getattr(intent, "data", [])
    return Reading(
        request=request,
        intent=intent,
        refused=refused,
        policy_override=override,
        confirm_dirs=system_dirs(data),
        urls=urls,
        reader="rules",
    )
