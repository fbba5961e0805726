"""Does ``mappy.Aligner.map`` run in parallel in Python threads? (issue 11)

Maps the first ``--reads`` reads of a read set with the preset's first-pass minimap2 index and
settings (``gutbrain.profile.aligners.open_aligners``, ``align.align_sequences``) in batches of
256, alternately in one thread and in a pool of two threads, and prints the wall and CPU
seconds of each round (CPU: user + sys of the process, all threads). Two threads finishing in
about half the wall time of one at the same CPU means the mapping releases the GIL.

One command (a bundle with cached indexes, e.g. ``benchmarks/bench_memory.py --keep DIR``'s)::

    .venv/bin/python benchmarks/bench_mappy_threads.py \\
        ../shared/bench/reads/gut_ont_5k.fastq.gz ont /tmp/mem/keep/bundle
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import os
import time
from pathlib import Path

from gutbrain.io.reads import iter_sample_reads
from gutbrain.model import ReadType
from gutbrain.profile.align import align_sequences
from gutbrain.profile.aligners import open_aligners
from gutbrain.profile.settings import PROFILE_PRESETS
from gutbrain.reference.bundle import load_bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reads", type=Path)
    parser.add_argument("preset", choices=[t.value for t in ReadType])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--reads", dest="n_reads", type=int, default=1800)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    aligner = open_aligners(load_bundle(args.bundle), PROFILE_PRESETS[args.preset]).aligner
    reads = itertools.islice(iter_sample_reads([args.reads]), args.n_reads)
    sequences = [read.sequence for read in reads]
    batches = [sequences[i : i + 256] for i in range(0, len(sequences), 256)]

    def hits_of(batch: list[str]) -> int:
        return int(align_sequences(aligner, batch).read.size)

    print(f"{len(sequences)} reads, batches of 256, preset {args.preset}")
    print("| threads | wall s | CPU s | hits |\n|---|---|---|---|")
    for _ in range(args.rounds):
        for threads in (1, 2):
            start, wall = os.times(), time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
                hits = sum(pool.map(hits_of, batches))
            end = os.times()
            cpu = (end.user - start.user) + (end.system - start.system)
            print(f"| {threads} | {time.perf_counter() - wall:.2f} | {cpu:.2f} | {hits} |")


if __name__ == "__main__":
    main()
