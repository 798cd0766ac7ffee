"""The approvals page: a FastAPI app over the approvals store, for approvers who sign in with their key.

Routes: ``GET /login`` (a fresh challenge), ``POST /login`` (a login token signed over it), ``GET /``
(pending requests, with approve / reject forms where the signed-in approver may decide), ``POST
/requests/{id}/decide`` (a signed decision token), ``POST /logout`` and ``GET /healthz``.

Sessions live in this process only (a restart signs everyone out); the cookie is HttpOnly and
SameSite=Strict, and every form carries the session's CSRF token as well. The server holds no private key
and cannot sign anything: each decision is a token the approver signed on their own machine, checked by
:meth:`ApprovalStore.decide` exactly as for the CLI, which also writes the ledger record.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from policies import PolicySet
from vibe.approvals import ApprovalError, ApprovalRequest, ApprovalStore, SignedDecision
from vibe.approvals.web._pages import render
from vibe.approvals.web._tokens import parse_decision_token, parse_login_token
from vibe.core.errors import UserError
from vibe.ledger import Ledger

__all__ = ["COOKIE", "create_app"]

COOKIE = "vibe_approvals_session"
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class _Session:
    approver: str
    csrf: str
    expires: datetime
    flash: dict[str, str] | None = None


@dataclass
class _State:
    """Sessions and outstanding login challenges, in memory, behind one lock."""

    session_ttl: timedelta
    challenge_ttl: timedelta
    sessions: dict[str, _Session] = field(default_factory=dict)
    challenges: dict[str, datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_challenge(self) -> str:
        now = datetime.now(UTC)
        challenge = secrets.token_hex(12)  # hex: never starts with "-", so it pastes as a CLI argument
        with self.lock:
            self.challenges = {c: t for c, t in self.challenges.items() if t > now}
            self.challenges[challenge] = now + self.challenge_ttl
        return challenge

    def take_challenge(self, challenge: str) -> bool:
        """Whether ``challenge`` was issued here and is unexpired; it is used up either way."""
        with self.lock:
            expires = self.challenges.pop(challenge, None)
        return expires is not None and expires > datetime.now(UTC)

    def open(self, approver: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.sessions[token] = _Session(
                approver=approver,
                csrf=secrets.token_urlsafe(24),
                expires=datetime.now(UTC) + self.session_ttl,
            )
        return token

    def get(self, token: str | None) -> _Session | None:
        if not token:
            return None
        with self.lock:
            session = self.sessions.get(token)
            if session is not None and session.expires <= datetime.now(UTC):
                del self.sessions[token]
                return None
            return session

    def close(self, token: str) -> None:
        with self.lock:
            self.sessions.pop(token, None)


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers=_HEADERS)


def _blocked(request: ApprovalRequest, approver: str, policies: PolicySet) -> str:
    """Why ``approver`` may not decide ``request`` ('' if they may)."""
    if approver == request.requester:
        return "You asked for this action, so you may not decide it; another approver must."
    if any(d.signed.approver == approver for d in request.decisions):
        return "You have already decided this request."
    kind = request.action.kind
    if not any(policies.eligible_groups(person=approver, groups=r.groups, kind=kind) for r in request.rules):
        groups = sorted({g for r in request.rules for g in r.groups})
        return f"You are in no group that may approve {kind} for these rules (groups: {', '.join(groups)})."
    return ""


def create_app(
    *,
    policies: PolicySet,
    store: ApprovalStore,
    ledger: Ledger,
    resume_command: str = "vibe approvals resume {request_id} --workdir DIR",
    session_hours: float = 8.0,
    challenge_minutes: float = 5.0,
) -> FastAPI:
    """The approvals page over ``store``; decisions are checked against ``policies`` and recorded in ``ledger``.

    ``resume_command`` (with ``{request_id}`` and ``{thread_id}``) is what the page tells an approver runs
    the agent's thread on once a request is decided.
    """
    if session_hours <= 0 or challenge_minutes <= 0:
        raise ValueError("session_hours and challenge_minutes must be positive")
    state = _State(
        session_ttl=timedelta(hours=session_hours), challenge_ttl=timedelta(minutes=challenge_minutes)
    )
    app = FastAPI(title="Vibe approvals", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    _sign_in_routes(app, state, policies=policies, challenge_minutes=challenge_minutes)
    _decision_routes(app, state, policies=policies, store=store, ledger=ledger, resume_command=resume_command)
    return app


def _session_of(state: _State, request: Request) -> tuple[str | None, _Session | None]:
    """The request's session cookie and its open session (None: signed out or expired)."""
    token = request.cookies.get(COOKIE)
    return token, state.get(token)


