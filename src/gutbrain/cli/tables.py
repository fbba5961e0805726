"""CLI commands: ``gutbrain import``, ``gutbrain export``, ``gutbrain diversity``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from gutbrain import __version__
from gutbrain.cli._app import console
from gutbrain.cli._progress import progress_bar
from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError
from gutbrain.io.files import atomic_directory, check_output_path, resolve_path, sha256_file
from gutbrain.io.jsonfile import write_json
from gutbrain.io.tables import (
    EXPORT_FORMATS,
    EXPORT_SUFFIXES,
    FORMATS,
    TableFormat,
    read_table,
    read_taxonomy,
    spreadsheet_safe,
    write_profile_biom,
    write_profile_tsv,
    write_table,
)
from gutbrain.model import RANKS, Profile, Rank
from gutbrain.reference.copy_numbers import rrndb_copy_numbers_by_name

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _table_rank(value: str) -> Rank | None:
    """``--rank`` of a table import: ``auto`` (detected from the IDs) or a rank."""
    return None if value == "auto" else _rank(value)


def _rank(value: str) -> Rank:
    if value not in RANKS:
        message = f"--rank {value!r} is not one of {', '.join(RANKS)}"
        raise typer.BadParameter(message)
    return value


def _check_out_folder(out: Path, inputs: list[Path | None]) -> None:
    """--out is replaced as a whole (with --force): it must not hold an input."""
    folder = resolve_path(out)
    for path in inputs:
        if path is not None and folder in resolve_path(path).parents:
            message = f"--out {out} contains the input {path}; replacing it would delete the input"
            raise typer.BadParameter(message)


def _import_command(
    table: Annotated[
        Path, typer.Argument(help="The abundance table (gzip allowed).", metavar="TABLE")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (must not exist).")],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help=f"auto or one of: {', '.join(FORMATS)}."),
    ] = "auto",
    taxonomy: Annotated[
        Path | None,
        typer.Option("--taxonomy", "-t", help="Taxonomy table for BIOM/TSV feature IDs."),
    ] = None,
    rank: Annotated[
        str,
        typer.Option(
            "--rank",
            help="Rank the IDs name when a table has no lineage: auto (species if any ID is a "
            "binomial, else genus) or a rank.",
        ),
    ] = "auto",
    value_type: Annotated[
        str,
        typer.Option(
            "--values", help="What BIOM/TSV numbers are: auto|counts|fractions|percent|quantities."
        ),
    ] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
) -> None:
    """Import a table from another pipeline: writes profile.tsv, profile.biom, import.json."""
    if fmt != "auto" and fmt not in FORMATS:
        message = f"--format {fmt!r} is not auto or one of {', '.join(FORMATS)}"
        raise typer.BadParameter(message)
    if value_type not in ("auto", "counts", "fractions", "percent", "quantities"):
        message = f"--values {value_type!r} is not auto, counts, fractions, percent or quantities"
        raise typer.BadParameter(message)
    _check_out_folder(out, [table, taxonomy])
    profiles = read_table(
        table,
        format=fmt,
        taxonomy=taxonomy,
        rank=_table_rank(rank),
        value_type=cast(Any, value_type),
    )
    if not profiles:
        message = (
            "no sample has reads or abundance (all-zero samples are excluded); "
            "expected at least one non-empty sample"
        )
        raise EmptyInputError(message, path=table, code=ErrorCode.TAB_ALLZERO)
    with atomic_directory(out, replace=force) as tmp:
        write_profile_tsv(profiles, tmp / "profile.tsv")
        write_profile_biom(profiles, tmp / "profile.biom")
        summary = {
            "gutbrain_version": __version__,
            "source": profiles[0].provenance.source if profiles else f"import:{fmt}",
            "inputs": dict(profiles[0].provenance.inputs) if profiles else {},
            "parameters": dict(profiles[0].provenance.parameters) if profiles else {},
            "samples": [
                {
                    "sample": str(p.sample_id),
                    "total_reads": p.total_reads,
                    "ranks": list(p.ranks()),
                    "taxa": {r: len(p.at_rank(r)) for r in p.ranks()},
                    "unassigned": dict(p.unassigned),
                }
                for p in profiles
            ],
        }
        write_json(tmp / "import.json", summary, sort_keys=False)
    console.print(
        f"Imported {len(profiles)} sample(s) from {table.name} ({summary['source']}) into {out}",
        highlight=False,
    )


def _export_command(
    profile: Annotated[
        Path, typer.Argument(help="profile.tsv, profile.biom or any table.", metavar="PROFILE")
    ],
    to: Annotated[str, typer.Option("--to", help=f"One of: {', '.join(EXPORT_FORMATS)}.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file; default: beside the input.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace --out if it exists (a gutbrain output only).")
    ] = False,
) -> None:
    """Export profiles to BIOM 2.1, profile.tsv or the CAMI profiling format."""
    if to not in EXPORT_FORMATS:
        message = f"--to {to!r} is not one of {', '.join(EXPORT_FORMATS)}"
        raise typer.BadParameter(message)
    name = profile.name.removesuffix(".gz")
    for ext in (".tsv", ".biom", ".txt"):
        name = name.removesuffix(ext)
    target = out or profile.with_name(name + ".export" + EXPORT_SUFFIXES[TableFormat(to)])
    check_output_path(target, replace=force, inputs=(profile,))
    profiles = read_table(profile)
    write_table(profiles, target, format=to)
    console.print(f"Wrote {len(profiles)} sample(s) as {to} to {target}", highlight=False)


def _copy_numbers(db: Path) -> tuple[dict[str, float], str]:
    from gutbrain.ecology import copy_numbers_by_taxon

    if db.is_file():
        return rrndb_copy_numbers_by_name(db), f"rrnDB table {db.name} ({sha256_file(db)[:12]})"
    from gutbrain.reference.bundle import load_bundle

    bundle = load_bundle(db)
    numbers = copy_numbers_by_taxon(bundle.taxonomy, bundle.copy_numbers)
    if not numbers:
        message = f"reference bundle {bundle.name} has no 16S copy numbers"
        raise InputFormatError(message, path=db)
    return numbers, f"reference bundle {bundle.name} {bundle.version} ({bundle.sha256[:12]})"


def _frame_tsv(frame: pd.DataFrame, path: Path, *, index_label: str = "sample") -> None:
    import pandas as pd

    """Write a table; sample IDs that a spreadsheet would run as formulas get a leading '."""
    safe = frame.copy()
    safe.index = pd.Index([spreadsheet_safe(str(i)) for i in frame.index])
    safe.columns = pd.Index([spreadsheet_safe(str(c)) for c in frame.columns])
    if "sample" in safe.columns:
        safe["sample"] = [spreadsheet_safe(str(v)) for v in safe["sample"]]
    safe.to_csv(path, sep="\t", index_label=index_label, na_rep="", float_format="%.10g")


