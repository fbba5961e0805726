"""Abundance tables in and out: gutbrain's ``profile.tsv``, BIOM, and other pipelines' outputs.

Every table becomes a list of :class:`~gutbrain.model.Profile` (one per sample); formats and
their rules are described in ``docs/tables.md``.
"""

from __future__ import annotations

import logging

from gutbrain.io.tables_biom import profiles_to_biom, write_profile_biom
from gutbrain.io.tables_profile import (
    PROFILE_COLUMNS,
    UNASSIGNED,
    format_profile_tsv,
    profile_from_dict,
    profile_to_dict,
    read_profile_tsv,
    read_profiles_tsv,
    write_profile_tsv,
)

__all__ = [
    "PROFILE_COLUMNS",
    "UNASSIGNED",
    "format_profile_tsv",
    "profile_from_dict",
    "profile_to_dict",
    "profiles_to_biom",
    "read_profile_tsv",
    "read_profiles_tsv",
    "write_profile_biom",
    "write_profile_tsv",
]

logger = logging.getLogger(__name__)
