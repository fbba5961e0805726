"""Readers for other pipelines' abundance tables, and format auto-detection.

Hand-written parsers (Emu, Kraken 2, Bracken, MetaPhlAn, plain TSV): taxpasta 0.7.0, the
library that standardises Kraken 2/Bracken/MetaPhlAn outputs, pins ``pandas<2`` and
``numpy<2`` through its dependencies (``pip install --dry-run taxpasta`` would install pandas 1.5.3
and numpy 1.26.4 over gutbrain's pandas 3 / numpy 2), so it cannot be installed beside gutbrain.
These formats are simple line formats, documented in ``docs/tables.md``. BIOM goes through
biom-format, after gutbrain's own checks of the JSON (biom-format pads ragged rows and accepts NaN).
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from gutbrain import __version__
from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError
from gutbrain.io._text import RANK_PREFIXES
from gutbrain.io.files import check_input_file, sha256_file
from gutbrain.io.tables.formats import FORMATS, TableFormat
from gutbrain.io.tables.matrix import (
    RELATIVE_TOLERANCE,
    TaxonMatrix,
    ValueType,
    check_ids,
    complete_lineage,
    lineage_from_string,
    matrix_to_profiles,
    normalise_name,
    validate_values,
)
from gutbrain.io.tables.profile import parse_members, profile_from_dict
from gutbrain.io.tables.text import parse_number, read_bytes, read_rows, values_matrix
from gutbrain.model import RANKS, Lineage, Profile, Provenance, Rank, SampleId, TaxId, TaxonRow

__all__ = [
    "FORMATS",
    "detect_format",
    "read_biom",
    "read_bracken",
    "read_emu",
    "read_kraken",
    "read_metaphlan",
    "read_plain_tsv",
    "read_taxonomy",
]

logger = logging.getLogger(__name__)

#: Largest BIOM JSON document accepted (bytes, uncompressed) and its deepest nesting.
MAX_JSON_BYTES = 512 << 20
MAX_JSON_DEPTH = 32
_SAMPLE_HEADERS = ("sample", "samples", "sampleid", "sample_id", "sample id", "sample-id")
_RANK_ALIASES: dict[str, Rank] = {
    "kingdom": "superkingdom",
    "domain": "superkingdom",
    "superkingdom": "superkingdom",
    "phylum": "phylum",
    "class": "class",
    "order": "order",
    "family": "family",
    "genus": "genus",
    "species": "species",
}


def _inputs(*paths: Path) -> tuple[tuple[str, str], ...]:
    return tuple((p.name, sha256_file(p)) for p in paths)


# ----------------------------------------------------------------------------- taxonomy


def read_taxonomy(path: str | Path) -> dict[str, Lineage]:
    """Read a taxonomy table: ``{feature ID: Lineage}``.

    Accepted layouts: QIIME 2's exported ``taxonomy.tsv`` (``Feature ID``, ``Taxon``, optional
    ``Confidence``), a headerless ``id<TAB>lineage`` file (QIIME 1, HITdb), or one column per
    rank (``Kingdom``/``Domain``, ``Phylum`` … ``Species``,
    case-insensitive) after the ID column. ``NA`` and empty names mean unknown.

    Raises
    ------
    InputFormatError
        When no taxonomy column is recognised or a feature ID repeats.
    """
    p = Path(path)
    header, rows = read_rows(p, comment="#")
    if len(header) == 2 and ";" in header[1]:  # headerless "id<TAB>lineage" (HITdb, QIIME 1)
        rows = [(1, header), *rows]
        header = ["Feature ID", "Taxon"]
    lower = [h.lower().lstrip("#").strip() for h in header]
    out: dict[str, Lineage] = {}
    taxon_col = next((i for i, h in enumerate(lower) if i and h in ("taxon", "taxonomy")), None)
    rank_cols = {i: _RANK_ALIASES[h] for i, h in enumerate(lower) if h in _RANK_ALIASES and i}
    if taxon_col is None and not rank_cols:
        message = (
            f"no taxonomy columns in header {header[:8]}; expected 'Feature ID, Taxon' (QIIME 2) "
            "or rank columns (Kingdom, Phylum, Class, Order, Family, Genus, Species)"
        )
        raise InputFormatError(message, path=p, line=1)
    for number, cells in rows:
        key = normalise_name(cells[0])
        if key in out:
            message = f"feature ID {key!r} repeats; IDs must be unique"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_DUPTAXON)
        if taxon_col is not None:
            out[key] = lineage_from_string(cells[taxon_col])
        else:
            out[key] = complete_lineage({rank: cells[i] for i, rank in rank_cols.items()})
    return out


def _lineages(
    taxa: list[str],
    *,
    taxonomy: dict[str, Lineage] | None,
    inline: list[str] | None,
    rank: Rank | None,
    path: Path,
) -> tuple[Lineage, ...]:
    if inline is not None:
        return tuple(lineage_from_string(text) for text in inline)
    if taxonomy is not None:
        missing = [t for t in taxa if normalise_name(t) not in taxonomy]
        if missing:
            message = (
                f"{len(missing)} taxa have no row in the taxonomy file (first: {missing[0]!r}); "
                "give the matching taxonomy"
            )
            raise InputFormatError(message, path=path, code=ErrorCode.TAB_TAXONOMY)
        return tuple(taxonomy[normalise_name(t)] for t in taxa)
    refuse_feature_ids(taxa, path=path)
    # no taxonomy: the IDs are names at ``rank`` (detected when not given)
    if rank is None:
        return tuple(_auto_lineage(t, species=_names_species(taxa)) for t in taxa)
    return tuple(complete_lineage({rank: t}) for t in taxa)


#: Row IDs that are sequence features (ASVs, OTUs, hashes, sequences), not taxon names.
_FEATURE_ID = re.compile(
    r"^(?:(?:asv|otu|zotu|sv|esv|denovo|feature|seq)[_.-]?\d+"
    r"|[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}"
    r"|\d{3,}(?:\.\d+)?"
    r"|[ACGTUN]{40,})$",
    re.IGNORECASE,
)
_UNNAMED = re.compile(r"^-?\d+$")


def refuse_feature_ids(taxa: Sequence[str], *, path: Path) -> None:
    """Refuse a table whose row IDs are mostly ASV/OTU feature IDs when no taxonomy is given.

    Reading ``ASV0012`` as a species name would make up taxa; the message says to give the
    feature-to-lineage table with ``--taxonomy``.

    Raises
    ------
    InputFormatError
        ``GB-TAB-NEEDS-TAXONOMY`` when at least half the IDs look like feature IDs.
    """
    features = [t for t in taxa if _FEATURE_ID.match(t.strip())]
    if taxa and 2 * len(features) >= len(taxa):
        message = (
            f"{len(features)} of {len(taxa)} row IDs look like ASV/OTU feature IDs, not taxon "
            f"names (first: {features[0]!r}); give their taxonomy with --taxonomy FILE "
            "(e.g. QIIME 2 taxonomy.tsv or DADA2 assignTaxonomy output)"
        )
        raise InputFormatError(message, path=path, code=ErrorCode.TAB_NEEDS_TAXONOMY)


def _names_species(taxa: Sequence[str]) -> bool:
    """True when any ID is a binomial (``Genus species``): the IDs then name species."""
    return any(_BINOMIAL_ID.match(t.strip()) for t in taxa)


_BINOMIAL_ID = re.compile(r"^\[?[A-Z][a-z]+\]?[ ._][a-z][a-z-]+")
_NUMBERED = re.compile(r"^(.+?)_\d+$")


def _auto_lineage(name: str, *, species: bool) -> Lineage:
    """Lineage of an ID when the table gives no rank: species for binomial tables, else by name.

    A table without any binomial names genera (a family, order or domain is recognised by its
    suffix: ``-aceae``, ``-ales``; ``Bacteria``/``Archaea``); ``-1`` and other bare numbers are
    unassigned; a SILVA-style numbered genus (``Bacteroides_1``) is read as its genus.
    """
    text = name.strip()
    if species:
        return complete_lineage({"species": text})
    if _UNNAMED.match(text):
        return Lineage()
    numbered = _NUMBERED.match(text)
    if numbered and " " not in text:
        text = numbered.group(1)
    if text in {"Bacteria", "Archaea"}:
        return complete_lineage({"superkingdom": text})
    if text.endswith("aceae"):
        return complete_lineage({"family": text})
    if text.endswith("ales"):
        return complete_lineage({"order": text})
    return complete_lineage({"genus": text})


# ----------------------------------------------------------------------------- plain TSV


def read_plain_tsv(
    path: str | Path,
    *,
    taxonomy: str | Path | None = None,
    rank: Rank | None = None,
    value_type: ValueType = "auto",
    format_name: str = "tsv",
) -> list[Profile]:
    """Read a taxa × samples TSV (counts, fractions, percent or quantities).

    The first column holds taxon (feature) IDs, every other column a sample; a column named
    ``taxonomy``/``Taxon`` holds lineage strings (``k__…; p__…``). QIIME 2's ``biom convert
    --to-tsv`` output (``# Constructed from biom file`` then ``#OTU ID``) reads as is. Without
    lineage, ``taxonomy`` (a file, see :func:`read_taxonomy`) supplies it, otherwise the IDs are
    taken as names at ``rank``.
    """
    p = check_input_file(path)
    header, rows = read_rows(p, comment="# ")
    lower = [h.strip().lower() for h in header]
    if lower[0].lstrip("#").strip() in _SAMPLE_HEADERS:
        message = (
            f"the first column is {header[0].strip()!r}: samples seem to be rows; gutbrain reads "
            "taxa as rows and samples as columns — transpose the table"
        )
        raise InputFormatError(message, path=p, line=1, code=ErrorCode.TAB_TRANSPOSED)
    tax_col = next(
        (i for i, h in enumerate(lower) if i and h in ("taxonomy", "taxon", "lineage")), None
    )
    sample_cols = [i for i in range(1, len(header)) if i != tax_col]
    taxa = [cells[0].strip() for _, cells in rows]
    values = values_matrix(rows, sample_cols, header, path=p)
    tax_map = read_taxonomy(taxonomy) if taxonomy is not None else None
    inline = [cells[tax_col] for _, cells in rows] if tax_col is not None and not tax_map else None
    extra = (check_input_file(taxonomy),) if taxonomy is not None else ()
    matrix = TaxonMatrix(
        path=p,
        format=format_name,
        taxa=tuple(taxa),
        samples=tuple(header[i] for i in sample_cols),
        values=values,
        lineages=_lineages(taxa, taxonomy=tax_map, inline=inline, rank=rank, path=p),
        inputs=_inputs(p, *extra),
    )
    return matrix_to_profiles(matrix, value_type=value_type)


# ----------------------------------------------------------------------------- BIOM


def _json_depth(obj: Any, limit: int) -> int:
    stack: list[tuple[Any, int]] = [(obj, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list) and item and isinstance(item[0], (list, dict)):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _check_biom_json(doc: Any, path: Path) -> None:
    """gutbrain's own checks of a BIOM 1.0 document, before biom-format sees it."""
    if not isinstance(doc, dict) or "data" not in doc or "shape" not in doc:
        message = "not a BIOM 1.0 JSON document (no 'data' or 'shape'); export BIOM from QIIME"
        raise InputFormatError(message, path=path, code=ErrorCode.TAB_BIOM)
    if _json_depth(doc, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        message = f"JSON nested deeper than {MAX_JSON_DEPTH} levels; not a BIOM table"
        raise InputFormatError(message, path=path, code=ErrorCode.TAB_BIOM)
    n_rows, n_cols = (int(x) for x in doc["shape"])
    rows = [r.get("id") if isinstance(r, dict) else None for r in doc.get("rows") or []]
    cols = [c.get("id") if isinstance(c, dict) else None for c in doc.get("columns") or []]
    if len(rows) != n_rows or len(cols) != n_cols:
        message = (
            f"shape {n_rows} x {n_cols} but {len(rows)} row IDs and {len(cols)} column IDs; "
            "the table is truncated or inconsistent"
        )
        raise InputFormatError(message, path=path, code=ErrorCode.TAB_RAGGED)
    check_ids([str(c) for c in cols], what="sample", path=path, code=ErrorCode.TAB_DUPSAMPLE)
    check_ids([str(r) for r in rows], what="taxon", path=path, code=ErrorCode.TAB_DUPTAXON)
    sparse = doc.get("matrix_type") == "sparse"
    for k, entry in enumerate(doc["data"]):
        if not isinstance(entry, list):
            message = f"data entry {k + 1} is not a list"
            raise InputFormatError(message, path=path, record=k + 1, code=ErrorCode.TAB_BIOM)
        if sparse:
            ok = (
                len(entry) == 3
                and isinstance(entry[0], int)
                and isinstance(entry[1], int)
                and 0 <= entry[0] < n_rows
                and 0 <= entry[1] < n_cols
            )
            if not ok:
                message = (
                    f"sparse data entry {k + 1} {entry!r:.80} is not [row, column, value] "
                    f"inside the {n_rows} x {n_cols} shape"
                )
                raise InputFormatError(message, path=path, record=k + 1, code=ErrorCode.TAB_RAGGED)
            cells = [(entry[0], entry[1], entry[2])]
        else:
            if len(entry) != n_cols:
                message = (
                    f"row {k + 1} ({rows[k] if k < len(rows) else '?'!r}) has {len(entry)} values, "
                    f"expected {n_cols}; rows are never padded"
                )
                raise InputFormatError(message, path=path, record=k + 1, code=ErrorCode.TAB_RAGGED)
            cells = [(k, j, v) for j, v in enumerate(entry)]
        for i, j, value in cells:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                message = f"sample {cols[j]!r}, taxon {rows[i]!r}: {value!r:.40} is not a number"
                raise InputFormatError(message, path=path, record=k + 1, code=ErrorCode.TAB_NUM)
    if len(doc["data"]) != n_rows and not sparse:
        message = f"{len(doc['data'])} data rows, expected {n_rows}"
        raise InputFormatError(message, path=path, code=ErrorCode.TAB_RAGGED)


def _biom_lineage(metadata: Any) -> Lineage | None:
    if not metadata:
        return None
    tax = metadata.get("taxonomy") if hasattr(metadata, "get") else None
    if tax is None:
        return None
    if isinstance(tax, str):
        return lineage_from_string(tax)
    return lineage_from_string(";".join(str(t) for t in tax))


def _check_restored(profile: Profile, path: Path) -> None:
    """Sanity of a profile restored from gutbrain's JSON block (it may have been edited)."""
    for row in profile.rows:
        ok = row.rank in RANKS and math.isfinite(row.abundance) and 0.0 <= row.abundance <= 1.0
        if not ok:
            message = (
                f"gutbrain profile block: sample {profile.sample_id!r}, taxon {row.taxon!r}: "
                f"rank {row.rank!r} / abundance {row.abundance!r} out of range"
            )
            raise InputFormatError(message, path=path, code=ErrorCode.TAB_BIOM)
    for rank, share in profile.unassigned.items():
        total = sum(r.abundance for r in profile.rows if r.rank == rank) + share
        if rank not in RANKS or not math.isfinite(share) or abs(total - 1.0) > 1e-6:
            message = (
                f"gutbrain profile block: sample {profile.sample_id!r}, rank {rank!r}: "
                f"abundances plus unassigned sum to {total!r}, expected 1"
            )
            raise InputFormatError(message, path=path, code=ErrorCode.TAB_SUM)


def _read_biom_hdf5(
    source: io.BytesIO, p: Path, use_gutbrain_block: bool
) -> tuple[list[Profile] | None, Any]:
    """Open a BIOM 2.1 file: gutbrain's own profiles when present, else a biom ``Table``."""
    import h5py
    from biom import Table

    with h5py.File(source, "r") as handle:
        if "gutbrain/profiles_json" in handle and use_gutbrain_block:
            raw = handle["gutbrain/profiles_json"][()]
            try:
                docs = json.loads(bytes(raw).decode("utf-8"))
                profiles = [profile_from_dict(d) for d in docs]
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                message = f"damaged gutbrain profile block ({exc})"
                raise InputFormatError(message, path=p, code=ErrorCode.TAB_BIOM) from None
            for profile in profiles:
                _check_restored(profile, p)
            return profiles, None
        try:
            return None, Table.from_hdf5(handle)
        except Exception as exc:  # biom raises bare KeyError/ValueError on bad files
            message = f"not a readable BIOM 2.1 HDF5 file ({type(exc).__name__}: {exc})"
            raise InputFormatError(message, path=p, code=ErrorCode.TAB_BIOM) from None


def read_biom(
    path: str | Path,
    *,
    taxonomy: str | Path | None = None,
    rank: Rank | None = None,
    value_type: ValueType = "auto",
    format_name: str = "biom",
) -> list[Profile]:
    """Read BIOM 1.0 (JSON) or 2.1 (HDF5), gzip or not.

    Lineages come from the ``taxonomy`` observation metadata, a taxonomy file, or the IDs as
    names at ``rank``. A BIOM written by gutbrain restores its profiles exactly.
    """
    from biom import Table

    p = check_input_file(path)
    data = read_bytes(p)
    if data.startswith(b"\x89HDF"):
        try:
            restored, table = _read_biom_hdf5(io.BytesIO(data), p, taxonomy is None)
        except InputFormatError:
            raise
        except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
            # h5py reports a truncated or corrupted file as OSError/RuntimeError (or KeyError on
            # a damaged link), naming HDF5 internals
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            message = f"damaged BIOM 2.1 (HDF5) file ({first}); export it again or check the copy"
            raise InputFormatError(message, path=p, code=ErrorCode.TAB_BIOM) from None
        if restored is not None:
            return restored
    else:
        stripped = data.lstrip()
        if not stripped:
            message = "empty file; expected a BIOM table"
            raise EmptyInputError(message, path=p)
        if not stripped.startswith(b"{"):
            message = "neither BIOM 2.1 (HDF5) nor BIOM 1.0 (JSON); check the file"
            raise InputFormatError(message, path=p, code=ErrorCode.TAB_BIOM)
        if len(data) > MAX_JSON_BYTES:
            message = f"BIOM JSON larger than {MAX_JSON_BYTES >> 20} MiB; convert it to BIOM 2.1"
            raise InputFormatError(message, path=p, code=ErrorCode.TAB_SIZE)
        try:
            doc = json.loads(data.decode("utf-8-sig"), parse_constant=lambda c: float(c))
        except (ValueError, RecursionError) as exc:
            message = f"invalid JSON ({exc}); not a BIOM 1.0 file"
            raise InputFormatError(message, path=p, code=ErrorCode.TAB_BIOM) from None
        _check_biom_json(doc, p)
        try:
            table = Table.from_json(doc)
        except Exception as exc:
            message = f"biom-format rejected the table ({type(exc).__name__}: {exc})"
            raise InputFormatError(message, path=p, code=ErrorCode.TAB_BIOM) from None
    taxa = [str(t) for t in table.ids(axis="observation")]
    samples = [str(s) for s in table.ids(axis="sample")]
    values = np.asarray(table.matrix_data.toarray(), dtype=np.float64)
    matrix = TaxonMatrix(
        path=p,
        format=format_name,
        taxa=tuple(taxa),
        samples=tuple(samples),
        values=values,
        lineages=tuple(Lineage() for _ in taxa),
    )
    validate_values(matrix)  # NaN/inf/negative before anything else looks at the values
    tax_map = read_taxonomy(taxonomy) if taxonomy is not None else None
    inline: list[str] | None = None
    if tax_map is None:
        meta = table.metadata(axis="observation")
        found = [_biom_lineage(m) for m in meta] if meta is not None else []
        if found and all(lin is not None for lin in found):
            lineages = tuple(cast(Lineage, lin) for lin in found)
        else:
            lineages = _lineages(taxa, taxonomy=None, inline=inline, rank=rank, path=p)
    else:
        lineages = _lineages(taxa, taxonomy=tax_map, inline=None, rank=rank, path=p)
    extra = (check_input_file(taxonomy),) if taxonomy is not None else ()
    meta_all = table.metadata(axis="observation")
    members = tuple(
        parse_members(str(m.get("members") or ""), path=p) if m is not None else ()
        for m in (meta_all if meta_all is not None else ())
    )
    matrix = TaxonMatrix(
        path=p,
        format=format_name,
        taxa=tuple(taxa),
        samples=tuple(samples),
        values=values,
        lineages=lineages,
        inputs=_inputs(p, *extra),
        members=members if any(members) else (),
    )
    return matrix_to_profiles(matrix, value_type=value_type)


# ----------------------------------------------------------------------------- Emu


def _sample_name(path: Path, suffixes: tuple[str, ...]) -> str:
    name = path.name
    for ext in (".gz", ".tsv", ".txt", ".csv"):
        name = name.removesuffix(ext)
    for suffix in suffixes:
        name = name.removesuffix(suffix)
    return name or path.name


_EMU_UNASSIGNED = ("unassigned", "unmapped", "mapped_unclassified", "mapped_filtered")


def _emu_number(
    cell: str, *, path: Path, line: int, column: str, taxon: str, special: bool
) -> float:
    # Emu writes "-" (older versions) or an empty cell on its unmapped/unclassified rows
    if special and cell.strip() in ("", "-"):
        return 0.0
    return parse_number(cell, path=path, line=line, column=column, taxon=taxon)


def read_emu(path: str | Path, *, sample_id: str | None = None) -> list[Profile]:
    """Read an Emu ``<sample>_rel-abundance.tsv`` (Curry et al. 2022).

    Columns used: ``tax_id``, ``abundance`` (fraction), the rank columns ``species`` …
    ``superkingdom``, and ``estimated counts`` when present (``--keep-counts``). Emu's
    abundances are fractions of the *classified* reads; its special rows (tax_id ``unassigned``
    before Emu 3.5, ``unmapped`` and ``mapped_unclassified`` since) carry abundance 0 and, with
    ``--keep-counts``, their read counts. With counts, the profile is over all reads (special rows
    → unassigned); without, abundances must sum to 1 and nothing is unassigned. Genus … phylum
    rows are summed from the species rows.
    """
    p = check_input_file(path)
    header, rows = read_rows(p)
    col = {h.strip().lower(): i for i, h in enumerate(header)}
    if "abundance" not in col or "tax_id" not in col:
        message = f"missing 'tax_id' or 'abundance' column in {header[:6]}; not an Emu table"
        raise InputFormatError(message, path=p, line=1)
    counts_col = col.get("estimated counts")
    rank_cols = {r: col[r] for r in RANKS if r in col}
    sample = sample_id or _sample_name(p, ("_rel-abundance", "-rel-abundance"))
    taxa: list[str] = []
    lineages: list[Lineage] = []
    abundances: list[float] = []
    reads: list[float] = []
    un_abundance = 0.0
    un_reads = 0.0
    for number, cells in rows:
        taxid = cells[col["tax_id"]].strip()
        special = taxid.lower() in _EMU_UNASSIGNED

        value = _emu_number(
            cells[col["abundance"]],
            column="abundance",
            path=p,
            line=number,
            taxon=taxid,
            special=special,
        )
        count = (
            _emu_number(
                cells[counts_col],
                column="estimated counts",
                path=p,
                line=number,
                taxon=taxid,
                special=special,
            )
            if counts_col is not None
            else float("nan")
        )
        if special:
            un_abundance += value
            un_reads += count if counts_col is not None else 0.0
            continue
        taxa.append(taxid)
        lineages.append(complete_lineage({r: cells[i] for r, i in rank_cols.items()}))
        abundances.append(value)
        reads.append(count)
    share = math.fsum(abundances)
    if counts_col is not None and share > 0 and abs(share - 1.0) > RELATIVE_TOLERANCE:
        # with counts the abundances are not used, but they must agree: else the file was edited
        message = (
            f"sample {sample!r}: the abundance column sums to {share:.6g} over the classified "
            f"rows, expected 1 (± {RELATIVE_TOLERANCE:g}); Emu writes fractions of the "
            "classified reads"
        )
        raise InputFormatError(message, path=p, code=ErrorCode.TAB_SUM)
    values = np.array([[r] for r in reads] if counts_col is not None else [[a] for a in abundances])
    if counts_col is not None:
        values = np.vstack([values, [[un_reads]]]) if values.size else np.array([[un_reads]])
    else:
        values = np.vstack([values, [[un_abundance]]]) if values.size else np.array([[0.0]])
    matrix = TaxonMatrix(
        path=p,
        format="emu",
        taxa=(*taxa, "unassigned"),
        samples=(sample,),
        values=values.astype(np.float64),
        lineages=(*lineages, Lineage()),
        inputs=_inputs(p),
    )
    kind: ValueType = "counts" if counts_col is not None else "fractions"
    if kind == "counts" and not np.all(values == np.round(values)):
        kind = "quantities"  # Emu's estimated counts are EM expectations, not whole reads
    profiles = matrix_to_profiles(matrix, value_type=kind)
    if counts_col is not None and kind == "quantities":
        total = float(values.sum())
        profiles = [
            Profile(
                sample_id=pr.sample_id,
                rows=tuple(
                    TaxonRow(r.rank, r.lineage, r.abundance, reads=r.abundance * total)
                    for r in pr.rows
                ),
                unassigned=pr.unassigned,
                provenance=pr.provenance,
                total_reads=round(total),
            )
            for pr in profiles
        ]
    return _with_taxids(profiles, dict(zip(taxa, lineages, strict=True)))


def _with_taxids(profiles: list[Profile], taxid_lineage: dict[str, Lineage]) -> list[Profile]:
    """Put tax IDs on species rows whose lineage matches exactly one input row."""
    by_lineage: dict[Lineage, str] = {}
    for taxid, lin in taxid_lineage.items():
        if lin.species is not None:
            by_lineage[lin] = taxid
    out = []
    for pr in profiles:
        rows = tuple(
            TaxonRow(
                r.rank,
                r.lineage,
                r.abundance,
                reads=r.reads,
                taxid=TaxId(by_lineage[r.lineage]) if r.lineage in by_lineage else None,
            )
            for r in pr.rows
        )
        out.append(Profile(pr.sample_id, rows, pr.unassigned, pr.provenance, pr.total_reads, False))
    return out


# ----------------------------------------------------------------------------- Kraken 2


_KRAKEN_RANKS: dict[str, Rank] = {
    "D": "superkingdom",
    "P": "phylum",
    "C": "class",
    "O": "order",
    "F": "family",
    "G": "genus",
    "S": "species",
}
#: Kraken 2 rank letters, root to species (a digit suffix marks a rank in between).
_KRAKEN_ORDER = "RDKPCOFGS"


def read_kraken(path: str | Path, *, sample_id: str | None = None) -> list[Profile]:
    """Read a Kraken 2 report (``--report``; also Bracken's ``*.kreport``).

    Each line: percent, clade reads, direct reads, [minimizers, distinct minimizers,] rank code
    (``U``, ``R``, ``D``, ``K``, ``P`` … ``S``, with digits for intermediate ranks), NCBI taxid,
    the name indented by two spaces per level. Rows at D/P/C/O/F/G/S become taxa with their clade
    reads; the total is unclassified plus root clade reads, and each rank's unassigned share is
    what its taxa do not cover. Lineages come from the rank codes of the rows above (the report
    is depth first), not from the indentation, which edited reports often break.

    Raises
    ------
    InputFormatError
        On a ragged row or a negative count.
    """
    p = check_input_file(path)
    from gutbrain.io.tables.text import read_text

    lines = [line for line in read_text(p).splitlines() if line.strip()]
    if not lines:
        message = "empty file; expected a Kraken 2 report"
        raise EmptyInputError(message, path=p)
    sample = sample_id or _sample_name(p, (".kreport", ".kreport2", ".report", "_report"))
    total = 0.0
    current: dict[str, str] = {}  # rank letter -> name of the latest clade at that rank
    rows: list[TaxonRow] = []
    for number, line in enumerate(lines, start=1):
        if line.startswith("#") or line.lower().startswith("percent"):
            continue
        cells = line.split("\t")
        if len(cells) not in (6, 8):
            message = f"{len(cells)} tab-separated cells, expected 6 or 8 (Kraken 2 report)"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_RAGGED)
        clade = parse_number(cells[1], path=p, line=number, column="clade reads")
        if clade < 0:
            message = f"negative clade read count {clade:g}"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_NEG)
        code = cells[-3].strip()
        taxid = cells[-2].strip()
        name = cells[-1].strip()
        if code in ("U", "R"):
            total += clade
            continue
        letter, intermediate = code[:1], code[1:]
        if letter not in _KRAKEN_ORDER or not (intermediate == "" or intermediate.isdigit()):
            continue  # "-" (no rank, Centrifuge-style reports): not a rank, no lineage change
        # The report lists clades depth first, so a row's ancestors are the latest rows of the
        # ranks above it: the rank codes alone give the lineage, whatever the indentation.
        level = _KRAKEN_ORDER.index(letter)
        for deeper in _KRAKEN_ORDER[level + 1 :]:
            current.pop(deeper, None)
        if not intermediate:
            current[letter] = name
        rank = _KRAKEN_RANKS.get(code)
        if rank is None:
            continue
        names: dict[str, str | None] = {
            _KRAKEN_RANKS[k]: v for k, v in current.items() if k in _KRAKEN_RANKS
        }
        if clade > 0:
            rows.append(
                TaxonRow(
                    rank=rank,
                    lineage=complete_lineage(names).truncated(rank),
                    abundance=clade,
                    reads=clade,
                    taxid=TaxId(taxid),
                )
            )
    return [_counts_profile(p, sample, rows, total, "kraken")]


