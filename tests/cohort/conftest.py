from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from gutbrain.cohort.sheet import SampleSheet, read_sample_sheet

TAXA = ("Faecalibacterium", "Bacteroides", "Prevotella", "Roseburia", "Akkermansia")


def write_cohort(
    folder: Path, n: int, *, poison: tuple[int, ...] = (), malformed: tuple[int, ...] = ()
) -> Path:
    """Write ``n`` stand-in samples and a sheet; return the sheet path."""
    rng = random.Random(n)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["sample_id,profile,PHQ9,age"]
    for i in range(n):
        path = folder / f"s{i:03d}.tsv"
        if i in poison:
            path.write_text("poison\n")
        elif i in malformed:
            path.write_text("malformed\n")
        else:
            path.write_text("".join(f"{t}\t{rng.randint(1, 500)}\n" for t in TAXA))
        lines.append(f"S{i:03d},{path.name},{rng.randint(0, 27)},{rng.randint(20, 70)}")
    sheet = folder / "sheet.csv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


@pytest.fixture
def make_cohort(tmp_path: Path) -> Callable[..., SampleSheet]:
    def make(n: int, **kwargs: tuple[int, ...]) -> SampleSheet:
        return read_sample_sheet(write_cohort(tmp_path / "in", n, **kwargs))

    return make
