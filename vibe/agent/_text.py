"""What a request's text says, in values: one place for every number, unit, clock time, path and factor.

The rules reader, the validation, the chat follow-ups and the goal parser all read through these helpers, so a
value the reader finds is a value the validation finds in the same words:

    number("1,200") = 1200      number("1,5") = 1.5       number("20.5") = 20.5
    parse_size("7 bn") = 7e9    parse_size("400 Mio") = 4e8    parse_size("1,5 Mrd") = 1.5e9
    find_hours("within a week") = 168    find_hours("for 30 minutes") = 0.5    find_hours("in 12 Stunden") = 12
    find_until("done by 8 pm") = "20:00"  find_money("€20,000") = 20000    find_gpu_hours("200k GPU-hours") = 2e5
    find_cluster("4 nodes with 8 A100s each") = 32 A100-80GB, 8 a node   find_samples("400 docstrings + 1.5k QA") = 1900
    lr_factor("a quarter of the learning rate") = 0.25    more_steps("another 500 steps") = 500
    find_paths("train on /data/a and https://x/y") = (["/data/a"], ["https://x/y"])
"""

from __future__ import annotations

import re
import sysconfig
from pathlib import Path

from vibe.agent._intent import Cluster

__all__ = [
    "LR_WORDS",
    "NUMBER",
    "SAMPLE_NOUNS",
    "STDLIB_ALIASES",
    "digits",
    "experts_named",
    "find_cluster",
    "find_gpu_hours",
    "find_hours",
    "find_money",
    "find_paths",
    "find_samples",
    "find_until",
    "lr_factor",
    "moe_named",
    "more_steps",
    "negated",
    "number",
    "numbers_in",
    "output_paths",
    "parse_size",
    "sizes_in",
    "stdlib_path",
    "steps_factor",
    "system_dirs",
    "urls_in",
    "within",
    "without_clusters",
    "without_paths",
    "without_urls",
]

# ------------------------------------------------------------------------------------------- numbers
NUMBER = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d.,])|\d+(?:[.,]\d+)*"  # 7, 1.5, 1,200, 20,000, 1,5, 5 000
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                 "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
                 "sixty": 60, "ninety": 90, "hundred": 100}  # fmt: skip
_NUMBER_WORD = re.compile(  # not in a path ('/models/two-tower')
    rf"(?<![/\w.-])(?:({'|'.join(_NUMBER_WORDS)})[ -])?({'|'.join(_NUMBER_WORDS)})(?![/\w-])", re.I
)


_NOT = (
    r"don'?t|dont|do not|doesn'?t need|no|not|never|without|w/o|w/out|skip|nor|bother|leave out|forget|ignore"
)


def negated(words: str) -> str:
    """A pattern for ``words`` (a pattern) negated in the same clause: 'no tuning', "don't bother with a
    search", 'without the policy gates', 'skip gating'; up to four words between, no comma or stop."""
    return rf"\b(?:{_NOT})\b(?:\s+[\w'-]+){{0,4}}?\s+(?:{words})"


def within(stops: str = ".?!") -> str:
    """One character of the same sentence (or clause): anything but ``stops``, where a point or comma between
    digits ('1.5B', '2,000') is part of a number, not a stop."""
    return rf"(?:[^{stops}]|(?<=\d)[.,](?=\d))"


def digits(text: str) -> str:
    """``text`` with number words written as digits ('two hours' -> '2 hours', 'twenty five samples' -> '25
    samples', 'divided by four' -> 'divided by 4'); 'one' is left alone ('one of the runs', 'one tenth')."""

    def value(match: re.Match[str]) -> str:
        tens, unit = (_NUMBER_WORDS.get((w or "").lower(), 0) for w in match.groups())
        if tens and (tens < 20 or unit >= 10):  # 'six ten ...': not one number, leave it as written
            return match.group(0)
        return str(tens + unit)

    return _NUMBER_WORD.sub(value, text)


_K = r"(k\b|thousand\b|tausend\b)?"


