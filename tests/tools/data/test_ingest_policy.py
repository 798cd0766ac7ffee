"""Ingest under a policy judges every file by its real path (issue #10, critical 1 and high 6).

A directory the gate allows may hold symlinks to customer data or to system files, a ``.ENV`` the secret
glob must label, and archives whose member names point outside: none of it may reach the dataset.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from policies import PolicyGate
from tools import ToolContext, registered
from vibe.core.errors import UserError

TEXT = "".join(f"def handler_{i}(request):\n    return respond(request, code={i})\n\n" for i in range(60))


def _policy(tmp_path: Path, root: Path, *, secrets: str = "redact", personal_data: str = "redact") -> Path:
    path = tmp_path / "bank.yaml"
    path.write_text(
        f"""
version: 1
name: bank
default: deny
data:
  roots: [{root}]
  labels: [public, customer, secret, confidential]
  default_label: confidential
  classification:
    - {{paths: "{root}/public/**", label: public}}
    - {{paths: "{root}/crm/**", label: customer}}
    - {{paths: "**/.env", label: secret}}
  forbidden_in_training: [customer, secret]
  secrets: {secrets}
  personal_data: {personal_data}
rules:
  - {{id: ok, kinds: ["data.*"], effect: allow, reason: data work inside the roots}}
""",
        encoding="utf-8",
    )
    return path


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "approved"
    public, crm, outside = root / "public", root / "crm", tmp_path / "elsewhere"
    for d in (public, crm, outside):
        d.mkdir(parents=True)
    (public / "handlers.py").write_text(TEXT, encoding="utf-8")
    (crm / "c1.txt").write_text("CUSTOMER-RECORD alice 4711\n" * 50, encoding="utf-8")
    (outside / "shadow").write_text("root:SYSTEM-SECRET:19000:0:99999:7:::\n" * 50, encoding="utf-8")
    (public / "leak.txt").symlink_to("../crm/c1.txt")
    (public / "shadow.txt").symlink_to(outside / "shadow")
    (public / "code").mkdir()
    (public / "code" / ".ENV").write_text("API_TOKEN=not-for-training\n" * 20, encoding="utf-8")
    member = b"ESCAPED-MEMBER " * 40
    with tarfile.open(public / "bundle.tar", "w") as tar:
        for name in ("../crm/evil.txt", "/etc/evil.txt"):
            info = tarfile.TarInfo(name)
            info.size = len(member)
            tar.addfile(info, io.BytesIO(member))
    return root, public


def _ingest(tmp_path: Path, policy: Path, public: Path) -> tuple[dict, dict[str, dict]]:
    gate = PolicyGate.from_files([policy], requester="ann")
    out = tmp_path / "dataset"
    context = ToolContext(workdir=tmp_path / "work", show_progress=False, gate=gate)
    result = registered()["ingest"]({"paths": [str(public)], "out": str(out), "vocab_size": 300}, context)
    lines = (out / "files.jsonl").read_text(encoding="utf-8").splitlines()
    return result.model_dump(), {r["path"]: r for r in map(json.loads, lines)}


def _dataset_text(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (tmp_path / "dataset").rglob("*") if p.is_file())


def test_symlinks_and_labels_are_judged_by_the_real_path(tmp_path: Path) -> None:
    root, public = _tree(tmp_path)
    result, records = _ingest(tmp_path, _policy(tmp_path, root), public)
    assert result["files_kept"] == 1  # handlers.py only
    assert records["public/leak.txt"]["reason"] == "outside_input"
    assert "crm/c1.txt, outside the input" in records["public/leak.txt"]["detail"]
    assert records["public/shadow.txt"]["reason"] == "outside_input"
    assert records["public/code/.ENV"]["reason"] == "refused"
    assert "bank:data.forbidden_in_training" in records["public/code/.ENV"]["detail"]
    assert records["public/bundle.tar!../crm/evil.txt"]["reason"] == "unsafe_member"
    assert records["public/bundle.tar!/etc/evil.txt"]["reason"] == "unsafe_member"
    text = _dataset_text(tmp_path)
    for marker in (b"CUSTOMER-RECORD", b"SYSTEM-SECRET", b"not-for-training", b"ESCAPED-MEMBER"):
        assert marker not in text


def test_secrets_block_stops_the_ingest_naming_the_finding(tmp_path: Path) -> None:
    root, public = _tree(tmp_path)
    (public / "deploy.py").write_text(TEXT + 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"public/deploy\.py: line \d+: found .*\(secret\)"):
        _ingest(tmp_path, _policy(tmp_path, root, secrets="block"), public)


def test_personal_data_block_stops_the_ingest_naming_the_finding(tmp_path: Path) -> None:
    root, public = _tree(tmp_path)
    (public / "contacts.py").write_text(TEXT + "# support: call +44 20 7946 0958\n", encoding="utf-8")
    policy = _policy(tmp_path, root, personal_data="block")
    with pytest.raises(UserError, match=r"public/contacts\.py: line 181: found phone \(personal data\)"):
        _ingest(tmp_path, policy, public)
    assert not (tmp_path / "dataset" / "files.jsonl").exists()  # stopped: no dataset was written
    _ingest(tmp_path, _policy(tmp_path, root), public)  # the same tree under redact goes through
    assert b"7946 0958" not in _dataset_text(tmp_path)
