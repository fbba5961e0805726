"""Profiles to and from the CAMI taxonomic profiling format (Sczyrba 2017; OPAL, Meyer 2019).

One block per sample::

    @SampleID:S1
    @Version:0.9.1
    @Ranks:superkingdom|phylum|class|order|family|genus|species
    @TaxonomyID:ncbi-taxonomy
    @__program__:gutbrain <version>
    @@TAXID	RANK	TAXPATH	TAXPATHSN	PERCENTAGE

``PERCENTAGE`` is abundance × 100. ``TAXID`` is the row's NCBI tax ID when known; otherwise the
taxon name stands in for it (so the file stays valid, but OPAL matches such rows by name only
against a gold standard that uses the same names). ``TAXPATH`` holds the tax ID (or name) of the
row's own rank and the names of the ranks above it; ``TAXPATHSN`` the names. Unassigned shares are
not written (CAMI profiles leave them implicit: percentages of a rank sum to at most 100).

A profile with species groups gets a sixth column ``_MEMBERS`` (CAMI allows extra columns whose
names start with ``_``): a group row's member species separated by ``;``, empty otherwise. The
group row itself is a ``species`` row named after the group ("Escherichia coli group").

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or CR) get a leading ``'`` (:func:`gutbrain.io.tables.profile.spreadsheet_safe`); the reader
removes it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from gutbrain import __version__
from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError
from gutbrain.io.files import atomic_write_text, check_input_file, sha256_file
from gutbrain.io.tables.matrix import complete_lineage
from gutbrain.io.tables.profile import parse_members, spreadsheet_safe
from gutbrain.io.tables.text import parse_number, read_text
from gutbrain.model import RANKS, Profile, Provenance, Rank, SampleId, TaxId, TaxonRow

__all__ = ["format_cami", "read_cami", "write_cami"]

logger = logging.getLogger(__name__)


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ").replace("|", "/")


def _unquote(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def format_cami(profiles: Sequence[Profile]) -> str:
    """Return the CAMI profiling-format text of ``profiles`` (one block per sample)."""
    blocks: list[str] = []
    for profile in profiles:
        grouped = any(row.members for row in profile.rows)
        lines = [
            f"@SampleID:{_clean(str(profile.sample_id))}",
            "@Version:0.9.1",
            "@Ranks:" + "|".join(RANKS),
            "@TaxonomyID:ncbi-taxonomy",
            f"@__program__:gutbrain {__version__}",
            "@@TAXID\tRANK\tTAXPATH\tTAXPATHSN\tPERCENTAGE" + ("\t_MEMBERS" if grouped else ""),
        ]
        for rank in profile.ranks():
            for row in profile.at_rank(rank):
                own = _clean(str(row.taxid) if row.taxid is not None else row.taxon)
                above = RANKS[: RANKS.index(rank)]
                names = [_clean(row.lineage.at(r) or "") for r in above]
                path_ids = [*names, own]
                path_names = [*names, _clean(row.taxon)]
                lines.append(
                    "\t".join(
                        [
                            spreadsheet_safe(own),
                            rank,
                            spreadsheet_safe("|".join(path_ids)),
                            spreadsheet_safe("|".join(path_names)),
                            f"{row.abundance * 100:.10g}",
                            *([_clean(";".join(row.members))] if grouped else []),
                        ]
                    )
                )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_cami(profiles: Sequence[Profile], path: str | Path) -> Path:
    """Write the CAMI profiling format atomically and return the path."""
    return atomic_write_text(path, format_cami(profiles))


def read_cami(path: str | Path) -> list[Profile]:
    """Read a CAMI profiling-format file (one or more samples) into profiles.

    ``PERCENTAGE`` / 100 becomes the abundance; lineage names come from ``TAXPATHSN`` (the last
    name is the row's taxon), the tax ID from ``TAXID`` when it is numeric. Ranks other than
    superkingdom … species (e.g. ``strain``) are skipped. Each rank's unassigned share is 1 minus
    its rows. Reads are unknown.

    Raises
    ------
    InputFormatError
        On a data row before ``@@TAXID``, a row with fewer than 5 cells, a non-numeric or negative
        percentage, a taxon or sample that repeats, or a rank whose percentages exceed 100.
    EmptyInputError
        When the file holds no sample.
    """
    p = check_input_file(path)
    blocks: list[tuple[str, list[TaxonRow]]] = []
    sample: str | None = None
    rows: list[TaxonRow] = []
    in_data = False
    seen: dict[tuple[str, str], int] = {}  # (rank, taxon) -> line, in the current sample
    samples_seen: dict[str, int] = {}
    members_column: int | None = None
    for number, line in enumerate(read_text(p).splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("@@"):
            in_data = True
            header = [cell.strip().upper() for cell in line[2:].split("\t")]
            members_column = header.index("_MEMBERS") if "_MEMBERS" in header else None
            continue
        if line.startswith("@"):
            key, _, value = line[1:].partition(":")
            if key.strip().lower() == "sampleid":
                if sample is not None:
                    blocks.append((sample, rows))
                sample, rows, in_data, seen = value.strip(), [], False, {}
                if sample in samples_seen:
                    message = f"sample {sample!r} repeats (first at line {samples_seen[sample]})"
                    raise InputFormatError(
                        message, path=p, line=number, code=ErrorCode.TAB_DUPSAMPLE
                    )
                samples_seen[sample] = number
            continue
        if sample is None or not in_data:
            message = "data row before '@SampleID' and '@@TAXID' header lines; not a CAMI profile"
            raise InputFormatError(message, path=p, line=number)
        cells = line.split("\t")
        if len(cells) < 5:
            message = f"{len(cells)} cells, expected 5 (TAXID RANK TAXPATH TAXPATHSN PERCENTAGE)"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_RAGGED)
        rank_text = cells[1].strip()
        if rank_text not in RANKS:
            continue
        rank: Rank = rank_text
        percent = parse_number(cells[4], path=p, line=number, column="PERCENTAGE")
        if percent < 0:
            message = f"negative PERCENTAGE {percent:g}"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_NEG)
        names = [n.strip() for n in _unquote(cells[3].strip()).split("|")]
        above = RANKS[: RANKS.index(rank) + 1]
        lineage = complete_lineage(
            {r: (names[k] if k < len(names) else None) for k, r in enumerate(above)}
        ).truncated(rank)
        taxon = lineage.at(rank) or ""
        if (rank, taxon) in seen:
            message = (
                f"sample {sample!r}: {rank} {taxon!r} repeats (first at line "
                f"{seen[rank, taxon]}); expected one row per taxon"
            )
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_DUPTAXON)
        seen[rank, taxon] = number
        taxid = _unquote(cells[0].strip())
        members = (
            parse_members(cells[members_column], path=p, line=number)
            if members_column is not None and members_column < len(cells)
            else ()
        )
        rows.append(
            TaxonRow(
                rank,
                lineage,
                percent / 100.0,
                taxid=TaxId(taxid) if taxid.isdigit() else None,
                members=members if rank == "species" else (),
            )
        )
    if sample is not None:
        blocks.append((sample, rows))
    if not blocks:
        message = "no '@SampleID' block; not a CAMI profile"
        raise EmptyInputError(message, path=p)
    provenance = Provenance(
        gutbrain_version=__version__,
        source="import:cami",
        inputs={p.name: sha256_file(p)},
        parameters={"value_type": "percent"},
    )
    profiles: list[Profile] = []
    for name, sample_rows in blocks:
        unassigned: dict[Rank, float] = {}
        for rank in RANKS:
            share = sum(r.abundance for r in sample_rows if r.rank == rank)
            if not any(r.rank == rank for r in sample_rows):
                continue
            if share > 1 + 1e-6:
                message = f"sample {name!r}, rank {rank}: percentages sum to {share * 100:.6g}"
                raise InputFormatError(message, path=p, code=ErrorCode.TAB_SUM)
            unassigned[rank] = max(1.0 - share, 0.0)
        profiles.append(
            Profile(
                sample_id=SampleId(name),
                rows=tuple(sample_rows),
                unassigned=unassigned,
                provenance=provenance,
            )
        )
    return profiles
