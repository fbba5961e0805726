"""Calibrate the edit-distance stage (gutbrain.profile.edit_screen) against alignment likelihoods.

As ``calibrate_kmer_screen.py``: every distinct read of a set (that passes read QC; ``--limit``
caps them) is aligned as the profiler's first pass aligns it and scored with Emu's likelihood;
its *alignment-best species* is its most likely taxon unit. The k-mer screen runs with the
preset's settings; the edit-distance stage then scores the reads the screen leaves undecided
(plausible ones) under each setting of a small grid. Printed per set and setting: the share of
reads the k-mer screen decides, the share the edit stage adds, the agreement of the added reads
with the alignment-best species (ties and unaligned reads count as disagreements), and the CPU
seconds of the edit stage beside minimap2's CPU seconds for the same reads.

One command (benchmark reference imported as ``bench_speed.py`` imports it)::

    .venv/bin/python benchmarks/calibrate_edit_screen.py --bundle /tmp/bench-bundle
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
from calibrate_kmer_screen import SETS, alignment_best, distinct_reads

from gutbrain.profile.align import align_sequences, open_aligner
from gutbrain.profile.edit_screen import EditSettings, UnitReferences, decide_by_edit_distance
from gutbrain.profile.index import ensure_index
from gutbrain.profile.kmer_screen import build_kmer_index
from gutbrain.profile.pipeline import PROFILE_PRESETS, screen_unit_groups
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import load_bundle, read_sequences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--limit", type=int, default=None, help="distinct reads per set")
    parser.add_argument("--tie", type=float, default=1e-6)
    parser.add_argument("--margin", default="4,8")
    parser.add_argument("--margin-fraction", default="0.005")
    parser.add_argument("--candidates", default="0.5")
    parser.add_argument("--max-candidates", default="6")
    parser.add_argument("--divergence", default="0.15")
    parser.add_argument("--group-apart", default="2.0")
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    references = list(read_sequences(bundle))
    names = [n for n, _ in references]
    taxa = TaxonIndex.from_references(names, bundle.taxonomy)
    unit_group = screen_unit_groups(bundle, taxa)
    by_ref = UnitReferences(taxa.ref_unit, lambda i: references[i][1])
    for name in args.sets.split(","):
        preset = SETS[name]
        profile = PROFILE_PRESETS[preset]
        assert profile.screen is not None
        index = build_kmer_index((s for _, s in references), taxa.ref_unit, settings=profile.screen)
        reads = distinct_reads(
            args.shared / "bench" / "reads" / f"{name}.fastq.gz", preset, args.limit
        )
        best, gap, aligned_taxa = alignment_best(reads, args.bundle, preset)
        assert np.array_equal(aligned_taxa.ref_unit, taxa.ref_unit)
        tie = gap < args.tie
        fractions = sorted({float(x) for x in args.candidates.split(",")})
        screened = {
            f: index.screen(reads, unit_group=unit_group, candidate_fraction=f) for f in fractions
        }
        kmer_decided = screened[fractions[0]].decided
        # minimap2's CPU for the reads the k-mer screen leaves (the first pass's settings)
        settings = profile.alignment
        aligner = open_aligner(
            ensure_index(bundle, preset=settings.preset, k=settings.k, w=settings.w),
            settings=settings,
        )
        left = [r for r, d in zip(reads, kmer_decided.tolist(), strict=True) if not d]
        start = time.process_time()
        align_sequences(aligner, left)
        mappy_cpu = time.process_time() - start
        print(
            f"\n{name}: {len(reads):,} distinct reads; k-mer screen decides "
            f"{kmer_decided.mean():.1%}; minimap2 on the other {len(left):,}: {mappy_cpu:.2f} CPU s"
        )
        print("candidates max margin m_frac divergence apart | added  agree  disagree  edit CPU s")
        for fraction, max_c, margin, m_frac, div, apart in itertools.product(
            fractions,
            map(int, args.max_candidates.split(",")),
            map(int, args.margin.split(",")),
            map(float, args.margin_fraction.split(",")),
            map(float, args.divergence.split(",")),
            map(float, args.group_apart.split(",")),
        ):
            edit = EditSettings(
                candidate_fraction=fraction,
                max_candidates=max_c,
                min_margin=margin,
                margin_fraction=m_frac,
                max_divergence=div,
                group_apart=apart,
            )
            start = time.process_time()
            result, added = decide_by_edit_distance(
                screened[fraction], reads, by_ref, settings=edit, unit_group=unit_group
            )
            cpu = time.process_time() - start
            agree = added & (result.unit == best) & ~tie
            n = int(added.sum())
            print(
                f"{fraction} {max_c} {margin} {m_frac} {div} {apart} | {n / len(reads):6.1%} "
                f"{int(agree.sum()) / max(n, 1):7.2%} {n - int(agree.sum()):6d}  {cpu:.2f}"
            )


if __name__ == "__main__":
    main()
