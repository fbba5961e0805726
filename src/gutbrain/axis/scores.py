"""Functional guild scores and taxa of interest from a profile.

**Guild score.** For a guild with members :math:`m` (each a taxon name at a rank), the score is
the summed abundance of the profile rows that match a member at the member's rank (names compared
with :func:`~gutbrain.axis.synonyms.same_taxon`; a species member also matches a
genus-rank group standing for that species, e.g. SILVA's ``[Eubacterium] rectale group``):

.. math:: S = \\sum_{r \\in \\text{matched rows}} a_r

where :math:`a_r` is the row's abundance (fraction of all reads). A row is not counted twice when
it lies inside a broader member already counted. This is *genetic potential inferred from
taxonomy*, not a measured metabolite.

A member named at a rank the profile lacks is looked for at the broadest narrower rank present,
through the rows' lineage (family Enterobacteriaceae from genus rows whose family is
Enterobacteriaceae); see :func:`member_rank`.

**Coverage** says how much of the profile could be checked, averaged over the members:

.. math:: C = \\frac{1}{|M|} \\sum_{m \\in M} (1 - u_{\\rho(m)})

with :math:`\\rho(m)` the rank used for member :math:`m` (a member that cannot be checked adds 0)
and :math:`u_\\rho` the unassigned fraction at rank :math:`\\rho`. **Confidence** is ``high`` for
:math:`C \\ge 0.8`, ``moderate`` for :math:`C \\ge 0.5`, ``low`` above 0, and the score is not
computable (``value = None`` with a reason) when :math:`C = 0` or the guild cannot be scored from
taxa at all (acetate, tryptophan, serotonin spore-formers; see the knowledge base).

**Background-only guilds.** A guild whose knowledge row is ``report_use = context_only`` (GABA,
mucin, LPS: "never a personal inference", guide.md) gets no personal value and no percentiles:
it is returned with ``computable = False``, ``background_only = True`` and the reason, so the
report can explain it as background knowledge only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from gutbrain.axis.synonyms import canonical_name, same_taxon, species_of_group
from gutbrain.io.knowledge import Guild, KnowledgeBase, TaxonEvidence
from gutbrain.model import RANKS, Profile, TaxonRow
from gutbrain.result import DiversityPercentile, GuildMember, GuildScore, TaxonOfInterest

__all__ = [
    "BACKGROUND_ONLY_REASON",
    "CONFIDENCE_HIGH",
    "CONFIDENCE_MODERATE",
    "confidence_of",
    "match_rows",
    "member_rank",
    "score_guild",
    "score_guilds",
    "taxa_not_found",
    "taxa_of_interest",
]

logger = logging.getLogger(__name__)

CONFIDENCE_HIGH = 0.8
CONFIDENCE_MODERATE = 0.5

#: Reason given for a background-only (``context_only``) guild.
BACKGROUND_ONLY_REASON = (
    "background knowledge only: the evidence for this guild is not strong enough for a personal "
    "inference (knowledge base report_use = context_only), so no personal value is given"
)

_POTENTIAL = "Inferred from which taxa are present (genetic potential), not a measured metabolite."


def confidence_of(coverage: float) -> str:
    """Map coverage to ``high`` / ``moderate`` / ``low`` / ``none`` (module docstring)."""
    if coverage >= CONFIDENCE_HIGH:
        return "high"
    if coverage >= CONFIDENCE_MODERATE:
        return "moderate"
    return "low" if coverage > 0 else "none"


def member_rank(profile: Profile, rank: str, name: str) -> str | None:
    """The profile rank used to look for a member named at ``rank`` (``None``: not checkable).

    The member's own rank when the profile has it; otherwise, for a species, the genus rank when
    the profile has a genus-rank group standing for that species; otherwise the broadest rank
    present that is narrower than ``rank`` (its rows are matched through their lineage).
    """
    present = profile.ranks()
    if rank in present:
        return rank
    if rank not in RANKS:
        return None
    if rank == "species":
        target = canonical_name(name)
        groups = (species_of_group(r.taxon) for r in profile.rows if r.rank == "genus")
        return "genus" if any(g and same_taxon(g, target) for g in groups) else None
    narrower = [r for r in RANKS[RANKS.index(rank) + 1 :] if r in present]
    return narrower[0] if narrower else None


def match_rows(profile: Profile, rank: str, name: str) -> list[tuple[TaxonRow, str]]:
    """Profile rows matching taxon ``name`` named at ``rank``: ``[(row, how it matched)]``.

    Rows are searched at :func:`member_rank`; rows of a narrower rank match when their lineage
    at ``rank`` is ``name``.
    """
    used = member_rank(profile, rank, name)
    out: list[tuple[TaxonRow, str]] = []
    if used is None:
        return out
    for row in profile.rows:
        if row.rank != used or not row.lineage.at(row.rank):
            continue
        if used == rank:
            if same_taxon(row.taxon, name):
                out.append((row, row.taxon))
            elif rank == "species" and any(same_taxon(m, name) for m in row.members):
                # a species group (16S cannot separate its members) holding the member
                out.append((row, f"{row.taxon} (contains {name})"))
        elif rank == "species":
            group = species_of_group(row.taxon)
            if group is not None and same_taxon(group, name):
                out.append((row, f"{row.taxon} (genus-rank group)"))
        else:
            parent = row.lineage.at(rank)  # type: ignore[arg-type]
            if parent is not None and same_taxon(parent, name):
                out.append((row, f"{row.taxon} (in {parent})"))
    return out


def _resolved(profile: Profile, used: str | None, rank: str) -> float:
    """Share of the profile checkable for a member named at ``rank`` searched at ``used``."""
    if used is None:
        return 0.0
    if used == rank or rank == "species":
        return 1.0 - float(profile.unassigned.get(used, 0.0))  # type: ignore[call-overload]
    # searched through narrower rows: only rows whose lineage names the member's rank count
    share = 0.0
    for row in profile.rows:
        if row.rank == used and row.lineage.at(rank) is not None:  # type: ignore[arg-type]
            share += row.abundance
    return min(1.0, share)


def score_guild(
    profile: Profile,
    guild: Guild,
    *,
    percentiles: Sequence[DiversityPercentile] = (),
) -> GuildScore:
    """Score one guild (module docstring)."""
    common: dict[str, Any] = {
        "guild_id": guild.guild,
        "name": guild.name,
        "knowledge_ids": guild.knowledge_ids,
        "source_ids": guild.source_ids,
        "grade": guild.grade,
    }
    if guild.computable and guild.report_use == "context_only":
        return GuildScore(
            **common,
            computable=False,
            background_only=True,
            reason=BACKGROUND_ONLY_REASON,
            coverage=0.0,
            coverage_rank="",
            confidence="none",
            caveats=(guild.caveat,) if guild.caveat else (),
        )
    if not guild.computable:
        return GuildScore(
            **common,
            computable=False,
            reason=guild.reason,
            coverage=0.0,
            coverage_rank="",
            confidence="none",
        )
    checkable = []
    for rank, name in guild.members:
        used = member_rank(profile, rank, name)
        if used is not None:
            checkable.append((used, rank, name))
    if not checkable:
        ranks = ", ".join(sorted({r for r, _ in guild.members}))
        return GuildScore(
            **common,
            computable=False,
            coverage=0.0,
            coverage_rank="",
            confidence="none",
            reason=f"the profile has no rows at the rank(s) this guild needs ({ranks})",
        )
    used_ranks = {used for used, _, _ in checkable}
    coverage = sum(_resolved(profile, used, rank) for used, rank, _ in checkable) / len(
        guild.members
    )
    members: list[GuildMember] = []
    seen_rows: list[TaxonRow] = []
    counted: list[tuple[str, str]] = []  # (rank, name) of matched members, broad first
    for _used, rank, name in sorted(checkable, key=lambda c: RANKS.index(c[0])):
        for row, how in match_rows(profile, rank, name):
            if any(row is seen for seen in seen_rows):
                continue  # one row can match two members (a genus group and its genus)
            seen_rows.append(row)
            inside = any(
                row.lineage.at(r) is not None and same_taxon(row.lineage.at(r) or "", n)
                for r, n in counted
                if r in RANKS and RANKS.index(r) < RANKS.index(row.rank)
            )
            if inside:
                continue
            members.append(
                GuildMember(
                    taxon=how,
                    matched_as=name,
                    rank=row.rank,
                    abundance=min(1.0, max(0.0, row.abundance)),
                )
            )
        counted.append((rank, name))
    value = min(1.0, sum(m.abundance for m in members))
    caveats = [_POTENTIAL]
    if guild.caveat:
        caveats.append(guild.caveat)
    missing = [n for r, n in guild.members if (r, n) not in {(c[1], c[2]) for c in checkable}]
    if missing:
        caveats.append("Not checked (the profile lacks their rank): " + ", ".join(missing) + ".")
    if coverage <= 0:
        return GuildScore(
            **common,
            computable=False,
            coverage=0.0,
            coverage_rank=",".join(sorted(used_ranks)),
            confidence="none",
            reason="no reads are assigned at the rank this guild needs",
            caveats=tuple(caveats),
        )
    return GuildScore(
        **common,
        value=value,
        computable=True,
        members=tuple(members),
        coverage=round(coverage, 6),
        coverage_rank=",".join(sorted(used_ranks)),
        confidence=confidence_of(coverage),  # type: ignore[arg-type]
        percentiles=tuple(percentiles),
        caveats=tuple(caveats),
    )


def score_guilds(
    profile: Profile,
    kb: KnowledgeBase,
    *,
    percentiles: Mapping[str, Sequence[DiversityPercentile]] | None = None,
) -> tuple[GuildScore, ...]:
    """Score every guild of the knowledge base, in table order."""
    table = percentiles or {}
    return tuple(score_guild(profile, g, percentiles=table.get(g.guild, ())) for g in kb.guilds)


def taxa_of_interest(profile: Profile, kb: KnowledgeBase) -> tuple[TaxonOfInterest, ...]:
    """Shown literature associations whose taxon is present in the profile.

    Only rows with ``report_use = report_ok`` that are not unverified (``TaxonEvidence.shown``)
    are returned; research-only rows are never part of a personal result.
    """
    out: list[TaxonOfInterest] = []
    for evidence in kb.taxa:
        if not evidence.shown or not evidence.match_names:
            continue
        found = _found(profile, evidence)
        if not found:
            continue
        abundance = min(1.0, sum(row.abundance for row, _ in found))
        caveats = ["A group-level association, not a statement about you."]
        note = (
            f"Not verified in the source: {evidence.unverified_fields}."
            if evidence.unverified_fields
            else ""
        )
        out.append(
            TaxonOfInterest(
                knowledge_id=evidence.knowledge_id,
                taxon=evidence.taxon.split(" (incl.")[0],
                matched_as=tuple(how for _, how in found),
                rank=evidence.match_rank,
                abundance=abundance,
                phenotype=evidence.phenotype,
                direction=evidence.direction,
                population=evidence.population,
                n=evidence.n,
                study=evidence.study_type,
                statement=evidence.statement,
                source_ids=evidence.source_ids,
                grade=evidence.grade,
                caveats=tuple(caveats),
                verification_note=note,
            )
        )
    return tuple(out)


def taxa_not_found(profile: Profile, kb: KnowledgeBase) -> tuple[str, ...]:
    """Taxa of shown associations that the profile could check (rank present) but lacks."""
    out: list[str] = []
    for evidence in kb.taxa:
        if not evidence.shown or not evidence.match_names:
            continue
        if member_rank(profile, evidence.match_rank, evidence.match_names[0]) is None:
            continue  # not checkable at this profile's ranks: say nothing
        name = evidence.taxon.split(" (incl.")[0]
        if not _found(profile, evidence) and name not in out:
            out.append(name)
    return tuple(out)


def _found(profile: Profile, evidence: TaxonEvidence) -> list[tuple[TaxonRow, str]]:
    found: list[tuple[TaxonRow, str]] = []
    for name in evidence.match_names:
        for row, how in match_rows(profile, evidence.match_rank, name):
            if row.abundance > 0 and not any(row is r for r, _ in found):
                found.append((row, how))
    return found