def _counts_profile(
    path: Path, sample: str, rows: list[TaxonRow], total: float, fmt: str
) -> Profile:
    if total <= 0:
        message = "no reads in the report (total 0); nothing to import"
        raise EmptyInputError(message, path=path)
    out: list[TaxonRow] = []
    unassigned: dict[Rank, float] = {}
    for rank in RANKS:
        at = [r for r in rows if r.rank == rank]
        if not at:
            continue
        merged: dict[Lineage, TaxonRow] = {}
        for r in at:
            if r.lineage in merged:
                prev = merged[r.lineage]
                r = TaxonRow(rank, r.lineage, 0.0, reads=(prev.reads or 0) + (r.reads or 0))
            merged[r.lineage] = r
        assigned = sum(r.reads or 0.0 for r in merged.values())
        if assigned > total * (1 + 1e-9):
            message = (
                f"rank {rank}: {assigned:g} reads assigned but the report's total is {total:g}"
            )
            raise InputFormatError(message, path=path, code=ErrorCode.TAB_SUM)
        for r in merged.values():
            reads = r.reads or 0.0
            out.append(TaxonRow(rank, r.lineage, reads / total, reads=reads, taxid=r.taxid))
        unassigned[rank] = max(total - assigned, 0.0) / total
    return Profile(
        sample_id=SampleId(sample),
        rows=tuple(out),
        unassigned=unassigned,
        provenance=Provenance(
            gutbrain_version=__version__,
            source=f"import:{fmt}",
            inputs=dict(_inputs(path)),
            parameters={"value_type": "counts"},
        ),
        total_reads=round(total),
    )


