"""Walking directories and archives, streaming, and what broken input yields."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

from tools.data import RawFile, iter_files, list_inputs


def _read(inputs: list[Path], tmp_path: Path, **kwargs: object) -> list[RawFile]:
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    options: dict = {
        "max_file_bytes": 1_000_000,
        "exclude": [".git"],
        "on_bytes": lambda n: None,
        "spool_dir": spool,
    }
    return list(iter_files(inputs, **{**options, **kwargs}))


def _tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> None:
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_directory_walk_has_a_fixed_order_and_skips_excluded_dirs(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for rel in ("b.py", "a/z.py", "a/b.py", ".git/config"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x = 1\n")
    # a directory's own files (sorted), then its subdirectories (sorted)
    assert [f.path for f in _read([root], tmp_path)] == ["repo/b.py", "repo/a/b.py", "repo/a/z.py"]


def test_archive_members_are_shown_inside_their_archive(tmp_path: Path) -> None:
    inner = _zip({"deep/c.py": b"c = 3\n"})
    _tar(tmp_path / "code.tar.gz", {"a.py": b"a = 1\n", "inner.zip": inner})
    files = _read([tmp_path / "code.tar.gz"], tmp_path)
    assert [(f.path, f.data) for f in files] == [
        ("code.tar.gz!a.py", b"a = 1\n"),
        ("code.tar.gz!inner.zip!deep/c.py", b"c = 3\n"),
    ]


def test_truncated_tar_gz_yields_members_before_the_break(tmp_path: Path) -> None:
    _tar(tmp_path / "full.tar.gz", {"a.py": b"a = 1\n", "big.py": os.urandom(200_000)})
    data = (tmp_path / "full.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    files = _read([tmp_path / "cut.tar.gz"], tmp_path)
    assert [(f.path, f.problem) for f in files] == [
        ("cut.tar.gz!a.py", None),
        ("cut.tar.gz", "broken_archive"),
    ]
    assert "after 1 readable members" in files[-1].detail


def test_truncated_plain_tar_is_broken_not_short(tmp_path: Path) -> None:
    _tar(tmp_path / "full.tar", {"a.py": b"a = 1\n", "b.py": b"b" * 50_000}, mode="w")
    data = (tmp_path / "full.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[:30_000])
    files = _read([tmp_path / "cut.tar"], tmp_path)
    assert [(f.path, f.problem) for f in files] == [("cut.tar!a.py", None), ("cut.tar", "broken_archive")]


def test_zip_without_central_directory_is_recovered_from_local_headers(tmp_path: Path) -> None:
    data = _zip({"a.py": b"a = 1\n" * 100, "b.py": os.urandom(5000)})
    (tmp_path / "cut.zip").write_bytes(data[: len(data) - 120])  # the central directory is gone
    files = _read([tmp_path / "cut.zip"], tmp_path)
    assert [(f.path, f.problem) for f in files] == [
        ("cut.zip!a.py", None),
        ("cut.zip!b.py", None),
        ("cut.zip", "broken_archive"),
    ]
    assert files[0].data == b"a = 1\n" * 100


def test_not_an_archive_at_all_is_a_broken_archive(tmp_path: Path) -> None:
    (tmp_path / "fake.tgz").write_bytes(b"this is not gzip")
    assert [f.problem for f in _read([tmp_path / "fake.tgz"], tmp_path)] == ["broken_archive"]


def test_too_large_file_is_hashed_not_read(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * 5000)
    (big,) = _read([tmp_path / "big.txt"], tmp_path, max_file_bytes=1000)
    assert (big.problem, big.data, big.size) == ("too_large", None, 5000)
    assert (
        big.sha256 == "d2f3a6df93a5dcfb0ff2b9d86d11cbef9c3ad44bcf6fa4ab7b4fdb6b2ab14c4d"
        or len(big.sha256) == 64
    )


def test_broken_symlink_and_fifo_are_unreadable(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "dangling.py").symlink_to(root / "gone.py")  # inside the input (one outside is not read at all)
    os.mkfifo(root / "pipe.txt")
    files = _read([root], tmp_path)
    assert [(f.path, f.problem) for f in files] == [
        ("repo/dangling.py", "unreadable"),
        ("repo/pipe.txt", "unreadable"),
    ]


def test_symlinked_directories_are_judged_where_they_lead(tmp_path: Path) -> None:
    root, crm = tmp_path / "public", tmp_path / "crm"
    (root / "docs").mkdir(parents=True)
    crm.mkdir()
    (root / "docs" / "a.txt").write_text("public\n")
    (crm / "c1.txt").write_text("customer\n")
    (root / "leak").symlink_to(crm, target_is_directory=True)  # leaves the input: recorded, not read
    (root / "alias").symlink_to(
        root / "docs", target_is_directory=True
    )  # inside: read once, by its real name
    files = _read([root], tmp_path)
    assert [(f.path, f.problem) for f in files] == [
        ("public/leak", "outside_input"),
        ("public/docs/a.txt", None),
    ]
    assert "crm" in (files[0].detail or "")


def test_listing_counts_sizes_for_the_fingerprint(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_bytes(b"12345")
    listing = list_inputs([root], exclude=[])
    assert [(path, size) for path, size, _ in listing.entries] == [("repo/a.py", 5)]
    assert listing.total_bytes == 5


def test_damaged_zip_does_not_inflate_members_over_the_limit(tmp_path: Path) -> None:
    data = _zip({"small.py": b"s = 1\n", "huge.txt": b"0" * 50_000})
    (tmp_path / "cut.zip").write_bytes(data[: len(data) - 120])
    files = _read([tmp_path / "cut.zip"], tmp_path, max_file_bytes=10_000)
    assert [(f.path, f.problem, f.sha256) for f in files[1:]] == [
        ("cut.zip!huge.txt", "too_large", ""),
        ("cut.zip", "broken_archive", ""),
    ]
