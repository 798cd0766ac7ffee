"""The house rules a linter does not check: no private name crosses a package boundary (faces only)."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_package_imports_a_private_name_of_another(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # the script names modules by their path from the repository root
    structure = runpy.run_path(str(ROOT / "scripts" / "structure.py"), run_name="structure")
    found = [
        hit
        for folder in (*structure["ROOTS"], "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for hit in structure["private_imports"](path.relative_to(ROOT))
    ]
    assert found == [], "import these through the package's face (its __init__ and __all__):\n" + "\n".join(
        found
    )