# ----------------------------------------------------------------------------- Bracken


def read_bracken(path: str | Path, *, sample_id: str | None = None) -> list[Profile]:
    """Read a Bracken abundance table (``-o`` output).

    Columns ``name, taxonomy_id, taxonomy_lvl, kraken_assigned_reads, added_reads,
    new_est_reads, fraction_total_reads``. Only names are known (no lineage); the reads are the
    re-estimated reads at the one level Bracken ran at, and Bracken's fractions are of the
    reads classified at that level, so ``unassigned`` is 0 and ``total_reads`` is their sum.
    (A Bracken ``*.kreport`` is a Kraken 2 report: use ``kraken``.)
    """
    p = check_input_file(path)
    header, rows = read_rows(p)
    col = {h.strip().lower(): i for i, h in enumerate(header)}
    need = ("name", "taxonomy_id", "taxonomy_lvl", "new_est_reads")
    missing = [n for n in need if n not in col]
    if missing:
        message = f"missing column(s) {', '.join(missing)}; not a Bracken abundance table"
        raise InputFormatError(message, path=p, line=1)
    sample = sample_id or _sample_name(p, (".bracken", "_bracken", "_species", "_genus"))
    out: list[TaxonRow] = []
    total = 0.0
    for number, cells in rows:
        level = cells[col["taxonomy_lvl"]].strip().upper()[:1]
        rank = _KRAKEN_RANKS.get(level)
        if rank is None:
            message = f"taxonomy_lvl {cells[col['taxonomy_lvl']]!r} is not one of D P C O F G S"
            raise InputFormatError(message, path=p, line=number)
        reads = parse_number(cells[col["new_est_reads"]], path=p, line=number, column="reads")
        if reads < 0:
            message = f"negative new_est_reads {reads:g}"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_NEG)
        total += reads
        name = cells[col["name"]].strip()
        out.append(
            TaxonRow(
                rank,
                complete_lineage({rank: name}).truncated(rank),
                reads,
                reads=reads,
                taxid=TaxId(cells[col["taxonomy_id"]].strip()),
            )
        )
    _check_bracken_fractions(p, rows, col)
    return [_counts_profile(p, sample, out, total, "bracken")]


