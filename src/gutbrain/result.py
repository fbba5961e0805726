"""The schema-versioned result of interpreting one sample (pydantic; the report's only input)."""

from __future__ import annotations
