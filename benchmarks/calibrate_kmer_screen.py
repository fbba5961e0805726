"""Calibrate the k-mer screen (gutbrain.profile.kmer_screen) against alignment likelihoods.

For each benchmark read set, every distinct read that passes read QC is aligned as the profiler's
first pass aligns it (minimap2 through mappy, the preset's settings) and scored with Emu's
likelihood model (gutbrain.profile.likelihood); its *alignment-best species* is the taxon unit of
its largest log-likelihood (reads without an alignment have none; a read whose two best units are
within ``--tie`` log-likelihood units is a tie). The screen then decides the same reads under each
setting of a small grid, and the script prints, per set and setting: the share of reads decided,
and the agreement = share of decided reads whose species equals the alignment-best species
(ties and unaligned reads count as disagreements; a read decided for a species group agrees
when the alignment-best species is one of the group members it was decided for).

One command (benchmark reference imported as ``bench_speed.py`` imports it)::

    .venv/bin/python benchmarks/calibrate_kmer_screen.py --bundle /tmp/bench-bundle
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from gutbrain.io.readqc import QC_PRESETS, ReadFilter
from gutbrain.io.reads import ReadStats, iter_sample_reads
from gutbrain.profile.align import align_sequences, open_aligner
from gutbrain.profile.index import ensure_index
from gutbrain.profile.kmer_screen import ScreenSettings, build_kmer_index
from gutbrain.profile.likelihood import alignment_log_likelihood, estimate_error_model
from gutbrain.profile.pipeline import PROFILE_PRESETS, screen_unit_groups
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import load_bundle, read_sequences

SETS = {
    "gut_ont_5k": "ont",
    "zymo_ont_5k": "ont",
    "gut_hifi_20k": "hifi",
    "zymo_hifi_20k": "hifi",
}


def distinct_reads(path: Path, preset: str, limit: int | None) -> list[str]:
    """Distinct sequences of the reads that pass the preset's read QC, in input order."""
    stats = ReadStats()
    qc = ReadFilter(QC_PRESETS[preset], stats=stats)
    seen: dict[str, None] = {}
    for read in iter_sample_reads([path], stats=stats):
        if qc.classify(read) is None:
            seen.setdefault(read.sequence, None)
        if limit is not None and len(seen) >= limit:
            break
    return list(seen)


def alignment_best(
    sequences: list[str], bundle_path: str, preset: str
) -> tuple[np.ndarray, np.ndarray, TaxonIndex]:
    """Per read: alignment-best unit (-1 none) and log-likelihood gap to the runner-up unit."""
    bundle = load_bundle(bundle_path)
    settings = PROFILE_PRESETS[preset].alignment
    aligner = open_aligner(
        ensure_index(bundle, preset=settings.preset, k=settings.k, w=settings.w),
        settings=settings,
    )
    taxa = TaxonIndex.from_references(list(aligner.seq_names), bundle.taxonomy)
    hits = align_sequences(aligner, sequences)
    model = estimate_error_model(hits)
    log_l = alignment_log_likelihood(hits, model, n_reads=len(sequences))
    unit = taxa.ref_unit[hits.ref]
    order = np.lexsort((unit, -log_l, hits.read))
    read, unit, log_l = hits.read[order], unit[order], log_l[order]
    best = np.full(len(sequences), -1, dtype=np.int64)
    gap = np.full(len(sequences), np.inf)
    head = np.ones(read.size, dtype=bool)
    head[1:] = read[1:] != read[:-1]
    heads = np.nonzero(head)[0]
    best[read[heads]] = unit[heads]
    for h in heads.tolist():  # runner-up: the next *other* unit of the same read
        j = h + 1
        while j < read.size and read[j] == read[h] and unit[j] == unit[h]:
            j += 1
        if j < read.size and read[j] == read[h]:
            gap[read[h]] = log_l[h] - log_l[j]
    return best, gap, taxa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--limit", type=int, default=None, help="distinct reads per set")
    parser.add_argument("--tie", type=float, default=1e-6)
    parser.add_argument("--k", default="21")
    parser.add_argument("--scale", default="8")
    parser.add_argument("--max-units", default="8")
    parser.add_argument("--margin", default="4,8,16")
    parser.add_argument("--fraction", default="0.1")
    parser.add_argument("--purity", default="0.6")
    parser.add_argument("--found", default="0.3")
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    references = list(read_sequences(bundle))
    names = [n for n, _ in references]
    taxa = TaxonIndex.from_references(names, bundle.taxonomy)
    indexes = {}
    for k, scale, max_units in itertools.product(
        map(int, args.k.split(",")),
        map(int, args.scale.split(",")),
        map(int, args.max_units.split(",")),
    ):
        start = time.process_time()
        base = ScreenSettings(k=k, scale=scale, max_units=max_units)
        indexes[(k, scale, max_units)] = build_kmer_index(
            (s for _, s in references), taxa.ref_unit, settings=base
        )
        index = indexes[(k, scale, max_units)]
        print(
            f"index k={k} scale={scale} max_units={max_units}: {index.hashes.size:,} k-mers, "
            f"{index.units.size:,} postings, {time.process_time() - start:.2f} CPU s"
        )
    for name in args.sets.split(","):
        preset = SETS[name]
        reads = distinct_reads(
            args.shared / "bench" / "reads" / f"{name}.fastq.gz", preset, args.limit
        )
        best, gap, aligned_taxa = alignment_best(reads, args.bundle, preset)
        assert np.array_equal(aligned_taxa.ref_unit, taxa.ref_unit)
        unit_group = screen_unit_groups(bundle, taxa)
        tie = gap < args.tie
        print(
            f"\n{name}: {len(reads):,} distinct reads; {int((best < 0).sum())} without alignment, "
            f"{int(tie.sum())} ties; {int((unit_group >= 0).sum())} units in species groups"
        )
        print("k scale max_units margin fraction purity found | decided  agree  disagree  CPU s")
        for (k, scale, max_units), index in indexes.items():
            for margin, fraction, purity, found in itertools.product(
                map(int, args.margin.split(",")),
                map(float, args.fraction.split(",")),
                map(float, args.purity.split(",")),
                map(float, args.found.split(",")),
            ):
                settings = replace(
                    index.settings,
                    min_margin=margin,
                    margin_fraction=fraction,
                    min_purity=purity,
                    min_found=found,
                )
                tuned = replace(index, settings=settings)
                start = time.process_time()
                result = tuned.screen(reads, unit_group=unit_group)
                cpu = time.process_time() - start
                decided = result.decided
                # a read decided for a group agrees when the alignment-best unit is one of
                # its tied members
                tied_best = np.zeros(len(reads), dtype=bool)
                tied_best[result.tied_read[result.tied_unit == best[result.tied_read]]] = True
                agree = decided & ((result.unit == best) | tied_best) & ~tie
                n = int(decided.sum())
                print(
                    f"{k} {scale} {max_units} {margin} {fraction} {purity} {found} | "
                    f"{n / len(reads):7.1%} {int(agree.sum()) / max(n, 1):7.2%} "
                    f"{n - int(agree.sum()):6d}  {cpu:.2f}"
                )


if __name__ == "__main__":
    main()