def _check_bracken_fractions(
    path: Path, rows: list[tuple[int, list[str]]], col: dict[str, int]
) -> None:
    """``fraction_total_reads`` (not used: reads are) must sum to 1, else the file was edited.

    Bracken prints the fractions to 5 decimals, so each row may be off by 5e-6.
    """
    if "fraction_total_reads" not in col or not rows:
        return
    fractions = [
        parse_number(cells[col["fraction_total_reads"]], path=path, line=number, column="fraction")
        for number, cells in rows
    ]
    share = math.fsum(fractions)
    tolerance = RELATIVE_TOLERANCE + 5e-6 * len(rows)
    if abs(share - 1.0) > tolerance:
        message = (
            f"fraction_total_reads sums to {share:.6g}, expected 1 (± {tolerance:.2g}); "
            "the table was edited or cut"
        )
        raise InputFormatError(message, path=path, code=ErrorCode.TAB_SUM)


# ----------------------------------------------------------------------------- MetaPhlAn


def read_metaphlan(path: str | Path, *, sample_id: str | None = None) -> list[Profile]:
    """Read a MetaPhlAn 3/4 profile, or a merged table of several (``merge_metaphlan_tables.py``).

    Single profile: ``#SampleID`` comment, then ``clade_name``, ``NCBI_tax_id``,
    ``relative_abundance`` (percent) rows. Merged table: a ``clade_name`` header (optionally
    ``clade_taxid``/``NCBI_tax_id``) then one percent column per sample. Clade names are
    ``k__…|p__…|…|s__…`` (``t__`` strain rows are skipped). Each rank's unassigned share is 1
    minus its rows' fractions (MetaPhlAn 4's ``UNCLASSIFIED`` row and unknown-estimation fall
    into it). Reads are unknown.
    """
    p = check_input_file(path)
    from gutbrain.io.tables.text import read_text

    sample = sample_id
    header: list[str] | None = None
    data_lines: list[tuple[int, list[str]]] = []
    for number, line in enumerate(read_text(p).splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            if sample is None and line.lower().startswith("#sampleid"):
                parts = line.split("\t")
                if len(parts) > 1 and parts[1].strip():
                    sample = parts[1].strip()
            continue
        cells = line.split("\t")
        if header is None and not data_lines and cells[0].strip().lower() == "clade_name":
            header = [c.strip() for c in cells]
            continue
        if header is not None and len(cells) != len(header):
            message = f"{len(cells)} cells, expected {len(header)} as in the header"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_RAGGED)
        data_lines.append((number, cells))
    if not data_lines:
        message = "no profile rows; expected MetaPhlAn clade_name lines"
        raise EmptyInputError(message, path=p)
    if header is None:
        name = sample or _sample_name(p, ("_profile", ".profile", "_metaphlan"))
        return [_metaphlan_profile(p, name, data_lines, taxid_col=1, value_col=2)]
    lower = [h.lower() for h in header]
    taxid_col = next((i for i, h in enumerate(lower) if h in ("clade_taxid", "ncbi_tax_id")), None)
    samples = [i for i in range(1, len(header)) if i != taxid_col]
    check_ids([header[i] for i in samples], what="sample", path=p, code=ErrorCode.TAB_DUPSAMPLE)
    return [
        _metaphlan_profile(p, header[i], data_lines, taxid_col=taxid_col, value_col=i)
        for i in samples
    ]


