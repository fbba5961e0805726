"""Which references the profiler's second pass aligns to.

The second pass re-aligns the few distinct reads the first estimate leaves unexplained (no
alignment, low identity, partial alignment, only pruned candidates) with more sensitive
minimap2 settings. Indexing the whole reference with those settings costs more CPU than
aligning the reads (and its memory stays resident), so the second pass aligns to a small index
of the references the sample's first estimate points to:

- every reference of a genus that holds a taxon the first estimate kept (abundance > 0), or
  of such a taxon itself when its genus is unknown; and
- every reference a re-aligned read already hit in the first pass (its own candidates).

A read of a genus the first estimate did not keep can still be placed at one of these
references, or stays unassigned; such a genus had fewer reads than the EM's pruning threshold
(``10/n``) in the first estimate, or none of its reads aligned in the first pass, so its reads
would mostly be pruned again after the second pass. When the sample's first estimate keeps
nothing, or the selection covers more than half the reference, the caller
(:func:`gutbrain.profile.pipeline.profile_sample`) uses the whole-reference index instead.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gutbrain._typing import IntArray
from gutbrain.profile.align import HitTable
from gutbrain.profile.taxonomy import TaxonIndex

__all__ = ["second_pass_references"]


def second_pass_references(
    taxa: TaxonIndex,
    abundance: npt.NDArray[np.float64],
    hits: HitTable,
    redo: npt.NDArray[np.bool_],
) -> IntArray:
    """Sorted indices of the references (aligner order) the second pass aligns to.

    ``abundance`` is the first estimate per taxon unit, ``hits`` the first-pass hits (read =
    distinct read index) and ``redo`` marks the distinct reads to re-align. Empty when the
    first estimate kept no taxon and the re-aligned reads hit nothing.
    """
    kept_units = np.asarray(abundance, dtype=np.float64) > 0.0
    unit_of_ref = taxa.ref_unit
    genus_of_ref = taxa.unit_genus[unit_of_ref]
    kept_genera = np.unique(taxa.unit_genus[kept_units])
    kept_genera = kept_genera[kept_genera >= 0]
    chosen = kept_units[unit_of_ref] | np.isin(genus_of_ref, kept_genera)
    own = hits.ref[redo[hits.read]] if len(hits) else np.zeros(0, dtype=np.int64)
    chosen[own] = True
    result: IntArray = np.nonzero(chosen)[0].astype(np.int64)
    return result
