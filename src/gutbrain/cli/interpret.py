"""CLI command: ``gutbrain interpret PROFILE [--answers F] [--markers F] --out result.json``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from gutbrain.cli._alerts import CRISIS_CONTACT, print_alerts
from gutbrain.cli._app import console
from gutbrain.errors import InputFormatError
from gutbrain.io.files import check_output_path, sha256_file
from gutbrain.io.tables import FORMATS
from gutbrain.model import RANKS, Profile

if TYPE_CHECKING:
    from gutbrain.model import Rank

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).lstrip(".")
    return cleaned or "sample"


def _pick(profiles: list[Profile], sample: str | None, path: Path) -> Profile:
    if sample is None:
        if len(profiles) == 1:
            return profiles[0]
        names = ", ".join(str(p.sample_id) for p in profiles[:8])
        message = f"{len(profiles)} samples in the table ({names}...); choose one with --sample-id"
        raise InputFormatError(message, path=path)
    for p in profiles:
        if p.sample_id == sample:
            return p
    message = f"sample {sample!r} is not in the table; samples: " + ", ".join(
        str(p.sample_id) for p in profiles[:8]
    )
    raise InputFormatError(message, path=path)


def _interpret_command(
    profile: Annotated[
        Path, typer.Argument(help="A gutbrain profile.tsv or any table `gutbrain import` reads.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Result JSON to write (must not exist unless --force; folders are created).",
        ),
    ] = Path("result.json"),
    answers: Annotated[
        Path | None, typer.Option("--answers", "-a", help="Questionnaire answers (YAML/JSON).")
    ] = None,
    markers: Annotated[
        Path | None, typer.Option("--markers", "-m", help="Stool markers (YAML/JSON).")
    ] = None,
    sample: Annotated[
        str | None,
        typer.Option("--sample-id", "-s", help="Sample to interpret in a multi-sample table."),
    ] = None,
    sample_alias: Annotated[
        str | None, typer.Option("--sample", hidden=True, help="Old name of --sample-id.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"auto or one of: {', '.join(FORMATS)}.")
    ] = "auto",
    taxonomy: Annotated[
        Path | None, typer.Option("--taxonomy", "-t", help="Taxonomy for BIOM/TSV feature IDs.")
    ] = None,
    rank: Annotated[
        str,
        typer.Option(
            "--rank", help="Rank the IDs name when a table has no lineage: auto or a rank."
        ),
    ] = "auto",
    ko_table: Annotated[
        Path | None,
        typer.Option("--ko-table", help="KEGG-orthology table (PICRUSt2/HUMAnN) for modules."),
    ] = None,
    ko_sample: Annotated[
        str | None, typer.Option("--ko-sample", help="Column of --ko-table to use.")
    ] = None,
    modules: Annotated[
        Path | None,
        typer.Option(
            "--modules",
            help="Module definitions (e.g. GBMs.v1.0.txt from omixer-rpmR; not shipped: "
            "GPL-3/academic licence).",
        ),
    ] = None,
    min_module_coverage: Annotated[
        float, typer.Option("--min-module-coverage", help="Omixer-RPM minimum coverage.")
    ] = 0.66,
    crisis_contact: Annotated[list[str] | None, CRISIS_CONTACT] = None,
    all_samples: Annotated[
        bool,
        typer.Option(
            "--all-samples",
            help="Interpret every sample; --out is then a folder of <sample>.result.json files.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace --out if it exists (a gutbrain output only).")
    ] = False,
) -> None:
    """Interpret one sample: diversity, guilds, taxa evidence, markers, questionnaires, safety."""
    # Imported here so that other commands start without loading the interpretation stack.
    from gutbrain.axis.modules import read_ko_table, read_module_definitions
    from gutbrain.io.answers import read_answers, read_markers
    from gutbrain.io.tables import read_table
    from gutbrain.result import RunInfo, write_result
    from gutbrain.workflow.interpret import alerts_from_inputs, interpret_profile

    if rank != "auto" and rank not in RANKS:
        message = f"--rank {rank!r} is not auto or one of {', '.join(RANKS)}"
        raise typer.BadParameter(message)
    if not 0.0 < min_module_coverage <= 1.0:
        raise typer.BadParameter("--min-module-coverage must lie in (0, 1]")
    if (ko_table is None) != (modules is None):
        raise typer.BadParameter("--ko-table and --modules go together")
    sample = sample if sample is not None else sample_alias
    inputs_given = (profile, answers, markers, taxonomy, ko_table, modules)
    if not all_samples:
        check_output_path(out, replace=force, inputs=inputs_given)
    # validate every input before computing anything
    answers_obj = read_answers(answers) if answers is not None else None
    markers_obj = read_markers(markers) if markers is not None else None
    # alerts depend on the answers and markers only: print them before anything else
    contacts = tuple(crisis_contact or ())
    print_alerts(
        alerts_from_inputs(answers_obj, markers_obj, crisis_contacts=contacts),
        crisis_contacts=contacts,
    )
    definitions = read_module_definitions(modules) if modules is not None else None
    ko = read_ko_table(ko_table, sample=ko_sample) if ko_table is not None else None
    profiles = read_table(
        profile,
        format=fmt,
        taxonomy=taxonomy,
        rank=None if rank == "auto" else cast("Rank", rank),
    )
    chosen_list = profiles if all_samples else [_pick(profiles, sample, profile)]
    if all_samples:
        out.mkdir(parents=True, exist_ok=True)
    inputs = {profile.name: sha256_file(profile)}
    for extra in (answers, markers, ko_table, modules):
        if extra is not None:
            inputs[extra.name] = sha256_file(extra)
    run_info = RunInfo(command="gutbrain interpret", profile=profile.name, inputs=inputs)
    for chosen in chosen_list:
        result = interpret_profile(
            chosen,
            answers=answers_obj,
            markers=markers_obj,
            run_info=run_info,
            ko_abundances=ko,
            module_definitions=definitions,
            min_module_coverage=min_module_coverage,
            crisis_contacts=tuple(crisis_contact or ()),
        )
        target = out / f"{_safe(str(chosen.sample_id))}.result.json" if all_samples else out
        if all_samples:
            check_output_path(target, replace=force, inputs=inputs_given)
        write_result(result, target)
        console.print(
            f"{result.sample_id}: {len(result.findings)} findings, {len(result.alerts)} "
            f"alert(s) -> {target}",
            markup=False,
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``interpret`` to ``app``."""
    app.command("interpret")(_interpret_command)
