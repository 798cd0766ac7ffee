"""Verification of generated code: it runs in the sandbox against the source it is about.

``tests``      the source chunk's whole file is written to ``/scratch/subject.py`` and the generated test file
               next to it; pytest runs it there. Kept only if pytest collects at least one test and every one
               passes (and the tests call the symbol they are about).
``docstring``  the generated function must be the same code as the source (the syntax trees are compared
               with docstrings removed) and carry a docstring; the source file with the function replaced
               must import in the sandbox and the docstring's doctest examples must pass.

Generated code only ever runs in the sandbox: no network, a private ``/scratch``, CPU, memory, process and
wall-clock limits. Its output is data to judge, never instructions to follow.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from tools.synth._chunks import Chunk
from tools.synth._templates import MODULE

__all__ = ["Verdict", "extract_python", "verify_docstring", "verify_tests"]

_BLOCK = re.compile(r"```(?:python|py|python3)?[ \t]*\n(.*?)```", re.S)
_TEST_FILE = f"test_{MODULE}_generated.py"
_RUN_PYTEST = (
    "import sys\nimport pytest\n"
    f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '--no-header', '-rN', {_TEST_FILE!r}]))\n"
)
_PYTEST_EXIT = {
    1: "tests failed",
    2: "test run interrupted (import or collection error)",
    3: "pytest internal error",
    4: "pytest usage error",
    5: "no tests collected",
}


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """``passed`` or a reason it was dropped (``failed``, ``no_code``, ``syntax_error``, ...), with details."""

    verdict: str
    detail: str = ""
    exit_code: int | None = None
    wall_s: float | None = None
    novel_text: str | None = None  # the part of the output that is new (what dedup compares)

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "detail": self.detail,
            "exit_code": self.exit_code,
            "wall_s": None if self.wall_s is None else round(self.wall_s, 3),
        }


def extract_python(text: str) -> str | None:
    """The first fenced Python block of ``text``, or the whole text if it parses as Python; else None."""
    match = _BLOCK.search(text)
    code = match.group(1) if match else text
    code = code.strip("\n") + "\n"
    if not code.strip():
        return None
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return None if match is None else code  # a fenced block that does not parse: a syntax error
    return code


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _sandbox_verdict(result: Any, ok_detail: str) -> Verdict:
    if result.stopped is not None:
        return Verdict(
            verdict=f"stopped_{result.stopped}",
            detail=result.reason or result.stopped,
            exit_code=result.exit_code,
            wall_s=result.wall_s,
        )
    if result.ok:
        return Verdict(verdict="passed", detail=ok_detail, exit_code=0, wall_s=result.wall_s)
    return Verdict(
        verdict="failed",
        detail=_tail(result.stdout + "\n" + result.stderr),
        exit_code=result.exit_code,
        wall_s=result.wall_s,
    )


def verify_tests(*, chunk: Chunk, module_source: str, code: str, limits: Any) -> Verdict:
    """Run the generated tests ``code`` against the chunk's file in the sandbox."""
    import sandbox

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as error:
        return Verdict(verdict="syntax_error", detail=str(error))
    tests = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    if not tests:
        return Verdict(verdict="no_tests", detail="the answer defines no test_* function")
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
    }
    if chunk.symbol not in used:
        return Verdict(verdict="does_not_use_subject", detail=f"the tests never use {chunk.symbol}")
    result = sandbox.run_python(
        _RUN_PYTEST, limits=limits, files={f"{MODULE}.py": module_source, _TEST_FILE: code}
    )
    if result.stopped is None and result.exit_code in _PYTEST_EXIT:
        verdict = _sandbox_verdict(result, "")
        return Verdict(
            verdict="failed",
            detail=f"{_PYTEST_EXIT[result.exit_code]}\n{verdict.detail}",
            exit_code=result.exit_code,
            wall_s=result.wall_s,
        )
    return _sandbox_verdict(result, f"{len(tests)} test functions passed")


def _strip_docstring(node: ast.AST) -> str:
    """The node's syntax tree without its own docstring, as text to compare."""
    body = getattr(node, "body", [])
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(node)


def _doctest_program(symbol: str) -> str:
    return (
        "import doctest, sys\n"
        f"import {MODULE}\n"
        f"obj = getattr({MODULE}, {symbol!r})\n"
        "runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)\n"
        "examples = 0\n"
        f"for test in doctest.DocTestFinder(recurse=False).find(obj, {symbol!r}, module={MODULE}, "
        f"globs=vars({MODULE})):\n"
        "    examples += len(test.examples)\n"
        "    runner.run(test)\n"
        "failed = runner.summarize(verbose=False).failed\n"
        "print(f'{examples} doctest examples, {failed} failed')\n"
        "sys.exit(1 if failed else 0)\n"
    )


def verify_docstring(*, chunk: Chunk, module_source: str, code: str, limits: Any) -> Verdict:
    """The generated ``code`` is the chunk's function or class, unchanged but for a docstring that holds."""
    import sandbox

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as error:
        return Verdict(verdict="syntax_error", detail=str(error))
    kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    found = [n for n in tree.body if isinstance(n, kinds) and n.name == chunk.symbol]
    if not found:
        return Verdict(verdict="no_function", detail=f"the answer does not define {chunk.symbol}")
    node = found[0]
    docstring = ast.get_docstring(node)
    if not docstring or not docstring.strip():
        return Verdict(verdict="no_docstring", detail=f"{chunk.symbol} has no docstring")
    original = next(n for n in ast.parse(chunk.text).body if isinstance(n, kinds))
    if _strip_docstring(node) != _strip_docstring(original):
        return Verdict(verdict="code_changed", detail=f"{chunk.symbol}'s code differs from the source")
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    new_function = "".join(code.splitlines(keepends=True)[first - 1 : node.end_lineno])
    lines = module_source.splitlines(keepends=True)
    patched = "".join([*lines[: chunk.first_line - 1], new_function, *lines[chunk.last_line :]])
    result = sandbox.run_python(
        _doctest_program(chunk.symbol or ""), limits=limits, files={f"{MODULE}.py": patched}
    )
    verdict = _sandbox_verdict(result, _tail(result.stdout, 1))
    return Verdict(
        verdict=verdict.verdict,
        detail=verdict.detail,
        exit_code=verdict.exit_code,
        wall_s=verdict.wall_s,
        novel_text=docstring,
    )
