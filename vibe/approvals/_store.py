"""The approvals store: requests waiting for a lead, and the signed decisions on them, in SQLite.

The agent calls :meth:`ApprovalStore.request` when the policy says ``require_approval`` and pauses its
thread; a lead approves or rejects (CLI now, a web page later) through :meth:`ApprovalStore.decide`, which
accepts a decision only if

- the request is still pending and not expired (at decision time and at signing time),
- the signature verifies against the approver's public key in the policy in force,
- the signature covers this request's id and the hash of its content (so an edited request is refused),
- the approver is not the requester, and belongs to a group a fired rule names that may approve the kind.

A request naming several rules is approved once every rule is covered by an approval from one of its
groups; one rejection rejects it. Every write runs in one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from policies import Action, Decision, PolicySet
from vibe.approvals._models import ApprovalRequest, Cost, RecordedDecision, RuleNeed, SignedDecision, Status
from vibe.approvals._verify import Refusal, check_signed
from vibe.core.errors import UserError
from vibe.ledger import Anchor, Ledger, Record, canonical_json, digest

__all__ = ["ApprovalError", "ApprovalStore", "approval_record", "default_store_path"]

CLOCK_SKEW = timedelta(minutes=5)  # a signature may be dated this far in the future of the store's clock
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    status TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    body TEXT NOT NULL,
    request_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_status ON requests (status, created);
CREATE TABLE IF NOT EXISTS anchors (
    ledger TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS used (
    request_id TEXT PRIMARY KEY REFERENCES requests (id),
    used_by TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    request_id TEXT NOT NULL REFERENCES requests (id),
    approver TEXT NOT NULL,
    signed TEXT NOT NULL,
    covers TEXT NOT NULL,
    PRIMARY KEY (request_id, approver)
);
"""


class _Corrupt(Exception):
    """A stored row that does not parse (turned into an ApprovalError naming the store file)."""


class ApprovalError(UserError):
    """A request or decision the store refuses; ``code`` says which check failed."""

    def __init__(self, code: Refusal, message: str) -> None:
        self.code = code
        super().__init__(message)


def default_store_path() -> Path:
    """``$VIBE_CACHE/approvals/approvals.sqlite``."""
    from vibe.core.paths import cache_dir

    return cache_dir("approvals") / "approvals.sqlite"


