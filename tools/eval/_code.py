"""The code suite: complete held-out functions from their signature and docstring; run their doctests.

Tasks come from the validation split: every document that parses as Python (``ast``) gives its top-level
functions whose docstring carries doctest examples (``>>>``). The prompt is the module's imports, then the
function's decorators, signature and docstring; the completion (cut at the first line that is not indented)
is the body. A completion **parses** when prompt + completion parse; it **passes** when, run in the
``sandbox`` (no network, resource limits), every doctest example of the function passes. pass@1 is the share
of tasks passed with one completion each under the stated sampling (greedy by default).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import Field

from tools.eval._documents import split_documents
from tools.eval._generate import Generator, Sampling
from vibe.core.config import VibeConfig

__all__ = ["CodeConfig", "CodeTask", "code_suite", "code_tasks"]

_HARNESS = """\
import doctest, json, sys
source = open("program.py", encoding="utf-8").read()
globs = {"__name__": "heldout"}
try:
    exec(compile(source, "program.py", "exec"), globs)
except BaseException as error:
    print(json.dumps({"attempted": 0, "failed": 0, "error": f"{type(error).__name__}: {error}"[:300]}))
    sys.exit(0)
function = globs.get(sys.argv[1])
finder = doctest.DocTestFinder(recurse=False)
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
for test in finder.find(function, sys.argv[1], globs=globs):
    runner.run(test, out=lambda text: None)
print(json.dumps({"attempted": runner.tries, "failed": runner.failures, "error": None}))
"""


class CodeConfig(VibeConfig):
    max_tasks: int = Field(50, ge=1)
    max_new_tokens: int = Field(128, ge=1)
    wall_seconds: float = Field(10.0, gt=0, description="per task, in the sandbox")


@dataclass(frozen=True)
class CodeTask:
    name: str
    prompt: str  # imports + signature + docstring
    reference: str  # the body the source has (not shown to the model)


def code_tasks(documents: Iterable[str]) -> list[CodeTask]:
    """Functions with doctests in the documents that parse as Python."""
    tasks = []
    for text in documents:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        lines = text.splitlines(keepends=True)
        imports = "".join(
            "".join(lines[n.lineno - 1 : n.end_lineno])
            for n in tree.body
            if isinstance(n, ast.Import | ast.ImportFrom)
        )
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            doc = ast.get_docstring(node)
            if not doc or ">>>" not in doc or len(node.body) < 2:
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            header_end = node.body[0].end_lineno or node.lineno  # the docstring's last line
            prompt = "".join(lines[first - 1 : header_end])
            reference = "".join(lines[header_end : node.end_lineno])
            tasks.append(CodeTask(node.name, imports + ("\n" if imports else "") + prompt, reference))
    return tasks


def body_of(completion: str) -> str:
    """The completion up to the first non-empty line that is not indented (the function's end)."""
    kept = []
    for line in completion.splitlines(keepends=True):
        if line.strip() and not line[0].isspace():
            break
        kept.append(line)
    return "".join(kept)


def _score(task: CodeTask, body: str, config: CodeConfig) -> dict[str, Any]:
    import sandbox

    program = task.prompt + body
    try:
        ast.parse(program)
    except (SyntaxError, ValueError):
        return {"parses": False, "passed": False, "reason": "does not parse"}
    result = sandbox.run_python(
        _HARNESS,
        args=[task.name],
        files={"program.py": program},
        limits=sandbox.Limits(wall_seconds=config.wall_seconds, cpu_seconds=config.wall_seconds),
    )
    try:
        report = json.loads(result.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"parses": True, "passed": False, "reason": result.reason or f"exit {result.exit_code}"}
    passed = report["error"] is None and report["attempted"] > 0 and report["failed"] == 0
    reason = (
        report["error"] or f"{report['attempted'] - report['failed']}/{report['attempted']} examples pass"
    )
    return {"parses": True, "passed": passed, "reason": reason}


def code_suite(
    run: Any, generator: Generator, *, config: CodeConfig | None = None, tasks: list[CodeTask] | None = None
) -> dict[str, Any]:
    import sandbox

    config = config or CodeConfig()
    sandbox.check_available()
    tasks = (tasks if tasks is not None else code_tasks(split_documents(run, "valid")))[: config.max_tasks]
    sampling = Sampling(max_new_tokens=config.max_new_tokens)
    completions = generator.generate([t.prompt for t in tasks], sampling=sampling) if tasks else []
    rows = []
    for task, completion in zip(tasks, completions, strict=True):
        score = _score(task, body_of(completion), config)
        rows.append({**asdict(task), "completion": completion, **score})
    n = len(rows)
    return {
        "sampling": f"{sampling.describe()}, n=1 per task",
        "tasks": n,
        "code_parse_rate": sum(r["parses"] for r in rows) / n if n else 0.0,
        "code_pass_at_1": sum(r["passed"] for r in rows) / n if n else 0.0,
        "results": [{k: r[k] for k in ("name", "parses", "passed", "reason", "completion")} for r in rows],
        **({} if n else {"note": "no held-out function with doctests in the validation split"}),
    }