def _metaphlan_profile(
    p: Path,
    sample: str,
    data_lines: list[tuple[int, list[str]]],
    *,
    taxid_col: int | None,
    value_col: int,
) -> Profile:
    rows: list[TaxonRow] = []
    for number, cells in data_lines:
        if len(cells) <= value_col:
            message = f"{len(cells)} cells, expected at least {value_col + 1}"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_RAGGED)
        clade = cells[0].strip()
        if clade.upper() == "UNCLASSIFIED" or "|t__" in clade:
            continue
        parts = clade.split("|")
        if parts[-1][:3] not in {f"{k}__" for k in "kdpcofgs"}:
            message = f"clade {clade!r:.60} does not end in a k__ … s__ rank"
            raise InputFormatError(message, path=p, line=number)
        percent = parse_number(
            cells[value_col], path=p, line=number, column=sample, taxon=parts[-1]
        )
        if percent < 0 or percent > 100 + 1e-6:
            message = f"sample {sample!r}: relative abundance {percent:g} outside 0–100 (percent)"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_NEG)
        if percent == 0:
            continue
        lineage = lineage_from_string(";".join(parts))
        rank = RANK_PREFIXES[parts[-1][0]]
        taxid_path = cells[taxid_col].strip().split("|") if taxid_col is not None else [""]
        rows.append(
            TaxonRow(
                rank,
                lineage.truncated(rank),
                percent / 100.0,
                taxid=TaxId(taxid_path[-1]) if taxid_path[-1] else None,
            )
        )
    unassigned: dict[Rank, float] = {}
    for rank in RANKS:
        at = [r for r in rows if r.rank == rank]
        if not at:
            continue
        share = sum(r.abundance for r in at)
        if share > 1 + 1e-4:
            message = (
                f"sample {sample!r}, rank {rank}: abundances sum to {share * 100:.4g} %, "
                "more than 100 %"
            )
            raise InputFormatError(message, path=p, code=ErrorCode.TAB_SUM)
        unassigned[rank] = max(1.0 - share, 0.0)
    return Profile(
        sample_id=SampleId(sample),
        rows=tuple(rows),
        unassigned=unassigned,
        provenance=Provenance(
            gutbrain_version=__version__,
            source="import:metaphlan",
            inputs=dict(_inputs(p)),
            parameters={"value_type": "percent"},
        ),
    )