def number(text: str, k: str | None = None) -> float:
    """``text`` (an :data:`NUMBER` match) as a float: a comma before three digits groups thousands, any other
    comma is a decimal one ('1,5' = 1.5); ``k`` (a 'k' or 'thousand' after it) multiplies by 1000."""
    text = re.sub(r"[ \u00a0\u202f]", "", text)
    if "," in text:
        groups = text.split(",")
        text = text.replace(",", "") if all(len(g) == 3 for g in groups[1:]) else text.replace(",", ".", 1)
    value = float(text.replace(",", "")) if text.count(".") <= 1 else float(text.replace(".", ""))
    return value * (1e3 if k else 1.0)


def numbers_in(text: str) -> set[float]:
    """Every number ``text`` writes, with and without a 'k' after it."""
    out: set[float] = set()
    for value, k in re.findall(rf"(?<![\d.,])({NUMBER})\s*{_K}", text, flags=re.I):
        out |= {number(value), number(value, k)}
    return out


# --------------------------------------------------------------------------------------------- sizes
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "mio": 1e6, "million": 1e6, "millionen": 1e6,
          "millions": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9, "billions": 1e9, "mrd": 1e9, "milliard": 1e9,
          "milliards": 1e9, "milliarden": 1e9, "t": 1e12, "trillion": 1e12}  # fmt: skip
_COUNTED = (  # what a count counts, a few words on ('1.5k unit test samples', '20B tokens of code')
    r"(?:tokens?|samples?|examples?|steps?|pairs|docs?|documents?|rows|lines|files|words|items|docstrings?|"
    r"questions?|summaries|explanations?|tests?)\b"
)
_UNIT_AFTER = (
    r"(?:gpus?|dollars?|euros?|usd|eur|gbp|chf|gpuh|hours?|hrs?|(?:nvidia\s+)?(?:b200|gh200|h200|h100|a100|l40s|"
    r"a10|l4)s?)\b"  # right after: '5k USD', '200k GPU', '1k B200s'
)
_SIZE = re.compile(
    rf"(?<![\w.,$€£])({NUMBER})\s*({'|'.join(sorted(_SCALE, key=len, reverse=True))})\b"
    rf"(?!\s*(?:[a-z&-]+\s+){{0,2}}{_COUNTED})(?!\s*{_UNIT_AFTER})",
    re.I,
)


def sizes_in(text: str) -> list[float]:
    """Every model size ``text`` names, in order ('7B', '125M', '1.3 billion', '400 Mio', '1,5 Mrd'); not in
    a path or URL ('/models/base-1b' names a directory, not a size)."""
    text = _PATH.sub(" ", without_urls(text))
    return [number(value) * _SCALE[unit.lower()] for value, unit in _SIZE.findall(text)]


def parse_size(text: str) -> float | None:
    """'7B' -> 7e9, '125M' -> 1.25e8, '1.3 billion' -> 1.3e9; None when no size is named (a count of samples,
    steps or tokens is not a size)."""
    sizes = sizes_in(text)
    return sizes[0] if sizes else None


_EXPERTS = re.compile(r"(\d+)[\s-]*experts?\b", re.I)
_MOE = re.compile(r"\bmoe\b|mixture[- ]of[- ]experts|\bexperts?\b|\bsparse\b", re.I)


def moe_named(text: str) -> bool:
    """Mixture of experts asked for: named, and not said not to ('dense, not MoE', 'without experts')."""
    return bool(_MOE.search(re.sub(negated(_MOE.pattern), " ", text, flags=re.I)))


def experts_named(text: str) -> int | None:
    match = _EXPERTS.search(text)
    return int(match.group(1)) if match else None


