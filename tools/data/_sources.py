"""Every input file, one at a time: plain files, directory trees and archives (also inside directories).

Archives are streamed: tar members are read in order from a non-seeking stream (``r|*``), so a 100 GB
``.tar.gz`` costs one member's worth of memory. A broken or truncated archive yields the members read before
the break, then one ``broken_archive`` record. A zip whose central directory is gone (truncated) is re-read
from its local headers. Archives nested in archives are spooled to a temporary file and read the same way.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import shutil
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from vibe.core.errors import UserError

__all__ = ["Admit", "InputListing", "RawFile", "archive_kind", "iter_files", "list_inputs"]

Problem = Literal["too_large", "unreadable", "broken_archive", "outside_input", "refused", "unsafe_member"]
Admit = Callable[[str], str | None]  # a file's real path -> None to read it, or why it may not be read
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
_MAX_NESTING = 3
_CHUNK = 1 << 20


@dataclass(slots=True)
class RawFile:
    """One input file. ``data`` is None when ``problem`` is set (too large, unreadable, broken archive)."""

    path: str  # display path; archive members as "archive.tar.gz!inner/path.py"
    size: int
    sha256: str  # of the raw bytes; "" when they could not be read
    data: bytes | None = None
    problem: Problem | None = None
    detail: str = ""


@dataclass(slots=True)
class InputListing:
    """Every input file's (path, size, mtime_ns): what the fingerprint of an ingest is made of."""

    entries: list[tuple[str, int, int]]
    total_bytes: int


def archive_kind(name: str) -> Literal["tar", "zip"] | None:
    lower = name.lower()
    if lower.endswith(_TAR_SUFFIXES):
        return "tar"
    if lower.endswith(".zip"):
        return "zip"
    return None


def _roots(inputs: list[Path]) -> list[tuple[Path, str]]:
    """Each input with the name its files are shown under: its own name, or the full path if names clash."""
    names = [p.resolve().name or str(p) for p in inputs]
    return [(p, _shown(n if names.count(n) == 1 else str(p))) for p, n in zip(inputs, names, strict=True)]


def _shown(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept as surrogates by the OS layer) become ``\\xNN``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _excluded(name: str, exclude: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in exclude)


def _walk(top: Path, shown: str, exclude: list[str], skip: str | None) -> Iterator[tuple[Path, str]]:
    """(path, display path) of every file under ``top``: a directory's files, then its subdirectories (both
    sorted); excluded names and the directory ``skip`` (the ingest's own output) are pruned.

    Symlinked directories are not walked into; they are yielded like files, so the caller judges where they
    lead (one leaving the input is recorded, one inside it is walked under its real name anyway)."""
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not _excluded(d, exclude) and os.path.realpath(os.path.join(dirpath, d)) != skip
        )
        linked = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        rel = os.path.relpath(dirpath, top)
        for name in sorted([*filenames, *linked]):
            if _excluded(name, exclude):
                continue
            yield Path(dirpath, name), _shown(f"{shown}/{name}" if rel == "." else f"{shown}/{rel}/{name}")


def _input_files(
    inputs: list[Path], exclude: list[str], skip: Path | None
) -> Iterator[tuple[Path, str, Path]]:
    """(path, display path, the input it was found under) of every input file."""
    skipped = os.path.realpath(skip) if skip is not None else None
    for path, shown in _roots(inputs):
        if path.is_dir():
            for found, name in _walk(path, shown, exclude, skipped):
                yield found, name, path
        elif path.exists() or path.is_symlink():
            yield path, shown, path
        else:
            raise UserError(f"input {path} does not exist: pass existing directories, archives or files")


def list_inputs(inputs: list[Path], *, exclude: list[str], skip: Path | None = None) -> InputListing:
    """Stat every input file (no reading): sizes and mtimes for the fingerprint, total bytes for progress."""
    entries = []
    for path, shown, _ in _input_files(inputs, exclude, skip):
        try:
            st = path.stat()
            entries.append((shown, st.st_size, st.st_mtime_ns))
        except OSError:
            entries.append((shown, -1, -1))
    return InputListing(entries=entries, total_bytes=sum(max(size, 0) for _, size, _ in entries))


