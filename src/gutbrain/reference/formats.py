"""Importers from published reference layouts into gutbrain reference bundles.

Formats (``gutbrain db import --format …``):

``tsv-ranks``
    FASTA + a TSV with a header naming rank columns (``id tax_id species genus family order
    class phylum superkingdom``; ``Kingdom``/``Domain`` and ``asv_id``/``Feature ID`` are accepted
    aliases, other columns ignored), as in the profiling benchmark and the LRAS SILVA table.
``plain``
    FASTA + a two-column ``id<TAB>lineage`` TSV; the lineage is parsed as for ``qiime``.
``qiime``
    FASTA + QIIME/SILVA taxonomy TSV: ``k__Bacteria; p__…; s__…`` (Greengenes),
    ``D_0__Bacteria;D_1__…`` (SILVA 128/132 QIIME release) or unprefixed ``A;B;C`` strings,
    which start at superkingdom when the first name is a domain and at phylum otherwise. A file
    with a rank-column header is read as ``tsv-ranks``.
``silva``
    SILVA release FASTA whose header carries the lineage: ``>ID Bacteria;Phylum;…;Genus;Organism``.
``hitdb``
    HITdb v1 FASTA + its QIIME or mothur taxonomy (6 levels, phylum … species).
``emu``
    Emu database layout: ``species_taxid.fasta`` (headers ``<taxid>:…``) or any FASTA with a
    ``seq2taxid`` map, plus Emu's ``taxonomy.tsv`` (``tax_id species genus …``) or an NCBI
    ``nodes.dmp`` with ``names.dmp`` beside it. ``--sequences`` may name an Emu database folder
    holding ``species_taxid.fasta`` and ``taxonomy.tsv``.
``dada2``
    dada2 training FASTA (``>Kingdom;Phylum;…;Genus;``) and/or species-assignment FASTA
    (``>ID Genus species``).
``sintax``
    SINTAX/USEARCH headers ``>ID;tax=d:…,p:…,g:…,s:…;``.

Placeholder names ("unclassified", "uncultured …", "unidentified", "metagenome", "Incertae
Sedis" is kept) become unknown (``None``).

Copy numbers (``--copy-numbers rrnDB.tsv``) come from :mod:`gutbrain.reference.copy_numbers`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gutbrain.errors import ErrorCode, ReferenceDatabaseError
from gutbrain.io._text import RANK_PREFIXES, split_rank_prefix
from gutbrain.io.files import sha256_file
from gutbrain.model import RANKS, Lineage
from gutbrain.reference._files import fasta_records, text_lines
from gutbrain.reference.bundle import (
    ProgressCallback,
    ReferenceBundle,
    SourceInfo,
    TaxonRecord,
    build_bundle,
    user_database_dir,
)
from gutbrain.reference.copy_numbers import (
    CopyNumberTable,
    apply_copy_numbers,
    read_rrndb_copy_numbers,
)

__all__ = [
    "FORMATS",
    "ImportedSource",
    "import_bundle",
    "parse_lineage_string",
    "read_fasta",
    "read_import",
]

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = (
    "tsv-ranks",
    "plain",
    "qiime",
    "silva",
    "hitdb",
    "emu",
    "dada2",
    "sintax",
)
_DOMAINS = frozenset({"bacteria", "archaea", "eukaryota", "eukarya", "eukaryotes"})
_ARCHAEAL_PHYLA = frozenset(
    {"euryarchaeota", "crenarchaeota", "thaumarchaeota", "nanoarchaeota", "korarchaeota"}
)
_PLACEHOLDER = re.compile(
    r"^(?:unclassified|unknown|unidentified|uncultured|uncultivated|metagenome|"
    r"environmental|ambiguous_taxa|ambiguous taxa|na|none|null|-)(?:$|[\s_])",
    re.IGNORECASE,
)
_RANK_ALIASES = {
    "id": "id",
    "asv_id": "id",
    "feature id": "id",
    "feature_id": "id",
    "seq_id": "id",
    "sequence_id": "id",
    "#otu id": "id",
    "tax_id": "taxid",
    "taxid": "taxid",
    "species": "species",
    "genus": "genus",
    "family": "family",
    "order": "order",
    "class": "class",
    "phylum": "phylum",
    "superkingdom": "superkingdom",
    "kingdom": "superkingdom",
    "domain": "superkingdom",
    "copy_number": "copy_number",
}
_NOT_EPITHETS = frozenset({"sp.", "sp", "spp.", "bacterium", "cf.", "aff.", "gen.", "nov."})
_ACCESSION = re.compile(r"^(?:[A-Z]{1,2}_?\d{5,}(?:\.\d+)?|[A-Z]{1,6}\d{5,}(?:\.\d+)?)$")


# --------------------------------------------------------------------------------------------
# Low-level readers


def read_fasta(path: str | Path) -> Iterator[tuple[str, str, int]]:
    """Yield ``(header without '>', sequence, header line number)`` from a FASTA file (gzip ok).

    The one FASTA parser (:func:`gutbrain.io.reads.iter_fasta`): case kept, white space and
    blank lines skipped, the alphabet left to the bundle builder.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-SEQFILE`` when the file is missing, ``GB-REF-FORMAT`` when it does not start
        with ``>`` or is truncated or binary, ``GB-REF-EMPTY`` when it holds no record.
    """
    for record in fasta_records(Path(path)):
        yield record.header, record.sequence, record.line


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    text = name.strip().strip('"').strip()
    if not text or _PLACEHOLDER.match(text):
        return None
    return text


def _species_name(genus: str | None, species: str | None) -> str | None:
    """Return the binomial of a species field, or ``None`` when it names no species.

    Accepts an epithet (Greengenes ``s__prausnitzii``, joined to ``genus``), ``Genus_species``,
    ``Genus species strain …`` (strain and ``subsp.`` dropped) and a trailing accession
    (``…_U55233.1``). ``Genus sp.``, ``… bacterium``, OTU labels and ``a|b=c`` strings are not
    species.
    """
    text = _clean_name(species)
    if text is None or "|" in text or "=" in text or re.match(r"OTU\d", text):
        return None
    words = text.replace("_", " ").split()
    while words and _ACCESSION.match(words[-1]):
        words.pop()
    prefix = ""
    if words and words[0] == "Candidatus":
        prefix, words = "Candidatus ", words[1:]
    if not words:
        return None
    if len(words) == 1:
        if genus is None or not words[0][:1].islower() or words[0] in _NOT_EPITHETS:
            return None
        return f"{genus} {words[0]}"
    first, epithet = words[0], words[1]
    if not epithet[:1].islower() or epithet in _NOT_EPITHETS:
        return None
    return f"{prefix}{first} {epithet}"


def _lineage_from_ranks(names: Mapping[str, str | None]) -> Lineage:
    cleaned: dict[str, str | None] = {rank: _clean_name(names.get(rank)) for rank in RANKS}
    cleaned["species"] = _species_name(cleaned["genus"], names.get("species"))
    return Lineage.from_mapping(cleaned)


def parse_lineage_string(text: str) -> Lineage:
    """Parse a QIIME/SILVA/Greengenes/SINTAX lineage string into a :class:`Lineage`.

    Accepts ``k__A; p__B; …; s__c`` (Greengenes, ``s__`` may be an epithet),
    ``D_0__A;D_1__B;…`` (SILVA QIIME release), ``d:A,p:B,…`` (SINTAX) and unprefixed
    ``A;B;…`` (starting at superkingdom when ``A`` is a domain name, else at phylum).

    Examples
    --------
    >>> text = "k__Bacteria; p__Firmicutes; g__Faecalibacterium; s__prausnitzii"
    >>> parse_lineage_string(text).species
    'Faecalibacterium prausnitzii'
    >>> parse_lineage_string("D_0__Bacteria;D_1__Firmicutes;D_5__Blautia").genus
    'Blautia'
    """
    body = text.strip().rstrip(";").strip()
    sintax = re.fullmatch(r"(?:tax=)?((?:[a-z]:[^,]*,?)+)", body)
    if sintax is not None and ";" not in body:
        parts = [p for p in sintax.group(1).split(",") if p]
        names: dict[str, str | None] = {}
        for part in parts:
            key, _, value = part.partition(":")
            rank = RANK_PREFIXES.get(key)
            if rank is not None:
                names[rank] = value
        return _lineage_from_ranks(names)
    parts = [p.strip() for p in body.split(";")]
    names = {}
    positional: list[str] = []
    for part in parts:
        ranked = split_rank_prefix(part)
        if ranked is None:
            positional.append(part)
        elif ranked[0] is not None:
            names[ranked[0]] = ranked[1]
    if positional and not names:
        start = 0 if positional[0].strip().lower() in _DOMAINS else 1
        for offset, value in enumerate(positional[: len(RANKS) - start]):
            names[RANKS[start + offset]] = value
    return _lineage_from_ranks(names)


def _with_domain(lineage: Lineage) -> Lineage:
    if lineage.superkingdom is not None or lineage.phylum is None:
        return lineage
    kingdom = "Archaea" if lineage.phylum.lower() in _ARCHAEAL_PHYLA else "Bacteria"
    return replace(lineage, superkingdom=kingdom)


# --------------------------------------------------------------------------------------------
# Taxonomy tables


def _require_taxonomy(path: str | Path | None) -> Path:
    if path is None:
        message = "this format needs a taxonomy file (--taxonomy); none was given"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
    taxonomy = Path(path)
    if not taxonomy.is_file():
        message = f"{taxonomy}: taxonomy file not found (or not a file); check the path"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
    return taxonomy


def _read_rank_table(
    path: Path, *, rows: Iterator[tuple[int, str]], header: list[str], verbatim: bool = False
) -> dict[str, TaxonRecord]:
    columns = [_RANK_ALIASES.get(h.strip().lower()) for h in header]
    if "id" not in columns:
        if columns[0] is None:
            columns[0] = "id"  # first column without a known name: the id
        else:
            message = f"{path}:1: no id column in header {header!r}; expected 'id' first"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
    if not any(c in RANKS for c in columns):
        message = f"{path}:1: header {header!r} names no rank column (species … superkingdom)"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
    records: dict[str, TaxonRecord] = {}
    for number, line in rows:
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < len(header):
            cells.extend([""] * (len(header) - len(cells)))
        values = {col: cells[i] for i, col in enumerate(columns) if col is not None}
        ref_id = values.get("id", "").strip()
        if not ref_id:
            message = f"{path}:{number}: empty id"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
        if ref_id in records:
            message = f"{path}:{number}: id {ref_id!r} appears twice in the taxonomy"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_DUPID)
        copy_number: float | None = None
        if values.get("copy_number"):
            try:
                copy_number = float(values["copy_number"])
            except ValueError:
                message = f"{path}:{number}: copy_number {values['copy_number']!r} is not a number"
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX) from None
        if verbatim:
            lineage = Lineage.from_mapping({r: values.get(r, "").strip() for r in RANKS})
        else:
            lineage = _lineage_from_ranks(values)
        records[ref_id] = TaxonRecord(
            lineage=_with_domain(lineage),
            taxid=values.get("taxid", "").strip() or None,
            copy_number=copy_number,
            copy_number_source="source" if copy_number is not None else None,
        )
    return records


def _read_taxonomy_table(path: Path, *, ranked_only: bool = False) -> dict[str, TaxonRecord]:
    """Read a rank-column TSV (with header) or a two-column ``id<TAB>lineage`` TSV."""
    rows = text_lines(path, what="taxonomy file", code=ErrorCode.REF_TAX)
    first: tuple[int, str] | None = None
    for number, line in rows:
        if (line.strip() and not line.startswith("#")) or line.lower().startswith("#otu id"):
            first = (number, line)
            break
    if first is None:
        message = f"{path}: taxonomy file holds no rows"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
    header = first[1].split("\t")
    if any(_RANK_ALIASES.get(h.strip().lower()) in RANKS for h in header):
        return _read_rank_table(path, rows=rows, header=header, verbatim=ranked_only)
    if ranked_only:
        message = (
            f"{path}:{first[0]}: expected a header naming rank columns (id, species, genus, …, "
            f"superkingdom), found {first[1][:80]!r}"
        )
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
    records: dict[str, TaxonRecord] = {}
    pending = [first]
    for number, line in [*pending, *rows]:
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < 2:
            message = f"{path}:{number}: expected 'id<TAB>lineage', found {line[:80]!r}"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
        ref_id = cells[0].strip()
        if ref_id.lower() in ("feature id", "#otu id", "id") and number == first[0]:
            continue  # a QIIME 2 header line
        if ref_id in records:
            message = f"{path}:{number}: id {ref_id!r} appears twice in the taxonomy"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_DUPID)
        records[ref_id] = TaxonRecord(lineage=_with_domain(parse_lineage_string(cells[1])))
    return records


def _read_emu_taxonomy(path: Path) -> dict[str, Lineage]:
    """Read Emu's ``taxonomy.tsv`` (``tax_id species genus … superkingdom …``) keyed by tax id."""
    rows = text_lines(path, what="taxonomy file", code=ErrorCode.REF_TAX)
    header: list[str] | None = None
    lineages: dict[str, Lineage] = {}
    for number, line in rows:
        if not line.strip():
            continue
        cells = line.split("\t")
        if header is None:
            header = [c.strip().lower() for c in cells]
            if "tax_id" not in header:
                message = (
                    f"{path}:{number}: expected Emu header starting 'tax_id', found {line[:80]!r}"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
            continue
        values = dict(zip(header, cells, strict=False))
        taxid = values.get("tax_id", "").strip()
        if not taxid:
            message = f"{path}:{number}: empty tax_id"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
        # Emu's names are NCBI species-rank taxa: kept verbatim ("Bacteroides sp. D2" included)
        lineages[taxid] = Lineage.from_mapping({r: values.get(r, "").strip() for r in RANKS})
    return lineages


def _read_ncbi_dump(nodes: Path) -> dict[str, Lineage]:
    """Resolve every tax id of an NCBI ``nodes.dmp`` (+ ``names.dmp`` beside it) to a lineage.

    Walks each node's parents to the root. Raises ``GB-REF-TREE`` naming the tax id for an
    unknown parent or a cycle (RELIABILITY.md R06).
    """
    names_path = nodes.with_name(nodes.name.replace("nodes", "names"))
    if names_path == nodes or not names_path.is_file():
        message = f"{nodes}: names.dmp expected beside nodes.dmp at {names_path}; not found"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
    parent: dict[str, str] = {}
    rank: dict[str, str] = {}
    for number, line in text_lines(nodes, what="nodes.dmp", code=ErrorCode.REF_TAX):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 3 or not cells[0]:
            message = (
                f"{nodes}:{number}: expected 'tax_id | parent | rank | ...', found {line[:60]!r}"
            )
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
        parent[cells[0]] = cells[1]
        rank[cells[0]] = cells[2]
    name: dict[str, str] = {}
    for _, line in text_lines(names_path, what="names.dmp", code=ErrorCode.REF_TAX):
        cells = [c.strip() for c in line.split("|")]
        if len(cells) >= 4 and cells[3] == "scientific name":
            name[cells[0]] = cells[1]
    lineages: dict[str, Lineage] = {}
    for taxid in parent:
        found: dict[str, str | None] = {}
        seen: list[str] = []
        node = taxid
        while True:
            if node in seen:
                path = " -> ".join([*seen, node])
                message = f"{nodes}: tax id {taxid} has a cycle in its parents ({path})"
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_TREE)
            seen.append(node)
            if rank[node] in RANKS and rank[node] not in found:
                found[rank[node]] = name.get(node)
            up = parent[node]
            if up == node or node == "1" or up == "1":
                break  # the root (reduced dumps may leave it out)
            if up not in parent:
                message = f"{nodes}: tax id {node} (under {taxid}) has unknown parent {up}"
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_TREE)
            node = up
        lineages[taxid] = Lineage.from_mapping(found)
    return lineages


