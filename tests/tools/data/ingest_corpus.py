"""A real corpus for the ingest tests: a directory tree, a .tar.gz and a
.zip holding stdlib modules, duplicates, a near duplicate, planted secrets and personal data, binaries,
legacy encodings, an empty file, an undecodable file, a too-large file and a truncated archive.

``CORPUS`` names the interesting files, their lines and the planted values, so tests assert against them.
"""

from __future__ import annotations

import io
import random
import sysconfig
import tarfile
import zipfile
from pathlib import Path

from tools.data import IngestConfig, scan_text

AWS_KEY = "AKIAQ3EGRTXBVZ7KM2NP"
GITHUB_TOKEN = "ghp_" + "Zr8kQ2mX9vL4nT7pW1sY5bC3dF6gH0jK2aE4"
PEM_BODY = "MIIEowIBAAKCAQEAx3Fv9kQp2LmZ8rT1nW4yB6cD0eG5hJ7kL9mN2oP4qR6sT8uV"
PASSWORD = "Tr0ub4dor&3"
EMAIL = "jane.doe@acme-corp.com"
PHONE = "+44 20 7946 0958"
MAX_FILE_BYTES = 100_000

SETTINGS = f'''"""Deployment settings (a test fixture with planted credentials)."""

AWS_ACCESS_KEY_ID = "{AWS_KEY}"
GITHUB_TOKEN = "{GITHUB_TOKEN}"
DEPLOY_KEY = """-----BEGIN RSA PRIVATE KEY-----
{PEM_BODY}
{PEM_BODY[::-1]}
-----END RSA PRIVATE KEY-----"""


def region() -> str:
    return "eu-west-1"
'''
ENV = f"DB_HOST=db.internal\nDB_PASSWORD={PASSWORD}\n"
CONTACT = f"# Contact\n\nThe on-call engineer is Jane.\n\nWrite to {EMAIL} or call {PHONE}.\n"
MARKER = "# Markers\n\nOur documents end with <|endoftext|> in the training data; here it is only text.\n"
LATIN = "Café, crème brûlée et déjà vu: à l'hôtel, l'élève était très âgé.\n" * 3
UTF16 = "Grüße aus Köln: Ärger über Öl und Übermut.\n" * 3


def _stdlib_modules(count: int) -> list[tuple[str, str]]:
    """``count`` stdlib modules (name, text) of 4-60 KB with no scanner findings, in a fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chosen = []
    for path in sorted(stdlib.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if 4_000 <= len(text.encode()) <= 60_000 and not scan_text(text, language="python"):
            chosen.append((path.name, text))
        if len(chosen) == count:
            return chosen
    raise RuntimeError("not enough stdlib modules for the test corpus")


def _tar_gz(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


class Corpus:
    """Paths of the inputs and the display paths (as in files.jsonl) of the planted files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        self.tarball = root / "code.tar.gz"
        self.bundle = root / "bundle.zip"
        self.inputs = [self.repo, self.tarball, self.bundle]
        self.near_changed_line = 0
        self.planted = {"aws": AWS_KEY, "github": GITHUB_TOKEN, "pem": PEM_BODY, "password": PASSWORD}
        self.planted |= {"email": EMAIL, "phone": PHONE}

    settings = "repo/app/settings.py"
    env = "repo/deploy/.env"
    contact = "repo/docs/contact.md"
    marker = "repo/docs/markers.md"
    duplicate_first = "repo/lib/dup_first.py"
    duplicate_second = "repo/lib/dup_second.py"
    near_original = "repo/lib/near1_original.py"
    near_copy = "repo/lib/near2_copy.py"
    png = "repo/assets/logo.png"
    noise = "repo/assets/noise.txt"
    latin = "bundle.zip!docs/latin.txt"
    utf16 = "bundle.zip!docs/utf16.txt"
    empty = "repo/lib/empty.py"
    undecodable = "repo/assets/garbage.txt"
    big = "repo/data/big.txt"
    broken = "repo/vendor/broken.tar.gz"
    broken_first = "repo/vendor/broken.tar.gz!pkg/first.py"
    nested = "repo/vendor/extra.zip!extra/helpers.py"
    tar_duplicate = "code.tar.gz!lib/copy_of_dup.py"


def build_corpus(root: Path) -> Corpus:
    corpus = Corpus(root)
    modules = _stdlib_modules(40)
    rng = random.Random(0)

    def write(rel: str, data: bytes | str) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    for name, text in modules[:24]:
        write(f"repo/src/{name}", text)
    write(corpus.settings, SETTINGS)
    write(corpus.env, ENV)
    write(corpus.contact, CONTACT)
    write(corpus.marker, MARKER)
    dup_text = modules[24][1]
    write(corpus.duplicate_first, dup_text)
    write(corpus.duplicate_second, dup_text)
    near_lines = modules[25][1].split("\n")
    corpus.near_changed_line = len(near_lines) // 2
    near_lines[corpus.near_changed_line] = "# this one line differs from the original"
    write(corpus.near_original, modules[25][1])
    write(corpus.near_copy, "\n".join(near_lines))
    write(corpus.png, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(2000))
    write(corpus.noise, rng.randbytes(3000) + b"\x00" * 10)
    write(corpus.undecodable, bytes(rng.randrange(0x80, 0x100) for _ in range(3000)))
    write(corpus.empty, b"")
    write(corpus.big, "lorem ipsum dolor sit amet\n" * (MAX_FILE_BYTES // 20))
    first, rest = modules[26], modules[27:30]
    broken = _tar_gz(
        [("pkg/first.py", b"X = 1\n" * 50)] + [(f"pkg/{n}", t.encode()) for n, t in [first, *rest]]
    )
    write(corpus.broken, broken[: len(broken) // 2])
    write("repo/vendor/extra.zip", _zip([("extra/helpers.py", modules[30][1].encode())]))

    tar_members = [(f"lib/{name}", text.encode()) for name, text in modules[31:36]]
    tar_members += [
        ("lib/copy_of_dup.py", dup_text.encode()),
        ("lib/logo.png", (root / corpus.png).read_bytes()),
    ]
    corpus.tarball.write_bytes(_tar_gz(tar_members))
    zip_members = [(f"pkg/{name}", text.encode()) for name, text in modules[36:40]]
    zip_members += [("docs/latin.txt", LATIN.encode("cp1252")), ("docs/utf16.txt", UTF16.encode("utf-16"))]
    corpus.bundle.write_bytes(_zip(zip_members))
    return corpus


def small_config(inputs: list[Path], out: Path, **changes: object) -> IngestConfig:
    """A fast ingest of the test corpus: small vocab, files over 100 kB skipped."""
    data: dict[str, object] = {
        "inputs": inputs,
        "out": out,
        "max_file_bytes": MAX_FILE_BYTES,
        "valid_fraction": 0.1,
        "tokenizer": {"vocab_size": 400},
    }
    return IngestConfig.model_validate({**data, **changes})
