"""Species and genus L1 between gutbrain's and Emu's profiles, group-aware.

gutbrain reports a species group (reference groups of the bundle, ad-hoc groups of contested
congeners) as one row named ``... group`` with its ``members``; Emu reports each member species.
Compared by name, a group row and its members count twice (once on each side), so the L1
between two profiles that agree read for read can exceed 1. Here Emu's rows are re-keyed first:
a species that is a member of one of gutbrain's group rows counts under that group's name (and,
at genus, under the group row's genus, as gutbrain reports it). Emu rows without a name at a rank
(``unknown genus``: a species whose lineage has no genus) are left out at that rank, as gutbrain
leaves such reads unassigned there. Both profiles are then renormalised to sum 1.
"""

from __future__ import annotations

from collections.abc import Mapping


def l1_between(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """L1 distance of two profiles, each renormalised to sum 1."""
    sa, sb = sum(a.values()) or 1.0, sum(b.values()) or 1.0
    return sum(abs(a.get(k, 0.0) / sa - b.get(k, 0.0) / sb) for k in set(a) | set(b))


def group_aware_emu(
    emu_rows: list[tuple[str, str, float]],
    group_members: Mapping[str, tuple[str, ...]],
    group_genus: Mapping[str, str],
) -> dict[str, dict[str, float]]:
    """Emu's species and genus profiles keyed as gutbrain keys them.

    ``emu_rows``: (species, genus, abundance) per classified Emu row ('' where the rank has no
    name); ``group_members``: gutbrain's species group rows of this sample -> member species;
    ``group_genus``: those group rows -> the genus gutbrain reports them under.
    """
    group_of = {m: group for group, members in group_members.items() for m in members}
    profile: dict[str, dict[str, float]] = {"species": {}, "genus": {}}
    for species, genus, abundance in emu_rows:
        group = group_of.get(species)
        keys = {
            "species": group if group is not None else species,
            "genus": group_genus.get(group, genus) if group is not None else genus,
        }
        for rank, key in keys.items():
            if key:
                profile[rank][key] = profile[rank].get(key, 0.0) + abundance
    return profile