# --------------------------------------------------------------------------------------------
# Importers


@dataclass(slots=True)
class ImportedSource:
    """What an importer hands to :func:`~gutbrain.reference.bundle.build_bundle`.

    ``taxonomy`` may be filled while ``sequences`` is iterated (lineages in FASTA headers).
    """

    sequences: Iterable[tuple[str, str]]
    taxonomy: dict[str, TaxonRecord]
    format: str
    notes: list[str]


def _first_token(header: str) -> str:
    return header.split(None, 1)[0] if header.strip() else ""


def _plain_sequences(paths: Sequence[Path]) -> Iterator[tuple[str, str]]:
    for path in paths:
        for header, sequence, _ in read_fasta(path):
            yield _first_token(header), sequence


def _hitdb_record(lineage_text: str) -> TaxonRecord:
    parts = [p.strip() for p in lineage_text.strip().rstrip(";").split(";")]
    names: dict[str, str | None] = dict(zip(RANKS[1:], parts, strict=False))
    species_field = names.get("species") or ""
    genus = _clean_name(names.get("genus"))
    species: str | None = None
    if not species_field.startswith("OTU") and genus is not None:
        words = species_field.replace("_", " ").split()
        if words and _ACCESSION.match(words[-1]):
            words = words[:-1]
        text = " ".join(words)
        if text.startswith(genus + " "):
            epithet = text[len(genus) + 1 :].split()
            if (
                epithet
                and epithet[0][:1].islower()
                and epithet[0] not in ("sp.", "sp", "bacterium")
            ):
                species = f"{genus} {epithet[0]}"
    names["species"] = None
    lineage = _with_domain(_lineage_from_ranks(names))
    return TaxonRecord(lineage=replace(lineage, species=species))


