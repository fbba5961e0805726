"""What shapes a profile besides the reads and the reference: :class:`ProfileSettings`, and
the settings of each read technology (:data:`PROFILE_PRESETS`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gutbrain.io.readqc import QCSettings
from gutbrain.model import ReadType
from gutbrain.profile.align import (
    ALIGNMENT_PRESETS,
    HIFI_SCORING,
    ONT_SCORING,
    AlignmentSettings,
)
from gutbrain.profile.contest import ContestSettings
from gutbrain.profile.kmer_screen import ScreenSettings

__all__ = ["PROFILE_PRESETS", "ProfileSettings"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    """Everything that shapes a profile besides the reads and the reference.

    ``min_identity`` (0–1) and ``min_query_coverage`` (0–1) apply to a read's best alignment;
    ``read_qc`` overrides the read QC preset of the same name; ``second_pass`` (more sensitive
    alignment settings) re-aligns the reads the first pass leaves unexplained (no alignment,
    low identity, partial, or only pruned candidates) and re-runs the estimate, against an
    index of only the references the first estimate points to when ``second_pass_subset``
    (:mod:`gutbrain.profile.candidates`);
    ``screen`` (k-mer pre-screen, :mod:`gutbrain.profile.kmer_screen`) assigns the reads
    whose species is clear from exact k-mer evidence without aligning them (``None``: align
    every read);
    ``species_confidence`` is the genus-fallback posterior threshold; ``group_identity_margin``
    (identity, 0–1) is how much better a read must match its best member of a species group
    than every other member for the read to separate them (see
    :func:`gutbrain.profile.taxonomy.merge_contested_groups`); ``contest`` is the rule that
    joins congeners this sample's reads do not separate into ad-hoc groups, for references with
    species groups (:mod:`gutbrain.profile.contest`; ``None`` turns it off);
    ``em_tol`` and ``em_max_iter`` bound the EM; ``bootstrap_replicates``,
    ``bootstrap_max_iter`` (EM iterations per replicate) and ``seed`` control the confidence
    intervals (``confidence_level`` two-sided).
    """

    alignment: AlignmentSettings
    min_identity: float
    min_query_coverage: float
    read_qc: QCSettings | None = None
    second_pass: AlignmentSettings | None = None
    second_pass_subset: bool = True
    screen: ScreenSettings | None = None
    species_confidence: float = 0.5
    group_identity_margin: float = 0.005
    contest: ContestSettings | None = field(default_factory=ContestSettings)
    em_tol: float = 0.01
    em_max_iter: int = 1000
    bootstrap_replicates: int = 50
    bootstrap_max_iter: int = 200
    confidence_level: float = 0.95
    seed: int = 20221

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary for provenance.

        ``bootstrap_max_iter`` is left out: it was a constant before it was a setting, and
        provenance files keep the keys they had.
        """
        return {
            "alignment": self.alignment.as_dict(),
            "read_qc": self.read_qc.describe() if self.read_qc is not None else "preset",
            "second_pass": self.second_pass.as_dict() if self.second_pass is not None else None,
            "second_pass_subset": self.second_pass_subset,
            "kmer_screen": self.screen.as_dict() if self.screen is not None else None,
            "min_identity": self.min_identity,
            "min_query_coverage": self.min_query_coverage,
            "species_confidence": self.species_confidence,
            "group_identity_margin": self.group_identity_margin,
            "contested_congeners": self.contest.as_dict() if self.contest is not None else None,
            "em_tol": self.em_tol,
            "em_max_iter": self.em_max_iter,
            "bootstrap_replicates": self.bootstrap_replicates,
            "confidence_level": self.confidence_level,
            "seed": self.seed,
        }


#: Read technology -> settings (read QC thresholds come from :data:`gutbrain.io.readqc.QC_PRESETS`).
PROFILE_PRESETS: dict[ReadType, ProfileSettings] = {
    # ONT: a fast first pass (lr:hq, its own k=19, w=19), then the sensitive k=15, w=10 index for
    # the ~1 % of reads it leaves unexplained (measured: same accuracy as k=15 for all reads,
    # 1.3x faster). min_chain_score=100 (minimap2's default 40) drops weak chains early: 10-20 %
    # less mapping CPU; the few reads it leaves unmapped go to the second pass, which is cheap
    # since it aligns to a subset index (docs/profile-history.md).
    ReadType.ont: ProfileSettings(
        AlignmentSettings(
            "lr:hq",
            best_n=10,
            bandwidth=75,
            scoring=ONT_SCORING,
            max_chain_skip=2,
            min_chain_score=100,
        ),
        min_identity=0.70,
        min_query_coverage=0.5,
        second_pass=ALIGNMENT_PRESETS["ont"],
        # k-mer pre-screen: ~55-60 % of the benchmark ONT reads are placed without alignment,
        # species L1 unchanged to 0.0005 (calibrate_kmer_screen.py, docs/profile-history.md)
        # issue 11: near-tie reads get k-mer likelihood rows instead of alignments; slope =
        # median alignment log-L gap per estimated base (calibrate_kmer_rows.py, docs/profile.md)
        screen=ScreenSettings(kmer_rows=True, row_slope=2.39),
    ),
    # HiFi: the same two passes. First map-hifi on a sparser minimizer index (k=19, w=31): on the
    # benchmark HiFi sets the same L1 (to 0.0002) at 1.35-1.45x the speed of w=19, and the same
    # L1 as w=19 on HiFi reads degraded to ~94 % identity (w=51 was faster on the benchmark but
    # lost 12 % of reads at 90 % identity and precision at 94 %); then map-hifi's own w=19 for
    # the reads the first pass leaves unexplained. min_chain_score=100 as for ONT (5-11 % less
    # CPU, the same L1 on the HiFi sets and on HiFi reads degraded to ~94 % identity).
    ReadType.hifi: ProfileSettings(
        AlignmentSettings(
            "map-hifi",
            k=19,
            w=31,
            best_n=10,
            bandwidth=75,
            scoring=HIFI_SCORING,
            max_chain_skip=2,
            min_chain_score=100,
        ),
        min_identity=0.80,
        min_query_coverage=0.5,
        second_pass=ALIGNMENT_PRESETS["hifi"],
        # HiFi reads carry ~2.5x the k-mer evidence of ONT reads, and margins of 6 k-mers / 20 %
        # moved 0.006 of gut_hifi_20k's species L1 (held-out Bacteroides strains): wider ones
        # issue 11: k-mer likelihood rows as for ONT, with the HiFi slope (docs/profile.md)
        # issue 11: a group near-tie aligned to its group's members only (member_align; on for
        # HiFi only: ONT reads hide congeners the contest needs, docs/profile.md)
        screen=ScreenSettings(
            min_margin=12,
            margin_fraction=0.4,
            kmer_rows=True,
            row_slope=1.64,
            member_alignment=True,
        ),
    ),
    ReadType.short: ProfileSettings(
        ALIGNMENT_PRESETS["short"], min_identity=0.85, min_query_coverage=0.6
    ),
}
