"""Documents are read in a worker process: a crafted file that hangs, bombs or crashes an extractor costs
that document (recorded as ``extract_timeout``, ``document_limit`` or ``extract_crashed``), not the ingest.

The worker (``python -m tools.data.documents._worker MEMORY_MB``) imports the extractors, then caps its own
address space at what it uses plus ``memory_mb`` (RLIMIT_AS; tesseract inherits it), turns core dumps off and
caps file writes at 16 MiB;
it runs in a session of its own, so the parent kills it and its tesseract children as one group when a
document passes ``timeout_seconds``. Messages are length-prefixed frames of JSON and raw bytes: nothing the
worker sends is unpickled or executed by the parent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import resource
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any, BinaryIO

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._types import Child, ExtractedImage, Extraction
from vibe.core.errors import UserError

__all__ = ["DocumentReader"]

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("<Q")
_STARTUP_SECONDS = 120.0  # importing the extractors on a busy machine
_READY = b"ready"
_PASSED_ENV = frozenset(
    {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TESSDATA_PREFIX", "VIRTUAL_ENV"}
)
_MAX_FILE_WRITE = 16 << 20  # the worker writes no files; its stderr log is one


def _write_frame(stream: BinaryIO | IO[bytes], payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)


def _to_frames(result: Extraction) -> list[bytes]:
    """A result as a JSON header (with the number of blobs) and its blobs: image, then child bytes."""
    blobs: list[bytes] = []
    header: dict[str, Any] = {
        f.name: getattr(result, f.name)
        for f in dataclasses.fields(result)
        if f.name not in ("images", "children")
    }
    for key, items in (("images", result.images), ("children", result.children)):
        header[key] = []
        for item in items:
            fields = {f.name: getattr(item, f.name) for f in dataclasses.fields(item) if f.name != "data"}
            header[key].append(fields)
            blobs.append(item.data)
    header["blobs"] = len(blobs)
    return [json.dumps(header).encode(), *blobs]


def _from_frames(header: dict[str, Any], blobs: list[bytes]) -> Extraction:
    pending = iter(blobs)
    images = [ExtractedImage(data=next(pending), **fields) for fields in header.pop("images")]
    children = [Child(data=next(pending), **fields) for fields in header.pop("children")]
    return Extraction(**header, images=images, children=children)


# -- the parent's side -------------------------------------------------------------------------------------


class DocumentReader:
    """Reads documents in one worker process at a time, restarted after a document that killed it."""

    def __init__(self, config: DocumentsConfig) -> None:
        self.config = config
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = False  # the running worker has said it is ready
        self._stderr: IO[bytes] | None = None

    def __enter__(self) -> DocumentReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The worker's process id; None before the first document and after one that stopped it."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the worker now, without waiting for it: its imports then overlap the caller's own work, and
        the first :meth:`read` waits only for what is left of them. A no-op when it is already running."""
        if self._proc is None:
            self._spawn()

    def read(self, kind: str, data: bytes) -> Extraction:
        """The extraction of one document of type ``kind`` (see :func:`document_type`)."""
        proc = self._proc or self._spawn()
        if not self._ready:
            self._wait_ready(proc)
        assert proc.stdin is not None and proc.stdout is not None
        timeout = self.config.timeout_seconds
        request = json.dumps({"type": kind, "config": self.config.model_dump(mode="json")}).encode()
        try:
            _write_frame(proc.stdin, request)
            _write_frame(proc.stdin, data)
            proc.stdin.flush()
            deadline = time.monotonic() + timeout
            header = json.loads(self._receive(proc, deadline))
            blobs = [self._receive(proc, deadline) for _ in range(header.pop("blobs"))]
        except TimeoutError:
            self._stop()
            return _failed(
                kind, "extract_timeout", f"stopped after {timeout:g} s (documents.timeout_seconds)"
            )
        except (EOFError, BrokenPipeError, ConnectionResetError, ValueError):
            why = self._stop()
            return _failed(kind, "extract_crashed", f"the extractor process died ({why})")
        result = _from_frames(header, blobs)
        if header.get("problem") == "document_limit" and "memory" in header.get("detail", ""):
            self._stop()  # after a MemoryError the worker exits; start a fresh one next time
        return result

    def close(self) -> None:
        if self._proc is not None:
            self._stop()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (closed in _stop)
        package = __name__.rsplit(".", 1)[0]
        root = Path(__file__).resolve().parents[len(package.split("."))]
        env = {  # what an extractor needs, and no more: no tokens or passwords from the caller's environment
            **{name: value for name, value in os.environ.items() if name in _PASSED_ENV},
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
            "OMP_THREAD_LIMIT": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        self._proc = subprocess.Popen(
            [sys.executable, "-m", f"{package}._worker", str(self.config.memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=True,
            bufsize=0,
        )
        self._ready = False
        return self._proc

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            ready = self._receive(proc, time.monotonic() + _STARTUP_SECONDS)
        except (TimeoutError, EOFError):
            why = self._stop()
            raise UserError(
                f"the document extractor process did not start ({why}): run scripts/setup.sh to install "
                "its libraries, or ingest with --no-documents"
            ) from None
        if ready != _READY:
            self._stop()
            raise UserError(
                f"the document extractor said {ready[:80]!r} instead of ready: is stdout redirected?"
            )
        self._ready = True

    def _receive(self, proc: subprocess.Popen[bytes], deadline: float) -> bytes:
        assert proc.stdout is not None
        (length,) = _LENGTH.unpack(_read_exact(proc.stdout, _LENGTH.size, deadline))
        return _read_exact(proc.stdout, length, deadline)

    def _stop(self) -> str:
        """Kill the worker's process group; a description of how it ended and its last words on stderr."""
        proc, self._proc, self._ready = self._proc, None, False
        if proc is None:
            return "not running"
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        last = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            lines = self._stderr.read()[-4000:].decode("utf-8", "replace").strip().splitlines()
            last = lines[-1] if lines else ""
            self._stderr.close()
            self._stderr = None
        ended = f"signal {-code}" if code < 0 else f"exit status {code}"
        return f"{ended}: {last}" if last else ended


def _read_exact(stream: IO[bytes], size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise TimeoutError
            chunk = os.read(stream.fileno(), min(remaining, 1 << 20))
            if not chunk:
                raise EOFError("the worker closed its output")
            chunks.append(chunk)
            remaining -= len(chunk)
    return b"".join(chunks)


def _failed(kind: str, problem: str, detail: str) -> Extraction:
    return Extraction(type=kind, extractor="", version="", problem=problem, detail=detail)  # type: ignore[arg-type]


# -- the worker's side -------------------------------------------------------------------------------------


def _read_frame(stream: BinaryIO) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    payload = stream.read(length)
    if len(payload) < length:
        return None
    return payload


def _limit_memory(memory_mb: int) -> None:
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * resource.getpagesize()
    cap = used + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (_MAX_FILE_WRITE, _MAX_FILE_WRITE))  # nothing writes files


def main() -> None:
    memory_mb = int(sys.argv[1])
    from tools.data.documents._extract import EXTRACTORS, extract

    # stdout is the protocol: anything a library prints goes to stderr instead
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    _limit_memory(memory_mb)
    _write_frame(out, _READY)
    stdin = sys.stdin.buffer
    while (request := _read_frame(stdin)) is not None:
        data = _read_frame(stdin)
        if data is None:
            return
        message = json.loads(request)
        config = DocumentsConfig.model_validate(message["config"])
        try:
            result = extract(message["type"], data, config)
            exiting = False
        except MemoryError:
            _, library, library_version = EXTRACTORS[message["type"]]
            result = Extraction(
                message["type"],
                library,
                library_version,
                problem="document_limit",
                detail=f"it needed more memory than documents.memory_mb={memory_mb}",
            )
            exiting = True
        del data
        for frame in _to_frames(result):
            _write_frame(out, frame)
        if exiting:
            return


if __name__ == "__main__":
    main()