def _import_hitdb(sequences: Sequence[Path], taxonomy: Path) -> ImportedSource:
    records: dict[str, TaxonRecord] = {}
    for number, line in text_lines(taxonomy, what="taxonomy file", code=ErrorCode.REF_TAX):
        if not line.strip():
            continue
        ref_id, tab, lineage_text = line.partition("\t")
        if not tab:
            message = (
                f"{taxonomy}:{number}: expected 'id<TAB>Phylum;…;Genus;Species', "
                f"found {line[:80]!r}"
            )
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
        if ref_id in records:
            message = f"{taxonomy}:{number}: id {ref_id!r} appears twice in the taxonomy"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_DUPID)
        records[ref_id.strip()] = _hitdb_record(lineage_text)
    notes = [
        "HITdb uncultured OTUs (species field 'OTUnnn|NN=<nearest>|D=<identity>') are kept to "
        "genus; their nearest cultured neighbour is not taken as their species"
    ]
    return ImportedSource(_plain_sequences(sequences), records, "hitdb", notes)


def _import_emu(
    sequences: Sequence[Path], taxonomy: Path, seq2taxid: Path | None
) -> ImportedSource:
    if taxonomy.name.endswith("nodes.dmp"):
        lineages = _read_ncbi_dump(taxonomy)
    else:
        lineages = _read_emu_taxonomy(taxonomy)
    mapping: dict[str, str] = {}
    if seq2taxid is not None:
        for number, line in text_lines(seq2taxid, what="seq2taxid map", code=ErrorCode.REF_TAX):
            if not line.strip():
                continue
            cells = line.split("\t") if "\t" in line else line.split()
            if len(cells) < 2:
                message = (
                    f"{seq2taxid}:{number}: expected 'sequence id<TAB>tax id', found {line[:80]!r}"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
            mapping[cells[0].strip()] = cells[1].strip()
    records: dict[str, TaxonRecord] = {}

    def stream() -> Iterator[tuple[str, str]]:
        for path in sequences:
            for header, sequence, line in read_fasta(path):
                ref_id = _first_token(header)
                taxid = mapping.get(ref_id) if seq2taxid is not None else ref_id.split(":", 1)[0]
                if taxid is not None:
                    lineage = lineages.get(taxid)
                    if lineage is None:
                        message = (
                            f"{path}:{line}: sequence {ref_id!r} has tax id {taxid} which is not "
                            f"in {taxonomy}"
                        )
                        raise ReferenceDatabaseError(message, code=ErrorCode.REF_NOTAX)
                    records[ref_id] = TaxonRecord(lineage=_with_domain(lineage), taxid=taxid)
                yield ref_id, sequence

    return ImportedSource(stream(), records, "emu", [])


def _import_header_taxonomy(sequences: Sequence[Path], *, fmt: str) -> ImportedSource:
    records: dict[str, TaxonRecord] = {}
    genus_lineage: dict[str, Lineage] = {}
    notes: list[str] = []
    counter = 0

    def stream() -> Iterator[tuple[str, str]]:
        nonlocal counter
        species_rows: list[tuple[str, str, str, str]] = []
        for path in sequences:
            for header, sequence, line in read_fasta(path):
                counter += 1
                if fmt == "sintax":
                    ref_id, _, rest = header.partition(";")
                    lineage = parse_lineage_string(rest.strip())
                    records[ref_id.strip()] = TaxonRecord(lineage=_with_domain(lineage))
                    yield ref_id.strip(), sequence
                elif fmt == "silva":
                    ref_id, _, rest = header.partition(" ")
                    parts = [p.strip() for p in rest.split(";")]
                    if len(parts) < 2:
                        message = (
                            f"{path}:{line}: expected '>ID Domain;Phylum;…', found {header[:80]!r}"
                        )
                        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FORMAT)
                    names: dict[str, str | None] = dict(zip(RANKS[:6], parts[:-1], strict=False))
                    names["species"] = parts[-1] if len(parts) >= 7 else ""
                    if len(parts) < 7:
                        names = {r: p for r, p in zip(RANKS, parts, strict=False)}
                    records[ref_id] = TaxonRecord(lineage=_lineage_from_ranks(names))
                    yield ref_id, sequence
                elif ";" in header and " " not in header.strip().rstrip(";"):
                    # dada2 assignTaxonomy training header: the lineage is the whole header
                    lineage = parse_lineage_string(header)
                    ref_id = f"dada2_train_{counter:06d}"
                    if lineage.genus is not None:
                        genus_lineage.setdefault(lineage.genus, lineage)
                    records[ref_id] = TaxonRecord(lineage=_with_domain(lineage))
                    yield ref_id, sequence
                else:
                    words = header.split()
                    if len(words) < 3:
                        message = (
                            f"{path}:{line}: expected a dada2 header 'Kingdom;…;Genus;' or "
                            f"'ID Genus species', found {header[:80]!r}"
                        )
                        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FORMAT)
                    species_rows.append((words[0], words[1], words[2], sequence))
        # species-assignment records last, so that genera seen in a training set lend their lineage
        for ref_id, genus, epithet, sequence in species_rows:
            known = genus_lineage.get(genus, Lineage(genus=genus))
            lineage = replace(known, genus=genus, species=_species_name(genus, epithet))
            records[ref_id] = TaxonRecord(lineage=_with_domain(lineage))
            yield ref_id, sequence

    return ImportedSource(stream(), records, fmt, notes)


