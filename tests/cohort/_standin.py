"""Stand-in per-sample functions for the runner tests (imported by Dask workers by reference).

The stand-in reads the sample's profile file (a line ``taxon<TAB>count`` per taxon) so the result
depends on the input bytes; ``poison`` in the file makes the worker process exit hard.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from gutbrain.cohort.runner import SampleOutcome, SampleTask
from gutbrain.cohort.sheet import SampleSheet
from gutbrain.errors import InputFormatError


def standin_sample(task: SampleTask) -> SampleOutcome:
    """Parse ``taxon<TAB>count`` lines; sleep ``delay`` seconds (a sheet column, when given)."""
    assert task.spec.profile is not None
    text = Path(task.spec.profile).read_text()
    if "poison" in text:
        os._exit(1)  # simulates an OOM kill / segfault of the worker process
    if "malformed" in text:
        message = "line 1: expected 'taxon<TAB>count'"
        raise InputFormatError(message, path=task.spec.profile)
    time.sleep(float(task.spec.covariates.get("delay") or 0.0))
    rows = []
    counts = {}
    for line in text.splitlines():
        taxon, count = line.split("\t")
        counts[taxon] = float(count)
    total = sum(counts.values())
    for taxon, count in counts.items():
        rows.append(
            {
                "rank": "genus",
                "taxon": taxon,
                "genus": taxon,
                "abundance": count / total,
                "reads": count,
            }
        )
    scores = [
        {"kind": "qc", "name": "total_reads", "value": total},
        {"kind": "guild", "name": "butyrate", "value": counts.get("Faecalibacterium", 0.0)},
    ]
    return SampleOutcome(str(task.spec.sample_id), tuple(rows), tuple(scores))


def sample_opening_store(task: SampleTask) -> SampleOutcome:
    """Misbehaving task: tries to open the store (named in a ``store`` column) for writing."""
    from gutbrain.cohort.store import open_store

    with open_store(str(task.spec.covariates["store"]), writable=True):
        pass
    return SampleOutcome(str(task.spec.sample_id), (), ())


def with_covariate(sheet: SampleSheet, name: str, value: float | str) -> SampleSheet:
    """``sheet`` with one more column, ``value`` for every sample (a stand-in's knob)."""
    samples = tuple(
        dataclasses.replace(s, covariates={**s.covariates, name: value}) for s in sheet.samples
    )
    return dataclasses.replace(
        sheet, samples=samples, covariate_names=(*sheet.covariate_names, name)
    )