# ------------------------------------------------------------------------------------------ budgets
_HOUR_UNITS = r"hours?|hrs?|h|std|stunden|heures?"
_GPU_HOURS = re.compile(
    rf"({NUMBER})\s*{_K}\s*(?:gpu|h100|a100|h200|b200)s?[- ]?(?:{_HOUR_UNITS}|gpuh)\b|({NUMBER})\s*{_K}\s*gpuh\b",
    re.I,
)
_MONEY = re.compile(
    rf"(?:(?:[$€£]|\b(?:usd|eur|gbp|chf)\b)\s*({NUMBER})\s*{_K}"
    rf"|({NUMBER})\s*{_K}\s*(?:\$|€|£|usd|eur|euros?|dollars?|gbp|pounds|chf)(?!\w))",
    re.I,
)
_DURATION_UNITS = (
    r"hours?|hrs?|h|days?|d|minutes?|mins?|weeks?|stunden|std|heures?|tage?n?|jours?|wochen?|semaines?|horas?|"
    r"d[ií]as?|minutos?|semanas?"
)
_DURATION = re.compile(
    r"(?:within|in|under|for|max(?:imum)?|maximal|h(?:ö|oe)chstens|up to|at most|no more than|less than|"
    r"not more than|innerhalb|en|budget(?:\s+(?:of|is)|:)?|time limit(?:\s+of|:)?)\s+"
    r"(?:(?:von|de|the next|less than|under)\s+)?"  # 'innerhalb von 2 Tagen', 'in the next 3 days'
    rf"(?:(?:a|an|one)\s+|(half)\s+(?:an?\s+)?|({NUMBER})\s*)?"
    rf"({_DURATION_UNITS})\b",
    re.I,
)


def find_gpu_hours(text: str) -> float | None:
    """A GPU-hour budget: '500 GPU-hours', '200k GPU hours', '10 GPUh'."""
    match = _GPU_HOURS.search(text)
    if not match:
        return None
    value, k = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return number(value, k)


def find_money(text: str) -> float | None:
    """A cost ceiling: '$5k', '€20,000', '3000 euros', '5k USD'."""
    match = _MONEY.search(text)
    if not match:
        return None
    value, k = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return number(value, k)


_DURATION_AFTER = re.compile(  # the limit after the amount: '2 days max', '3 hours tops', '90 min of wall clock'
    rf"({NUMBER})\s*({_DURATION_UNITS})\s+(?:max(?:imum)?|at (?:the )?most|tops|or less|or under|or fewer|"
    r"(?:of\s+)?wall[- ]?(?:clock|time)(?:\s+time)?)\b",
    re.I,
)
_DURATION_ALONE = re.compile(  # a clause of its own ('hpo over the lr, 4 hours'; clauses are joined by 'and')
    rf"(?:^|[,;:(]|\s[-–—]\s|\band\b|\bor\b)\s*(?:about\s+|~\s*)?({NUMBER})\s*({_DURATION_UNITS})\s*"
    r"(?=$|[,;.)!?]|\s[-–—]\s|\s+(?:and|or)\b)",
    re.I,
)


_H_MIN = re.compile(  # hours and minutes: '1h30', '2 hours 15 minutes', '1 hr and 45 min'
    r"\b(\d+)\s*(?:h|hours?|hrs?)\s*(?:and\s+)?(\d{1,2})(?:\s*(?:m|mins?|minutes?)\b|(?=\s|$|[,;.]))", re.I
)


def _in_hours(amount: float, unit: str) -> float:
    unit = unit.lower()
    if unit.startswith(("min",)):
        return amount / 60
    if unit.startswith(("std", "stunde", "h")):
        return amount
    if unit[0] in "dtj":
        return amount * 24
    if unit[0] in "ws":
        return amount * 168
    return amount


def find_hours(text: str) -> float | None:
    """A wall-clock limit in hours (GPU-hours are not one): 'within 2 days' 48, 'in under a week' 168,
    '2 days max' 48, 'in 12 Stunden' 12, 'maximal 12 Stunden' 12, 'budget 2 days' 48, '90 minutes of wall
    clock' 1.5, a clause of its own ', 4 hours' 4."""
    text = _GPU_HOURS.sub(" ", text)
    text = _H_MIN.sub(lambda m: f"{int(m.group(1)) + int(m.group(2)) / 60:g} hours", text)
    for match in _DURATION.finditer(text):
        half, amount, unit = match.groups()
        return _in_hours(0.5 if half else number(amount) if amount else 1.0, unit)
    if match := _DURATION_AFTER.search(text) or _DURATION_ALONE.search(text):
        return _in_hours(number(match.group(1)), match.group(2))
    return None


