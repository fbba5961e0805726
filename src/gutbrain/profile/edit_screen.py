"""Edit-distance stage of the pre-screen: place near-tie reads with a few exact edit distances.

The k-mer screen (:mod:`gutbrain.profile.kmer_screen`) leaves a read to minimap2 when its best
species leads the runner-up by too few shared k-mers, or when a member of the best species'
group is not clearly behind. Many such reads are still clear at base level: sister species
differ at a few dozen positions of 16S, which costs a read few k-mers but several edits. This
stage scores those reads against their k-mer *candidates* only (the units sharing at least
``candidate_fraction`` of the best unit's k-mers) with the exact edit distance of the whole read
inside each candidate's reference sequences (semi-global: the reference's ends are free), using
``edlib`` (Myers' bit-vector algorithm, Šošić & Šikić 2017) in its distance-only mode, banded
by the distance that still matters. A read is *decided* for the unit ``b`` of smallest distance
``d_b`` when

- the read's k-mers were *plausible* (every k-mer test but the margins passed: enough k-mers
  found, and the species-level k-mers point to one unit, so chimeras stay with minimap2),
- it has at most ``max_candidates`` candidates, and the best unit outside the best unit's
  group shares fewer than ``max_runner_share`` times the best unit's k-mers (closer runners-up
  were rarely far enough behind in edits to place the read: calibration, docs/profile.md),
- ``d_b <= max_divergence × length`` (the read lies within the reference: partial reads,
  concatemers and reads far from every reference fail), and
- every other candidate ``u`` has ``d_u - d_b >= max(min_margin, margin_fraction × length)``,
  and every other member of ``b``'s species group at least
  ``group_apart × group_identity_margin × length`` (the alignment rule calls members within
  ``group_identity_margin`` identity contested; a read with a member nearer than twice that is
  aligned, as in the k-mer screen).

Decided reads enter the profile exactly like k-mer-screened ones (one stand-in candidate,
``log L = 0``, left out of the error model); the rest go to minimap2. A read identical to a
substring of one candidate's reference (distance 0) is decided for that unit whenever every
other candidate is at least the margin away (property test).

References
----------
Šošić, M. & Šikić, M. (2017). Edlib: a C/C++ library for fast, exact sequence alignment using
edit distance. *Bioinformatics* 33, 1394–1395.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import edlib
import numpy as np
import numpy.typing as npt

from gutbrain.errors import ValidationError
from gutbrain.profile.kmer_screen import ScreenResult, reverse_complement

__all__ = [
    "EditSettings",
    "UnitReferences",
    "decide_by_edit_distance",
    "edit_distance",
]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class EditSettings:
    """Candidate selection and decision thresholds of the edit-distance stage (module
    docstring)."""

    candidate_fraction: float = 0.5
    max_candidates: int = 6
    max_runner_share: float = 0.8
    max_divergence: float = 0.15
    min_margin: int = 4
    margin_fraction: float = 0.005
    group_apart: float = 2.0

    def __post_init__(self) -> None:
        if not (
            0.0 < self.candidate_fraction <= 1.0
            and self.max_candidates >= 1
            and self.max_runner_share > 0.0
            and 0.0 <= self.max_divergence < 1.0
            and self.min_margin >= 1
            and self.margin_fraction >= 0.0
            and self.group_apart >= 0.0
        ):
            message = (
                f"edit-distance screen settings {self!r}: expected 0 < candidate_fraction <= 1, "
                "max_candidates >= 1, max_runner_share > 0, 0 <= max_divergence < 1, "
                "min_margin >= 1, margin_fraction >= 0, group_apart >= 0"
            )
            raise ValidationError(message, code="GB-PROFILE-OPTIONS")

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary for provenance."""
        return asdict(self)


def edit_distance(read: str, reference: str, max_distance: int | None = None) -> int | None:
    """Edit distance of the whole ``read`` to its best-matching stretch of ``reference``
    (semi-global: the reference's ends are free), or ``None`` when it exceeds ``max_distance``
    (``None``: no bound; edlib then widens its band from 64 as needed, which is faster than a
    wide fixed band for close sequences).

    Examples
    --------
    >>> edit_distance("ACGT", "TTACGTTT", 3), edit_distance("ACGA", "TTACGTTT", 3)
    (0, 1)
    >>> edit_distance("AAAA", "CCCCCC", 2) is None
    True
    """
    if max_distance is not None and max_distance < 0:
        return None
    k = -1 if max_distance is None else max_distance
    found = edlib.align(read, reference, mode="HW", task="distance", k=k)
    distance = int(found["editDistance"])
    return None if distance < 0 else distance


