"""CLI commands: ``gutbrain db build|import|fetch|groups|info|verify|list|index``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from gutbrain.cli._app import console, err_console
from gutbrain.cli._progress import progress_bar
from gutbrain.errors import ErrorCode
from gutbrain.io.jsonfile import dumps_json
from gutbrain.model import ReadType
from gutbrain.profile.index import ensure_index
from gutbrain.reference.bundle import (
    ReferenceBundle,
    default_bundle_path,
    list_bundles,
    load_bundle,
    user_database_dir,
    verify_bundle,
)
from gutbrain.reference.fetch import FETCHABLE, NCBI_URL, fetch_refseq_16s
from gutbrain.reference.formats import FORMATS, import_bundle
from gutbrain.reference.index import MINIMAP2_PRESETS

__all__ = ["register"]

db_app = typer.Typer(
    name="db",
    help="Reference databases: import, inspect and verify reference bundles.",
    no_args_is_help=True,
)

_DB_HELP = "Bundle name (see 'gutbrain db list') or folder; default: the bundled reference."


_SEQUENCES = typer.Option("--sequences", "-s", help="FASTA file(s), plain or gzip; repeatable.")
_TAXONOMY = typer.Option("--taxonomy", "-t", help="Taxonomy table (format-dependent).")
_NAME = typer.Option("--name", "-n", help="Bundle name (letters, digits, . _ + -).")
_VERSION = typer.Option("--version", help="Version recorded in the manifest.")
_OUT = typer.Option(
    "--out", "-o", help="Bundle folder; default: the user data folder ($XDG_DATA_HOME/gutbrain/db)."
)
_SEQ2TAXID = typer.Option("--seq2taxid", help="emu: 'sequence id<TAB>tax id' map.")
_COPY = typer.Option(
    "--copy-numbers", help="rrnDB table: join 16S copy numbers by species, else genus mean."
)
_LICENCE = typer.Option("--licence", help="Licence of the source, recorded in the manifest.")
_CITATION = typer.Option("--citation", help="Citation of the source, recorded in the manifest.")
_FORCE = typer.Option("--force", help="Replace an existing bundle of that name.")
_GROUPS = typer.Option(
    "--groups/--no-groups",
    help="Compute species groups (species 16S cannot separate) from the reference itself: one "
    "self-alignment, a few minutes per 20,000 sequences on 2 cores. Default: when the "
    "reference has a genus with two named species; --groups makes it required.",
    show_default=False,
)
_THREADS = typer.Option("--threads", help="Worker processes for computing species groups.")


@db_app.command("import")
def import_command(
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")],
    sequences: Annotated[list[Path], _SEQUENCES],
    name: Annotated[str, _NAME],
    taxonomy: Annotated[Path | None, _TAXONOMY] = None,
    version: Annotated[str, _VERSION] = "unversioned",
    out: Annotated[Path | None, _OUT] = None,
    seq2taxid: Annotated[Path | None, _SEQ2TAXID] = None,
    copy_numbers: Annotated[Path | None, _COPY] = None,
    licence: Annotated[str, _LICENCE] = "unknown (see the source)",
    citation: Annotated[str, _CITATION] = "",
    force: Annotated[bool, _FORCE] = False,
    groups: Annotated[bool | None, _GROUPS] = None,
    threads: Annotated[int, _THREADS] = 1,
) -> None:
    """Import a published reference (Emu, QIIME/SILVA, HITdb, dada2, SINTAX, plain, tsv-ranks).

    Species groups are computed and stored with it when the reference allows (a note says why
    not otherwise); with --groups, a reference whose groups cannot be computed (no genus with
    two named species) fails with GB-REF-GROUPS and nothing is written.
    """
    if fmt not in FORMATS:  # a usage error (exit 2), found before anything is read
        message = f"--format {fmt!r} is not one of {', '.join(FORMATS)}"
        raise typer.BadParameter(message)
    target = out if out is not None else user_database_dir() / name
    with progress_bar(f"Importing {name}") as progress:

        def build(folder: Path) -> ReferenceBundle:
            return import_bundle(
                sequences,
                taxonomy,
                format=fmt,
                name=name,
                version=version,
                out=folder,
                seq2taxid=seq2taxid,
                copy_numbers=copy_numbers,
                licence=licence,
                citation=citation,
                replace=force,
                progress=progress,
            )

        bundle = _build_with_groups(target, build, groups=groups, replace=force, threads=threads)
    console.print(
        f"Built reference {bundle.name} {bundle.version}: "
        f"{bundle.n_sequences} sequences in {bundle.path}\nsha256 {bundle.sha256}",
        highlight=False,
        markup=False,
    )
    _print_groups(bundle)


def _build_with_groups(
    target: Path,
    build: Callable[[Path], ReferenceBundle],
    *,
    groups: bool | None,
    replace: bool,
    threads: int,
) -> ReferenceBundle:
    """``build`` the bundle, then add its species groups (with a progress bar): all or nothing."""
    from gutbrain.workflow.reference import build_with_groups

    with progress_bar("Species groups") as group_progress:
        return build_with_groups(
            target,
            build,
            groups=groups,
            replace=replace,
            threads=threads,
            progress=group_progress,
            notify=lambda m: err_console.print(
                f"gutbrain: note: {m}", markup=False, soft_wrap=True
            ),
        )


def _print_groups(bundle: ReferenceBundle) -> None:
    info = bundle.manifest.get("groups")
    if isinstance(info, dict):
        console.print(
            f"species groups: {info.get('groups', '?')} groups of "
            f"{info.get('species_in_groups', '?')} species (closest 16S copies >= "
            f"{float(info.get('min_identity', 0)) * 100:g} % identical, at most "
            f"{info.get('max_group_size', '?')} members)",
            highlight=False,
            markup=False,
        )


@db_app.command("groups")
def groups_command(
    db: Annotated[str, typer.Argument(help="Bundle name or folder (not the packaged default).")],
    min_identity: Annotated[
        float, typer.Option("--min-identity", help="Identity (0-1) linking two species.")
    ] = 0.99,
    max_group_size: Annotated[int, typer.Option("--max-group-size", help="Largest group.")] = 12,
    threads: Annotated[int, _THREADS] = 1,
) -> None:
    """Recompute and store the species groups of an existing bundle (its checksum changes)."""
    from gutbrain.errors import ReferenceDatabaseError
    from gutbrain.profile.groups import compute_species_groups
    from gutbrain.reference.groups import write_species_groups

    bundle = load_bundle(db)
    if bundle.path.resolve() == default_bundle_path().resolve():
        message = (
            f"{bundle.path}: the packaged default reference is read-only; its groups are built "
            "by scripts/build_default_reference.py"
        )
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
    if not 0.5 <= min_identity <= 1.0 or max_group_size < 2:
        message = "--min-identity must lie in [0.5, 1] and --max-group-size be at least 2"
        raise typer.BadParameter(message)
    with progress_bar(f"Species groups of {bundle.name}") as progress:
        found = compute_species_groups(
            bundle,
            min_identity=min_identity,
            max_group_size=max_group_size,
            threads=threads,
            progress=progress,
        )
    bundle = write_species_groups(bundle, found)
    console.print(f"{bundle.name}: sha256 {bundle.sha256}", highlight=False, markup=False)
    _print_groups(bundle)


@db_app.command("build")
def build_command(
    sequences: Annotated[list[Path], _SEQUENCES],
    taxonomy: Annotated[Path, _TAXONOMY],
    name: Annotated[str, _NAME],
    version: Annotated[str, _VERSION] = "unversioned",
    out: Annotated[Path | None, _OUT] = None,
    copy_numbers: Annotated[Path | None, _COPY] = None,
    licence: Annotated[str, _LICENCE] = "unknown (see the source)",
    citation: Annotated[str, _CITATION] = "",
    force: Annotated[bool, _FORCE] = False,
    groups: Annotated[bool | None, _GROUPS] = None,
    threads: Annotated[int, _THREADS] = 1,
) -> None:
    """Build a bundle from FASTA + a rank-column taxonomy TSV (id, species, genus, … superkingdom).

    The same as 'gutbrain db import --format tsv-ranks'.
    """
    import_command(
        fmt="tsv-ranks", sequences=sequences, name=name, taxonomy=taxonomy, version=version,
        out=out, seq2taxid=None, copy_numbers=copy_numbers, licence=licence, citation=citation,
        force=force, groups=groups, threads=threads,
    )  # fmt: skip


@db_app.command("fetch")
def fetch_command(
    source: Annotated[str, typer.Argument(help=f"What to fetch: {', '.join(FETCHABLE)}.")],
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror",
            help=f"Base URL with NCBI's layout (file:// or http://); default {NCBI_URL}.",
        ),
    ] = None,
    name: Annotated[str | None, _NAME] = None,
    out: Annotated[Path | None, _OUT] = None,
    copy_numbers: Annotated[Path | None, _COPY] = None,
    min_length: Annotated[
        int, typer.Option("--min-length", help="Leave out records shorter than this (bp).")
    ] = 1200,
    keep_downloads: Annotated[
        Path | None,
        typer.Option("--keep-downloads", help="Keep the downloaded files in this folder."),
    ] = None,
    force: Annotated[bool, _FORCE] = False,
    groups: Annotated[bool | None, _GROUPS] = None,
    threads: Annotated[int, _THREADS] = 1,
) -> None:
    """Download NCBI's current RefSeq 16S set and taxonomy, verify them, build a bundle.

    Species groups are computed and stored with it, as for 'gutbrain db import'.
    """
    if source not in FETCHABLE:
        message = f"{source!r} is not one of {', '.join(FETCHABLE)}"
        raise typer.BadParameter(message)
    bundle_name = name or source
    target = out if out is not None else user_database_dir() / bundle_name
    with progress_bar(f"Fetching {source}") as update:

        def build(folder: Path) -> ReferenceBundle:
            return fetch_refseq_16s(
                out=folder,
                name=bundle_name,
                mirror=mirror,
                work_dir=keep_downloads,
                min_length=min_length,
                copy_numbers=copy_numbers,
                replace=force,
                progress=lambda _step, done, total: update(done, total),
            )

        bundle = _build_with_groups(target, build, groups=groups, replace=force, threads=threads)
    tiers = bundle.manifest.get("fetch", {}).get("lineage_tiers", {})
    console.print(
        f"Built reference {bundle.name} {bundle.version}: {bundle.n_sequences} sequences in "
        f"{bundle.path}\nlineages: {', '.join(f'{k} {v}' for k, v in tiers.items())}\n"
        f"sha256 {bundle.sha256}",
        highlight=False,
        markup=False,
    )
    _print_groups(bundle)


@db_app.command("info")
def info_command(
    db: Annotated[str | None, typer.Argument(help=_DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Show a bundle's manifest: name, version, sources, licences, counts, checksum."""
    bundle = load_bundle(db)
    if as_json:
        payload = {"path": str(bundle.path), "sha256": bundle.sha256, **bundle.manifest}
        console.print_json(dumps_json(payload, indent=None))
        return
    manifest = bundle.manifest
    counts = manifest.get("counts", {})
    console.print(Text(f"{bundle.name} {bundle.version}", style="bold"), highlight=False)
    console.print(f"path      {bundle.path}", highlight=False, markup=False)
    console.print(f"sha256    {bundle.sha256}", highlight=False, markup=False)
    console.print(f"source    {manifest.get('source', '')}", highlight=False, markup=False)
    console.print(
        f"contents  {counts.get('sequences', '?')} sequences, {counts.get('species', '?')} "
        f"species, {counts.get('genera', '?')} genera; {counts.get('with_copy_number', 0)} with "
        "a 16S copy number",
        highlight=False,
        markup=False,
    )
    if manifest.get("description"):
        console.print(f"about     {manifest['description']}", highlight=False, markup=False)
    for source in manifest.get("sources", []):
        console.print(
            f"- {source.get('name', '')} {source.get('version', '')}: licence "
            f"{source.get('licence', '?')}; cite {source.get('citation', '-')}",
            highlight=False,
            markup=False,
        )
    for note in manifest.get("warnings", []):
        console.print(f"warning   {note}", highlight=False, markup=False)


