"""Excel XLSX with openpyxl (MIT), streamed (read-only mode): one page per sheet, each row a line of
tab-separated cell values (cached results, not formulas)."""

from __future__ import annotations

import io
import zipfile
from importlib.metadata import version

import openpyxl

from tools.data.documents._config import DocumentsConfig
from tools.data.documents._types import DocumentProblem, Extraction
from tools.data.documents._zipped import check_zip

__all__ = ["extract_xlsx"]


def extract_xlsx(data: bytes, config: DocumentsConfig) -> Extraction:
    check_zip(data, config, needs="xl/workbook.xml")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as error:
        raise DocumentProblem("corrupt_document", f"openpyxl cannot read it: {error}") from None
    result = Extraction(type="xlsx", extractor="openpyxl", version=version("openpyxl"))
    try:
        if len(workbook.worksheets) > config.max_pages:
            raise DocumentProblem(
                "document_limit",
                f"{len(workbook.worksheets)} sheets, more than documents.max_pages={config.max_pages}",
            )
        chars = 0
        for sheet in workbook.worksheets:
            lines = [f"Sheet: {sheet.title}"]
            for row in sheet.iter_rows(values_only=True):
                cells = ["" if value is None else str(value) for value in row]
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    line = "\t".join(cells)
                    lines.append(line)
                    chars += len(line) + 1
                if chars > config.max_chars:
                    result.truncated = True
                    break
            result.pages.append("\n".join(lines))
            if result.truncated:
                break
    except DocumentProblem:
        raise
    except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile) as error:
        raise DocumentProblem("corrupt_document", f"openpyxl cannot read a sheet: {error}") from None
    finally:
        workbook.close()
    return result