_BY = r"\b(?:by|until|till|til|before|at|deadline(?: is| of|:)?|due(?: by| at)?|no later than|stop(?:s|ping)?(?: at| by)?|finish(?:ed)?(?: by)?|done by|ends?(?: at)?|bis|avant)(?:\s+(?:tomorrow|today|tonight)(?:\s+at)?)?"
_CLOCK = re.compile(
    rf"{_BY}\s+(\d{{1,2}})(?:[:h.](\d{{2}}))?\s*(am\b|pm\b|a\.m\.|p\.m\.|o'?clock|uhr)?"
    r"(?:\s*(?:in the|this|at|tomorrow|today)?\s*\b(morning|afternoon|evening|night|tonight)\b)?",
    re.I,
)
_NOON = re.compile(rf"{_BY}\s+(?:the\s+)?(noon|midday|lunch(?:time)?|midnight)\b", re.I)
_NAMED_TIMES = {
    "noon": "12:00",
    "midday": "12:00",
    "lunch": "12:00",
    "lunchtime": "12:00",
    "midnight": "00:00",
}
_LATER_PARTS = ("afternoon", "evening", "night", "tonight")  # an hour before 12 in these is after noon


def find_until(text: str) -> str | None:
    """A clock-time deadline as HH:MM (24 h): 'stop at 6am' -> '06:00', 'done by 8 pm' -> '20:00', 'before 8
    in the evening' -> '20:00', 'before 9 tonight' -> '21:00', 'by noon' -> '12:00'."""
    if named := _NOON.search(text):
        return _NAMED_TIMES[named.group(1).lower()]
    for match in _CLOCK.finditer(text):
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        suffix = (match.group(3) or "").lower()
        part = (match.group(4) or "").lower()
        if part in _LATER_PARTS and not suffix and 5 <= hour < 12:
            suffix = "pm"
        elif part == "morning" and not suffix:
            suffix = "am"
        if not (match.group(2) or suffix):
            if not re.search(r"\b(?:by|until|till|before|bis)\s+\d", match.group(0)):
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


# ------------------------------------------------------------------------------------------ clusters
_GPUS = "b200|gh200|h200|h100|a100|l40s|a10|l4"
_MEM = r"(?:[\s-]*(40|80)\s*gb)?"
_CLUSTER_NODES = re.compile(
    rf"(\d+)\s*(?:nodes?|machines|servers|hosts)\s*(?:of|with|x|×|,|each with)\s*(\d+)\s*(?:x\s*)?"
    rf"(?:(?:nvidia\s+)?({_GPUS})s?{_MEM}|gpus?)",
    re.I,
)
_CLUSTER_GRID = re.compile(  # nodes x GPUs a node: '2 x 8 A100', '4×8 H100s'
    rf"\b(\d+)\s*[x×]\s*(\d+)\s*(?:x\s*)?(?:nvidia\s+)?({_GPUS})s?\b{_MEM}", re.I
)
_CLUSTER_GPUS = re.compile(rf"(\d+(?:[.,]\d+)?\s*k?)\s*(?:x\s*|×\s*)?(?:nvidia\s+)?({_GPUS})s?\b{_MEM}", re.I)
_BARE_GPUS = re.compile(r"\b(?:on|with|using|across)\s+(\d+)\s+gpus?\b", re.I)
_ACROSS_NODES = re.compile(  # after the GPUs: '128 H200 across 16 nodes', '64 GPUs over 8 machines'
    r"^\s*,?\s*(?:spread\s+|split\s+)?(?:across|over|on|in)\s+(\d+)\s*(?:nodes?|machines|servers|hosts)\b",
    re.I,
)