def iter_files(
    inputs: list[Path],
    *,
    max_file_bytes: int,
    exclude: list[str],
    on_bytes: Callable[[int], None],
    spool_dir: Path,
    skip: Path | None = None,
    admit: Admit | None = None,
) -> Iterator[RawFile]:
    """Yield every file of ``inputs`` in a fixed order; ``on_bytes`` is told how many input bytes were read.

    Every file is judged by its resolved real path, never by the name it was found under: a symlink that
    leads outside the input it was found in (``public/leak.txt -> ../crm/c1.txt``, ``-> /etc/shadow``) is
    skipped and recorded (``outside_input``), and ``admit`` (the policy, per file) is asked about the real
    path before a byte is read (``refused`` when it says no). The real path is what is then opened.

    ``skip``: a directory not to walk into (the ingest's output, when it lies inside an input directory).
    """
    reader = _Reader(max_file_bytes=max_file_bytes, exclude=exclude, on_bytes=on_bytes, spool_dir=spool_dir)
    for path, shown, top in _input_files(inputs, exclude, skip):
        real, inside = os.path.realpath(path), os.path.realpath(top)
        if real != inside and not real.startswith(inside.rstrip("/") + "/"):
            detail = f"a symlink to {_shown(real)}, outside the input {_shown(str(top))}: not read"
            yield RawFile(shown, 0, "", problem="outside_input", detail=detail)
            continue
        if os.path.isdir(
            real
        ):  # a symlinked directory inside the input: its files are read under their real names
            continue
        why = admit(real) if admit is not None else None
        if why:
            yield RawFile(shown, 0, "", problem="refused", detail=f"{_shown(real)}: {why}")
            continue
        yield from reader.path(Path(real), shown)


