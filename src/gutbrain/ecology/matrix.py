"""Samples × taxa matrices from profiles, the common input of every diversity measure."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gutbrain.errors import ErrorCode, InputFormatError
from gutbrain.model import Profile, Rank, taxon_labels

__all__ = ["UNASSIGNED_COLUMN", "profiles_to_matrix"]

logger = logging.getLogger(__name__)

#: Column name of the unassigned share when ``include_unassigned=True``.
UNASSIGNED_COLUMN = "unassigned"


def profiles_to_matrix(
    profiles: Sequence[Profile],
    *,
    rank: Rank,
    counts: bool = False,
    include_unassigned: bool = False,
) -> pd.DataFrame:
    """Return a samples × taxa table of abundances (or read counts) at ``rank``.

    Parameters
    ----------
    profiles
        Profiles with distinct sample IDs.
    rank
        Rank whose rows become the columns (named by taxon name at that rank).
    counts
        Return estimated reads instead of abundances; every row must then have reads.
    include_unassigned
        Add an ``unassigned`` column (so each sample sums to 1, or to its total reads).

    Returns
    -------
    pandas.DataFrame
        Index: sample IDs, in input order; columns: taxa, sorted by label
        (:func:`gutbrain.model.taxon_labels`: a homonym gets its parent in brackets);
        missing taxa are 0.

    Raises
    ------
    InputFormatError
        When sample IDs repeat, or ``counts=True`` and a profile has no read counts.
    """
    ids = [str(p.sample_id) for p in profiles]
    repeated = [sample for sample, n in Counter(ids).items() if n > 1]
    if repeated:
        shown = ", ".join(repr(sample) for sample in repeated[:5])
        more = f" and {len(repeated) - 5:,} more" if len(repeated) > 5 else ""
        message = (
            f"{len(repeated):,} sample ID(s) occur more than once ({shown}{more}); "
            "expected unique sample IDs. Hint: was the same table given twice?"
        )
        raise InputFormatError(message, code=ErrorCode.TAB_DUPSAMPLE)
    labels = taxon_labels((t.lineage for p in profiles for t in p.at_rank(rank)), rank)
    records: list[dict[str, float]] = []
    for profile in profiles:
        row: dict[str, float] = {}
        for taxon in profile.at_rank(rank):
            label = labels[taxon.lineage.truncated(rank)]
            if counts:
                if taxon.reads is None:
                    message = (
                        f"sample {profile.sample_id!r}: taxon {taxon.taxon!r} has no read count; "
                        "count-based measures (Chao1, rarefaction) need counts"
                    )
                    raise InputFormatError(message, code=ErrorCode.TAB_NOTCOUNT)
                row[label] = row.get(label, 0.0) + taxon.reads
            else:
                row[label] = row.get(label, 0.0) + taxon.abundance
        if include_unassigned:
            share = float(profile.unassigned.get(rank, 0.0 if profile.at_rank(rank) else 1.0))
            if counts:
                if profile.total_reads is None:
                    message = f"sample {profile.sample_id!r}: total reads unknown"
                    raise InputFormatError(message, code=ErrorCode.TAB_NOTCOUNT)
                share *= profile.total_reads
            row[UNASSIGNED_COLUMN] = share
        records.append(row)
    columns = sorted({name for row in records for name in row})
    data = np.zeros((len(records), len(columns)), dtype=np.float64)
    where = {name: k for k, name in enumerate(columns)}
    for i, row in enumerate(records):
        for name, value in row.items():
            data[i, where[name]] = value
    return pd.DataFrame(data, index=pd.Index(ids, name="sample"), columns=pd.Index(columns))