def read_import(
    sequences: Sequence[str | Path] | str | Path,
    taxonomy: str | Path | None = None,
    *,
    format: str,
    seq2taxid: str | Path | None = None,
) -> ImportedSource:
    """Open a source in one of :data:`FORMATS`; the taxonomy file is checked before anything.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-FORMAT`` for an unknown format, ``GB-REF-TAX`` when a needed taxonomy file is
        missing (checked first), other ``GB-REF-*`` codes for malformed content.
    """
    if format not in FORMATS:
        message = f"unknown reference format {format!r}; choose one of {', '.join(FORMATS)}"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FORMAT)
    fasta_paths = (
        [Path(sequences)] if isinstance(sequences, (str, Path)) else [Path(p) for p in sequences]
    )
    if format == "emu" and len(fasta_paths) == 1 and fasta_paths[0].is_dir():
        folder = fasta_paths[0]
        taxonomy = taxonomy if taxonomy is not None else folder / "taxonomy.tsv"
        fasta_paths = [folder / "species_taxid.fasta"]
    if format in ("tsv-ranks", "plain", "qiime", "hitdb", "emu"):
        taxonomy_path = _require_taxonomy(taxonomy)
        if seq2taxid is not None and not Path(seq2taxid).is_file():
            message = f"{seq2taxid}: seq2taxid map not found; check the path"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
    for path in fasta_paths:
        if not path.is_file():
            message = f"{path}: sequence file not found (or not a file); check the path"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_SEQFILE)
    if not fasta_paths:
        message = "no sequence file given (--sequences)"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_SEQFILE)
    if format == "tsv-ranks":
        records = _read_taxonomy_table(taxonomy_path, ranked_only=True)
        return ImportedSource(_plain_sequences(fasta_paths), records, format, [])
    if format in ("plain", "qiime"):
        records = _read_taxonomy_table(taxonomy_path)
        return ImportedSource(_plain_sequences(fasta_paths), records, format, [])
    if format == "hitdb":
        return _import_hitdb(fasta_paths, taxonomy_path)
    if format == "emu":
        return _import_emu(fasta_paths, taxonomy_path, Path(seq2taxid) if seq2taxid else None)
    return _import_header_taxonomy(fasta_paths, fmt=format)


