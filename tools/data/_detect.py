"""What a file is: binary or text, which language, which encoding; and its text with newlines normalised."""

from __future__ import annotations

import codecs
import re
from pathlib import PurePosixPath
from typing import NamedTuple

__all__ = ["Decoded", "decode", "is_binary", "language_of", "normalise"]

_LANGUAGES: dict[str, tuple[str, ...]] = {
    "python": (".py", ".pyi", ".pyx", ".pxd", ".pyw"),
    "javascript": (".js", ".mjs", ".cjs", ".jsx"),
    "typescript": (".ts", ".tsx", ".mts", ".cts"),
    "c": (".c", ".h"),
    "cpp": (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".cu", ".cuh", ".inl"),
    "csharp": (".cs",),
    "java": (".java",),
    "kotlin": (".kt", ".kts"),
    "scala": (".scala", ".sc"),
    "go": (".go",),
    "rust": (".rs",),
    "ruby": (".rb", ".rake", ".gemspec"),
    "php": (".php",),
    "perl": (".pl", ".pm", ".t"),
    "shell": (".sh", ".bash", ".zsh", ".ksh", ".fish"),
    "powershell": (".ps1", ".psm1"),
    "batch": (".bat", ".cmd"),
    "lua": (".lua",),
    "r": (".r",),
    "julia": (".jl",),
    "swift": (".swift",),
    "objective-c": (".m", ".mm"),
    "haskell": (".hs",),
    "ocaml": (".ml", ".mli"),
    "elixir": (".ex", ".exs"),
    "erlang": (".erl", ".hrl"),
    "clojure": (".clj", ".cljs", ".edn"),
    "dart": (".dart",),
    "fortran": (".f", ".f90", ".f95", ".f03", ".for"),
    "assembly": (".s", ".asm"),
    "sql": (".sql",),
    "html": (".html", ".htm", ".xhtml", ".jinja", ".j2"),
    "css": (".css", ".scss", ".sass", ".less"),
    "xml": (".xml", ".xsd", ".xsl", ".svg", ".plist"),
    "vue": (".vue", ".svelte"),
    "protobuf": (".proto",),
    "graphql": (".graphql", ".gql"),
    "hcl": (".tf", ".hcl"),
    "cmake": (".cmake",),
    "makefile": (".mk", ".mak"),
    "markdown": (".md", ".markdown"),
    "rst": (".rst",),
    "text": (".txt", ".text"),
    "latex": (".tex", ".sty", ".bib"),
    "asciidoc": (".adoc", ".asciidoc"),
    "org": (".org",),
    "json": (".json", ".jsonl", ".ipynb"),
    "yaml": (".yaml", ".yml"),
    "toml": (".toml",),
    "ini": (".ini", ".cfg", ".conf", ".properties"),
    "env": (".env",),
}
_BY_SUFFIX = {suffix: lang for lang, suffixes in _LANGUAGES.items() for suffix in suffixes}
_BY_NAME = {
    "makefile": "makefile",
    "gnumakefile": "makefile",
    "dockerfile": "dockerfile",
    "containerfile": "dockerfile",
    "jenkinsfile": "groovy",
    "cmakelists.txt": "cmake",
    ".gitignore": "text",
    ".dockerignore": "text",
    ".editorconfig": "ini",
    ".env": "env",
}
_INTERPRETERS = {
    "python": "python",
    "sh": "shell",
    "bash": "shell",
    "zsh": "shell",
    "ksh": "shell",
    "dash": "shell",
    "node": "javascript",
    "deno": "typescript",
    "perl": "perl",
    "ruby": "ruby",
    "php": "php",
    "lua": "lua",
    "rscript": "r",
}
# Known binary formats: no need to sniff them.
BINARY_SUFFIXES = frozenset(
    {
        *(".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tif", ".tiff", ".psd", ".pdf"),
        *(".gz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".jar", ".war", ".whl", ".egg", ".iso", ".dmg"),
        *(".class", ".so", ".dll", ".dylib", ".exe", ".o", ".a", ".lib", ".pyc", ".pyo", ".pyd", ".bin"),
        *(".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp3", ".mp4", ".wav", ".ogg", ".flac", ".avi", ".mov"),
        *(".mkv", ".webm", ".sqlite", ".db", ".npy", ".npz", ".pt", ".pth", ".safetensors", ".onnx"),
        *(".parquet", ".pkl", ".pickle", ".h5", ".gguf"),
    }
)


def language_of(path: str, head: bytes) -> str | None:
    """The language of a file from its name (extension map, well-known names) or shebang; None if unknown.

    Files without an extension and without a shebang (README, LICENSE, ...) count as plain ``text``.
    """
    name = PurePosixPath(path).name.lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith(".env"):
        return "env"
    if name.startswith("dockerfile"):
        return "dockerfile"
    suffix = PurePosixPath(name).suffix
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    shebang = _shebang(head)
    if shebang is not None:
        return shebang
    return "text" if suffix == "" else None


def _shebang(head: bytes) -> str | None:
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode("latin-1").split()
    if words and words[0].endswith("/env"):
        words = [w for w in words[1:] if not w.startswith("-")]
    if not words:
        return None
    interpreter = re.sub(r"[\d.]+$", "", words[0].rsplit("/", 1)[-1].lower())  # python3.11 -> python
    return _INTERPRETERS.get(interpreter)


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = bytes(c for c in range(32) if c not in b"\t\n\r\f\b\x1b") + b"\x7f"
_SNIFF = 8192


def _bom(data: bytes) -> str | None:
    return next((enc for bom, enc in _BOMS if data.startswith(bom)), None)


def is_binary(data: bytes) -> bool:
    """Binary if the first 8 KiB hold a NUL byte or more than 10% control bytes (a UTF-16/32 BOM is text)."""
    if _bom(data) is not None:
        return False
    head = data[:_SNIFF]
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROL))
    return controls > 0.10 * len(head)