_PER_NODE = re.compile(  # '8 per node', '8 GPUs a node', '8/node'
    r"^\s*,?\s*(?:with\s+|and\s+)?(\d+)\s*(?:gpus?\s*)?(?:per|a|each|/|in each)\s*(?:node|machine|server|host)\b",
    re.I,
)


def _per_node(gpus: int, after: str) -> int | None:
    if per := _PER_NODE.search(after):
        return int(per.group(1)) if gpus % int(per.group(1)) == 0 else None
    match = _ACROSS_NODES.search(after)
    nodes = int(match.group(1)) if match else 0
    return gpus // nodes if nodes and gpus % nodes == 0 else None


def _gpu_name(name: str | None, memory: str | None) -> str | None:
    if name is None:
        return None
    name = name.upper()
    return f"A100-{memory or '80'}GB" if name == "A100" else name


def find_cluster(text: str) -> Cluster | None:
    """The cluster a request names: 'on 256 H100s', 'on 64 A100s 80GB', 'with 8 nodes of 8 GPUs', '128 H200
    across 16 nodes' (8 a node)."""
    nodes = _CLUSTER_NODES.search(text) or _CLUSTER_GRID.search(text)
    if nodes:
        per = int(nodes.group(2))
        return Cluster(gpu=_gpu_name(nodes.group(3), nodes.group(4)), gpus=int(nodes.group(1)) * per,
                       gpus_per_node=per)  # fmt: skip
    gpus = _CLUSTER_GPUS.search(text)
    if gpus:
        count = gpus.group(1).replace(" ", "").lower()
        total = int(number(count.rstrip("k"), "k" if count.endswith("k") else None))  # '1k B200s': 1000
        return Cluster(gpu=_gpu_name(gpus.group(2), gpus.group(3)), gpus=total,
                       gpus_per_node=_per_node(total, text[gpus.end():]))  # fmt: skip
    bare = _BARE_GPUS.search(text)
    if bare is None:
        return None
    total = int(bare.group(1))
    return Cluster(gpus=total, gpus_per_node=_per_node(total, text[bare.end() :]))


def without_clusters(text: str) -> str:
    """``text`` with the clusters cut out (so '8 A100' is not read as a count of anything else)."""
    return _CLUSTER_GPUS.sub(" ", _CLUSTER_GRID.sub(" ", _CLUSTER_NODES.sub(" ", text)))


# ------------------------------------------------------------------------------------ synthetic samples
SAMPLE_NOUNS = (
    r"\b(?:samples?|examples?|pairs|data|docstrings?|questions|tests?|test cases|summaries|explanations|items|"
    r"records|instances|q&a|qa)\b"
)
_COUNT = rf"({NUMBER})\s*(k\b|thousand\b)?"
_NOT_A_COUNT = r"(?![\d.,]|\s*(?:%|percent\b|pct\b))"  # '20 percent of the mix' is a share
_COUNT_OF = re.compile(rf"(?<![\d.,])(?:{_COUNT}){_NOT_A_COUNT}\s*(?:[\w&-]+\s+){{0,3}}?{SAMPLE_NOUNS}", re.I)
_COUNT_AFTER_VERB = re.compile(
    rf"(?:generate|produce|make|create|synthesi[sz]e|synth|write)\s+(?:me\s+)?(?:about\s+|around\s+|~\s*)?{_COUNT}"
    rf"{_NOT_A_COUNT}",
    re.I,
)
_COUNT_ALONE = re.compile(  # the count on its own: 'about 800', '300 of them', '2k in total'
    rf"(?:\b(?:about|around|roughly|approximately|some)\s+|~\s*){_COUNT}(?![\d.,]|\s*%|\s*percent)"
    rf"|(?<![\d.,]){_COUNT}\s+(?:of them|of those|in total|in all|total)\b",
    re.I,
)
_COUNT_CLAUSE = re.compile(  # the count as a clause of its own: 'from /code/backend, 250', 'all kinds, 10k,'
    rf"(?:^|[,;:(]|\s[-–—]\s)\s*{_COUNT}\s*(?=$|[,;.)!?]|\s[-–—]\s)", re.I
)
_EACH = re.compile(  # a count for each kind named: '300 each', '200 of each', '1k per kind'
    rf"(?<![\d.,]){_COUNT}\s*(?:[\w&-]+\s+){{0,2}}?(?:each|apiece|of each(?: kind| type)?|per (?:kind|type|template))\b",
    re.I,
)
_JOIN = re.compile(r"\s*(?:\+|&|and|plus|,)\s*(?:another\s+)?", re.I)


