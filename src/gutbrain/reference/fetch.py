"""``gutbrain db fetch refseq-16s``: NCBI's current RefSeq 16S set as a reference bundle.

Downloads (from ``https://ftp.ncbi.nlm.nih.gov/`` or a mirror with the same layout):

``refseq/TargetedLoci/Bacteria/bacteria.16SrRNA.fna.gz``
    the RefSeq 16S type-strain records (``>NR_… Genus species strain … 16S ribosomal RNA, …``);
``pub/taxonomy/taxdump.tar.gz`` and ``pub/taxonomy/taxdump.tar.gz.md5``
    NCBI Taxonomy (``nodes.dmp``, ``names.dmp``) and its published MD5.

Each file goes to a temporary name in the work folder and is renamed into place only when
complete; its size is checked against ``Content-Length`` (when the server sends one), the
taxdump against its MD5, and the FASTA by decompressing it whole (gzip CRC).

Accession -> tax id: the organism named in each FASTA header (``Genus species``, the first two
words; three for ``Candidatus``) is looked up among the scientific names (then synonyms and
equivalent names) of species-rank nodes in ``names.dmp``; its lineage is walked up
``nodes.dmp``. This needs only the taxdump (60 MB), not NCBI's accession2taxid tables (GBs), and
gives the same species as the records' own ``/db_xref="taxon"`` for type strains, whose
organism name is the species name. Records whose species name is unknown to the dump fall back
to their genus name (tier ``genus``), then to the kingdom (tier ``genus-only``); the counts per
tier go into the manifest (:mod:`gutbrain.reference.refseq`).

Errors (:class:`~gutbrain.errors.ReferenceDatabaseError`, exit 78): ``GB-REF-OFFLINE`` when the
server cannot be reached (no network, no route, DNS), ``GB-REF-FETCH`` for an HTTP error, a
truncated or corrupt download or an MD5 mismatch, ``GB-REF-TREE`` when the taxdump lacks a tax
id that it names (a name whose node is missing, a node whose parent is missing).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

from gutbrain.errors import ErrorCode, OutputExistsError, ReferenceDatabaseError
from gutbrain.model import RANKS, Lineage
from gutbrain.reference._files import fasta_records
from gutbrain.reference.bundle import (
    ProgressCallback,
    ReferenceBundle,
    SourceInfo,
    build_bundle,
    user_database_dir,
)
from gutbrain.reference.copy_numbers import apply_copy_numbers, read_rrndb_copy_numbers
from gutbrain.reference.refseq import parse_refseq_header, refseq_records

__all__ = [
    "FASTA_PATH",
    "FETCHABLE",
    "NCBI_URL",
    "REFSEQ_SOURCE",
    "TAXDUMP_PATH",
    "TAXONOMY_SOURCE",
    "Downloaded",
    "StepProgress",
    "Taxdump",
    "download",
    "fetch_refseq_16s",
    "read_taxdump",
]

logger = logging.getLogger(__name__)

NCBI_URL = "https://ftp.ncbi.nlm.nih.gov/"
FASTA_PATH = "refseq/TargetedLoci/Bacteria/bacteria.16SrRNA.fna.gz"
TAXDUMP_PATH = "pub/taxonomy/taxdump.tar.gz"
#: Sources ``gutbrain db fetch`` knows.
FETCHABLE: tuple[str, ...] = ("refseq-16s",)
#: NCBI renamed the rank "superkingdom" to "domain" in 2025; both map to ``superkingdom``.
_RANK_ALIASES: dict[str, str] = {"domain": "superkingdom", **{rank: rank for rank in RANKS}}
_NAME_CLASSES = ("scientific name", "synonym", "equivalent name")
_CHUNK = 1 << 16
_MD5 = re.compile(r"^([0-9a-fA-F]{32})\b")

#: ``callback(step, done, total)``: ``step`` is ``"taxdump"``, ``"16S"`` or ``"build"``.
StepProgress = Callable[[str, float, float | None], None]

REFSEQ_SOURCE = SourceInfo(
    name="NCBI RefSeq Targeted Loci: bacterial 16S rRNA",
    licence=(
        "Public data of a US government agency; NCBI places no restrictions on the use or "
        "distribution of RefSeq records. Cite NCBI RefSeq."
    ),
    citation=(
        "O'Leary NA et al. (2016) Reference sequence (RefSeq) database at NCBI. Nucleic Acids "
        "Res 44:D733-D745. doi:10.1093/nar/gkv1189"
    ),
    url=NCBI_URL + FASTA_PATH,
)
TAXONOMY_SOURCE = SourceInfo(
    name="NCBI Taxonomy (taxdump)",
    licence="Public data of a US government agency; no restrictions on use.",
    citation=(
        "Schoch CL et al. (2020) NCBI Taxonomy: a comprehensive update on curation, resources "
        "and tools. Database baaa062. doi:10.1093/database/baaa062"
    ),
    url=NCBI_URL + TAXDUMP_PATH,
)


# --------------------------------------------------------------------------------------------
# Downloading


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A fetched file: where it is, its MD5 and SHA-256, and the server's Last-Modified date."""

    path: Path
    md5: str
    sha256: str
    last_modified: str | None