class Decoded(NamedTuple):
    """Decoded text and the encoding it was read with."""

    text: str
    encoding: str


# Encodings the fallback may choose from: common legacy encodings, no EBCDIC or Mac code pages (on short
# inputs those "decode" almost anything into plausible-looking letters).
_FALLBACKS = [
    "cp1252",
    "latin_1",
    "iso8859_15",
    "cp1250",
    "iso8859_2",
    "cp1251",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1256",
    "gb18030",
    "big5",
    "shift_jis",
    "cp932",
    "euc_jp",
    "euc_jis_2004",
    "euc_kr",
    "cp949",
]


def decode(data: bytes) -> Decoded | None:
    """Decode by BOM, then strict UTF-8, then the best legacy encoding ``charset_normalizer`` finds.

    Western text is common and short samples are ambiguous, so cp1252 wins ties. None if nothing fits.
    """
    bom = _bom(data)
    if bom is not None:
        try:
            return Decoded(data.decode(bom), bom)
        except UnicodeDecodeError:
            return None
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    import charset_normalizer  # only for the rare non-UTF-8 file

    matches = list(charset_normalizer.from_bytes(data, cp_isolation=_FALLBACKS))
    if not matches:
        return None
    best = min(m.chaos for m in matches)
    tied = [m.encoding for m in matches if m.chaos <= best + 0.01]
    encoding = "cp1252" if "cp1252" in tied else tied[0]
    try:
        return Decoded(data.decode(encoding), encoding)
    except (UnicodeDecodeError, LookupError):
        return None


_NEWLINES = re.compile(r"\r\n?")


def normalise(text: str) -> str:
    """``\\r\\n`` and ``\\r`` become ``\\n``; NUL characters (never meaningful in text) are removed."""
    if "\r" in text:
        text = _NEWLINES.sub("\n", text)
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text