def import_bundle(
    sequences: Sequence[str | Path] | str | Path,
    taxonomy: str | Path | None = None,
    *,
    format: str,
    name: str,
    version: str = "unversioned",
    out: str | Path | None = None,
    seq2taxid: str | Path | None = None,
    copy_numbers: str | Path | None = None,
    licence: str = "unknown (see the source)",
    citation: str = "",
    replace: bool = False,
    progress: ProgressCallback | None = None,
) -> ReferenceBundle:
    """Import a published reference layout into a new bundle.

    Parameters
    ----------
    sequences
        One or more FASTA files (plain or gzip).
    taxonomy
        The taxonomy file (not needed for ``silva``, ``dada2`` and ``sintax``, whose headers
        carry the lineage).
    format
        One of :data:`FORMATS`.
    name, version
        The bundle's name (its folder name under the user data folder) and version.
    out
        Bundle folder; default ``user_database_dir() / name``.
    seq2taxid
        For ``emu``: a ``sequence id<TAB>tax id`` map (Emu ``build-database --seq2tax``).
    copy_numbers
        rrnDB table; 16S copy numbers are joined by species, else genus mean.
    licence, citation
        Recorded in the manifest; state them for anything you redistribute.
    replace
        Replace an existing bundle of that name.
    progress
        ``callback(done, total)``.

    Returns
    -------
    ReferenceBundle
    """
    source = read_import(sequences, taxonomy, format=format, seq2taxid=seq2taxid)
    target = Path(out) if out is not None else user_database_dir() / name
    extra: dict[str, Any] = {}
    records = source.taxonomy
    sources = [SourceInfo(name=name, version=version, licence=licence, citation=citation)]
    if copy_numbers is not None:
        table = read_rrndb_copy_numbers(copy_numbers)
        sources.append(
            SourceInfo(
                name=table.source, licence="no explicit licence; cite", citation=table.citation
            )
        )
        extra["copy_numbers"] = {"source": table.source, "join": "species mean, else genus mean"}
        # header formats fill the taxonomy while streaming: join copy numbers on the fly
        sequences_iter = _join_while_streaming(source, table, extra["copy_numbers"])
    else:
        sequences_iter = iter(source.sequences)
    for note in source.notes:
        logger.info("%s", note)
    given = [sequences] if isinstance(sequences, (str, Path)) else list(sequences)
    input_files = [Path(p) for p in given]
    input_files += [Path(p) for p in (taxonomy, seq2taxid, copy_numbers) if p is not None]
    extra["import"] = {
        "format": source.format,
        # file names and checksums only: full paths may name a person or a site
        "inputs": [
            {"name": path.name, "sha256": sha256_file(path)}
            for path in input_files
            if path.is_file()
        ],
        "notes": source.notes,
    }
    try:
        return build_bundle(
            target,
            sequences=sequences_iter,
            taxonomy=records,
            name=name,
            version=version,
            source=f"import:{source.format}",
            licence=licence,
            citation=citation,
            sources=sources,
            extra=extra,
            replace=replace,
            progress=progress,
            total=len(records) or None,  # header formats fill the taxonomy while streaming
        )
    except ReferenceDatabaseError as exc:
        if exc.code not in _RECORD_CODES:
            raise
        # build_bundle counts records across the inputs; name the files they came from
        files = ", ".join(str(p) for p in given)
        message = f"{files}: {exc}"
        raise ReferenceDatabaseError(message, code=exc.code) from None


#: build_bundle errors about one record or ID, whose messages do not name the input file.
_RECORD_CODES = frozenset({ErrorCode.REF_SEQ, ErrorCode.REF_DUPID, ErrorCode.REF_ID})


def _join_while_streaming(
    source: ImportedSource, table: CopyNumberTable, summary: dict[str, Any]
) -> Iterator[tuple[str, str]]:
    counts = {"species": 0, "genus": 0, "none": 0, "source": 0}
    for ref_id, sequence in source.sequences:
        record = source.taxonomy.get(ref_id)
        if record is not None and record.copy_number is None:
            updated, got = apply_copy_numbers({ref_id: record}, table)
            source.taxonomy[ref_id] = updated[ref_id]
            for key, value in got.items():
                counts[key] += value
        elif record is not None:
            counts["source"] += 1
        yield ref_id, sequence
    summary["matched"] = counts
