"""The approvals page, for real: `vibe approvals serve` (uvicorn on a free loopback port) driven by headless
Debian Chromium through Playwright, with real keys, policy, SQLite store and ledger. Tokens are made with the
real `vibe approvals login-token` / `sign` commands, as an approver would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from policies import Action, load_policies
from vibe.approvals import ApprovalRequest, ApprovalStore, generate_key, sign_decision
from vibe.approvals.web import (
    decision_token,
    login_token,
    parse_decision_token,
    parse_login_token,
)
from vibe.cli import approvals_app as approvals_cli
from vibe.core.errors import UserError
from vibe.ledger import SqliteLedger

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POLICY = """\
version: 1
name: org
default: allow
rules:
  - id: new-data-signoff
    kinds: [data.ingest]
    effect: require_approval
    approvers: [leads]
    reason: a lead signs off every ingest of new data
approvers:
  leads:
    members: {{alice: "{alice}", bob: "{bob}"}}
    may_approve: ["data.*", train.run]
  auditors:
    members: {{carol: "{carol}"}}
    may_approve: [model.release]
"""


# ------------------------------------------------------------------------------------------------ tokens
def test_login_token_verifies_only_with_the_signers_key() -> None:
    alice, mallory = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    from vibe.approvals import public_key_text

    token = parse_login_token(login_token(challenge="c-123", approver="alice", key=alice))
    assert (token.approver, token.challenge) == ("alice", "c-123")
    assert token.verifies(public_key_text(alice))
    assert not token.verifies(public_key_text(mallory))
    forged = parse_login_token(login_token(challenge="c-123", approver="alice", key=mallory))
    assert not forged.verifies(public_key_text(alice))


def test_decision_token_round_trips_and_damage_is_named() -> None:
    from datetime import UTC, datetime

    from vibe.approvals import SignedDecision

    signed = SignedDecision(
        request_id="abcd1234", request_hash="0" * 64, decision="reject", approver="alice",
        time=datetime.now(UTC), reason="too big", signature="c2lnbmF0dXJl",
    )  # fmt: skip
    token = decision_token(signed)
    assert token.startswith("vd1.") and "\n" not in token
    assert parse_decision_token(token[:40] + "\n" + token[40:]) == signed  # a line break from the terminal
    with pytest.raises(UserError, match="not a signed decision"):
        parse_decision_token("vl1.abc")
    with pytest.raises(UserError, match="damaged"):
        parse_decision_token("vd1.%%%")
    with pytest.raises(UserError, match="lacks 'signature'"):
        parse_login_token("vl1.eyJhcHByb3ZlciI6ImEiLCJjaGFsbGVuZ2UiOiJjIn0")


# --------------------------------------------------------------------------------------------- the server
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Keys for alice, bob (leads), carol (auditors) and dave (in no group); the policy; the real server."""
    root = tmp_path_factory.mktemp("approvals-web")
    keys_dir = root / "keys"
    public = {name: generate_key(name, directory=keys_dir)[1] for name in ("alice", "bob", "carol", "dave")}
    policy = root / "org.yaml"
    policy.write_text(POLICY.format(**public), encoding="utf-8")
    store, ledger = root / "approvals.sqlite", root / "ledger.sqlite"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-c", "from vibe.cli import main; main()", "approvals", "serve"]
    command += ["--policy", str(policy), "--store", str(store), "--ledger", str(ledger), "--port", str(port)]
    command += ["--workdir", str(root / "runs")]
    env = {**os.environ, "VIBE_CACHE": str(root / "cache")}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).text == "ok":
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"the approvals server did not start:\n{server.communicate()[0]}")
            time.sleep(0.1)
        yield {"url": url, "root": root, "keys": keys_dir, "policy": policy, "store": store, "ledger": ledger}
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(site: dict) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    yield context.new_page()
    context.close()


def _file_request(site: dict, path: str = "/srv/data/code") -> ApprovalRequest:
    action = Action(kind="data.ingest", requester="erin", team="nlp", paths=(path,))
    decision = load_policies([site["policy"]]).evaluate(action)
    with ApprovalStore(site["store"]) as store:
        return store.request(
            action=action,
            decision=decision,
            thread_id="t-web",
            summary=f"step ingest: scan {path}\nfull-size model: 0.12B parameters; 9 GPU-hours",
            ttl=timedelta(hours=2),
        )


