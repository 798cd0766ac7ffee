"""The data pipeline: directories and archives of code and documents -> a tokenized Megatron dataset.

``ingest(IngestConfig(inputs=[...], out=...))`` streams every file, keeps text and code, removes duplicates
and near duplicates, redacts (or drops, or fails on) secrets and personal data, splits train/valid by file,
trains or reuses a byte-level BPE tokenizer and writes ``train``/``valid`` indexed datasets plus a manifest.
Documents (PDF, Office, ODF, HTML, e-mail, images through OCR) are read by :mod:`tools.data.documents` in a
worker process and their text takes the same path; their images go to the side dataset ``images/``.
``scan_text`` is the secret and personal-data scanner on its own.
"""

from tools.data._config import DedupConfig, FindingActions, IngestConfig, TokenizerConfig
from tools.data._manifest import (
    DatasetInfo,
    DocumentsInfo,
    FilesInfo,
    SplitInfo,
    StageInfo,
    TokenizerInfo,
    load_dataset_info,
    load_tokenizer,
)
from tools.data._pipeline import ingest
from tools.data._report import summary_table
from tools.data._scan import Finding, redact, scan_text
from tools.data._tokenizer import EOD
from tools.data.documents import DocumentsConfig

__all__ = [
    "EOD",
    "DatasetInfo",
    "DedupConfig",
    "DocumentsConfig",
    "DocumentsInfo",
    "FilesInfo",
    "Finding",
    "FindingActions",
    "IngestConfig",
    "SplitInfo",
    "StageInfo",
    "TokenizerConfig",
    "TokenizerInfo",
    "ingest",
    "load_dataset_info",
    "load_tokenizer",
    "redact",
    "scan_text",
    "summary_table",
]
