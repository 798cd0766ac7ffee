"""Find secrets and personal data in text, and decide what happens to a file that has some.

:func:`scan_text` is pure and reusable (synthetic data and policies run it too). A :class:`Finding` carries
the kind, the line and the span of the match, never the matched text. :func:`decide` is the one place where
:class:`~tools.data._config.FindingActions` (redact / drop / fail) is applied.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from tools.data._config import FindingActions
from vibe.core.errors import UserError

__all__ = ["Decision", "Finding", "decide", "redact", "scan_text"]

Category = Literal["secret", "personal_data"]
# Languages in which `password = value` needs no quotes to be a literal.
_CONFIG_LANGUAGES = frozenset(
    {"env", "ini", "yaml", "toml", "json", "xml", "shell", "dockerfile", "hcl", "text"}
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One match: what kind, which line (1-based), and where (character offsets ``start:end``)."""

    kind: str
    category: Category
    line: int
    start: int
    end: int


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())


def _random_looking(value: str) -> bool:
    """A credential-like value: high entropy and mixed (not an identifier such as ``token_generator_1``)."""
    digits = sum(c.isdigit() for c in value)
    mixed = digits > 0 and any(c.islower() for c in value) and any(c.isupper() for c in value)
    return _entropy(value) >= 3.0 and (mixed or digits >= 0.1 * len(value)) and digits < len(value)


_PLACEHOLDERS = frozenset(
    {"null", "none", "true", "false", "required", "optional", "string", "changeme", "xxx"}
)


def _real_password(value: str) -> bool:
    core = value.lower().strip("*x.")  # "xxx", "****"
    return bool(core) and core not in _PLACEHOLDERS and not value.startswith(("$", "%(", "{{", "<"))


def _phone_digits(value: str) -> bool:
    return 8 <= sum(c.isdigit() for c in value) <= 15


class _Text:
    """The text being scanned, and its lowercase copy when a rule needs one (computed once per text)."""

    __slots__ = ("_lower", "everywhere", "text")

    def __init__(self, text: str, *, everywhere: bool = False) -> None:
        self.text = text
        self.everywhere = everywhere  # search every offset, not only where a match can begin
        self._lower: str | None = None

    @property
    def lower(self) -> str | None:
        """``text.lower()`` when it keeps every character at its offset (always for ASCII), else None."""
        if self._lower is None:
            lower = self.text.lower()
            self._lower = lower if len(lower) == len(self.text) else ""
        return self._lower or None


Spans = Callable[[_Text], Iterator[tuple[int, int]]]
Starts = Callable[[_Text], Iterable[int] | None]


def _regex(pattern: str, starts: Starts | None = None) -> Spans:
    """Spans of a regex's matches: its group ``v`` (the value) when it has one, else the whole match.

    ``starts`` (optional) gives, cheaply, every offset at which a match can begin (a superset; None when it
    cannot tell): the pattern is then tried only there, in order, skipping offsets inside the previous
    match, which finds exactly what ``finditer`` finds (a look-behind still sees the text before the offset)
    without trying the pattern at every letter of the text."""
    compiled = re.compile(pattern)
    group = "v" if "v" in compiled.groupindex else 0

    def spans(scanned: _Text) -> Iterator[tuple[int, int]]:
        text = scanned.text
        candidates = starts(scanned) if starts is not None and not scanned.everywhere else None
        if candidates is None:
            for m in compiled.finditer(text):
                yield m.span(group)
            return
        end, match = 0, compiled.match
        for start in candidates:
            if start < end:
                continue
            m = match(text, start)
            if m is not None:
                end = m.end()
                yield m.span(group)

    return spans


def _occurrences(*stems: str) -> Starts:
    """Every offset at which one of ``stems`` (lowercase) begins in the lowercased text, ascending."""

    def starts(scanned: _Text) -> list[int] | None:
        lower = scanned.lower
        if lower is None:
            return None
        found: set[int] = set()
        for stem in stems:
            i = lower.find(stem)
            while i >= 0:
                found.add(i)
                i = lower.find(stem, i + 1)
        return sorted(found)

    return starts


def _hits(*patterns: tuple[str, int]) -> Starts:
    """Offsets of each (pattern, shift): where ``pattern`` matches, moved by ``shift``, ascending."""
    compiled = [(re.compile(pattern), shift) for pattern, shift in patterns]

    def starts(scanned: _Text) -> list[int]:
        found = {m.start() + shift for pattern, shift in compiled for m in pattern.finditer(scanned.text)}
        return sorted(start for start in found if start >= 0)

    return starts


