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

from screen_on_off import parse_args, runs


def main() -> None:
    args = parse_args(__doc__.split("\n")[0])
    print(
        "set | members | CPU s | aligned | to members | to whole index | species L1 | "
        "group reads | ad-hoc reads | group rows"
    )
    for run in runs(args, "member_alignment"):
        a = run.result.assignment
        members = a.get("reads_aligned_members", 0)
        print(
            f"{run.sample} | {run.label} | {run.cpu:.2f} | {a['reads_aligned']} | {members} | "
            f"{a['reads_aligned'] - members} | {run.species_l1:.4f} | "
            f"{a['reads_assigned_group']} | {a['reads_assigned_adhoc_group']} | "
            f"{'; '.join(run.group_rows)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