def _diversity_command(
    profiles_in: Annotated[
        list[Path],
        typer.Argument(help="profile.tsv / BIOM / any importable table(s).", metavar="PROFILE"),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (must not exist).")],
    rank: Annotated[str, typer.Option("--rank", help="Rank of the taxa.")] = "species",
    tree: Annotated[
        Path | None, typer.Option("--tree", help="Newick tree (gzip allowed) for Faith PD/UniFrac.")
    ] = None,
    tree_taxonomy: Annotated[
        Path | None,
        typer.Option(
            "--tree-taxonomy",
            help="Taxonomy of the tree's tips (id<TAB>lineage); without it tips must be taxa.",
        ),
    ] = None,
    rarefy_depth: Annotated[
        int | None,
        typer.Option("--rarefy", min=1, help="Rarefy every sample to this many reads."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for --rarefy and --rarefaction-curve.")
    ] = None,
    curve: Annotated[
        bool,
        typer.Option(
            "--rarefaction-curve", help="Also write rarefaction.tsv (observed taxa per depth)."
        ),
    ] = False,
    copy_number_correction: Annotated[
        bool,
        typer.Option("--copy-number-correction", help="Divide out 16S copy numbers (needs --db)."),
    ] = False,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Reference bundle folder or rrnDB table for copy numbers."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
) -> None:
    """Alpha and beta diversity, PCoA (and Faith PD/UniFrac with a tree) of one or more profiles."""
    # Imported here so that other commands start without loading scipy and scikit-bio.
    import numpy as np

    from gutbrain.ecology import copy_number_correct, diversity_summary, read_tree, taxon_tree

    use_rank = _rank(rank)
    if copy_number_correction and db is None:
        message = "--copy-number-correction needs --db (reference bundle or rrnDB table)"
        raise typer.BadParameter(message)
    if (rarefy_depth is not None or curve) and seed is None:
        message = "--rarefy and --rarefaction-curve need --seed so that they can be repeated"
        raise typer.BadParameter(message)
    _check_out_folder(out, [*profiles_in, tree, tree_taxonomy, db])
    profiles: list[Profile] = []
    inputs: dict[str, str] = {}
    for path in profiles_in:
        profiles.extend(read_table(path, rank=use_rank))
        inputs[str(path)] = sha256_file(path)  # not the name: many inputs are profile.tsv
    copy_source = None
    if copy_number_correction:
        assert db is not None
        numbers, copy_source = _copy_numbers(db)
        profiles = [copy_number_correct(p, numbers, rank=use_rank) for p in profiles]
    tree_obj = None
    if tree is not None:
        tree_obj = read_tree(tree)
        if tree_taxonomy is not None:
            taxa = {r.taxon for p in profiles for r in p.at_rank(use_rank)}
            tree_obj = taxon_tree(tree_obj, read_taxonomy(tree_taxonomy), taxa, rank=use_rank)
    with progress_bar("Diversity") as progress:
        result = diversity_summary(
            profiles,
            rank=use_rank,
            tree=tree_obj,
            rarefy_depth=rarefy_depth,
            seed=seed,
            curve_points=20 if curve else None,
            progress=progress,
        )
    with atomic_directory(out, replace=force) as tmp:
        _frame_tsv(result.alpha, tmp / "alpha.tsv")
        for metric, frame in result.beta.items():
            _frame_tsv(frame, tmp / f"beta_{metric}.tsv")
        if result.rarefaction is not None:
            curves = result.rarefaction.copy()
            curves["sample"] = [spreadsheet_safe(str(v)) for v in curves["sample"]]
            curves.to_csv(tmp / "rarefaction.tsv", sep="\t", index=False)
        for metric, ordination in result.ordination.items():
            _frame_tsv(ordination.coordinates, tmp / f"pcoa_{metric}.tsv")
        summary = {
            "gutbrain_version": __version__,
            "inputs": inputs,
            "rank": use_rank,
            "samples": len(result.alpha),
            "excluded": result.excluded,
            "values": "read counts" if result.used_counts else "abundances",
            "rarefied_depth": result.rarefied_depth,
            "seed": seed,
            "copy_number_corrected": copy_number_correction,
            "copy_number_source": copy_source,
            "tree": tree.name if tree is not None else None,
            "tree_tips": (
                "one representative reference per taxon" if tree_taxonomy is not None else None
            ),
            "metrics": {
                "alpha": list(result.alpha.columns),
                "beta": list(result.beta),
                "shannon_log_base": "e",
            },
            "pcoa_proportion_explained": {
                metric: [float(x) for x in np.asarray(o.proportion_explained)[:5]]
                for metric, o in result.ordination.items()
            },
        }
        write_json(tmp / "diversity.json", summary, sort_keys=False)
    console.print(
        f"Diversity of {len(result.alpha)} sample(s) at {use_rank} "
        f"({len(result.excluded)} excluded; copy-number correction "
        f"{'applied' if copy_number_correction else 'not applied'}) written to {out}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``import``, ``export`` and ``diversity`` to ``app``."""
    app.command("import", help=_import_command.__doc__)(_import_command)
    app.command("export", help=_export_command.__doc__)(_export_command)
    app.command("diversity", help=_diversity_command.__doc__)(_diversity_command)
