"""Approver keys: written 0600, their public half goes into the policy, loaded back for signing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vibe.approvals import generate_key, load_private_key, public_key_text, verify_signature
from vibe.core.errors import UserError


def test_generated_key_is_private_and_round_trips(tmp_path: Path) -> None:
    path, public = generate_key("alice", directory=tmp_path)
    assert path == tmp_path / "alice.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_private_key("alice", directory=tmp_path)
    assert public_key_text(key) == public
    assert public.startswith("ed25519:") and len(public) == len("ed25519:") + 44


def test_signature_verifies_only_with_the_matching_key(tmp_path: Path) -> None:
    import base64

    _, alice = generate_key("alice", directory=tmp_path)
    _, bob = generate_key("bob", directory=tmp_path)
    signature = base64.b64encode(load_private_key("alice", directory=tmp_path).sign(b"msg")).decode()
    assert verify_signature(alice, b"msg", signature)
    assert not verify_signature(bob, b"msg", signature)
    assert not verify_signature(alice, b"msh", signature)
    assert not verify_signature(alice, b"msg", "not base64!")


def test_existing_key_is_not_overwritten(tmp_path: Path) -> None:
    _, first = generate_key("alice", directory=tmp_path)
    with pytest.raises(UserError, match="already exists; pass --force"):
        generate_key("alice", directory=tmp_path)
    _, second = generate_key("alice", directory=tmp_path, force=True)
    assert second != first


def test_bad_names_and_missing_keys_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"approver name '\.\./x' must be"):
        generate_key("../x", directory=tmp_path)
    with pytest.raises(UserError, match=r"create it with `vibe approvals keygen carol`"):
        load_private_key("carol", directory=tmp_path)
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(UserError, match="not a PEM private key"):
        load_private_key("junk", directory=tmp_path)
