"""The secret and personal-data scanner, and the one place that applies the actions."""

from __future__ import annotations

import pytest

from tools.data import Finding, FindingActions, decide, redact, scan_text
from vibe.core.errors import UserError

PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "kind", "language"),
    [
        (f'KEY = """{PEM}"""', "private_key", "python"),
        ('aws_id = "AKIAQ3EGRTXBVZ7KM2NP"', "aws_access_key", "python"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY", "aws_secret_key", "ini"),
        ('token = "ghp_Zr8kQ2mX9vL4nT7pW1sY5bC3dF6gH0jK2aE4"', "github_token", "python"),
        ("GITLAB=glpat-Xy7Qm2Lp9Rt4Vw1Zk8Nc", "gitlab_token", "env"),
        ('SLACK = "xoxb-123456789012-AbCdEfGhIjKl"', "slack_token", "python"),
        ('key = "AIzaSyD4f7Gk2Lm9Np3Qr6St8Uv1Wx5Yz0Ab2Cd"', "google_api_key", "python"),
        ('client = OpenAI(api_key="sk-proj-4fG7hJ2kL9mN3pQ6rS8tU1vW5xY0zA2bC4dE")', "openai_key", "python"),
        (
            "auth: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt",
            "yaml",
        ),
        ('api_key = "a8f5f167f44f4964e6c998dee827110c"', "api_key", "python"),
        ("db:\n  password: Tr0ub4dor&3\n", "password", "yaml"),
        ('{"user": "admin", "password": "Tr0ub4dor&3"}', "password", "json"),
        ("[db]\npassword = Tr0ub4dor&3\n", "password", "ini"),
        ('connect(password="hunter22")', "password", "python"),
        ("mail jane.doe@acme-corp.com today", "email", "text"),
        ("call +44 20 7946 0958.", "phone", "text"),
        ("call (555) 123-4567 now", "phone", "text"),
    ],
)
def test_finds_each_kind(text: str, kind: str, language: str) -> None:
    assert [f.kind for f in scan_text(text, language=language)] == [kind]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("token = tokenize.generate_tokens(readline)", "python"),
        ("self.token = token_generator_function_1", "python"),
        ("password = getpass.getpass()", "python"),
        ("password: ${DB_PASSWORD}", "yaml"),
        ("contact: someone@example.com", "yaml"),
        ("@property\ndef name(self): ...", "python"),
        ("version = '3.11.7'; date = '2024-01-15'; n = 1234567890", "python"),
        ("sha = 'da39a3ee5e6b4b0d3255bfef95601890afd80709'", "python"),
    ],
)
def test_ordinary_code_has_no_findings(text: str, language: str) -> None:
    assert scan_text(text, language=language) == []


def test_unquoted_password_counts_only_in_config_files() -> None:
    assert scan_text("password = hunter22\n", language="python") == []
    assert [f.kind for f in scan_text("password = hunter22\n", language="ini")] == ["password"]


def test_finding_has_line_and_span_but_not_the_value() -> None:
    text = "a = 1\n\nkey = 'AKIAQ3EGRTXBVZ7KM2NP'\n"
    (finding,) = scan_text(text)
    assert (finding.kind, finding.category, finding.line) == ("aws_access_key", "secret", 3)
    assert text[finding.start : finding.end] == "AKIAQ3EGRTXBVZ7KM2NP"
    assert "AKIA" not in repr(finding)


def test_line_numbers_count_from_one_across_findings() -> None:
    text = "x@acme-corp.com\n\n\ny@acme-corp.com\n"
    assert [f.line for f in scan_text(text)] == [1, 4]


def test_private_key_is_found_once_and_redacted_whole() -> None:
    text = f"before\n{PEM}\nafter\n"
    findings = scan_text(text)
    assert [(f.kind, f.line) for f in findings] == [("private_key", 2)]
    assert redact(text, findings) == "before\n<REDACTED:private_key>\nafter\n"


def test_assignment_redaction_keeps_the_name() -> None:
    text = 'GITHUB_TOKEN = "ghp_Zr8kQ2mX9vL4nT7pW1sY5bC3dF6gH0jK2aE4"\n'
    assert redact(text, scan_text(text)) == 'GITHUB_TOKEN = "<REDACTED:github_token>"\n'


def test_decide_redacts_by_default() -> None:
    text = "mail jane.doe@acme-corp.com\n"
    decision = decide("a.md", text, scan_text(text), FindingActions())
    assert decision.text == "mail <REDACTED:email>\n"
    assert decision.findings == [{"kind": "email", "line": 1, "action": "redact"}]


def test_decide_drops_by_category() -> None:
    text = "mail jane.doe@acme-corp.com\n"
    decision = decide("a.md", text, scan_text(text), FindingActions(personal_data="drop"))
    assert (decision.text, decision.reason) == (None, "personal_data")


def test_decide_fail_names_file_line_kind_and_the_fix() -> None:
    text = "\nkey = 'AKIAQ3EGRTXBVZ7KM2NP'\n"
    with pytest.raises(UserError, match=r"^a\.py: line 2: found aws_access_key .* --secrets redact"):
        decide("a.py", text, scan_text(text), FindingActions(secrets="fail"))


def test_finding_is_a_plain_value() -> None:
    assert Finding("email", "personal_data", 1, 0, 3) == Finding("email", "personal_data", 1, 0, 3)


def _sources() -> list[str]:
    """Some real code: a few standard-library modules."""
    import inspect
    import tokenize
    import urllib.request

    return [inspect.getsource(m) for m in (inspect, tokenize, urllib.request)]


_TRICKY = [
    "password=password=abcdef; PASSWORD: 'hunter22' ispassword='x1y2z3' dbPassword = \"s3cr3tpw\"",
    "pwd = 'Tr0ub4dor' passphrase: correct-horse passwd=${X}",
    "API_KEY = 'a8f5f167f44f4964e6c998dee827110c'\napiKey: Zr8kQ2mX9vL4nT7pW1sY5bC3\nSECRET_TOKEN=Ab12Cd34Ef56Gh78",
    "AccessKey => 'Q2mX9vL4nT7pW1sY5bC3' x_auth_key := Zr8kQ2mX9vL4nT7pW1 credentials\n=\n'Ab12Cd34Ef56Gh78Ij'",
    "tokentokentoken = 'Ab12Cd34Ef56Gh78Ij90' token.token: Kl12Mn34Op56Qr78St90",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY awsSecretKey: wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKZ",
    "Aws-Secret-Key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY' laws draws aws",
    "call +44 20 7946 0958, (555) 123-4567, 555-123-4567, 555.123.4567, 1555-123-4567, a+1 23 45 67",
    "v1.555.123.4567 x-555-123-4567 (555)123-4567 +1.555.123.4567 +12 (34) 567 8901 555-123.4567",
    "\u0130 password = 'hunter22' token = 'Ab12Cd34Ef56Gh78Ij90' \u212aey",  # lower() changes the length
    "to\u212aen = 'Ab12Cd34Ef56Gh78Ij90' Token='Ab12Cd34Ef56Gh78Ij90'",  # KELVIN SIGN lowers to ASCII 'k'
    "",
]


@pytest.mark.parametrize("text", [*_TRICKY, *_sources()])
@pytest.mark.parametrize("language", ["python", "ini", None])
def test_rules_tried_at_their_possible_starts_find_what_a_search_everywhere_finds(
    text: str, language: str | None
) -> None:
    """Searching each rule only where one of its spellings can begin finds exactly what trying every offset
    finds (the scanner's regexes as they ran before)."""
    assert scan_text(text, language=language) == scan_text(text, language=language, everywhere=True)
