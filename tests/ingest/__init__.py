"""Tests of the import engine (`advocacy.ingest`)."""