def _sha256_stream(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


class _Counting(io.RawIOBase):
    """A read-only stream that reports how many bytes pass through it (compressed bytes, for progress)."""

    def __init__(self, raw: IO[bytes], on_bytes: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._on_bytes(len(data))
        return len(data)


@dataclass(slots=True)
class _Reader:
    max_file_bytes: int
    exclude: list[str]
    on_bytes: Callable[[int], None]
    spool_dir: Path

    def path(self, path: Path, shown: str, depth: int = 0) -> Iterator[RawFile]:
        try:
            st = path.stat()
        except OSError as error:
            yield RawFile(shown, 0, "", problem="unreadable", detail=error.strerror or str(error))
            return
        if not stat.S_ISREG(st.st_mode):
            yield RawFile(shown, 0, "", problem="unreadable", detail="not a regular file")
            return
        kind = archive_kind(path.name) if depth < _MAX_NESTING else None
        if kind == "tar":
            try:
                raw = path.open("rb")
            except OSError as error:
                yield RawFile(
                    shown, st.st_size, "", problem="unreadable", detail=error.strerror or str(error)
                )
                return
            with raw:
                yield from self.tar(_Counting(raw, self.on_bytes), shown, depth)
            return
        if kind == "zip":
            yield from self.zip(path, shown, depth)
            self.on_bytes(st.st_size)
            return
        try:
            with path.open("rb") as f:
                if st.st_size > self.max_file_bytes:
                    yield RawFile(shown, st.st_size, _sha256_stream(f), problem="too_large")
                else:
                    data = f.read()
                    yield RawFile(shown, len(data), hashlib.sha256(data).hexdigest(), data=data)
        except OSError as error:
            yield RawFile(shown, st.st_size, "", problem="unreadable", detail=error.strerror or str(error))
        self.on_bytes(st.st_size)

    def member(self, name: str, size: int, stream: IO[bytes], depth: int) -> Iterator[RawFile]:
        """One archive member from an open stream: a nested archive, a too-large file, or a file's bytes."""
        if depth < _MAX_NESTING and archive_kind(name) is not None:
            with tempfile.NamedTemporaryFile(dir=self.spool_dir, suffix=Path(name).name) as spool:
                shutil.copyfileobj(stream, spool, _CHUNK)
                spool.flush()
                yield from _Reader(
                    max_file_bytes=self.max_file_bytes,
                    exclude=self.exclude,
                    on_bytes=lambda n: None,
                    spool_dir=self.spool_dir,
                ).path(Path(spool.name), name, depth + 1)
            return
        if size > self.max_file_bytes:
            yield RawFile(name, size, _sha256_stream(stream), problem="too_large")
            return
        data = stream.read()
        if len(data) != size:
            raise EOFError(f"member {name} is truncated ({len(data)} of {size} bytes)")
        yield RawFile(name, size, hashlib.sha256(data).hexdigest(), data=data)

    def tar(self, stream: IO[bytes], shown: str, depth: int) -> Iterator[RawFile]:
        count = 0
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as tar:
                for info in tar:
                    tar.members.clear()  # a stream is read once: keep no list of every header seen
                    if not info.isfile() or _skipped(info.name, self.exclude):
                        continue
                    if _unsafe(info.name):
                        yield _unsafe_member(shown, info.name)
                        continue
                    member = tar.extractfile(info)
                    assert member is not None  # a regular file always has data
                    yield from self.member(f"{shown}!{_shown(info.name)}", info.size, member, depth)
                    count += 1
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            yield _broken(shown, count, error)

    def zip(self, path: Path, shown: str, depth: int) -> Iterator[RawFile]:
        count = 0
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            yield from self.zip_local_headers(path, shown, depth, error)
            return
        try:
            with archive:
                for info in archive.infolist():
                    if info.is_dir() or _skipped(info.filename, self.exclude):
                        continue
                    if _unsafe(info.filename):
                        yield _unsafe_member(shown, info.filename)
                        continue
                    with archive.open(info) as member:
                        yield from self.member(
                            f"{shown}!{_shown(info.filename)}", info.file_size, member, depth
                        )
                    count += 1
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            zlib.error,
            RuntimeError,
            NotImplementedError,
        ) as error:
            yield _broken(shown, count, error)

    def zip_local_headers(self, path: Path, shown: str, depth: int, cause: Exception) -> Iterator[RawFile]:
        """Recover the members of a zip without its central directory by walking its local file headers."""
        count = 0
        try:
            with path.open("rb") as f:
                while True:
                    header = f.read(30)
                    if len(header) < 30 or header[:4] != b"PK\x03\x04":
                        break  # the central directory (or the break) starts here
                    _, _, flags, method, _, _, _, csize, usize, nlen, xlen = struct.unpack(
                        "<4s5H3I2H", header
                    )
                    name = f.read(nlen).decode("utf-8" if flags & 0x800 else "cp437")
                    f.seek(xlen, os.SEEK_CUR)
                    if flags & 0x08 or csize == 0xFFFFFFFF:
                        raise zipfile.BadZipFile("member sizes are not in the local header")
                    skip = name.endswith("/") or flags & 0x01 or method not in (0, 8)  # dir, encrypted, other
                    if skip or _skipped(name, self.exclude) or _unsafe(name):
                        f.seek(csize, os.SEEK_CUR)
                        if _unsafe(name) and not skip:
                            yield _unsafe_member(shown, name)
                        continue
                    if max(csize, usize) > self.max_file_bytes:  # not inflated: a damaged zip is no bomb
                        f.seek(csize, os.SEEK_CUR)
                        yield RawFile(f"{shown}!{name}", usize, "", problem="too_large", detail="not hashed")
                        count += 1
                        continue
                    compressed = f.read(csize)
                    if len(compressed) < csize:
                        raise EOFError(f"member {name} is truncated")
                    inflate = zlib.decompressobj(-15)  # raw deflate; at most usize bytes come out
                    data = compressed if method == 0 else inflate.decompress(compressed, max(usize, 1))
                    yield from self.member(f"{shown}!{name}", usize, io.BytesIO(data), depth)
                    count += 1
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
            cause = error
        yield _broken(shown, count, cause)


def _skipped(member: str, exclude: list[str]) -> bool:
    return any(_excluded(part, exclude) for part in member.split("/") if part)


def _unsafe(member: str) -> bool:
    """An absolute member name or one with a ``..`` segment: it names a place outside the archive."""
    name = member.replace("\\", "/")
    return name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in name.split("/")


def _unsafe_member(shown: str, member: str) -> RawFile:
    detail = "absolute or '..' member name: it points outside the archive; not read"
    return RawFile(f"{shown}!{_shown(member)}", 0, "", problem="unsafe_member", detail=detail)


def _broken(shown: str, count: int, error: BaseException) -> RawFile:
    message = str(error) or type(error).__name__
    return RawFile(
        shown, 0, "", problem="broken_archive", detail=f"{message} (after {count} readable members)"
    )
