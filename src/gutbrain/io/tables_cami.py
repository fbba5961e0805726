"""Profiles to the CAMI taxonomic profiling format (Sczyrba et al. 2017; OPAL, Meyer et al. 2019).

One block per sample::

    @SampleID:S1
    @Version:0.9.1
    @Ranks:superkingdom|phylum|class|order|family|genus|species
    @TaxonomyID:ncbi-taxonomy
    @__program__:gutbrain <version>
    @@TAXID	RANK	TAXPATH	TAXPATHSN	PERCENTAGE

``PERCENTAGE`` is abundance × 100. ``TAXID`` is the row's NCBI tax ID when known; otherwise the
taxon name stands in for it (so the file stays valid, but OPAL matches such rows by name only
against a gold standard that uses the same names). ``TAXPATH`` holds the tax ID (or name) of the
row's own rank and the names of the ranks above it; ``TAXPATHSN`` the names. Unassigned shares are
not written (CAMI profiles leave them implicit: percentages of a rank sum to at most 100).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from gutbrain import __version__
from gutbrain.io.files import atomic_write_text
from gutbrain.model import RANKS, Profile

__all__ = ["format_cami", "write_cami"]

logger = logging.getLogger(__name__)


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("|", "/")


def format_cami(profiles: Sequence[Profile]) -> str:
    """Return the CAMI profiling-format text of ``profiles`` (one block per sample)."""
    blocks: list[str] = []
    for profile in profiles:
        lines = [
            f"@SampleID:{_clean(str(profile.sample_id))}",
            "@Version:0.9.1",
            "@Ranks:" + "|".join(RANKS),
            "@TaxonomyID:ncbi-taxonomy",
            f"@__program__:gutbrain {__version__}",
            "@@TAXID\tRANK\tTAXPATH\tTAXPATHSN\tPERCENTAGE",
        ]
        for rank in profile.ranks():
            for row in profile.at_rank(rank):
                own = _clean(str(row.taxid) if row.taxid is not None else row.taxon)
                above = RANKS[: RANKS.index(rank)]
                names = [_clean(row.lineage.at(r) or "") for r in above]
                path_ids = [*names, own]
                path_names = [*names, _clean(row.taxon)]
                lines.append(
                    "\t".join(
                        [
                            own,
                            rank,
                            "|".join(path_ids),
                            "|".join(path_names),
                            f"{row.abundance * 100:.10g}",
                        ]
                    )
                )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_cami(profiles: Sequence[Profile], path: str | Path) -> Path:
    """Write the CAMI profiling format atomically and return the path."""
    return atomic_write_text(path, format_cami(profiles))