def _cased(*names: str) -> str:
    """A regex alternation of the usual spellings of each name: ``api key`` -> api_key, apiKey, API-KEY, ..."""
    spellings = set()
    for name in names:
        words = name.split()
        for sep in ("_", "-", ""):
            spellings |= {
                sep.join(words),
                sep.join(w.upper() for w in words),
                sep.join(map(str.capitalize, words)),
            }
        spellings.add(words[0] + "".join(map(str.capitalize, words[1:])))
    # literal alternatives, longest first: much faster than (?i) on megabytes of code
    return "(?:" + "|".join(sorted(map(re.escape, spellings), key=len, reverse=True)) + ")"


_LOCAL_PART = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_EXAMPLE_DOMAINS = re.compile(
    r"(?i)(?:^|\.)(?:example\.(?:com|org|net)|[a-z0-9-]+\.(?:example|invalid|test|local))$"
)


def _emails(scanned: _Text) -> Iterator[tuple[int, int]]:
    """``local@domain.tld``: found from the ``@domain`` (a rare literal start), then extended left."""
    text = scanned.text
    for match in _EMAIL_DOMAIN.finditer(text):
        at, start = match.start(), match.start()
        while start > 0 and at - start < 64 and text[start - 1] in _LOCAL_PART:
            start -= 1
        if start < at and _EXAMPLE_DOMAINS.search(match.group()[1:]) is None:
            yield start, match.end()


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    category: Category
    spans: Spans
    needles: tuple[str, ...] = ()  # skip the rule unless one of these occurs in the text
    check: Callable[[str], bool] | None = None  # on the matched value
    languages: frozenset[str] | None = None  # only in these languages; None: all


# Patterns start with a literal or a rare character where they can: a leading look-behind or (?i) makes
# Python's regex engine try every position, ten times slower on code.
# "password", "DB_PASSWORD", "dbPassword", but not "ispassword": a spelling, then a look-behind at its start
_PASSWORD = (
    "(?:"
    + "|".join(
        f"{base}(?<![a-z].{{{len(base)}}})|{base.capitalize()}|{base.upper()}(?<![A-Z].{{{len(base)}}})"
        for base in ("password", "passwd", "passphrase", "pwd")
    )
    + ")"
)
# Where the rules that start with a common letter can begin: the first word of one of their spellings.
_API_KEY_STARTS = _occurrences("api", "secret", "token", "access", "auth", "credential")
_PASSWORD_STARTS = _occurrences("pass", "pwd")
_RULES = (
    _Rule(
        "private_key",
        "secret",
        _regex(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?:[^-]|-(?!----)){0,20000}"
            r"(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----)?"
        ),
        ("PRIVATE KEY",),
    ),
    _Rule(
        "aws_access_key",
        "secret",
        _regex(r"A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|PKA)(?<![A-Z0-9]....)[A-Z0-9]{16}(?![A-Z0-9])"),
    ),
    _Rule(
        "aws_secret_key",
        "secret",
        _regex(
            _cased("aws secret access key", "aws secret key")
            + r"[\"']?\s*[:=]\s*[\"']?(?P<v>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
            _occurrences("aws"),
        ),
        ("aws", "AWS", "Aws"),  # every spelling starts so
    ),
    _Rule(
        "github_token",
        "secret",
        _regex(r"(?:gh[pousr]_(?<![A-Za-z0-9_]....)[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{50,255})"),
        ("gh", "github_pat_"),
    ),
    _Rule("gitlab_token", "secret", _regex(r"glpat-[A-Za-z0-9_-]{20,}"), ("glpat-",)),
    _Rule("slack_token", "secret", _regex(r"xox[abposr]-(?<![A-Za-z0-9].....)[A-Za-z0-9-]{10,}"), ("xox",)),
    _Rule(
        "slack_webhook",
        "secret",
        _regex(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_]{20,}"),
        ("hooks.slack",),
    ),
    _Rule("google_api_key", "secret", _regex(r"AIza(?<![A-Za-z0-9_-]....)[0-9A-Za-z_-]{35}"), ("AIza",)),
    _Rule(
        "openai_key",
        "secret",
        _regex(r"sk-(?<![A-Za-z0-9_-]...)(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{32,}"),
        ("sk-",),
        check=_random_looking,
    ),
    _Rule("stripe_key", "secret", _regex(r"[sr]k_live_(?<![A-Za-z0-9].{8})[0-9A-Za-z]{20,}"), ("_live_",)),
    _Rule(
        "jwt", "secret", _regex(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), ("eyJ",)
    ),
    _Rule(
        "api_key",  # generic `api_key = "..."`, `token: ...`, `client_secret=...` with a random-looking value
        "secret",
        _regex(
            _cased("api key", "apikey", "secret", "token", "access key", "auth key", "credential")
            + r"[A-Za-z0-9_.-]{0,30}[\"']?\s*(?::=|=>|[:=])\s*[\"']?(?P<v>[A-Za-z0-9_\-+/=]{16,})(?![A-Za-z0-9_\-+/=])",
            _API_KEY_STARTS,
        ),
        check=_random_looking,
    ),
    _Rule(
        "password",  # config files: `password=...`, `DB_PASSWORD: ...`, `"password": "..."`
        "secret",
        _regex(_PASSWORD + r"[\"']?\s*[:=]\s*[\"']?(?P<v>[^\s\"',;#]{3,})", _PASSWORD_STARTS),
        check=_real_password,
        languages=_CONFIG_LANGUAGES,
    ),
    _Rule(
        "password",  # code: only a string literal, `password = "hunter2"`
        "secret",
        _regex(_PASSWORD + r"[\"']?\s*[:=]\s*(?P<q>[\"'])(?P<v>[^\s\"']{3,})(?P=q)", _PASSWORD_STARTS),
        check=_real_password,
    ),
    _Rule("email", "personal_data", _emails, ("@",)),
    _Rule(
        "phone",
        "personal_data",
        _regex(
            r"(?:\+(?<![\w+.-]\+)\d{1,3}(?P<s>[ .-])(?:\(\d{1,4}\)|\d{1,4})(?:(?P=s)\d{2,4}){2,4}"
            r"|\((?<![\w+.-]\()\d{3}\) ?\d{3}-\d{4}|\d(?<![\w+.-]\d)\d{2}(?P<t>[-.])\d{3}(?P=t)\d{4})(?![\w-]|\.\d)",
            # "+1 ...", "(555) ...", and "555-" three digits before a separator with digits after it
            # (one pattern per separator: a literal first character is searched for, a class is tried everywhere)
            _hits(
                (r"\+(?=\d)", 0),
                (r"\((?=\d{3}\))", 0),
                (r"\.(?=\d{3}\.\d{4})", -3),
                (r"-(?=\d{3}-\d{4})", -3),
            ),
        ),
        check=_phone_digits,
    ),
)


