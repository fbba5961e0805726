"""Would aligning a species-group near-tie only to the group's members save time? (issue 11)

The k-mer screen leaves a read to alignment when a member of its best unit's species group lies
between tied and separated (the group rule needs alignment identities). When such a read has
good evidence and its best unit leads every unit outside the group by the screen's decision
margin, only the group's members seemed in question, and the read could be aligned to their
references alone with single-reference minimap2 indexes (``mappy.Aligner(seq=...)`` with the
first pass's settings) instead of the whole index. This script measures, on those reads of one
read set, in one process (``time.process_time``, one thread):

* the whole index's first-pass alignment of the reads (ms per read);
* single-reference alignment to every reference of the best unit's group (*members*), and to
  those plus every congener (a unit of the best unit's genus) the whole index hits for the read
  (*members + congeners*: the least any rule must align to keep what the congener contest reads,
  an oracle lower bound), in ms per read and per read–reference pair; the single-reference
  indexes are built once beforehand (their build time and memory are reported apart);
* how the members' identities agree with the whole index's (best alignment per read and unit).

One command per set (bundle with cached indexes, e.g. the benchmark reference)::

    .venv/bin/python benchmarks/measure_member_alignment.py \\
        ../shared/bench/reads/gut_ont_5k.fastq.gz ont /tmp/bench-bundle
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

import mappy
import numpy as np

from gutbrain.io.readqc import QC_PRESETS, ReadFilter
from gutbrain.io.reads import iter_sample_reads
from gutbrain.model import ReadType
from gutbrain.profile.align import HitTable, align_sequences
from gutbrain.profile.aligners import open_aligners
from gutbrain.profile.settings import PROFILE_PRESETS
from gutbrain.reference.bundle import load_bundle

_SCREEN_BATCH = 512


def _rss_kib() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def _best_identity(hits: HitTable, ref_unit: np.ndarray) -> dict[tuple[int, int], float]:
    """(read, unit) -> the best identity of the read's hits on the unit's references."""
    best: dict[tuple[int, int], float] = {}
    identity = hits.identity
    for k in range(len(hits)):
        key = (int(hits.read[k]), int(ref_unit[int(hits.ref[k])]))
        best[key] = max(best.get(key, 0.0), float(identity[k]))
    return best


def _columns(table: HitTable) -> dict[str, np.ndarray]:
    return {name: getattr(table, name) for name in HitTable.__dataclass_fields__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reads", type=Path)
    parser.add_argument("preset", choices=["ont", "hifi"])
    parser.add_argument("bundle", type=Path)
    args = parser.parse_args()
    read_type = ReadType(args.preset)
    settings = PROFILE_PRESETS[read_type]
    opened = open_aligners(load_bundle(args.bundle), settings)
    assert opened.screen is not None
    index, unit_group = opened.screen
    s = index.settings
    ref_unit = opened.taxa.ref_unit
    unit_genus = opened.taxa.unit_genus
    unit_refs: dict[int, list[int]] = collections.defaultdict(list)
    for ref, unit in enumerate(ref_unit.tolist()):
        unit_refs[unit].append(ref)
    qc = ReadFilter(QC_PRESETS[args.preset])
    kept = (r.sequence for r in iter_sample_reads([args.reads]) if qc.classify(r) is None)
    distinct = list(dict.fromkeys(kept))
    reads: list[str] = []
    members: list[list[int]] = []  # per selected read: the units of its best unit's group
    for first in range(0, len(distinct), _SCREEN_BATCH):
        batch = distinct[first : first + _SCREEN_BATCH]
        r = index.screen(
            batch, unit_group=unit_group, group_identity_margin=settings.group_identity_margin
        )
        need = np.maximum(float(s.min_margin), s.margin_fraction * r.best)
        evidence = (r.sampled >= s.min_kmers) & (r.best_unit >= 0)
        evidence &= (r.found >= s.min_found * r.sampled) & (r.best >= s.min_purity * r.specific)
        # undecided, no k-mer row candidate (so a group member in between), outside led
        chosen = evidence & ~r.decided & ~r.row & (r.best - r.second >= need)
        for j in np.flatnonzero(chosen).tolist():
            group = int(unit_group[int(r.best_unit[j])])
            reads.append(batch[j])
            members.append(np.flatnonzero(unit_group == group).tolist())
    print(f"{args.reads.name}: {len(distinct)} distinct reads, {len(reads)} group near-ties")
    if not reads:
        return
    start = time.process_time()
    whole = align_sequences(opened.aligner, reads)
    whole_s = time.process_time() - start
    whole_best = _best_identity(whole, ref_unit)
    # the oracle congeners: units of the best member's genus the whole index hits, outside
    congeners: list[list[int]] = [[] for _ in reads]
    for read, unit in whole_best:
        mine = members[read]
        genus = int(unit_genus[mine[0]])
        if unit not in mine and genus >= 0 and int(unit_genus[unit]) == genus:
            congeners[read].append(unit)
    options = settings.alignment.aligner_options()
    needed = sorted(
        {r for i in range(len(reads)) for u in members[i] + congeners[i] for r in unit_refs[u]}
    )
    names = list(opened.aligner.seq_names)
    before = _rss_kib()
    start = time.process_time()
    single = {r: mappy.Aligner(seq=opened.aligner.seq(names[r]), **options) for r in needed}
    build_s = time.process_time() - start
    per_index_kib = (_rss_kib() - before) / max(len(single), 1)
    print(
        f"whole index: {1000 * whole_s / len(reads):.3f} ms/read ({len(whole)} hits); "
        f"{len(single)} single-reference indexes: {1000 * build_s / max(len(single), 1):.3f} ms "
        f"and {per_index_kib:.0f} KiB each"
    )
    for label, units_of in (
        ("members", members),
        ("members + congeners", [m + c for m, c in zip(members, congeners, strict=True)]),
    ):
        by_ref: dict[int, list[int]] = collections.defaultdict(list)
        for i, units in enumerate(units_of):
            for unit in units:
                for ref in unit_refs[unit]:
                    by_ref[ref].append(i)
        pairs = sum(len(v) for v in by_ref.values())
        start = time.process_time()
        tables = []
        for ref, which in sorted(by_ref.items()):  # one call per reference, as a batch would
            table = align_sequences(single[ref], [reads[i] for i in which], {"N/A": ref})
            tables.append(HitTable(**{**_columns(table), "read": np.asarray(which)[table.read]}))
        spent = time.process_time() - start
        found = _best_identity(HitTable.concat(tables), ref_unit)
        print(
            f"{label}: {1000 * spent / len(reads):.3f} ms/read, {pairs / len(reads):.2f} "
            f"references/read, {1000 * spent / pairs:.3f} ms/pair"
        )
        if label == "members":
            differ = [abs(found[k] - v) for k, v in whole_best.items() if k in found]
            only_here = sum(1 for k in found if k not in whole_best)
            best_differs = sum(
                1
                for i in range(len(reads))
                if abs(
                    max((v for (r, _), v in found.items() if r == i), default=0.0)
                    - max((v for (r, _), v in whole_best.items() if r == i), default=0.0)
                )
                > 1e-9
            )
            outside = {r for (r, u) in whole_best if u not in members[r]}
            print(
                f"  member identities differing from the whole index: "
                f"{sum(d > 1e-9 for d in differ)}/{len(differ)} "
                f"(max {max(differ, default=0):.4f}); "
                f"member hits only here {only_here}; reads whose best identity differs "
                f"{best_differs}; reads the whole index also aligns outside the group "
                f"{len(outside)}, to a congener {sum(1 for c in congeners if c)}"
            )


if __name__ == "__main__":
    main()
