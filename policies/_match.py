"""Matching used by the rules: path globs, directory roots, endpoint URLs and kind patterns.

Everything here is compiled once when a policy loads, so evaluating an action is a few regex and string
comparisons. Paths are compared lexically after ``posixpath.normpath`` (``/data/../etc`` is ``/etc``);
symlinks are not resolved, so callers pass resolved paths (the agent does).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

__all__ = ["Endpoint", "compile_glob", "glob_problem", "kind_pattern_matches", "normalize_path", "under_root"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_path(path: str) -> str:
    """``/a/b/../c/`` -> ``/a/c``; keeps a leading ``//`` from meaning anything special."""
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: ``**`` spans directories, ``*`` and ``?`` stay within one name.

    ``/srv/data/hr/**`` matches everything below ``/srv/data/hr``; ``**/*.pem`` matches a ``.pem`` file
    anywhere. Every other character (``[`` included) is literal. Matching ignores case (``**/.env`` labels
    ``code/.ENV`` too): a file system may be case-insensitive, and a label that fires too often only
    tightens. A ``.`` or ``..`` segment or an empty one (``//``) can never match a normalized path, so
    :func:`glob_problem` refuses such a glob when the policy loads.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    prefix = "" if pattern.startswith(("/", "**")) else "(?:.*/)?"
    return re.compile(prefix + "".join(out) + r"\Z", re.DOTALL | re.IGNORECASE)


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` can never match a normalized path (``.``, ``..`` or empty segments), else None."""
    body = pattern[1:] if pattern.startswith("/") else pattern
    for segment in body.split("/"):
        if segment in (".", ".."):
            return f"glob {pattern!r} has a {segment!r} segment; paths are matched normalized, so write it without"
        if segment == "" and body:
            return f"glob {pattern!r} has an empty segment (//); write single slashes"
    return None


def under_root(path: str, root: str) -> bool:
    """Whether normalized ``path`` is ``root`` or inside it (``/data`` does not contain ``/database``)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def kind_pattern_matches(pattern: str, kind: str) -> bool:
    """``train.*`` matches ``train.run``; ``*`` matches everything."""
    return fnmatchcase(kind, pattern)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An allowed LLM endpoint: scheme, host and port exactly, and the path as a prefix on ``/`` boundaries."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Parse ``url``; raises ``ValueError`` naming what is wrong with it."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(f"{url!r} must start with http:// or https://")
        if not parts.hostname:
            raise ValueError(f"{url!r} has no host")
        if parts.username or parts.password:
            raise ValueError(f"{url!r} must not carry a user name or password")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError as error:  # a port that is not a number or out of range
            raise ValueError(f"{url!r} has an invalid port ({error})") from None
        path = normalize_path(parts.path or "/")
        return cls(scheme=scheme, host=parts.hostname.lower(), port=port, path=path)

    def allows(self, other: Endpoint) -> bool:
        return (
            self.scheme == other.scheme
            and self.host == other.host
            and self.port == other.port
            and under_root(other.path, self.path)
        )

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.path}"