# ----------------------------------------------------------------------------- detection


def detect_format(path: str | Path) -> TableFormat:
    """Guess a table's format from its first bytes and header.

    Returns a :class:`~gutbrain.io.tables.formats.TableFormat`. Raises
    :class:`InputFormatError` with the candidates when unsure.
    """
    p = check_input_file(path)
    data = read_bytes(p)[: 1 << 16]
    if data.startswith(b"\x89HDF"):
        return TableFormat.BIOM
    head = data.lstrip()
    if head.startswith(b"{"):
        return TableFormat.BIOM
    text = data.decode("utf-8-sig", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        message = "empty file; nothing to import"
        raise EmptyInputError(message, path=p)
    first = lines[0]
    low = first.lower()
    if low.startswith("sample\trank\ttaxon") or low.startswith("rank\ttaxon"):
        return TableFormat.PROFILE
    if any(line.startswith("@SampleID") for line in lines[:20]) and any(
        line.startswith("@@TAXID") for line in lines[:50]
    ):
        return TableFormat.CAMI
    if (
        low.startswith("#mpa_")
        or "clade_name" in low
        or any(line.startswith("k__") or line.startswith("d__") for line in lines[:50])
    ):
        return TableFormat.METAPHLAN
    if low.startswith("tax_id\tabundance") or ("tax_id" in low and "abundance" in low):
        return TableFormat.EMU
    if "taxonomy_lvl" in low and "new_est_reads" in low:
        return TableFormat.BRACKEN
    cells = first.split("\t")
    if (
        len(cells) in (6, 8)
        and re.fullmatch(r"\s*[0-9.]+", cells[0] or "")
        and cells[-3].strip()[:1] in ("U", "R", "D", "K", "P", "C", "O", "F", "G", "S")
    ):
        return TableFormat.KRAKEN
    if "\t" in first or first.startswith("# Constructed from biom file"):
        return TableFormat.TSV
    message = (
        "cannot tell the table's format (not BIOM, Emu, Kraken 2, Bracken, MetaPhlAn, "
        "gutbrain profile.tsv or a tab-separated taxa x samples table); give --format"
    )
    raise InputFormatError(message, path=p, code=ErrorCode.TAB_FORMAT)
