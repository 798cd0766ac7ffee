"""The approvals web page: pending requests with approve / reject buttons, for approvers signed in by key.

How an approver is authenticated, and why the server holds no private key:

1. **Sign in.** ``GET /login`` shows a random one-time challenge. The approver signs it on their own
   machine, ``vibe approvals login-token CHALLENGE --as NAME``, and pastes the token. The server verifies
   the ed25519 signature against the public key the policy lists for NAME; only approvers named in the
   policy in force can sign in. The session is a random HttpOnly, SameSite=Strict cookie (8 hours).
2. **Decide.** For each pending request the page shows what a lead needs (plan, cost, data touched, the
   rules that fired) and, where the signed-in approver may decide it, the exact command to sign the decision
   — ``vibe approvals sign ID --hash HASH --as NAME [--reject --reason TEXT]`` — with a box to paste it into
   and the Approve / Reject button. The server checks that the token is signed by the signed-in approver,
   for this request, with the button's verdict, then hands it to :meth:`ApprovalStore.decide`: the same
   checks (signature, group, self-approval, expiry) and the same signed ledger record as ``vibe approvals
   approve``.
3. **Continue.** The page then names the command that continues the agent's thread
   (``vibe approvals resume ID``); the web server never runs the agent.

Serve it with ``vibe approvals serve`` (uvicorn, bound to 127.0.0.1 only: reach it from elsewhere through
an SSH tunnel or a reverse proxy you run).
"""

from vibe.approvals.web._app import COOKIE, create_app
from vibe.approvals.web._serve import serve
from vibe.approvals.web._tokens import (
    LoginToken,
    decision_token,
    login_message,
    login_token,
    parse_decision_token,
    parse_login_token,
)

__all__ = [
    "COOKIE",
    "LoginToken",
    "create_app",
    "decision_token",
    "login_message",
    "login_token",
    "parse_decision_token",
    "parse_login_token",
    "serve",
]