@db_app.command("verify")
def verify_command(db: Annotated[str | None, typer.Argument(help=_DB_HELP)] = None) -> None:
    """Re-hash every file of a bundle; fail (exit 78) if a file was changed, added or removed."""
    bundle = verify_bundle(db)
    console.print(
        f"{bundle.name} {bundle.version}: all files match the manifest (sha256 {bundle.sha256})",
        highlight=False,
        markup=False,
    )


@db_app.command("list")
def list_command() -> None:
    """List the bundled default reference and the bundles imported into the user data folder."""
    table = Table("name", "version", "sequences", "path", "note")
    for summary in list_bundles():
        note = "default" if summary.is_default else ""
        if summary.problem:
            note = f"unusable: {summary.problem}"
        table.add_row(
            Text(summary.name),
            Text(summary.version),
            str(summary.sequences) if summary.sequences is not None else "?",
            Text(str(summary.path)),
            Text(note),
        )
    console.print(table)


@db_app.command("index")
def index_command(
    db: Annotated[str | None, typer.Argument(help=_DB_HELP)] = None,
    preset: Annotated[
        str,
        typer.Option(
            "--preset",
            help=f"minimap2 preset (not a read type): {', '.join(MINIMAP2_PRESETS)}.",
        ),
    ] = "map-ont",
    for_reads: Annotated[
        ReadType | None,
        typer.Option(
            "--for",
            help="Build every index `gutbrain profile --preset` uses for this read type "
            "instead of one minimap2 preset.",
        ),
    ] = None,
) -> None:
    """Build (or find) the cached minimap2 index of a bundle for a preset or a read type."""
    if for_reads is not None:
        from gutbrain.profile.pipeline import ensure_profile_indexes

        bundle = load_bundle(db)
        paths = ensure_profile_indexes(bundle, preset=for_reads)
    else:
        if preset not in MINIMAP2_PRESETS:
            message = f"--preset {preset!r} is not one of {', '.join(MINIMAP2_PRESETS)}"
            raise typer.BadParameter(message)
        bundle = load_bundle(db)
        paths = [ensure_index(bundle, preset=preset)]
    label = f"reads {for_reads}" if for_reads is not None else preset
    for path in paths:
        console.print(
            f"{bundle.name} {bundle.version} ({label}): {path}", highlight=False, markup=False
        )


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group to ``app``."""
    app.add_typer(db_app, name="db")