def find_samples(text: str, *, kinds: int = 1) -> int | None:
    """How many synthetic samples a request asks for: '500 docstrings', '2k Q&A pairs', 'generate 1.5k',
    'about 800', '300 of them', a count as a clause of its own (', 250'); counts per kind joined ('400
    docstrings + 400 unit tests') add up (800), a count for each of ``kinds`` kinds named ('300 each') too."""
    if each := _EACH.search(text):
        return int(number(each.group(1), each.group(2)) * max(kinds, 1))
    matches = list(_COUNT_OF.finditer(text))
    if matches:
        total, last = number(matches[0].group(1), matches[0].group(2)), matches[0]
        for match in matches[1:]:
            if not _JOIN.fullmatch(text[last.end() : match.start()]):
                break
            total, last = total + number(match.group(1), match.group(2)), match
        return int(total)
    for pattern in (_COUNT_AFTER_VERB, _COUNT_ALONE, _COUNT_CLAUSE):
        if match := pattern.search(text):
            groups = match.groups()  # (count, k) for each alternative of the pattern
            value, k = next((groups[i], groups[i + 1]) for i in range(0, len(groups), 2) if groups[i])
            return int(number(value, k))
    return None


# ----------------------------------------------------------------------------------- continue factors
_LR = r"(?:learning[- ]rates?|\blr\b)"
_FRACTIONS = {"half": 0.5, "third": 1 / 3, "quarter": 0.25, "fifth": 0.2, "tenth": 0.1}
LR_WORDS = {0.5: r"half|halve|50 ?%", 2.0: r"double|twice", 0.333: r"third", 0.25: r"quarter", 0.2: r"fifth",
            0.1: r"tenth"}  # fmt: skip


_FACTOR = r"(\d*\.?\d+)"
_DOWN = r"(?:cut|reduc|lower|drop|decreas|divid|shrink|scal\w* down)\w*"
_UP = r"(?:rais|increas|boost|multipl|scal\w* up)\w*"
_SMALLER = r"(?:smaller|lower|less|down)\b"
_LARGER = r"(?:larger|higher|bigger|greater|up)\b"
_LR_TIMES = (  # (pattern, what its number is): a number written with the learning rate, most explicit first
    (
        rf"{_LR}\s+(?:\w+\s+)?{_FACTOR}\s*(?:x|×|times)\s*{_SMALLER}|{_FACTOR}\s*(?:x|×|times)\s*{_SMALLER}\s*"
        rf"(?:the\s+)?{_LR}",
        lambda n: 1 / n,
    ),
    (
        rf"{_LR}\s+(?:\w+\s+)?{_FACTOR}\s*(?:x|×|times)\s*{_LARGER}|{_FACTOR}\s*(?:x|×|times)\s*{_LARGER}\s*"
        rf"(?:the\s+)?{_LR}",
        lambda n: n,
    ),
    (rf"{_LR}\s*(?:x|\*|×|times|multiplied by|scaled by)\s*{_FACTOR}", lambda n: n),
    (rf"{_FACTOR}\s*(?:x|×|times)\s*(?:the\s+)?{_LR}", lambda n: n),
    (rf"{_LR}\s+(?:of\s+|at\s+)?{_FACTOR}\s*(?:x|×)(?!\w)", lambda n: n),
    (
        rf"{_LR}\s*/\s*{_FACTOR}|{_LR}\s+divided by\s+{_FACTOR}|divide (?:the )?{_LR} by {_FACTOR}",
        lambda n: 1 / n,
    ),
    (
        rf"{_DOWN}\s+(?:the\s+)?{_LR}\s+(?:by\s+)?(?:a\s+)?factor\s+(?:of\s+)?{_FACTOR}"
        rf"|{_LR}\s+(?:\w+\s+)?{_DOWN}\s+(?:by\s+)?(?:a\s+)?factor\s+(?:of\s+)?{_FACTOR}",
        lambda n: 1 / n,
    ),
    (rf"{_UP}\s+(?:the\s+)?{_LR}\s+(?:by\s+)?(?:a\s+)?factor\s+(?:of\s+)?{_FACTOR}", lambda n: n),
    (rf"{_FACTOR} ?% of (?:the |its )?{_LR}", lambda n: n / 100),
)


