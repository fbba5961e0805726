"""Time `interpret_profile` on the 9 LRAS stool profiles (with answers and markers).

Run: .venv/bin/python benchmarks/bench_interpret.py  (needs ../shared beside the checkout)
Prints the per-sample wall time (median of 3 rounds) and the result JSON size.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from gutbrain.io.answers import read_answers, read_markers
from gutbrain.io.tables import read_table
from gutbrain.workflow.interpret import interpret_profile

REPO = Path(__file__).resolve().parents[1]
LRAS = REPO.parent / "shared" / "data" / "lras_human_fecal_fulllength16s_asvs"


def main() -> None:
    t0 = time.perf_counter()
    profiles = read_table(
        LRAS / "lras_fecal_asv_counts.tsv.gz",
        taxonomy=LRAS / "lras_fecal_asv_taxonomy_silva128.tsv.gz",
    )
    print(f"read 9 LRAS profiles: {time.perf_counter() - t0:.2f} s")
    answers = read_answers(REPO / "docs" / "templates" / "answers.yaml")
    markers = read_markers(REPO / "docs" / "templates" / "markers.yaml")
    interpret_profile(profiles[0])  # warm caches (knowledge base, reference table)
    rounds = []
    size = 0
    for _ in range(3):
        t = time.perf_counter()
        for p in profiles:
            result = interpret_profile(p, answers=answers, markers=markers)
            size = max(size, len(result.model_dump_json()))
        rounds.append((time.perf_counter() - t) / len(profiles))
    print(
        f"interpret_profile: {1000 * statistics.median(rounds):.1f} ms per sample "
        f"(median of 3 rounds x {len(profiles)} samples); largest result JSON {size / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
