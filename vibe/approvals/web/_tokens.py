"""What an approver pastes into the approvals page: a login token and a signed-decision token.

Both are made on the approver's machine with their private key (``vibe approvals login-token`` and
``vibe approvals sign``); the server only verifies them against the public keys in the policy.

- **Login token** ``vl1.<base64url JSON>``: ``{approver, challenge, signature}``, the signature being
  ed25519 over ``b"vibe approvals login\\n" + challenge + b"\\n" + approver``. The challenge is random,
  issued by the server, short-lived and single-use, so a token cannot be replayed. The prefix line keeps a
  login signature from ever being mistaken for a decision signature (those sign canonical JSON).
- **Decision token** ``vd1.<base64url JSON>``: a :class:`SignedDecision` exactly as the CLI makes and the
  store verifies, so a decision from the page is the same signed record as one from ``vibe approvals
  approve``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from vibe.approvals import SignedDecision, verify_signature
from vibe.core.errors import UserError
from vibe.ledger import canonical_json

__all__ = [
    "LoginToken",
    "decision_token",
    "login_message",
    "login_token",
    "parse_decision_token",
    "parse_login_token",
]

LOGIN_PREFIX = "vl1."
DECISION_PREFIX = "vd1."


def _encode(prefix: str, payload: dict) -> str:
    raw = canonical_json(payload).encode("utf-8")
    return prefix + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(prefix: str, token: str, what: str) -> dict:
    token = "".join(token.split())  # pasted tokens may carry line breaks
    if not token.startswith(prefix):
        raise UserError(f"this is not a {what} (it should start with {prefix})")
    body = token.removeprefix(prefix)
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested JSON
        raise UserError(f"the {what} is damaged; copy it again, whole") from None
    if not isinstance(data, dict):
        raise UserError(f"the {what} is damaged; copy it again, whole")
    return data


def login_message(*, challenge: str, approver: str) -> bytes:
    """The exact bytes a login token signs."""
    return f"vibe approvals login\n{challenge}\n{approver}".encode()


@dataclass(frozen=True)
class LoginToken:
    approver: str
    challenge: str
    signature: str

    def verifies(self, public_key: str) -> bool:
        return verify_signature(
            public_key, login_message(challenge=self.challenge, approver=self.approver), self.signature
        )


def login_token(*, challenge: str, approver: str, key: Ed25519PrivateKey) -> str:
    """A token proving that ``approver`` (holder of ``key``) answers ``challenge``."""
    signature = key.sign(login_message(challenge=challenge, approver=approver))
    return _encode(
        LOGIN_PREFIX,
        {
            "approver": approver,
            "challenge": challenge,
            "signature": base64.b64encode(signature).decode("ascii"),
        },
    )


def parse_login_token(token: str) -> LoginToken:
    data = _decode(LOGIN_PREFIX, token, "login token")
    try:
        return LoginToken(
            approver=str(data["approver"]), challenge=str(data["challenge"]), signature=str(data["signature"])
        )
    except KeyError as missing:
        raise UserError(
            f"the login token lacks {missing}; make it again with `vibe approvals login-token`"
        ) from None


def decision_token(signed: SignedDecision) -> str:
    """``signed`` as one pasteable line."""
    return _encode(DECISION_PREFIX, signed.model_dump(mode="json"))


def parse_decision_token(token: str) -> SignedDecision:
    data = _decode(DECISION_PREFIX, token, "signed decision")
    try:
        return SignedDecision.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise UserError(
            f"the signed decision is malformed ({'.'.join(str(p) for p in first['loc'])}: {first['msg']}); "
            "make it again with `vibe approvals sign`"
        ) from None