def _sign_in_routes(app: FastAPI, state: _State, *, policies: PolicySet, challenge_minutes: float) -> None:
    """``/login`` (a challenge to sign, and the signed token checked against the policy's keys), ``/logout``."""

    def login_page(error: str | None = None, status: int = 200) -> HTMLResponse:
        flash = {"kind": "err", "text": error} if error else None
        html = render(
            "login",
            challenge=state.new_challenge(),
            minutes=f"{challenge_minutes:g}",
            flash=flash,
            approver=None,
        )
        return _page(html, status)

    @app.get("/login")
    def login_form() -> Response:
        return login_page()

    @app.post("/login")
    def login(challenge: Annotated[str, Form()], token: Annotated[str, Form()]) -> Response:
        if not state.take_challenge(challenge):
            return login_page("That challenge expired or was already used; sign this new one.", 401)
        try:
            parsed = parse_login_token(token)
        except UserError as error:
            return login_page(str(error), 400)
        if parsed.challenge != challenge:
            return login_page("The token signs another challenge; sign the one shown on this page.", 401)
        public_key = policies.public_key(parsed.approver)
        if public_key is None:
            return login_page(f"{parsed.approver} is not an approver in the policy in force.", 403)
        if not parsed.verifies(public_key):
            return login_page(
                f"The signature does not verify against the key the policy lists for {parsed.approver}.", 401
            )
        response = _redirect("/")
        response.set_cookie(
            COOKIE,
            state.open(parsed.approver),
            max_age=int(state.session_ttl.total_seconds()),
            httponly=True,
            samesite="strict",
            path="/",
        )
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        token, session = _session_of(state, request)
        if token and session and secrets.compare_digest(csrf, session.csrf):
            state.close(token)
        response = _redirect("/login")
        response.delete_cookie(COOKIE, path="/")
        return response


def _decision_routes(
    app: FastAPI,
    state: _State,
    *,
    policies: PolicySet,
    store: ApprovalStore,
    ledger: Ledger,
    resume_command: str,
) -> None:
    """``/`` (the pending requests) and ``/requests/{id}/decide`` (a signed decision, checked and recorded)."""

    def index_page(session: _Session, flash: dict[str, str] | None, status: int = 200) -> HTMLResponse:
        pending = store.pending()
        html = render(
            "index",
            requests=pending,
            blocked={r.id: _blocked(r, session.approver, policies) for r in pending},
            approver=session.approver,
            csrf=session.csrf,
            flash=flash,
        )
        return _page(html, status)

    @app.get("/")
    def index(request: Request) -> Response:
        _, session = _session_of(state, request)
        if session is None:
            return _redirect("/login")
        flash, session.flash = session.flash, None
        return index_page(session, flash)

    @app.post("/requests/{request_id}/decide")
    def decide(
        request: Request,
        request_id: str,
        verdict: Annotated[str, Form()],
        token: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        _, session = _session_of(state, request)
        if session is None:
            return _redirect("/login")
        if not secrets.compare_digest(csrf, session.csrf):
            return _page("<p>Stale form: reload the page and try again.</p>", 403)

        def refuse(text: str, status: int) -> Response:  # the page again, with why, and nothing changed
            return index_page(session, {"kind": "err", "text": text}, status)

        try:
            signed = parse_decision_token(token)
        except UserError as error:
            return refuse(str(error), 400)
        mismatch = _mismatch(signed, approver=session.approver, request_id=request_id, verdict=verdict)
        if mismatch is not None:
            return refuse(*mismatch)
        try:
            updated = store.decide(signed, policies=policies, ledger=ledger)
        except ApprovalError as error:
            return refuse(f"Refused: {error}", 403)
        done = "approved" if signed.decision == "approve" else "rejected"
        session.flash = {
            "kind": "ok",
            "text": f"You {done} request {updated.id} ({updated.action.kind}); it is now {updated.status}. "
            f"The agent's thread {updated.thread_id} goes on once resumed:",
            "command": resume_command.format(request_id=updated.id, thread_id=updated.thread_id),
        }
        return _redirect("/")


def _mismatch(
    signed: SignedDecision, *, approver: str, request_id: str, verdict: str
) -> tuple[str, int] | None:
    """Why the signed decision is not the one this form submits (the text and the HTTP status), or None."""
    if signed.approver != approver:
        return f"That decision is signed by {signed.approver}, but you are signed in as {approver}.", 403
    if signed.request_id != request_id:
        return f"That decision is for request {signed.request_id}, not {request_id}.", 400
    if signed.decision != verdict:
        return f"That token is a signed {signed.decision}, but you pressed {verdict.capitalize()}.", 400
    return None
