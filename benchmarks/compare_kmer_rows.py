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

from screen_on_off import parse_args, runs


def main() -> None:
    # rows forced on (the HiFi preset has them off) and off; everything else the preset's
    args = parse_args(__doc__.split("\n")[0])
    print("set | rows | CPU s | aligned | k-mer rows | species L1 | group rows | ad-hoc rows")
    for run in runs(args, "kmer_rows"):
        a = run.result.assignment
        print(
            f"{run.sample} | {run.label} | {run.cpu:.2f} | {a['reads_aligned']} | "
            f"{a.get('reads_screened_kmer_rows', 0)} | {run.species_l1:.4f} | "
            f"{a['reads_assigned_group']} | {a['reads_assigned_adhoc_group']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
