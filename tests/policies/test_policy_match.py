"""Path globs, roots and endpoint URLs: the matching the rules are built on."""

from __future__ import annotations

import pytest

from policies import Endpoint, compile_glob, normalize_path, under_root


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/srv/hr/**", "/srv/hr", True),
        ("/srv/hr/**", "/srv/hr/a/b/c.csv", True),
        ("/srv/hr/**", "/srv/hrx/a", False),
        ("/srv/*/raw", "/srv/a/raw", True),
        ("/srv/*/raw", "/srv/a/b/raw", False),
        ("**/*.pem", "/a/b/key.pem", True),
        ("**/*.pem", "/key.pem", True),
        ("**/*.pem", "/a/key.pem.txt", False),
        ("/data/file?.txt", "/data/file1.txt", True),
        ("/data/file?.txt", "/data/file10.txt", False),
        ("/data/[x].txt", "/data/[x].txt", True),
        ("/data/[x].txt", "/data/x.txt", False),
    ],
)
def test_glob(pattern: str, path: str, matches: bool) -> None:
    assert bool(compile_glob(pattern).match(path)) is matches


@pytest.mark.parametrize(
    ("path", "root", "inside"),
    [
        ("/srv/data", "/srv/data", True),
        ("/srv/data/x", "/srv/data", True),
        ("/srv/database", "/srv/data", False),
        (normalize_path("/srv/data/../etc"), "/srv/data", False),
        (normalize_path("//srv/data/x"), "/srv/data", True),
        ("/anything", "/", True),
    ],
)
def test_under_root(path: str, root: str, inside: bool) -> None:
    assert under_root(path, root) is inside


@pytest.mark.parametrize(
    ("allowed", "url", "ok"),
    [
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/chat/completions", True),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1?x=1", True),
        ("http://127.0.0.1:8000/v1", "https://127.0.0.1:8000/v1", False),
        ("http://llm.local/v1", "http://llm.local:80/v1/models", True),
        ("http://llm.local/v1", "http://llm.local.evil.com/v1", False),
        ("http://llm.local/v1", "http://llm.local/v1/../../admin", False),
        ("http://llm.local/", "http://llm.local/anything", True),
    ],
)
def test_endpoint(allowed: str, url: str, ok: bool) -> None:
    assert Endpoint.parse(allowed).allows(Endpoint.parse(url)) is ok