def _cli(*args: str) -> str:
    result = CliRunner().invoke(approvals_cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _sign_in(page, site: dict, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{site['url']}/login")
    challenge = page.locator("input[name=challenge]").get_attribute("value")
    token = _cli("login-token", challenge, "--as", name, "--key", str(site["keys"] / f"{name}.key"))
    page.fill("textarea[name=token]", token)
    page.click("button:has-text('Sign in')")


def _status(site: dict, request_id: str) -> str:
    with ApprovalStore(site["store"]) as store:
        return store.get(request_id).status


def _approvals_recorded(site: dict, request_id: str) -> list[dict]:
    with SqliteLedger(site["ledger"]) as ledger:
        return [
            e.record.signature or {}
            for e in ledger.entries()
            if e.record.kind == "approval" and (e.record.outputs or {}).get("request_id") == request_id  # type: ignore[union-attr]
        ]


def test_lead_signs_in_and_approves_by_clicking(page, site: dict) -> None:  # type: ignore[no-untyped-def]
    request = _file_request(site, "/srv/data/code-approve")
    _sign_in(page, site, "alice")
    card = page.locator(f"#request-{request.id}")
    text = card.inner_text()
    assert "data.ingest" in text and "/srv/data/code-approve" in text and "erin" in text
    assert (
        "org:new-data-signoff" in text and "a lead signs off every ingest" in text and "9 GPU-hours" in text
    )
    command = card.locator("form:has(button.approve) pre").inner_text()
    assert command.startswith(f"vibe approvals sign {request.id} --hash {request.request_hash} --as alice")
    token = _cli(*command.split()[2:], "--key", str(site["keys"] / "alice.key"))  # run it, as alice would
    card.locator(f"#approve-{request.id}").fill(token)
    page.screenshot(path=str(site["root"] / "approvals-page.png"), full_page=True)
    card.locator("button.approve").click()

    flash = page.locator(".flash").inner_text()
    assert f"You approved request {request.id}" in flash and "it is now approved" in flash
    assert f"vibe approvals resume {request.id} --workdir" in flash
    page.screenshot(path=str(site["root"] / "approvals-approved.png"), full_page=True)
    assert _status(site, request.id) == "approved"
    (signature,) = _approvals_recorded(site, request.id)
    assert signature["approver"] == "alice" and signature["decision"] == "approve"
    with SqliteLedger(site["ledger"]) as ledger:
        assert ledger.verify().ok


def test_lead_rejects_with_a_signed_reason(page, site: dict) -> None:  # type: ignore[no-untyped-def]
    request = _file_request(site, "/srv/data/code-reject")
    _sign_in(page, site, "bob")
    token = _cli(
        "sign", request.id, "--hash", request.request_hash, "--as", "bob", "--key", str(site["keys"] / "bob.key"),
        "--reject", "--reason", "holds customer code",
    )  # fmt: skip
    page.locator(f"#reject-{request.id}").fill(token)
    page.locator(f"#request-{request.id} button.reject").click()
    assert f"You rejected request {request.id}" in page.locator(".flash").inner_text()
    assert _status(site, request.id) == "rejected"
    (signature,) = _approvals_recorded(site, request.id)
    assert signature["reason"] == "holds customer code"


def test_someone_in_no_group_cannot_sign_in(page, site: dict) -> None:  # type: ignore[no-untyped-def]
    _sign_in(page, site, "dave")  # a valid signature, by a key the policy does not list
    assert "dave is not an approver in the policy in force" in page.locator(".flash").inner_text()
    page.screenshot(path=str(site["root"] / "approvals-login-refused.png"), full_page=True)
    page.goto(f"{site['url']}/")
    assert page.url.endswith("/login")  # no session was opened


def test_approver_of_another_group_cannot_approve(page, site: dict) -> None:  # type: ignore[no-untyped-def]
    request = _file_request(site, "/srv/data/code-carol")
    _sign_in(page, site, "carol")
    card = page.locator(f"#request-{request.id}")
    assert "You are in no group that may approve data.ingest" in card.inner_text()
    assert card.locator("button.approve").count() == 0
    # She posts a valid signature of hers anyway, with her session's CSRF token: refused, nothing changes.
    csrf = page.locator("header input[name=csrf]").get_attribute("value")
    key = site["keys"] / "carol.key"
    token = _cli("sign", request.id, "--hash", request.request_hash, "--as", "carol", "--key", str(key))
    response = page.request.post(
        f"{site['url']}/requests/{request.id}/decide",
        form={"verdict": "approve", "token": token, "csrf": csrf},
    )
    assert response.status == 403
    assert "carol is in no group that may approve data.ingest" in response.text()
    assert _status(site, request.id) == "pending" and _approvals_recorded(site, request.id) == []


def test_a_decision_signed_by_someone_else_is_refused(page, site: dict) -> None:  # type: ignore[no-untyped-def]
    request = _file_request(site, "/srv/data/code-relay")
    with ApprovalStore(site["store"]) as store:
        request = store.get(request.id)
    from vibe.approvals import load_private_key

    bobs = sign_decision(
        request=request,
        decision="approve",
        approver="bob",
        key=load_private_key("bob", directory=site["keys"]),
    )
    _sign_in(page, site, "alice")
    page.locator(f"#approve-{request.id}").fill(decision_token(bobs))
    page.locator(f"#request-{request.id} button.approve").click()
    assert "signed by bob, but you are signed in as alice" in page.locator(".flash").inner_text()
    assert _status(site, request.id) == "pending"