class UnitReferences:
    """The reference sequences of each taxon unit, fetched on first use and kept.

    ``ref_unit[i]`` is the unit of reference ``i``; ``fetch(i)`` returns its sequence (the
    profiler reads it from the minimap2 index it already holds).
    """

    def __init__(self, ref_unit: npt.ArrayLike, fetch: Callable[[int], str]) -> None:
        units = np.asarray(ref_unit, dtype=np.int64)
        self._order = np.argsort(units, kind="stable")
        self._starts = np.searchsorted(
            units[self._order], np.arange(int(units.max(initial=-1)) + 2)
        )
        self._fetch = fetch
        self._cache: dict[int, str] = {}

    def sequences(self, unit: int) -> list[str]:
        """Upper-case sequences of the references of ``unit`` (reference order)."""
        if not 0 <= unit < self._starts.size - 1:
            return []
        refs = self._order[self._starts[unit] : self._starts[unit + 1]].tolist()
        out = []
        for ref in refs:
            sequence = self._cache.get(ref)
            if sequence is None:
                sequence = self._fetch(ref).upper()
                self._cache[ref] = sequence
            out.append(sequence)
        return out


def decide_by_edit_distance(
    result: ScreenResult,
    sequences: Sequence[str],
    references: UnitReferences,
    *,
    settings: EditSettings,
    unit_group: npt.NDArray[np.int64] | None = None,
    group_identity_margin: float = 0.005,
) -> tuple[ScreenResult, npt.NDArray[np.bool_]]:
    """``result`` with the undecided plausible reads that edit distances place decided too,
    and the mask of those reads (module docstring).

    ``result`` must come from ``KmerIndex.screen(..., candidate_fraction=...)`` on the same
    ``sequences``; without candidates it is returned unchanged.
    """
    n = len(sequences)
    newly = np.zeros(n, dtype=bool)
    if result.candidate_read is None or result.candidate_unit is None or n == 0:
        return result, newly
    assert result.plausible is not None
    assert result.reverse is not None
    starts = np.searchsorted(result.candidate_read, np.arange(n + 1))
    unit = result.unit.copy()
    groups = unit_group if unit_group is not None else np.zeros(0, dtype=np.int64)
    # a runner-up (outside the best unit's group) this close in k-mers is rarely far enough
    # behind in edits: leave such reads to minimap2 unscored
    near_tie = result.second >= settings.max_runner_share * result.best
    todo = np.nonzero(~result.decided & result.plausible & ~near_tie)[0]
    for i in todo.tolist():
        candidates = result.candidate_unit[starts[i] : starts[i + 1]].tolist()
        if not candidates or len(candidates) > settings.max_candidates:
            continue
        read = sequences[i].upper()
        if result.reverse[i]:
            read = reverse_complement(read)
        best = _best_unit(read, candidates, references, settings, groups, group_identity_margin)
        if best is not None:
            unit[i] = best
            newly[i] = True
    return replace(result, unit=unit), newly


def _best_unit(
    read: str,
    candidates: list[int],
    references: UnitReferences,
    settings: EditSettings,
    groups: IntArray,
    group_identity_margin: float,
) -> int | None:
    """The candidate unit that ``read`` places by edit distance, or ``None``.

    Candidates are scored most-shared first; as soon as the scored ones hold a near-tie the
    read is given up (a later candidate could only win by being far better than both, which
    the k-mer counts make unlikely; giving up early only leaves more reads to minimap2).
    """
    length = len(read)
    bound = int(settings.max_divergence * length)
    need = max(settings.min_margin, math.ceil(settings.margin_fraction * length))
    group_need = max(need, math.ceil(settings.group_apart * group_identity_margin * length))
    # each unit's distance, or None when above the band it was scored with: the band shrinks
    # to (best so far + the largest margin), so an unknown distance is always far enough behind
    distance: dict[int, int | None] = {}
    best: int | None = None
    winner: int | None = None
    for candidate in candidates:
        limit = bound if best is None else min(bound, best + group_need)
        found: int | None = None
        for sequence in references.sequences(candidate):
            d = edit_distance(read, sequence, limit if found is None else min(limit, found))
            if d is not None and (found is None or d < found):
                found = d
        distance[candidate] = found
        if found is not None and (best is None or found < best):
            best = found
        if best is not None:
            winner = _separated_winner(distance, best, groups, need, group_need)
            if winner is None:
                return None
    return winner


def _separated_winner(
    distance: dict[int, int | None], best: int, groups: IntArray, need: int, group_need: int
) -> int | None:
    """The unit at distance ``best`` when it is the only one and every other unit trails it by
    its margin (``group_need`` for members of its species group, ``need`` otherwise)."""
    leaders = [u for u, d in distance.items() if d == best]
    if len(leaders) != 1:
        return None
    (winner,) = leaders
    winner_group = int(groups[winner]) if winner < groups.size else -1
    for other, d in distance.items():
        if other == winner or d is None:
            continue
        same = winner_group >= 0 and other < groups.size and int(groups[other]) == winner_group
        if d - best < (group_need if same else need):
            return None
    return winner
