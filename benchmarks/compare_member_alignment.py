"""Member alignment on and off, back to back in one process, on the benchmark truth sets (issue 11).

For each set, ``profile_sample`` runs with the preset's settings and ``member_alignment`` on
and off (``gutbrain.profile.member_align``), alternately, ``--repeat`` times each, on a bundle
whose indexes are already cached (both sides pay the same fixed costs). Printed per run: CPU s
(``time.process_time``), reads aligned (input reads, as qc.json counts them), of them aligned
to their group's members only, reads sent to the whole index, species L1 against the truth
(``bench_profile.metrics``), reads at species-group and ad-hoc group rows, and the group rows
themselves (name: reads), which must not change.

One command (benchmark reference imported as ``bench_speed.py`` imports it)::

    .venv/bin/python benchmarks/compare_member_alignment.py --bundle /tmp/bench-bundle
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from bench_profile import GROUP_MEMBERS, SAMPLES, metrics, read_truth

from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.reference.bundle import load_bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    parser.add_argument("--sets", default=",".join(SAMPLES))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    print(
        "set | members | CPU s | aligned | to members | to whole index | species L1 | "
        "group reads | ad-hoc reads | group rows"
    )
    for name in args.sets.split(","):
        preset = SAMPLES[name]
        reads = args.shared / "bench" / "reads" / f"{name}.fastq.gz"
        truth = read_truth(args.shared / "bench" / "truth" / f"{name}.truth.tsv")
        preset_settings = PROFILE_PRESETS[preset]
        assert preset_settings.screen is not None
        on = replace(preset_settings, screen=replace(preset_settings.screen, member_alignment=True))
        off = replace(
            preset_settings, screen=replace(preset_settings.screen, member_alignment=False)
        )
        for _ in range(args.repeat):
            for label, settings in (("on", on), ("off", off)):
                start = time.process_time()
                result = profile_sample(
                    [reads], bundle=bundle, preset=preset, sample_id=name, settings=settings
                )
                cpu = time.process_time() - start
                estimate: dict[str, float] = {}
                groups: list[str] = []
                for row in result.profile.at_rank("species"):
                    if row.taxon == "unassigned":
                        continue
                    if row.members:
                        GROUP_MEMBERS[row.taxon] = tuple(row.members)
                        groups.append(f"{row.taxon}: {row.reads or 0:.1f}")
                    estimate[row.taxon] = estimate.get(row.taxon, 0.0) + row.abundance
                score = metrics(truth["species"], estimate)  # type: ignore[arg-type]
                a = result.assignment
                members = a.get("reads_aligned_members", 0)
                print(
                    f"{name} | {label} | {cpu:.2f} | {a['reads_aligned']} | {members} | "
                    f"{a['reads_aligned'] - members} | {score['L1']:.4f} | "
                    f"{a['reads_assigned_group']} | {a['reads_assigned_adhoc_group']} | "
                    f"{'; '.join(sorted(groups))}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
