"""One k-mer screen setting on and off, back to back in one process, on the benchmark truth sets.

Shared by ``compare_kmer_rows.py`` and ``compare_member_alignment.py`` (issue 11): each names the
``ScreenSettings`` field it switches and prints its own columns from the runs yielded here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from bench_profile import GROUP_MEMBERS, SAMPLES, metrics, read_truth

from gutbrain.io.profile_files import ProfileResult
from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.reference.bundle import load_bundle


@dataclass(frozen=True)
class Run:
    """One profile of one set with the setting ``on`` or ``off``."""

    sample: str
    label: str
    cpu: float
    result: ProfileResult
    species_l1: float
    group_rows: list[str]  # "name: reads" per species-group row (reference or ad hoc)


def parse_args(description: str) -> argparse.Namespace:
    """``--bundle`` (indexes cached), ``--shared``, ``--sets``, ``--repeat``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    parser.add_argument("--sets", default=",".join(SAMPLES))
    parser.add_argument("--repeat", type=int, default=1)
    return parser.parse_args()


def runs(args: argparse.Namespace, setting: str) -> Iterator[Run]:
    """Per set, ``--repeat`` times: the preset with the screen's ``setting`` True, then False
    (everything else the preset's), timed with ``time.process_time``."""
    bundle = load_bundle(args.bundle)
    for name in args.sets.split(","):
        preset = SAMPLES[name]
        reads = args.shared / "bench" / "reads" / f"{name}.fastq.gz"
        truth = read_truth(args.shared / "bench" / "truth" / f"{name}.truth.tsv")
        preset_settings = PROFILE_PRESETS[preset]
        assert preset_settings.screen is not None
        sides = [
            (
                label,
                replace(preset_settings, screen=replace(preset_settings.screen, **{setting: on})),
            )
            for label, on in (("on", True), ("off", False))
        ]
        for _ in range(args.repeat):
            for label, settings in sides:
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
                yield Run(name, label, cpu, result, float(score["L1"]), sorted(groups))  # type: ignore[arg-type]
