"""A host without bubblewrap gets a clear, actionable error."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import SandboxUnavailable, check_available, run, run_python
from vibe.core.errors import UserError


def test_available_here() -> None:
    check_available()


@pytest.mark.parametrize("call", ["check_available", "run", "run_python"])
def test_missing_bwrap_names_the_package_and_how_to_install_it(
    call: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without bwrap
    with pytest.raises(SandboxUnavailable, match="bubblewrap") as info:
        {
            "check_available": check_available,
            "run": lambda: run(["/bin/true"]),
            "run_python": lambda: run_python(""),
        }[call]()
    assert isinstance(info.value, UserError)
    assert "apt-get install bubblewrap" in str(info.value)
