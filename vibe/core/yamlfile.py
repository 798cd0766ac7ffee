"""The one YAML reader: safe, UTF-8 only, and bounded (aliases, nesting depth and expanded size).

Policies and run configs are written by people and sometimes by attackers. PyYAML's ``safe_load`` refuses
arbitrary objects but still follows aliases: ``x: &a [*a]`` builds a list that contains itself (a
``RecursionError`` later), and nine levels of nine aliases ("billion laughs") expand to hundreds of millions
of nodes once anything walks the result. :func:`parse_yaml` composes the node graph first and measures it
before anything is constructed: a cycle, more than ``MAX_ALIASES`` aliases, a document nested deeper than
``MAX_DEPTH`` or one that would expand to more than ``MAX_NODES`` nodes is refused with a
:class:`~vibe.core.config.ConfigError` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_NODES", "YamlDocument", "parse_yaml", "read_yaml"]

MAX_ALIASES = 1_000  # alias uses (``*name``) in one document
MAX_DEPTH = 64  # mappings/sequences nested in each other
MAX_NODES = 1_000_000  # nodes once every alias is expanded


@dataclass(frozen=True)
class YamlDocument:
    """A parsed document: its text, the composed node tree (for line numbers) and the plain data."""

    text: str
    root: yaml.Node | None
    data: Any


def _problem(source: str, field: str, allowed: str, line: int | None = None) -> Exception:
    from vibe.core.errors import NOT_GIVEN, ConfigError, ConfigProblem

    return ConfigError(
        source=source, problems=[ConfigProblem(field=field, given=NOT_GIVEN, allowed=allowed, line=line)]
    )


def read_yaml(path: str | Path) -> YamlDocument:
    """Read and parse the YAML file ``path``; every failure is a ``ConfigError`` naming it."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise _problem(source, "<file>", f"cannot be read ({reason}); pass an existing UTF-8 file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise _problem(
            source, "<file>", f"is not UTF-8 text (byte {error.start}); save it as UTF-8", line
        ) from None
    return parse_yaml(text, source=source)


def parse_yaml(text: str, *, source: str = "<text>") -> YamlDocument:
    """Parse ``text`` (named ``source`` in errors) safely, refusing cyclic or oversized alias graphs."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise _problem(
            source, "<depth>", f"is nested too deeply; flatten it (at most {MAX_DEPTH} levels)"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise _problem(
            source,
            "<syntax>",
            f"is not valid YAML: {getattr(error, 'problem', None) or error}",
            mark.line + 1 if mark else None,
        ) from None
    if root is not None:
        _measure(root, source)
    try:
        data = yaml.SafeLoader(text).get_single_data() if root is not None else None
    except yaml.YAMLError as error:  # e.g. a tag the safe loader does not construct
        mark = getattr(error, "problem_mark", None)
        raise _problem(
            source,
            "<syntax>",
            f"is not valid YAML: {getattr(error, 'problem', None) or error}",
            mark.line + 1 if mark else None,
        ) from None
    return YamlDocument(text=text, root=root, data=data)


def _measure(root: yaml.Node, source: str) -> None:
    """Refuse a cycle, too many aliases, too deep a tree or too large an expansion (iteratively: no recursion)."""
    sizes: dict[int, int] = {}  # id(node) -> expanded size, once known
    heights: dict[int, int] = {}  # id(node) -> levels below and including it, once known
    uses: dict[int, int] = {}  # id(node) -> times it is reached (a second reach is an alias use)
    on_path: set[int] = set()
    aliases = 0
    # (node, depth, children left to visit) — an explicit stack, so a deep document cannot overflow Python's
    stack: list[tuple[yaml.Node, int, list[yaml.Node]]] = []

    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        return []

    def enter(node: yaml.Node, depth: int) -> None:
        nonlocal aliases
        key = id(node)
        if key in on_path:
            raise _problem(
                source,
                "<aliases>",
                "an alias refers to a node that contains it (a recursive alias); write the value out",
                node.start_mark.line + 1,
            )
        uses[key] = uses.get(key, 0) + 1
        if uses[key] > 1:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _problem(
                    source, "<aliases>", f"uses more than {MAX_ALIASES} aliases; write the values out"
                )
        if depth + heights.get(key, 1) - 1 > MAX_DEPTH:
            raise _problem(
                source,
                "<depth>",
                f"is nested more than {MAX_DEPTH} levels deep; flatten it",
                node.start_mark.line + 1,
            )
        if key in sizes:
            return
        on_path.add(key)
        stack.append((node, depth, children(node)))

    enter(root, 1)
    while stack:
        node, depth, todo = stack[-1]
        if todo:
            enter(todo.pop(), depth + 1)
            continue
        stack.pop()
        on_path.discard(id(node))
        size = 1 + sum(sizes[id(c)] for c in children(node))
        if size > MAX_NODES:
            raise _problem(
                source,
                "<aliases>",
                f"expands to more than {MAX_NODES:,} values through its aliases (a 'billion laughs' "
                "document); write the values out",
            )
        sizes[id(node)] = size
        heights[id(node)] = 1 + max((heights[id(c)] for c in children(node)), default=0)
