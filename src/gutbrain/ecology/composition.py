"""Composition at broader ranks: roll a profile's taxa up to phylum, class, order and family."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from gutbrain.model import RANKS, Lineage, Profile, Rank, TaxonRow

__all__ = ["source_rank", "with_broader_ranks"]


def source_rank(profile: Profile) -> Rank | None:
    """The rank best suited to roll up from: the one with the smallest unassigned share.

    Ties go to the narrower rank. ``None`` when the profile has no rows.
    """
    ranks = profile.ranks()
    if not ranks:
        return None
    return min(reversed(ranks), key=lambda r: profile.unassigned.get(r, 0.0))


def with_broader_ranks(profile: Profile) -> Profile:
    """Return ``profile`` with rows added at every rank broader than its best rank.

    Rows of the source rank (:func:`source_rank`) are summed by their lineage down to each broader
    rank that the profile does not already hold; reads are summed when every source row has them.
    A source row whose lineage has no name at a broader rank counts as unassigned there, so each
    added rank's rows plus its unassigned share still sum to 1. Confidence intervals are not
    carried over (they do not add up).

    Examples
    --------
    >>> from gutbrain.model import Provenance, SampleId
    >>> rows = (
    ...     TaxonRow("genus", Lineage(phylum="Firmicutes", genus="Blautia"), 0.5),
    ...     TaxonRow("genus", Lineage(phylum="Firmicutes", genus="Dorea"), 0.2),
    ...     TaxonRow("genus", Lineage(genus="Mystery"), 0.1),
    ... )
    >>> p = Profile(SampleId("s"), rows, {"genus": 0.2}, Provenance("0", "test"))
    >>> full = with_broader_ranks(p)
    >>> [(r.taxon, round(r.abundance, 3)) for r in full.at_rank("phylum")]
    [('Firmicutes', 0.7)]
    >>> round(full.unassigned["phylum"], 3)
    0.3
    """
    source = source_rank(profile)
    if source is None:
        return profile
    rows = profile.at_rank(source)
    have_reads = all(row.reads is not None for row in rows)
    added: list[TaxonRow] = []
    unassigned = dict(profile.unassigned)
    base_unassigned = profile.unassigned.get(source, 0.0)
    for rank in RANKS[: RANKS.index(source)]:
        if rank in profile.ranks():
            continue
        sums: dict[Lineage, list[float]] = defaultdict(lambda: [0.0, 0.0])
        missing = 0.0
        for row in rows:
            if row.lineage.at(rank) is None:
                missing += row.abundance
                continue
            total = sums[row.lineage.truncated(rank)]
            total[0] += row.abundance
            total[1] += row.reads or 0.0
        for lineage, (abundance, reads) in sums.items():
            added.append(
                TaxonRow(
                    rank=rank,
                    lineage=lineage,
                    abundance=abundance,
                    reads=reads if have_reads else None,
                )
            )
        unassigned[rank] = base_unassigned + missing
    if not added:
        return profile
    return replace(profile, rows=(*added, *profile.rows), unassigned=unassigned)
