"""The data pipeline: directories and archives of code and documents -> a tokenized Megatron dataset.

``ingest(IngestConfig(inputs=[...], out=...))`` streams every file, keeps text and code, removes duplicates
and near duplicates, redacts (or drops, or fails on) secrets and personal data, splits train/valid by file,
trains or reuses a byte-level BPE tokenizer and writes ``train``/``valid`` indexed datasets plus a manifest.
Documents (PDF, Office, ODF, HTML, e-mail, images through OCR) are read by :mod:`tools.data.documents` in a
worker process and their text takes the same path; their images go to the side dataset ``images/``.
``scan_text`` is the secret and personal-data scanner on its own.
"""

from tools.data._config import DEFAULT_EXCLUDE, DedupConfig, FindingActions, IngestConfig, TokenizerConfig
from tools.data._dedup import BandTable, ExactDuplicates, NearDuplicates, shingles
from tools.data._detect import decode, is_binary, language_of, normalise
from tools.data._indexed import IndexedWriter
from tools.data._manifest import (
    MANIFEST,
    DatasetInfo,
    DocumentsInfo,
    FilesInfo,
    SplitInfo,
    StageInfo,
    TokenizerInfo,
    atomic_copy,
    atomic_write_text,
    load_dataset_info,
    load_tokenizer,
)
from tools.data._pipeline import ingest
from tools.data._report import summary_table
from tools.data._scan import Finding, decide, redact, scan_text
from tools.data._sources import RawFile, iter_files, list_inputs
from tools.data._staging import StagedDocs, StagingWriter, assign_splits, finish_staging, split_score
from tools.data._tokenizer import EOD
from tools.data.documents import DocumentsConfig

__all__ = [
    "DEFAULT_EXCLUDE",
    "EOD",
    "MANIFEST",
    "BandTable",
    "DatasetInfo",
    "DedupConfig",
    "DocumentsConfig",
    "DocumentsInfo",
    "ExactDuplicates",
    "FilesInfo",
    "Finding",
    "FindingActions",
    "IndexedWriter",
    "IngestConfig",
    "NearDuplicates",
    "RawFile",
    "SplitInfo",
    "StageInfo",
    "StagedDocs",
    "StagingWriter",
    "TokenizerConfig",
    "TokenizerInfo",
    "assign_splits",
    "atomic_copy",
    "atomic_write_text",
    "decide",
    "decode",
    "finish_staging",
    "ingest",
    "is_binary",
    "iter_files",
    "language_of",
    "list_inputs",
    "load_dataset_info",
    "load_tokenizer",
    "normalise",
    "redact",
    "scan_text",
    "shingles",
    "split_score",
    "summary_table",
]