def scan_text(text: str, *, language: str | None = None, everywhere: bool = False) -> list[Finding]:
    """Every secret and personal-data match in ``text``, ordered by position, non-overlapping.

    ``language`` (as recorded by the ingest, e.g. ``"python"``, ``"env"``) widens the password rule in config
    files, where values need no quotes. Overlapping matches keep the earlier rule (the more specific one).
    ``everywhere``: search each rule's pattern at every offset rather than only where one of its spellings
    begins; the same findings, slower (the reference the fast search is tested against).
    """
    spans: list[tuple[int, int, int, _Rule]] = []  # (start, priority, end, rule)
    scanned = _Text(text, everywhere=everywhere)
    for priority, rule in enumerate(_RULES):
        if rule.languages is not None and language not in rule.languages:
            continue
        if rule.needles and not any(needle in text for needle in rule.needles):
            continue
        for start, end in rule.spans(scanned):
            if rule.check is None or rule.check(text[start:end]):
                spans.append((start, priority, end, rule))
    spans.sort(key=lambda s: (s[0], s[1]))
    findings: list[Finding] = []
    line, counted, last_end = 1, 0, -1
    for start, _, end, rule in spans:
        if start < last_end:
            continue  # overlaps a finding already taken
        line += text.count("\n", counted, start)
        counted = start
        findings.append(Finding(rule.kind, rule.category, line, start, end))
        last_end = end
    return findings


def redact(text: str, findings: list[Finding]) -> str:
    """``text`` with each finding's span replaced by ``<REDACTED:kind>``."""
    parts, pos = [], 0
    for finding in findings:
        parts += [text[pos : finding.start], f"<REDACTED:{finding.kind}>"]
        pos = finding.end
    parts.append(text[pos:])
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one file: ``text`` to keep (redacted as needed), or None and the ``reason`` to drop."""

    text: str | None
    reason: str | None
    findings: list[dict[str, object]]  # [{kind, line, action}] for files.jsonl: never the matched text


def decide(path: str, text: str, findings: list[Finding], actions: FindingActions) -> Decision:
    """Apply ``actions`` to a file's findings: redact them, drop the file, or raise a :class:`UserError`."""
    action_of = {"secret": actions.secrets, "personal_data": actions.personal_data}
    records: list[dict[str, object]] = [
        {"kind": f.kind, "line": f.line, "action": action_of[f.category]} for f in findings
    ]
    failing = next((f for f in findings if action_of[f.category] == "fail"), None)
    if failing is not None:
        flag = "--secrets" if failing.category == "secret" else "--personal-data"
        raise UserError(
            f"{path}: line {failing.line}: found {failing.kind} ({failing.category.replace('_', ' ')}) and the "
            f"action for it is 'fail': remove it from the input, or rerun with {flag} redact or {flag} drop"
        )
    for category in ("secret", "personal_data"):
        if action_of[category] == "drop" and any(f.category == category for f in findings):
            return Decision(text=None, reason=category, findings=records)
    return Decision(text=redact(text, findings) if findings else text, reason=None, findings=records)
