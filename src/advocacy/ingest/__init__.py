"""Importing files into the canonical store: readers, mappings, validation, merge."""

from __future__ import annotations

from advocacy.ingest.pipeline import ImportOptions, import_file, import_files, resolve_mapping
from advocacy.ingest.report import ImportReport

__all__ = ["ImportOptions", "ImportReport", "import_file", "import_files", "resolve_mapping"]