def _join(base: str, relative: str) -> str:
    return base.rstrip("/") + "/" + relative


def download(
    url: str,
    dest: str | Path,
    *,
    timeout: float = 60.0,
    progress: ProgressCallback | None = None,
) -> Downloaded:
    """Download ``url`` (``https://``, ``http://`` or ``file://``) to ``dest`` atomically.

    The data go to a temporary file beside ``dest``, renamed into place once the byte count
    matches ``Content-Length`` (when given).

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-OFFLINE`` when the host cannot be reached, ``GB-REF-FETCH`` for an HTTP error
        status, a missing file or a short read.
    """
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        message = f"{url}: the server answered HTTP {exc.code} ({exc.reason}); try again later"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FETCH) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, FileNotFoundError) or "No such file" in str(reason):
            message = f"{url}: no such file on the mirror; check --mirror and its layout"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_FETCH) from None
        message = (
            f"{url}: cannot reach the server ({reason}); is this machine online? Use --mirror "
            "to fetch from a local copy, or 'gutbrain db import' for files you already have"
        )
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_OFFLINE) from None
    except (TimeoutError, OSError) as exc:
        message = f"{url}: cannot reach the server ({exc}); is this machine online?"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_OFFLINE) from None
    with response:
        length_text = response.headers.get("Content-Length")
        expected = int(length_text) if length_text and length_text.isdigit() else None
        modified = response.headers.get("Last-Modified")
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha256()
        received = 0
        handle, temp_name = tempfile.mkstemp(prefix=f".partial-{target.name}.", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (TimeoutError, OSError) as exc:
                        message = f"{url}: the download broke off after {received} bytes ({exc})"
                        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FETCH) from None
                    if not chunk:
                        break
                    out.write(chunk)
                    md5.update(chunk)
                    sha.update(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress(received, expected)
                out.flush()
                os.fsync(out.fileno())
            if expected is not None and received != expected:
                message = (
                    f"{url}: received {received} bytes, the server announced {expected}; the "
                    "download is incomplete, try again"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_FETCH)
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
    last_modified: str | None = None
    if modified:
        with contextlib.suppress(TypeError, ValueError):
            last_modified = parsedate_to_datetime(modified).date().isoformat()
    logger.info("fetched %s (%d bytes)", url, received)
    return Downloaded(target, md5.hexdigest(), sha.hexdigest(), last_modified)


def _check_gzip(path: Path, *, url: str) -> None:
    """Decompress ``path`` whole (every member's CRC and length is checked)."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        message = f"{url}: the downloaded file is not intact gzip ({exc}); fetch it again"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FETCH) from None


def _check_md5(got: Downloaded, md5_file: Path, *, url: str) -> None:
    text = md5_file.read_text(encoding="utf-8", errors="replace").strip()
    match = _MD5.match(text)
    if match is None:
        message = f"{url}.md5: expected '<32 hex digits>  taxdump.tar.gz', found {text[:60]!r}"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FETCH)
    if match.group(1).lower() != got.md5:
        message = (
            f"{url}: MD5 {got.md5} does not match the published {match.group(1).lower()}; the "
            "download is corrupt or the files changed while fetching; fetch again"
        )
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FETCH)


# --------------------------------------------------------------------------------------------
# The taxonomy dump


@dataclass(slots=True)
class Taxdump:
    """What :func:`read_taxdump` keeps: lineages of the named species and genera.

    ``species`` maps a species name to its tax id; ``lineages`` a species tax id to its
    lineage; ``genera`` a genus name to its lineage (for records whose species is unknown).
    """

    species: dict[str, str] = field(default_factory=dict)
    lineages: dict[str, Lineage] = field(default_factory=dict)
    genera: dict[str, Lineage] = field(default_factory=dict)


def _dmp_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.rstrip("\n").rstrip("|").split("\t|\t")]


def _member(archive: tarfile.TarFile, name: str, *, origin: str) -> IO[bytes]:
    for info in archive:
        if Path(info.name).name == name and info.isfile():
            handle = archive.extractfile(info)
            if handle is not None:
                return handle
    message = f"{origin}: {name} is missing from the taxonomy dump"
    raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)


def read_taxdump(
    path: str | Path,
    *,
    species_names: Iterable[str],
    genus_names: Iterable[str] = (),
) -> Taxdump:
    """Resolve species and genus names to lineages with an NCBI ``taxdump.tar.gz``.

    Only the nodes the names need are kept (a full dump has ~2.7 million nodes).

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-TAX`` for a malformed or incomplete dump, ``GB-REF-TREE`` for a tax id the
        dump names but does not define (a name without a node, a node without its parent).
    """
    origin = str(path)
    wanted_species = set(species_names)
    wanted_genera = set(genus_names)
    parent: dict[int, int] = {}
    rank: dict[int, str] = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            nodes = _member(archive, "nodes.dmp", origin=origin)
            for number, raw in enumerate(nodes, start=1):
                cells = _dmp_cells(raw.decode("utf-8", errors="replace"))
                if len(cells) < 3 or not cells[0].isdigit() or not cells[1].isdigit():
                    message = f"{origin}: nodes.dmp:{number}: expected 'tax_id | parent | rank |'"
                    raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
                taxid = int(cells[0])
                parent[taxid] = int(cells[1])
                rank[taxid] = _RANK_ALIASES.get(cells[2], "")
        # names.dmp is read in a second pass: tarfile streams members in archive order
        candidates: dict[str, dict[str, list[int]]] = {}
        scientific: dict[int, str] = {}
        with tarfile.open(path, "r:gz") as archive:
            names = _member(archive, "names.dmp", origin=origin)
            for number, raw in enumerate(names, start=1):
                cells = _dmp_cells(raw.decode("utf-8", errors="replace"))
                if len(cells) < 4 or not cells[0].isdigit():
                    message = f"{origin}: names.dmp:{number}: expected 'tax_id | name | | class |'"
                    raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX)
                taxid, name, name_class = int(cells[0]), cells[1], cells[3]
                # names of genus and above only: a species' name comes from the FASTA header,
                # and a full dump has ~2 million species names
                level = rank.get(taxid)
                if name_class == "scientific name" and level and level != "species":
                    scientific[taxid] = name
                if name_class in _NAME_CLASSES and (
                    name in wanted_species or name in wanted_genera
                ):
                    candidates.setdefault(name, {}).setdefault(name_class, []).append(taxid)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        message = f"{origin}: not a readable taxdump.tar.gz ({exc})"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_TAX) from None

    def lineage(taxid: int, *, name: str) -> Lineage:
        found: dict[str, str | None] = {}
        node = taxid
        seen: set[int] = set()
        while True:
            if node not in parent:
                below = "" if node == taxid else f" (an ancestor of {taxid})"
                message = (
                    f"{origin}: tax id {node}{below}, named by {name!r} in names.dmp, is not in "
                    "nodes.dmp; the taxonomy dump is incomplete: fetch it again"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_TREE)
            if node in seen:
                message = f"{origin}: tax id {taxid} has a cycle in its parents at {node}"
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_TREE)
            seen.add(node)
            level = rank[node]
            if level and level not in found:
                found[level] = scientific.get(node)
            up = parent[node]
            if up == node or node == 1 or up == 1:
                break  # the root (reduced dumps may leave it out)
            node = up
        return Lineage.from_mapping(found)

    def pick(name: str, level: str) -> int | None:
        by_class = candidates.get(name, {})
        for name_class in _NAME_CLASSES:
            hits = sorted({t for t in by_class.get(name_class, []) if rank.get(t) == level})
            unknown = [t for t in by_class.get(name_class, []) if t not in parent]
            if unknown:
                message = (
                    f"{origin}: names.dmp gives {name!r} the tax id {unknown[0]}, which is not "
                    "in nodes.dmp; the taxonomy dump is incomplete: fetch it again"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_TREE)
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                return None  # a homonym: the name alone cannot say which
        return None

    dump = Taxdump()
    for name in sorted(wanted_species):
        species_id = pick(name, "species")
        if species_id is not None:
            dump.species[name] = str(species_id)
            dump.lineages[str(species_id)] = lineage(species_id, name=name)
    for name in sorted(wanted_genera):
        genus_id = pick(name, "genus")
        if genus_id is not None:
            dump.genera[name] = lineage(genus_id, name=name)
    return dump


# --------------------------------------------------------------------------------------------
# The bundle


def _header_names(fasta: Path) -> tuple[set[str], set[str]]:
    species: set[str] = set()
    genera: set[str] = set()
    for record in fasta_records(fasta):
        head = parse_refseq_header(record.header)
        if head.species is not None:
            species.add(head.species)
        if head.genus is not None:
            genera.add(head.genus)
    return species, genera


def fetch_refseq_16s(
    *,
    out: str | Path | None = None,
    name: str = "refseq-16s",
    mirror: str | None = None,
    work_dir: str | Path | None = None,
    min_length: int = 1200,
    copy_numbers: str | Path | None = None,
    replace: bool = False,
    timeout: float = 60.0,
    progress: StepProgress | None = None,
) -> ReferenceBundle:
    """Fetch NCBI's RefSeq 16S FASTA and taxonomy, verify them and build a bundle.

    Parameters
    ----------
    out
        Bundle folder; default ``user_database_dir() / name``.
    name
        The bundle's name.
    mirror
        Base URL with NCBI's layout (``file:///srv/ncbi/``, ``http://127.0.0.1:8000/``);
        default :data:`NCBI_URL`.
    work_dir
        Where downloads are kept (default: a temporary folder, removed afterwards).
    min_length
        RefSeq records shorter than this (bp) are left out (partial genes).
    copy_numbers
        rrnDB table: 16S copy numbers by species, else genus mean.
    replace
        Replace an existing bundle of that name.
    timeout
        Seconds to wait for the server before ``GB-REF-OFFLINE``.
    progress
        ``progress(step, done, total)``; ``step`` names the file or ``"build"``.

    Returns
    -------
    ReferenceBundle

    Raises
    ------
    ReferenceDatabaseError
        See the module docstring.
    OutputExistsError
        When the bundle folder exists and ``replace`` is false (before any download).
    """
    base = mirror if mirror is not None else NCBI_URL
    target = Path(out) if out is not None else user_database_dir() / name
    if target.exists() and not replace:  # found before anything is downloaded
        message = f"{target}: a bundle already exists there; pass --force to replace it"
        raise OutputExistsError(message)
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gutbrain-")))
        else:
            folder = Path(work_dir)

        def step(label: str) -> ProgressCallback | None:
            if progress is None:
                return None
            report = progress
            return lambda done, total: report(label, done, total)

        fasta_url = _join(base, FASTA_PATH)
        taxdump_url = _join(base, TAXDUMP_PATH)
        # the small checksum file first: an offline machine fails fast, before any big file
        md5_file = download(taxdump_url + ".md5", folder / "taxdump.tar.gz.md5", timeout=timeout)
        taxdump = download(
            taxdump_url, folder / "taxdump.tar.gz", timeout=timeout, progress=step("taxdump")
        )
        _check_md5(taxdump, md5_file.path, url=taxdump_url)
        fasta = download(
            fasta_url, folder / "bacteria.16SrRNA.fna.gz", timeout=timeout, progress=step("16S")
        )
        _check_gzip(fasta.path, url=fasta_url)
        species_names, genus_names = _header_names(fasta.path)
        dump = read_taxdump(taxdump.path, species_names=species_names, genus_names=genus_names)
        records = refseq_records(
            fasta.path,
            lineages=dump.lineages,
            taxid_of_name=dump.species,
            genera=dump.genera,
            min_length=min_length,
        )
        taxonomy = records.taxonomy
        sources = [REFSEQ_SOURCE, TAXONOMY_SOURCE]
        extra: dict[str, Any] = {}
        if copy_numbers is not None:
            table = read_rrndb_copy_numbers(copy_numbers)
            taxonomy, matched = apply_copy_numbers(taxonomy, table)
            licence = "no explicit licence; cite"
            sources.append(SourceInfo(name=table.source, licence=licence, citation=table.citation))
            extra["copy_numbers"] = {
                "source": table.source,
                "join": "species mean, else genus mean",
                "matched": matched,
            }
        version = fasta.last_modified or f"sha256-{fasta.sha256[:12]}"
        extra["fetch"] = {
            "files": [
                {
                    "path": relative,
                    "sha256": got.sha256,
                    "md5": got.md5,
                    "last_modified": got.last_modified,
                }
                for relative, got in ((FASTA_PATH, fasta), (TAXDUMP_PATH, taxdump))
            ],
            "mirror": mirror is not None,
            "accession_to_taxid": "FASTA header species name -> names.dmp (species rank)",
            "records_kept": len(records.sequences),
            "records_shorter_than_min_length": records.too_short,
            "min_length": min_length,
            "lineage_tiers": records.tiers,
        }
        # species groups: once merged, the same step as in scripts/build_default_reference.py
        bundle = build_bundle(
            target,
            sequences=records.sequences,
            taxonomy=taxonomy,
            name=name,
            version=version,
            source="fetch:refseq-16s",
            licence=REFSEQ_SOURCE.licence,
            citation=REFSEQ_SOURCE.citation,
            sources=sources,
            description=(
                "NCBI RefSeq 16S type-strain records with NCBI Taxonomy lineages, fetched with "
                "'gutbrain db fetch refseq-16s'."
            ),
            extra=extra,
            replace=replace,
            progress=step("build"),
            total=len(records.sequences),
        )
    return bundle