def lr_factor(text: str) -> float | None:
    """The learning-rate factor a request asks for: 'lr x0.3', 'lr / 4', 'the learning rate divided by 4',
    'cut the lr by a factor of 3', 'half the lr' 0.5, 'a tenth of the learning rate', 'double the learning
    rate' 2; a number written with the rate is read before a word ('twice as long with lr x0.3' is 0.3);
    None when it names none."""
    for pattern, value in _LR_TIMES:
        if match := re.search(pattern, text):
            return value(float(next(g for g in match.groups() if g)))
    near = within(".,;")
    if match := re.search(rf"{_LR}{near}{{0,12}}\b(?:by|to) (\d+) ?%", text):
        return float(match.group(1)) / 100
    if re.search(rf"\b(?:half|halve|halving)\b{near}{{0,20}}{_LR}|{_LR}{near}{{0,12}}\b(?:by|in) half\b|"
                 rf"{_LR}{near}{{0,12}}\bhalved\b", text):  # fmt: skip
        return 0.5
    twice = r"\b(?:double|doubling|twice)\b(?!\s+as\b)(?!\s+the\s+(?:steps|training|number))"
    if re.search(rf"{twice}{near}{{0,20}}{_LR}|{_LR}{near}{{0,12}}\bdoubled\b", text):
        return 2.0
    if match := re.search(rf"\ba (third|quarter|fifth|tenth) of (?:the |its )?{_LR}", text):
        return _FRACTIONS[match.group(1)]
    return None


_MORE_BEFORE = (  # what says the steps come on top, before the count
    r"another|\+|add(?:ing)?|plus|a further|an? (?:extra|additional)|(?:extend|prolong|lengthen)\w*"
    r"(?:\s+(?:it|that|the run|training))?\s+by"
)
_MORE_STEPS = re.compile(
    rf"(?:({_MORE_BEFORE})\s*)?({NUMBER})\s*{_K}\s*(?:(more|extra|additional|further)\s+)?"
    r"(?:training\s+|optimi[sz]er\s+)?steps\b(?:\s+(more|extra|on top|in addition|longer|beyond))?",
    re.I,
)


def more_steps(text: str) -> int | None:
    """Steps asked for on top: 'for 1000 more steps', 'another 500 steps', '+2k steps', '5k extra steps',
    '10k steps more', 'add 3k training steps', 'extend it by 2000 steps'."""
    for match in _MORE_STEPS.finditer(text):
        before, value, k, more, after = match.groups()
        if before or more or after:
            return int(number(value, k))
    return None


