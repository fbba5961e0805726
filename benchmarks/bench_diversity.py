"""Benchmark: diversity of the 280-sample enterotype and the 589-sample Tito 2024 tables (issue 4).

For each table: import (``read_table`` with its taxonomy), then ``diversity_summary`` — alpha
(observed, Chao1, Shannon, Simpson, inverse Simpson, Pielou), Bray–Curtis, Jaccard and robust
Aitchison distances, and a PCoA of each — at the table's rank. Prints wall and CPU seconds per
step (best of ``--repeat`` runs) and the peak RSS of the process.

Usage::

    .venv/bin/python benchmarks/bench_diversity.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GUTBRAIN_SHARED_DIR", REPO.parent / "shared"))

TABLES = {
    "enterotype (Arumugam 2011)": (
        "phyloseq_enterotype_arumugam2011/enterotype_otu_table.tsv.gz",
        "phyloseq_enterotype_arumugam2011/enterotype_taxonomy.tsv.gz",
        "genus",
    ),
    "Tito 2024 QMP": (
        "mia_tito2024_crc_quantitative_profiles/tito2024qmp_abundance.tsv.gz",
        "mia_tito2024_crc_quantitative_profiles/tito2024qmp_taxonomy.tsv",
        "species",
    ),
}


def _clock() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from gutbrain.ecology import diversity_summary
    from gutbrain.io.tables import read_table

    data = SHARED / "data"
    print(f"shared data: {data}")
    print(f"{'table':28} {'samples':>7} {'taxa':>5} {'step':10} {'wall s':>7} {'cpu s':>7}")
    for name, (table, taxonomy, rank) in TABLES.items():
        best: dict[str, tuple[float, float]] = {}
        samples = taxa = 0
        for _ in range(args.repeat):
            w0, c0 = _clock()
            profiles = read_table(data / table, taxonomy=data / taxonomy)
            w1, c1 = _clock()
            result = diversity_summary(profiles, rank=rank)  # type: ignore[arg-type]
            w2, c2 = _clock()
            samples = len(result.alpha)
            taxa = len({r.taxon for p in profiles for r in p.at_rank(rank)})  # type: ignore[arg-type]
            for step, (w, c) in {
                "import": (w1 - w0, c1 - c0),
                "diversity": (w2 - w1, c2 - c1),
                "total": (w2 - w0, c2 - c0),
            }.items():
                if step not in best or w < best[step][0]:
                    best[step] = (w, c)
        for step, (w, c) in best.items():
            print(f"{name:28} {samples:>7} {taxa:>5} {step:10} {w:7.2f} {c:7.2f}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mib:.0f} MiB; best of {args.repeat} runs; diversity = alpha (6 metrics)")
    print("+ Bray-Curtis, Jaccard, robust Aitchison + PCoA of each")


if __name__ == "__main__":
    main()