class ApprovalStore:
    """Approval requests in the SQLite file ``path`` (WAL mode; several processes may share it)."""

    def __init__(self, path: str | Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        except sqlite3.DatabaseError as error:
            raise UserError(f"{self.path}: cannot open the approvals store ({error})") from None

    # -- the API the agent and a web handler call --------------------------------------------------------

    def request(
        self,
        *,
        action: Action,
        decision: Decision,
        thread_id: str,
        summary: str,
        cost: Cost | None = None,
        data_touched: Sequence[str] | None = None,
        ttl: timedelta = timedelta(hours=24),
        now: datetime | None = None,
        ledger: Ledger | None = None,
        arguments: Any = None,
    ) -> ApprovalRequest:
        """Record that ``action`` waits for approval (``decision`` must be require_approval).

        ``arguments`` (the exact step, as data) is hashed into the request with the action, the policy files'
        hashes, the requester and the expiry: a signature covers that hash, so it approves that action only.
        """
        if decision.effect != "require_approval":
            raise ValueError(
                f"only a require_approval decision needs a request; this one is {decision.effect}"
            )
        if not action.requester:
            raise UserError("the action names no requester; an approval request must say who asked")
        if ttl <= timedelta(0):
            raise ValueError(f"ttl must be positive, got {ttl}")
        now = now or datetime.now(UTC)
        draft = ApprovalRequest(
            id=secrets.token_hex(8),
            created=now,
            expires=now + ttl,
            requester=action.requester,
            thread_id=thread_id,
            action=action,
            rules=tuple(
                RuleNeed(rule=f.rule, groups=f.approvers, reason=f.reason) for f in decision.approvals
            ),
            summary=summary,
            cost=cost or Cost(gpu_hours=action.gpu_hours, cpu_hours=action.cpu_hours),
            data_touched=tuple(data_touched if data_touched is not None else action.paths),
            policy_hashes=dict(decision.policy_hashes),
            arguments_hash=digest(arguments) if arguments is not None else "",
        )
        request = draft.model_copy(update={"request_hash": draft.compute_hash()})
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO requests (id, created, expires, status, thread_id, body, request_hash)"
                " VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                (
                    request.id,
                    request.created.isoformat(),
                    request.expires.isoformat(),
                    thread_id,
                    canonical_json(request.content()),
                    request.request_hash,
                ),
            )
        if ledger is not None:
            ledger.append(
                Record(
                    thread_id=thread_id,
                    actor="policy",
                    kind="approval_requested",
                    action=action.kind,
                    inputs_hash=request.request_hash,
                    outputs={"request_id": request.id, "expires": request.expires.isoformat()},
                    reason=decision.reason,
                    policy_hashes=dict(decision.policy_hashes),
                    rule_ids=[r.rule for r in request.rules],
                    outcome="pending",
                    time=now,
                )
            )
        return request

    def get(self, request_id: str, *, now: datetime | None = None) -> ApprovalRequest:
        """The request ``request_id`` (a unique prefix of at least 4 characters works too)."""
        with self._transaction() as conn:
            self._expire(conn, now or datetime.now(UTC))
            return self._load(conn, self._resolve(conn, request_id))

    def pending(self, *, now: datetime | None = None) -> list[ApprovalRequest]:
        """Requests still waiting, oldest first (expired ones are marked expired first)."""
        return self.list(status="pending", now=now)

    def list(self, *, status: Status | None = None, now: datetime | None = None) -> list[ApprovalRequest]:
        with self._transaction() as conn:
            self._expire(conn, now or datetime.now(UTC))
            if status is None:
                ids = conn.execute("SELECT id FROM requests ORDER BY created").fetchall()
            else:
                ids = conn.execute(
                    "SELECT id FROM requests WHERE status = ? ORDER BY created", (status,)
                ).fetchall()
            return [self._load(conn, row[0]) for row in ids]

    def decide(
        self,
        signed: SignedDecision,
        *,
        policies: PolicySet,
        now: datetime | None = None,
        ledger: Ledger | None = None,
    ) -> ApprovalRequest:
        """Accept ``signed`` if every check passes (see the module docstring); returns the updated request."""
        now = now or datetime.now(UTC)
        with self._transaction() as conn:
            expired_now = self._expire(conn, now)
            request = self._load(conn, self._resolve(conn, signed.request_id))
            self._check(request, signed, policies=policies, now=now, expired_now=request.id in expired_now)
            covers = self._covers(request, signed, policies)
            conn.execute(
                "INSERT INTO decisions (request_id, approver, signed, covers) VALUES (?, ?, ?, ?)",
                (request.id, signed.approver, signed.model_dump_json(), json.dumps(list(covers))),
            )
            covered = request.covered() | set(covers)
            if signed.decision == "reject":
                status: Status = "rejected"
            elif covered >= {r.rule for r in request.rules}:
                status = "approved"
            else:
                status = "pending"
            conn.execute("UPDATE requests SET status = ? WHERE id = ?", (status, request.id))
            updated = self._load(conn, request.id)
        if ledger is not None:
            ledger.append(approval_record(updated, signed, policies=policies))
        return updated

    def use(self, request_id: str, *, by: str, now: datetime | None = None) -> None:
        """Spend the approval of ``request_id`` for the thread run ``by`` (a nonce kept in the thread's
        durable state). An approval is used once: the same run may ask again (a node re-run after a crash),
        any other run, even with the same thread id, is refused."""
        with self._transaction() as conn:
            request = self._load(conn, self._resolve(conn, request_id))
            if request.status != "approved":
                raise ApprovalError("not_pending", f"request {request.id} is {request.status}, not approved")
            row = conn.execute("SELECT used_by FROM used WHERE request_id = ?", (request.id,)).fetchone()
            if row is not None and row[0] != by:
                raise ApprovalError(
                    "used", f"the approval of request {request.id} was already used by another run; ask again"
                )
            if row is None:
                conn.execute(
                    "INSERT INTO used (request_id, used_by, time) VALUES (?, ?, ?)",
                    (request.id, by, (now or datetime.now(UTC)).isoformat()),
                )

    def anchor(
        self, *, ledger: str | Path, head: Anchor, thread_id: str, now: datetime | None = None
    ) -> None:
        """Keep ``head`` of the ledger file ``ledger`` (a finished thread's), so that ``vibe audit verify``
        notices a ledger cut short or rewritten end to end even if nobody kept ``vibe audit head``."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO anchors (ledger, seq, hash, thread_id, time) VALUES (?, ?, ?, ?, ?)",
                (
                    str(Path(ledger).resolve()),
                    head.seq,
                    head.hash,
                    thread_id,
                    (now or datetime.now(UTC)).isoformat(),
                ),
            )

    def anchors(self, ledger: str | Path) -> list[Anchor]:
        """Every head kept for the ledger file ``ledger``, oldest first."""
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT seq, hash FROM anchors WHERE ledger = ? ORDER BY rowid",
                (str(Path(ledger).resolve()),),
            ).fetchall()
        return [Anchor(seq=seq, hash=digest) for seq, digest in rows]

    def used_by(self, request_id: str) -> str | None:
        """The run that spent the approval of ``request_id``, or None."""
        with self._transaction() as conn:
            row = conn.execute("SELECT used_by FROM used WHERE request_id = ?", (request_id,)).fetchone()
        return row[0] if row else None

    # -- checks ------------------------------------------------------------------------------------------

    @staticmethod
    def _check(
        request: ApprovalRequest,
        signed: SignedDecision,
        *,
        policies: PolicySet,
        now: datetime,
        expired_now: bool,
    ) -> None:
        rid = request.id
        if request.status == "expired" or expired_now or now >= request.expires:
            raise ApprovalError("expired", f"request {rid} expired at {request.expires:%Y-%m-%d %H:%M} UTC")
        if request.status != "pending":
            raise ApprovalError("not_pending", f"request {rid} is already {request.status}")
        problem = check_signed(request, signed, policies=policies)  # the one check, shared with the agent
        if problem is not None:
            raise ApprovalError(*problem)
        if not (request.created <= signed.time <= now + CLOCK_SKEW) or signed.time >= request.expires:
            raise ApprovalError(
                "expired",
                f"the decision is dated {signed.time:%Y-%m-%d %H:%M:%S}, outside the request's lifetime",
            )
        if not ApprovalStore._covers(request, signed, policies):
            groups = sorted({g for r in request.rules for g in r.groups})
            raise ApprovalError(
                "not_eligible",
                f"{signed.approver} is in no group that may approve {request.action.kind} for these rules "
                f"(groups: {', '.join(groups)})",
            )
        if any(d.signed.approver == signed.approver for d in request.decisions):
            raise ApprovalError("duplicate", f"{signed.approver} has already decided request {rid}")

    @staticmethod
    def _covers(request: ApprovalRequest, signed: SignedDecision, policies: PolicySet) -> tuple[str, ...]:
        """The rules of ``request`` that ``signed.approver`` may decide."""
        kind = request.action.kind
        return tuple(
            r.rule
            for r in request.rules
            if policies.eligible_groups(person=signed.approver, groups=r.groups, kind=kind)
        )

    # -- storage -----------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except _Corrupt as error:  # a row edited by hand: say which, change nothing
                self._conn.execute("ROLLBACK")
                raise ApprovalError("tampered", f"{self.path}: {error}") from None
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @staticmethod
    def _expire(conn: sqlite3.Connection, now: datetime) -> set[str]:
        rows = conn.execute("SELECT id, expires FROM requests WHERE status = 'pending'").fetchall()
        expired = set()
        for rid, expires in rows:
            try:
                when = datetime.fromisoformat(expires)
                if when.tzinfo is None:
                    raise ValueError("no time zone")
            except (TypeError, ValueError):
                raise _Corrupt(
                    f"request {rid}: expires {expires!r} is not an ISO date with a time zone; the store was "
                    "edited outside Vibe: restore it from a backup or delete that request"
                ) from None
            if when <= now:
                expired.add(rid)
        conn.executemany("UPDATE requests SET status = 'expired' WHERE id = ?", [(rid,) for rid in expired])
        return expired

    @staticmethod
    def _resolve(conn: sqlite3.Connection, request_id: str) -> str:
        if len(request_id) < 4:
            raise ApprovalError(
                "not_found", f"request id {request_id!r} is too short; give at least 4 characters"
            )
        escaped = request_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = conn.execute(
            "SELECT id FROM requests WHERE id LIKE ? ESCAPE '\\'", (escaped + "%",)
        ).fetchall()
        exact = [r[0] for r in rows if r[0] == request_id]
        if exact:
            return exact[0]
        if len(rows) != 1:
            what = "no request" if not rows else f"{len(rows)} requests"
            raise ApprovalError(
                "not_found", f"{what} with id {request_id!r}; see `vibe approvals list --all`"
            )
        return rows[0][0]

    @staticmethod
    def _load(conn: sqlite3.Connection, request_id: str) -> ApprovalRequest:
        body, digest, status = conn.execute(
            "SELECT body, request_hash, status FROM requests WHERE id = ?", (request_id,)
        ).fetchone()
        try:
            decisions = tuple(
                RecordedDecision(
                    signed=SignedDecision.model_validate_json(signed), covers=tuple(json.loads(covers))
                )
                for signed, covers in conn.execute(
                    "SELECT signed, covers FROM decisions WHERE request_id = ? ORDER BY rowid", (request_id,)
                )
            )
            return ApprovalRequest.model_validate(
                {**json.loads(body), "request_hash": digest, "status": status, "decisions": decisions}
            )
        except (ValueError, TypeError) as error:  # ValidationError and JSONDecodeError are ValueErrors
            first = error.errors()[0] if hasattr(error, "errors") else {"loc": (), "msg": str(error)}
            field = ".".join(str(p) for p in first["loc"]) or "body"
            raise _Corrupt(
                f"request {request_id}: {field}: {first['msg']}; the store was edited outside Vibe: restore it "
                "from a backup or delete that request"
            ) from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ApprovalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def approval_record(request: ApprovalRequest, signed: SignedDecision, *, policies: PolicySet) -> Record:
    """The ledger record of an accepted decision, carrying the approver's signature."""
    return Record(
        time=signed.time,
        thread_id=request.thread_id,
        actor="approver",
        kind="approval",
        action=request.action.kind,
        inputs_hash=request.request_hash,
        outputs={"request_id": request.id, "decision": signed.decision, "status": request.status},
        reason=signed.reason or f"{signed.decision}d by {signed.approver}",
        policy_hashes=dict(policies.policy_hashes),
        rule_ids=[r.rule for r in request.rules],
        outcome=request.status,
        signature=signed.model_dump(mode="json"),
    )
