"""Gut-brain module (GBM) coverage from a KEGG-orthology table, the way Omixer-RPM scores it.

Module definitions (Valles-Colomer et al. 2019; files of ``omixer/omixer-rpmR``, GPL-3 / academic
non-commercial) are **not** shipped with gutbrain: the user passes the definitions file
(``GBMs.v1.0.txt`` or ``GMMs.v1.07.txt``) at run time. Format::

    MGB005<TAB>Tryptophan synthesis
    K01657,K01658<TAB>K13497<TAB>K13501      <- step 1: three alternatives, the first a complex
    K00766<TAB>K13497                          <- step 2
    ///

Each line after the header is one step (reaction); all steps make the module. Within a step,
TAB-separated entries are alternatives (any one suffices); a comma-joined entry is a complex whose
orthologs must all be present.

Scoring (Darzi et al. 2016, Omixer-RPM; defaults of omixer-rpm 1.x):

* a step is *covered* when at least one alternative is present (every ortholog of a complex with
  abundance > 0);
* coverage :math:`= \\text{covered steps} / \\text{steps}`; the module is *present* when coverage
  :math:`\\ge` ``min_coverage`` (default 0.66);
* abundance = median over covered steps of the step abundance, where a step's abundance is the
  largest abundance among its present alternatives and a complex's abundance is the smallest of
  its members' (the complex is only as abundant as its scarcest subunit).

Steps defined only by COG/eggNOG ids can never be covered from a KO table (PICRUSt2, HUMAnN), so
coverage is a lower bound for modules that use them; the result says so. Module coverage is
genetic potential, not a measured metabolite.
"""

from __future__ import annotations

import csv
import gzip
import logging
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gutbrain.errors import ErrorCode, InputFormatError
from gutbrain.io.files import check_input_file
from gutbrain.result import ModuleCoverage

__all__ = [
    "DEFAULT_MIN_COVERAGE",
    "ModuleDefinition",
    "module_coverage",
    "read_ko_table",
    "read_module_definitions",
]

logger = logging.getLogger(__name__)

DEFAULT_MIN_COVERAGE = 0.66


@dataclass(frozen=True, slots=True)
class ModuleDefinition:
    """One module: id, name and its steps (each a tuple of alternatives, each a complex)."""

    module_id: str
    name: str
    steps: tuple[tuple[tuple[str, ...], ...], ...]


def _open_text(path: Path) -> list[str]:
    raw = path.read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        message = "not UTF-8 text; expected a module definition or KO table"
        raise InputFormatError(message, path=path, code=ErrorCode.ENCODING) from None


def read_module_definitions(path: str | Path) -> tuple[ModuleDefinition, ...]:
    """Read a GBM/GMM definitions file (format in the module docstring).

    Raises
    ------
    InputFormatError
        On a module without steps, an unterminated module, or an empty file.
    """
    source = check_input_file(path)
    modules: list[ModuleDefinition] = []
    header: tuple[str, str] | None = None
    steps: list[tuple[tuple[str, ...], ...]] = []
    start = 0
    for number, line in enumerate(_open_text(source), start=1):
        text = line.strip()
        if not text:
            continue
        if text == "///":
            if header is None or not steps:
                message = "module end '///' without a header line and at least one step"
                raise InputFormatError(message, path=source, line=number)
            modules.append(ModuleDefinition(header[0], header[1], tuple(steps)))
            header, steps = None, []
            continue
        if header is None:
            parts = line.rstrip("\n").split("\t", 1)
            if len(parts) != 2 or not parts[0].strip():
                message = "expected a module header 'ID<TAB>name'"
                raise InputFormatError(message, path=source, line=number)
            header, start = (parts[0].strip(), parts[1].strip()), number
            continue
        alternatives = tuple(
            tuple(k.strip() for k in alt.split(",") if k.strip())
            for alt in line.split("\t")
            if alt.strip()
        )
        steps.append(alternatives)
    if header is not None:
        if not steps:
            message = f"module {header[0]} (line {start}) has no steps"
            raise InputFormatError(message, path=source)
        # the published GBMs.v1.0.txt ends its last module without '///'
        modules.append(ModuleDefinition(header[0], header[1], tuple(steps)))
    if not modules:
        message = "no module definitions found"
        raise InputFormatError(message, path=source)
    return tuple(modules)


def read_ko_table(path: str | Path, *, sample: str | None = None) -> dict[str, float]:
    """Read one sample's KO abundances from a PICRUSt2 or HUMAnN table (TSV, gzip allowed).

    The first column holds KO ids (``K00001``); HUMAnN stratified rows (``K00001|g__...``) and
    special rows (``UNMAPPED``, ``UNGROUPED``) are skipped. With several sample columns,
    ``sample`` picks one.

    Raises
    ------
    InputFormatError
        On a missing sample column, a non-numeric or negative value, or no KO rows.
    """
    source = check_input_file(path)
    rows = list(csv.reader(_open_text(source), delimiter="\t"))
    if not rows or len(rows[0]) < 2:
        message = "expected a header row with a KO column and at least one sample column"
        raise InputFormatError(message, path=source, line=1)
    columns = [c.strip() for c in rows[0][1:]]
    if sample is None:
        if len(columns) != 1:
            message = f"{len(columns)} sample columns; choose one with --ko-sample"
            raise InputFormatError(message, path=source, line=1)
        index = 0
    elif sample in columns:
        index = columns.index(sample)
    else:
        message = f"sample {sample!r} not among the columns ({', '.join(columns[:5])}...)"
        raise InputFormatError(message, path=source, line=1)
    out: dict[str, float] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or row[0].startswith("#"):
            continue
        ko = row[0].strip()
        if "|" in ko or not ko.startswith("K"):
            continue
        try:
            value = float(row[index + 1])
        except (IndexError, ValueError):
            message = (
                f"KO {ko}: value {row[index + 1] if len(row) > index + 1 else ''!r} is not a number"
            )
            raise InputFormatError(
                message, path=source, line=number, code=ErrorCode.TAB_NUM
            ) from None
        if value < 0 or value != value:
            message = f"KO {ko}: value {value} must be a number >= 0"
            code = ErrorCode.TAB_NEG if value < 0 else ErrorCode.TAB_NONFINITE
            raise InputFormatError(message, path=source, line=number, code=code)
        out[ko.split(":")[0]] = out.get(ko.split(":")[0], 0.0) + value
    if not out:
        message = "no KEGG orthology rows (K#####) found"
        raise InputFormatError(message, path=source)
    return out


def module_coverage(
    definitions: tuple[ModuleDefinition, ...],
    abundances: Mapping[str, float],
    *,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> tuple[ModuleCoverage, ...]:
    """Score every module (module docstring); returns one record per module, in file order."""
    out = []
    for module in definitions:
        step_values: list[float] = []
        for alternatives in module.steps:
            present = [
                min(abundances.get(k, 0.0) for k in complex_)
                for complex_ in alternatives
                if all(abundances.get(k, 0.0) > 0 for k in complex_)
            ]
            if present:
                step_values.append(max(present))
        coverage = len(step_values) / len(module.steps)
        out.append(
            ModuleCoverage(
                module_id=module.module_id,
                name=module.name,
                coverage=coverage,
                present=coverage >= min_coverage,
                steps_total=len(module.steps),
                steps_covered=len(step_values),
                min_coverage=min_coverage,
                abundance=statistics.median(step_values) if step_values else None,
                non_ko_steps=sum(
                    1
                    for alts in module.steps
                    if not any(k.startswith("K") for c in alts for k in c)
                ),
            )
        )
    return tuple(out)