def steps_factor(text: str) -> float | None:
    """A multiple of the steps: 'twice as many steps', 'double the steps', '3x the steps', 'twice as long',
    '50% more steps' (1.5)."""
    if more := re.search(r"\b(\d+(?:\.\d+)?)\s*(?:%|percent)\s+more\s+(?:training\s+)?steps", text):
        return 1 + float(more.group(1)) / 100
    if re.search(r"twice as (?:many|long)|double the (?:steps|training|number of steps)|\b2\s*x (?:the )?steps",
                 text):  # fmt: skip
        return 2.0
    words = "|".join(_TIMES)
    match = re.search(rf"\b(\d+(?:\.\d+)?|{words})\s*(?:x|times) (?:the |as many |more )?steps", text)
    if match is None:
        return None
    factor = _TIMES.get(match.group(1)) or float(match.group(1))
    return factor if factor > 1 else None


_TIMES = {"two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0, "eight": 8.0, "ten": 10.0}


# --------------------------------------------------------------------------------------------- paths
_PATH = re.compile(r"(?<![\w:/.~])(~?/[^\s,;'\"()]+)")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s,;'\"()]*", re.I)
STDLIB_ALIASES = ("python standard library", "python stdlib", "standard library", "stdlib")
_STDLIB_NAMED = re.compile(r"(?<![\w/-])(?:" + "|".join(STDLIB_ALIASES) + r")(?![\w/-])", re.I)
_SYSTEM = ("/etc", "/root", "/proc", "/sys", "/boot", "/dev", "/var/lib", "/var/log")


def stdlib_path() -> str:
    return sysconfig.get_paths()["stdlib"]


def urls_in(text: str) -> list[str]:
    return list(dict.fromkeys(u.rstrip(".:!?") for u in _URL.findall(text)))


def without_urls(text: str) -> str:
    return _URL.sub(" ", text)


def without_paths(text: str) -> str:
    """``text`` with each path (and URL) written as a bare '/': its words are no words of the request."""

    def bare(match: re.Match[str]) -> str:
        path = match.group(0)
        return " / " + path[len(path.rstrip(".:!?")) :]  # a '?' or '.' after the path is the sentence's

    return _PATH.sub(bare, without_urls(text))


def find_paths(request: str) -> tuple[list[str], list[str]]:
    """(absolute paths, URLs) the request names; '~' expands to the home directory; the standard library by
    its name. URLs are returned apart: they are never data sources (nor is the path-like part of one)."""
    urls = urls_in(request)
    rest = without_urls(request)
    paths = [p.rstrip(".:!?") for p in _PATH.findall(rest) if not p.startswith("//")]
    paths = [str(Path(p).expanduser()) if p.startswith("~") else p for p in paths]
    paths = [p.rstrip("/") or "/" for p in paths]
    if _STDLIB_NAMED.search(_PATH.sub(" ", rest)):  # the name as words, not inside a path (/data/py-stdlib)
        paths.append(stdlib_path())
    return list(dict.fromkeys(paths)), urls


_OUTPUT = re.compile(  # where something is to be written: 'save it to /models/out', 'store the samples under /x'
    r"\b(?:sav|stor|export|output|plac|cop(?:y|ie))\w*\b[^,;.]*?\b(?:to|into|in|under|at|as)\s+(~?/[^\s,;'\"()]+)"
    r"|\b(?:writ|dump)\w*\b[^,;.]*?\b(?:to|into)\s+(~?/[^\s,;'\"()]+)",
    re.I,
)


def output_paths(request: str) -> list[str]:
    """The paths ``request`` names as where to write (never data to read), as :func:`find_paths` gives them."""
    outputs = [(a or b).rstrip(".:!?") for a, b in _OUTPUT.findall(without_urls(request))]
    return [(str(Path(p).expanduser()) if p.startswith("~") else p).rstrip("/") or "/" for p in outputs]


def system_dirs(paths: list[str]) -> list[str]:
    """Those of ``paths`` in a system directory (or the home directory of the user running Vibe)."""
    home = str(Path.home())
    stdlib = stdlib_path()
    out = []
    for path in paths:
        if path == stdlib or path.startswith(stdlib + "/"):
            continue  # named as "the Python standard library", wherever it is installed
        if path in ("/", home) or any(path == d or path.startswith(d + "/") for d in (*_SYSTEM, home)):
            out.append(path)
    return out
