"""Profiles to BIOM 2.1 (HDF5) through biom-format.

The BIOM table holds one rank (the narrowest rank present, unless another is asked for): one
observation per taxon, named by its name at that rank (a homonym gets its parent in brackets,
:func:`gutbrain.model.taxon_labels`), plus an ``unassigned`` observation, so every
sample's column sums to its total. Values are estimated reads when every cell's reads are known,
otherwise abundances (fractions). Observation metadata carry ``taxonomy`` (seven
Greengenes-style ``k__``…``s__`` strings, as phyloseq's ``parse_taxonomy_greengenes`` and QIIME 2
expect), ``rank`` and ``taxid``.

gutbrain also stores the complete profiles (all ranks, confidence intervals, provenance) as JSON
in the extra dataset ``/gutbrain/profiles_json``; other tools ignore it, and
:func:`gutbrain.io.tables.read_table` uses it to restore the profiles exactly.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gutbrain import __version__
from gutbrain.errors import ErrorCode, InputFormatError
from gutbrain.io.files import atomic_write_bytes
from gutbrain.io.jsonfile import dumps_json
from gutbrain.io.tables.profile import UNASSIGNED, profile_to_dict, unassigned_reads
from gutbrain.model import RANKS, Profile, Rank, taxon_labels

__all__ = ["GREENGENES_PREFIXES", "PROFILES_DATASET", "profiles_to_biom", "write_profile_biom"]

logger = logging.getLogger(__name__)

#: HDF5 dataset holding the lossless JSON form of the profiles.
PROFILES_DATASET = "gutbrain/profiles_json"
#: Rank prefixes of Greengenes-style taxonomy strings.
GREENGENES_PREFIXES: dict[Rank, str] = {
    "superkingdom": "k__",
    "phylum": "p__",
    "class": "c__",
    "order": "o__",
    "family": "f__",
    "genus": "g__",
    "species": "s__",
}


def _default_rank(profiles: Sequence[Profile]) -> Rank:
    present = {row.rank for p in profiles for row in p.rows} | {
        r for p in profiles for r in p.unassigned
    }
    for rank in reversed(RANKS):
        if rank in present:
            return rank
    return "species"


def profiles_to_biom(profiles: Sequence[Profile], *, rank: Rank | None = None) -> Any:
    """Return a :class:`biom.Table` (observations × samples) of ``profiles`` at one rank.

    Parameters
    ----------
    profiles
        Profiles with distinct sample IDs.
    rank
        Rank to tabulate; default: the narrowest rank present.

    Raises
    ------
    InputFormatError
        When sample IDs repeat or there are no profiles.
    """
    from biom import Table

    if not profiles:
        message = "no profiles to write; expected at least one sample"
        raise InputFormatError(message)
    samples = [str(p.sample_id) for p in profiles]
    if len(set(samples)) != len(samples):
        message = "sample IDs repeat; BIOM needs unique sample IDs"
        raise InputFormatError(message, code=ErrorCode.TAB_DUPSAMPLE)
    use_rank = rank or _default_rank(profiles)
    rows_at = [p.at_rank(use_rank) for p in profiles]  # sorted once: 100k taxa are common
    use_reads = all(p.total_reads is not None for p in profiles) and all(
        row.reads is not None for rows in rows_at for row in rows
    )
    labels = taxon_labels((r.lineage for rows in rows_at for r in rows), use_rank)
    above = [r for r in RANKS if RANKS.index(r) <= RANKS.index(use_rank)]
    taxa: dict[str, dict[str, object]] = {}
    for rows in rows_at:
        for row in rows:
            label = labels[row.lineage.truncated(use_rank)]
            if label not in taxa:
                taxonomy = [GREENGENES_PREFIXES[r] + (row.lineage.at(r) or "") for r in above]
                taxa[label] = {
                    "taxonomy": taxonomy,
                    "rank": use_rank,
                    "taxid": row.taxid or "",
                }
                if row.members:  # a species group: its member species, ';'-separated
                    taxa[label]["members"] = ";".join(row.members)
    names = [*sorted(taxa), UNASSIGNED]
    index = {name: i for i, name in enumerate(names)}
    data = np.zeros((len(names), len(profiles)), dtype=np.float64)
    for j, (profile, rows) in enumerate(zip(profiles, rows_at, strict=True)):
        for row in rows:
            value = row.reads if use_reads else row.abundance
            data[index[labels[row.lineage.truncated(use_rank)]], j] += float(value or 0.0)
        # a profile without rows at the rank has all its reads unassigned there
        default = 0.0 if rows else 1.0
        rest = float(profile.unassigned.get(use_rank, default))
        if use_reads:
            assert profile.total_reads is not None
            known = unassigned_reads(profile, use_rank) if use_rank in profile.unassigned else None
            rest = known if known is not None else rest * profile.total_reads
        data[index[UNASSIGNED], j] = rest
    metadata = [
        taxa.get(n, {"taxonomy": ["unassigned"], "rank": use_rank, "taxid": ""}) for n in names
    ]
    if any("members" in entry for entry in metadata):  # BIOM wants the same keys everywhere
        metadata = [{**entry, "members": entry.get("members", "")} for entry in metadata]
    return Table(
        data,
        names,
        samples,
        observation_metadata=metadata,
        type="OTU table",
        generated_by=f"gutbrain {__version__}",
    )


def write_profile_biom(
    profile: Profile | Sequence[Profile], path: str | Path, *, rank: Rank | None = None
) -> Path:
    """Write BIOM 2.1 (HDF5) atomically and return its path.

    Parameters
    ----------
    profile
        One profile or several (one column each).
    path
        Destination file.
    rank
        Rank to tabulate; default: the narrowest rank present.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    OutputError
        When the file cannot be written.
    """
    import h5py  # only when a BIOM file is written (~25 ms of every CLI start-up otherwise)

    profiles = [profile] if isinstance(profile, Profile) else list(profile)
    table = profiles_to_biom(profiles, rank=rank)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        table.to_hdf5(handle, f"gutbrain {__version__}")
        payload = dumps_json([profile_to_dict(p) for p in profiles], indent=None, sort_keys=False)
        handle.create_dataset(PROFILES_DATASET, data=np.bytes_(payload.encode("utf-8")))
    return atomic_write_bytes(path, buffer.getvalue())
