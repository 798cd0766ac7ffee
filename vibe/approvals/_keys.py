"""Approver keys: ed25519, private key in a 0600 file, public key as ``ed25519:<base64>`` text for the policy."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vibe.core.errors import UserError

__all__ = ["default_key_dir", "generate_key", "load_private_key", "public_key_text", "verify_signature"]

PREFIX = "ed25519:"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


def default_key_dir() -> Path:
    """``$VIBE_CACHE/keys``: where ``vibe approvals keygen`` writes and ``approve --as NAME`` reads."""
    from vibe.core.paths import cache_dir

    directory = cache_dir("keys")
    directory.chmod(0o700)
    return directory


def _key_path(name: str, directory: Path | None) -> Path:
    if not _NAME.match(name) or len(name) > 128:
        raise UserError(f"approver name {name!r} must be letters, digits and . _ @ - (as in the policy)")
    return (directory or default_key_dir()) / f"{name}.key"


def generate_key(name: str, *, directory: Path | None = None, force: bool = False) -> tuple[Path, str]:
    """Write a new private key for ``name`` (mode 0600); returns its path and the public key text."""
    path = _key_path(name, directory)
    if path.exists() and not force:
        raise UserError(
            f"{path} already exists; pass --force to replace it (the old public key stops working)"
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".key.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.replace(tmp, path)
    return path, public_key_text(key)


def load_private_key(
    name: str, *, path: Path | None = None, directory: Path | None = None
) -> Ed25519PrivateKey:
    """The private key of ``name`` (from ``path`` if given, else the key directory)."""
    path = path or _key_path(name, directory)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(
            f"{path}: cannot read the private key of {name} ({error.strerror}); create it with "
            f"`vibe approvals keygen {name}` or pass --key"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as error:
        raise UserError(f"{path}: not a PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"{path}: not an ed25519 key; create one with `vibe approvals keygen {name}`")
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    """``ed25519:<base64 of the 32 raw bytes>``: what goes into the policy's approvers section."""
    raw = key.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return PREFIX + base64.b64encode(raw).decode("ascii")


def verify_signature(public_key: str, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``public_key``'s signature of ``message``."""
    try:
        raw = base64.b64decode(public_key.removeprefix(PREFIX), validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
