"""K-mer rows on and off, back to back in one process, on the benchmark truth sets (issue 11).

For each set, ``profile_sample`` runs with the preset's settings and ``kmer_rows=True`` (forced
on: the HiFi preset has them off) and with ``kmer_rows=False`` (the screen's hard decisions
only), alternately, ``--repeat`` times each,
on a bundle whose indexes are already cached (so both sides pay the same fixed costs). Printed
per run: CPU s (``time.process_time``), reads sent to minimap2, reads placed by k-mer rows,
species L1 against the truth (``bench_profile.metrics``), reads at species-group and ad-hoc
group rows.

One command (benchmark reference imported as ``bench_speed.py`` imports it)::

    .venv/bin/python benchmarks/compare_kmer_rows.py --bundle /tmp/bench-bundle
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from bench_profile import GROUP_MEMBERS, SAMPLES, metrics, read_truth

from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.reference.bundle import load_bundle

SETS = SAMPLES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    print("set | rows | CPU s | aligned | k-mer rows | species L1 | group rows | ad-hoc rows")
    for name in args.sets.split(","):
        preset = SETS[name]
        reads = args.shared / "bench" / "reads" / f"{name}.fastq.gz"
        truth = read_truth(args.shared / "bench" / "truth" / f"{name}.truth.tsv")
        preset_settings = PROFILE_PRESETS[preset]
        assert preset_settings.screen is not None
        # rows forced on (the HiFi preset has them off) and off; everything else the preset's
        on = replace(preset_settings, screen=replace(preset_settings.screen, kmer_rows=True))
        off = replace(preset_settings, screen=replace(preset_settings.screen, kmer_rows=False))
        for _ in range(args.repeat):
            for label, settings in (("on", on), ("off", off)):
                start = time.process_time()
                result = profile_sample(
                    [reads], bundle=bundle, preset=preset, sample_id=name, settings=settings
                )
                cpu = time.process_time() - start
                estimate: dict[str, float] = {}
                for row in result.profile.at_rank("species"):
                    if row.taxon == "unassigned":
                        continue
                    if row.members:
                        GROUP_MEMBERS[row.taxon] = tuple(row.members)
                    estimate[row.taxon] = estimate.get(row.taxon, 0.0) + row.abundance
                score = metrics(truth["species"], estimate)  # type: ignore[arg-type]
                a = result.assignment
                print(
                    f"{name} | {label} | {cpu:.2f} | {a['reads_aligned']} | "
                    f"{a.get('reads_screened_kmer_rows', 0)} | {score['L1']:.4f} | "
                    f"{a['reads_assigned_group']} | {a['reads_assigned_adhoc_group']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
