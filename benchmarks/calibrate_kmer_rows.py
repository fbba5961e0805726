"""Calibrate the k-mer rows of the screen (issue 11) against alignment likelihoods.

A read the k-mer screen leaves undecided only because of a near-tie outside its best unit's
species group gets a *k-mer row* in the EM: per candidate unit, ``d = behind / e`` estimated
bases where the candidate differs from the read beyond the best unit
(:func:`gutbrain.profile.kmer_screen.kmer_row_errors` with slope 1), turned into
``slope × d`` mismatch-equivalent errors. This script derives ``slope`` per read type: every
distinct read of a set that gets a k-mer row (first ``--limit`` distinct reads passing read QC)
is also aligned as the first pass aligns it and scored with the sample's error model
(:mod:`gutbrain.profile.likelihood`); for each (read, candidate) aligned to both the candidate
and the read's k-mer best unit, ``y = (log L(best) − log L(candidate)) / −log p_mismatch``
(the alignment's likelihood difference in mismatch-equivalents) is regressed on ``d`` through
the origin. Printed per set: the fitted slope, residual spread, the share of rows whose k-mer
argmax has the alignment's largest likelihood among the row's candidates, and the calibration
of the k-mer posterior of that argmax (flat prior over the row's candidates) against how
often alignment agrees.

One command (benchmark reference imported as ``bench_speed.py`` imports it)::

    .venv/bin/python benchmarks/calibrate_kmer_rows.py --bundle /tmp/bench-bundle --limit 2000
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from calibrate_kmer_screen import SETS, distinct_reads

from gutbrain.profile.align import align_sequences, open_aligner
from gutbrain.profile.contest import ContestSettings, contest_log_likelihood, contest_threshold
from gutbrain.profile.index import ensure_index
from gutbrain.profile.kmer_rows import RowScorer
from gutbrain.profile.kmer_screen import build_kmer_index
from gutbrain.profile.likelihood import alignment_log_likelihood, estimate_error_model
from gutbrain.profile.pipeline import PROFILE_PRESETS, screen_unit_groups
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import load_bundle, read_sequences


def aligned_unit_log_l(
    sequences: list[str], bundle_path: str, preset: str, taxa: TaxonIndex
) -> tuple[dict[tuple[int, int], float], float, dict[tuple[int, int], float], float]:
    """Best alignment log L per (read, unit), the error model's -log p_mismatch, the best
    contest log L (aligned part only) per (read, unit) and the contest threshold."""
    bundle = load_bundle(bundle_path)
    settings = PROFILE_PRESETS[preset].alignment
    aligner = open_aligner(
        ensure_index(bundle, preset=settings.preset, k=settings.k, w=settings.w),
        settings=settings,
    )
    aligned_taxa = TaxonIndex.from_references(list(aligner.seq_names), bundle.taxonomy)
    assert np.array_equal(aligned_taxa.ref_unit, taxa.ref_unit)
    hits = align_sequences(aligner, sequences)
    model = estimate_error_model(hits)
    log_l = alignment_log_likelihood(hits, model, n_reads=len(sequences))
    contest = contest_log_likelihood(hits, model, n_reads=len(sequences))
    best: dict[tuple[int, int], float] = {}
    best_contest: dict[tuple[int, int], float] = {}
    for r, u, v, c in zip(
        hits.read.tolist(),
        taxa.ref_unit[hits.ref].tolist(),
        log_l.tolist(),
        contest.tolist(),
        strict=True,
    ):
        if v > best.get((r, u), -np.inf):
            best[r, u] = v
        if c > best_contest.get((r, u), -np.inf):
            best_contest[r, u] = c
    threshold = contest_threshold(model, ContestSettings().max_errors)
    return best, -model.log_mismatch, best_contest, threshold


def posterior_of_first(values: npt.NDArray[np.float64]) -> float:
    """Posterior of the first entry under a flat prior, from log-likelihoods."""
    shifted = np.exp(values - values.max())
    return float(shifted[0] / shifted.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--limit", type=int, default=2000, help="distinct reads per set")
    parser.add_argument("--min-bases", type=float, default=None, help="row_min_bases")
    parser.add_argument("--debug", action="store_true", help="print the (d, y) distribution")
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    references = list(read_sequences(bundle))
    taxa = TaxonIndex.from_references([n for n, _ in references], bundle.taxonomy)
    unit_group = screen_unit_groups(bundle, taxa)
    indexes = {}
    pooled: dict[str, tuple[list[float], list[float]]] = {}
    for name in args.sets.split(","):
        preset = SETS[name]
        settings = PROFILE_PRESETS[preset].screen
        assert settings is not None
        settings = replace(settings, kmer_rows=True, row_slope=1.0)
        if args.min_bases is not None:
            settings = replace(settings, row_min_bases=args.min_bases)
        key = (settings.k, settings.scale, settings.max_units)
        if key not in indexes:
            indexes[key] = build_kmer_index(
                (s for _, s in references), taxa.ref_unit, settings=settings
            )
        index = replace(indexes[key], settings=settings)
        reads = distinct_reads(
            args.shared / "bench" / "reads" / f"{name}.fastq.gz", preset, args.limit
        )
        result = index.screen(reads, unit_group=unit_group)
        scorer = RowScorer(lambda i: references[i][1], taxa.ref_unit, settings)
        rows = scorer.rows(result, reads, unit_group=unit_group)
        aligned, cost, contest, threshold = aligned_unit_log_l(reads, args.bundle, preset, taxa)
        d_all: list[float] = []
        y_all: list[float] = []
        agree = n_rows = missing = votes = 0
        calib: list[tuple[float, bool]] = []
        starts = np.nonzero(np.r_[True, rows.read[1:] != rows.read[:-1]])[0]
        ends = np.r_[starts[1:], rows.read.size]
        rows_d: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = []
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            r = int(rows.read[a])
            units = rows.unit[a:b].tolist()
            d = rows.errors[a:b]
            kbest = units[0]
            if (r, kbest) not in aligned:
                continue
            y = np.array([aligned.get((r, u), -np.inf) for u in units])
            n_rows += 1
            correct = bool(y[0] >= y.max())
            agree += correct
            seen = np.isfinite(y)
            # a contest vote under alignment: a congener within the contest threshold
            c0 = contest.get((r, kbest), -np.inf)
            voters = [
                u
                for u in units[1:]
                if c0 - contest.get((r, u), -np.inf) <= threshold + 1e-9
                and taxa.unit_genus[u] == taxa.unit_genus[kbest]
            ]
            votes += bool(voters)
            if voters and args.debug:
                print(
                    "  contest vote:",
                    taxa.units[kbest].species,
                    "vs",
                    [(taxa.units[u].species, round(float(d[units.index(u)]), 1)) for u in voters],
                )
            for j in range(1, len(units)):
                if seen[j]:
                    d_all.append(float(d[j]))
                    y_all.append(float((y[0] - y[j]) / cost))
            rows_d.append((d, y))
            # alignment candidates within 2 mismatch-equivalents of the row's best, not in it
            close = {u for (rr, u), v in aligned.items() if rr == r and (y[0] - v) / cost <= 2.0}
            missing += len(close - set(units)) > 0
            calib.append((0.0, correct))
        d_arr, y_arr = np.array(d_all), np.array(y_all)
        if args.debug:
            np.set_printoptions(precision=1, suppress=True, linewidth=150)
            print("d quantiles", np.quantile(d_arr, [0.1, 0.25, 0.5, 0.75, 0.9]))
            print("y quantiles", np.quantile(y_arr, [0.1, 0.25, 0.5, 0.75, 0.9]))
            for lo, hi in ((4, 5), (5, 6), (6, 8), (8, 10), (10, 12), (12, 16), (16, 99)):
                t = (d_arr >= lo) & (d_arr < hi)
                if t.any():
                    print(
                        f"  d in [{lo},{hi}): n={int(t.sum())} y median "
                        f"{np.median(y_arr[t]):.1f} IQR {np.quantile(y_arr[t], [0.25, 0.75])} "
                        f"y <= 2: {int((y_arr[t] <= 2).sum())}"
                    )
        # robust slope: the median of y / d over pairs with d >= 1 (least squares through the
        # origin is printed beside it; the gaps have a long tail of end effects)
        ls_slope = float(d_arr @ y_arr / max(float(d_arr @ d_arr), 1e-12))
        usable = d_arr >= 1.0
        slope = float(np.median(y_arr[usable] / d_arr[usable])) if usable.any() else ls_slope
        pooled.setdefault(preset, ([], []))[0].extend(d_arr[usable].tolist())
        pooled[preset][1].extend(y_arr[usable].tolist())
        resid = y_arr - slope * d_arr
        # posterior of the k-mer argmax, with the fitted slope, against alignment agreement
        probs = np.array(
            [posterior_of_first(-slope * cost * d) for d, _ in rows_d], dtype=np.float64
        )
        hits_ok = np.array([c for _, c in calib], dtype=bool)
        n_row_reads = int(rows.row.sum())
        print(
            f"\n{name}: {len(reads):,} distinct reads; decided {int(result.decided.sum()):,}, "
            f"k-mer rows {n_row_reads:,} ({n_row_reads / len(reads):.1%}); "
            f"-log p_mismatch {cost:.3f}"
        )
        print(
            f"  pairs {d_arr.size:,}; slope (mismatch-equivalents per estimated base): median "
            f"ratio {slope:.3f}, least squares {ls_slope:.3f}; residual SD {resid.std():.2f}; "
            f"median |residual| {float(np.median(np.abs(resid))):.2f}; "
            f"corr {np.corrcoef(d_arr, y_arr)[0, 1]:.3f}"
        )
        print(
            f"  argmax agrees with alignment on {agree:,} of {n_rows:,} rows "
            f"({agree / max(n_rows, 1):.2%}); {missing} rows miss a unit that alignment puts "
            "within 2 mismatch-equivalents of the best; "
            f"{votes} rows hold a congener that alignment does not separate from the best "
            f"(contest log-L gap <= {threshold:.2f})"
        )
        for low, high in ((0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 0.999), (0.999, 1.01)):
            take = (probs >= low) & (probs < high)
            if take.any():
                print(
                    f"  k-mer posterior of argmax in [{low}, {min(high, 1.0)}): "
                    f"{int(take.sum()):5d} rows, mean {probs[take].mean():.3f}, "
                    f"alignment agrees {hits_ok[take].mean():.3f}"
                )
    for preset, (d_list, y_list) in pooled.items():
        ratio = np.array(y_list) / np.array(d_list)
        print(
            f"\n{preset}: pooled median slope {float(np.median(ratio)):.3f} over {ratio.size:,} "
            f"pairs (quartiles {np.quantile(ratio, 0.25):.2f}, {np.quantile(ratio, 0.75):.2f})"
        )


if __name__ == "__main__":
    main()
