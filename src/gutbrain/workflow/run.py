"""One sample end to end: reads (or an imported table) -> profile -> interpretation -> report.

:func:`run_sample` is what ``gutbrain run`` and ``gutbrain demo`` call; :func:`run_table` does
the same from an abundance table that another tool made (no reads, so no read QC). Both write
one output folder, atomically (it is built under a ``.partial-*`` name and renamed whole, so an
interrupted run leaves no half folder)::

    OUT/
      profile.tsv        taxa with lineage, estimated reads, abundance (and CI), unassigned rows
      profile.biom       the same profile as BIOM 2.1 (HDF5)
      qc.json            read QC and assignment figures (runs from reads only)
      provenance.json    versions, reference, parameters, input checksums
      result.json        the interpretation (schema-versioned; the report's machine twin)
      report.html        the self-contained personal report

Each stage is timed (wall clock, seconds) and the figures are stored in the result under
``provenance.run_info["stage_seconds"]`` (so they appear in result.json and in the report's
methods section) and returned in :class:`RunOutputs`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError, OutputExistsError
from gutbrain.io.answers import Answers, Markers, read_answers, read_markers
from gutbrain.io.files import atomic_directory, atomic_write_text, check_input_file, sha256_file
from gutbrain.io.jsonfile import dumps_json
from gutbrain.io.profile_files import add_profile_files
from gutbrain.io.tables import read_table, write_profile_biom, write_profile_tsv
from gutbrain.model import Profile, Rank, ReadType
from gutbrain.profile.pipeline import profile_sample
from gutbrain.report import render_report
from gutbrain.result import Result, RunInfo, write_result
from gutbrain.workflow.interpret import interpret_profile
from gutbrain.workflow.reference import open_reference

__all__ = [
    "OUTPUT_FILES",
    "STAGES",
    "ExamplePaths",
    "RunOutputs",
    "StageProgress",
    "example_paths",
    "run_sample",
    "run_table",
]

logger = logging.getLogger(__name__)

#: ``progress(stage, done, total)``: the stage name, work done and total (``None`` if unknown).
StageProgress = Callable[[str, float, float | None], None]

#: Stages of :func:`run_sample` in order (:func:`run_table` replaces "reference" and "profile"
#: with "import").
STAGES: tuple[str, ...] = ("inputs", "reference", "profile", "interpret", "report", "write")

#: Files a run from reads writes (a run from a table writes all but ``qc.json``).
OUTPUT_FILES: tuple[str, ...] = (
    "profile.tsv",
    "profile.biom",
    "qc.json",
    "provenance.json",
    "result.json",
    "report.html",
)


@dataclass(frozen=True, slots=True)
class RunOutputs:
    """What a run wrote, the result it rendered and how long each stage took (seconds)."""

    out_dir: Path
    result: Result
    files: Mapping[str, Path]
    stage_seconds: Mapping[str, float] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        """Path of ``report.html``."""
        return self.files["report.html"]

    @property
    def result_json(self) -> Path:
        """Path of ``result.json``."""
        return self.files["result.json"]


@dataclass(frozen=True, slots=True)
class ExamplePaths:
    """The bundled example sample (example data: simulated from a real stool sample)."""

    reads: Path
    answers: Path
    markers: Path


def example_paths() -> ExamplePaths:
    """Return the paths of the bundled example reads, answers and markers.

    The reads were simulated by ``scripts/make_example_data.py`` from the real full-length 16S
    ASVs of LRAS stool sample R_9.3 (Callahan et al. 2019); the answers and markers are invented
    (see ``gutbrain/data/example/PROVENANCE.md``).
    """
    folder = Path(str(resources.files("gutbrain.data").joinpath("example")))
    return ExamplePaths(
        reads=folder / "example_reads.fastq.gz",
        answers=folder / "answers.yaml",
        markers=folder / "markers.yaml",
    )


class _Clock:
    """Times named stages and forwards progress with the stage name."""

    def __init__(self, progress: StageProgress | None) -> None:
        self.seconds: dict[str, float] = {}
        self._progress = progress
        self._stage = ""
        self._start = 0.0
        self._last_total: float | None = None

    def start(self, stage: str, total: float | None = 1.0) -> None:
        self._stage = stage
        self._start = time.perf_counter()
        self._last_total = None
        self.report(0.0, total)

    def stop(self, total: float | None = 1.0) -> float:
        elapsed = time.perf_counter() - self._start
        self.seconds[self._stage] = round(elapsed, 3)
        final = total if total is not None else (self._last_total or 1.0)
        self.report(final, final)
        logger.info("stage %s: %.2f s", self._stage, elapsed)
        return elapsed

    def report(self, done: float, total: float | None) -> None:
        if total is not None:
            self._last_total = total
        if self._progress is not None:
            self._progress(self._stage, done, total)

    def callback(self) -> Callable[[float, float | None], None]:
        """A plain ``callback(done, total)`` for the current stage (for domain functions)."""
        return self.report


def _read_inputs(
    answers: str | Path | Answers | None, markers: str | Path | Markers | None
) -> tuple[Answers | None, Markers | None, dict[str, str]]:
    """Parse answers and markers; return them with ``{"answers"|"markers": sha256}`` of files."""
    files: dict[str, str] = {}
    parsed_answers: Answers | None
    parsed_markers: Markers | None
    if answers is None or isinstance(answers, Answers):
        parsed_answers = answers
    else:
        parsed_answers = read_answers(answers)
        files["answers"] = sha256_file(answers)
    if markers is None or isinstance(markers, Markers):
        parsed_markers = markers
    else:
        parsed_markers = read_markers(markers)
        files["markers"] = sha256_file(markers)
    return parsed_answers, parsed_markers, files


def _with_run_info(result: Result, run_info: RunInfo) -> Result:
    provenance = result.provenance.model_copy(update={"run_info": run_info})
    return result.model_copy(update={"provenance": provenance})


def _render_timed(result: Result, clock: _Clock, run_info: RunInfo) -> tuple[Result, str]:
    """Render once to time the report stage, then render the result that carries that time.

    The page and result.json must hold the same numbers, timings included, so the time of the
    first rendering is put into the result and the final page is rendered from that result.
    """
    clock.start("report")
    render_report(result)
    clock.stop()
    final = _with_run_info(result, run_info.updated(stage_seconds=dict(clock.seconds)))
    return final, render_report(final)


def _prepare_out_dir(out_dir: Path, *, replace: bool) -> None:
    if out_dir.exists() and not replace:
        message = (
            f"{out_dir}: already exists; choose another --out folder or pass --force to replace it"
        )
        raise OutputExistsError(message)


def run_sample(
    read_paths: Sequence[str | Path],
    *,
    out_dir: str | Path,
    answers: str | Path | Answers | None = None,
    markers: str | Path | Markers | None = None,
    db: str | Path | None = None,
    preset: ReadType | str = ReadType.ont,
    threads: int = 1,
    sample_id: str | None = None,
    example: bool = False,
    replace: bool = False,
    progress: StageProgress | None = None,
    crisis_contacts: Sequence[str] = (),
) -> RunOutputs:
    """Profile reads, interpret the profile and write every output into ``out_dir``.

    Parameters
    ----------
    read_paths
        FASTQ/FASTA files (gzip allowed) of ONE sample.
    out_dir
        Output folder; built atomically. It must not exist unless ``replace`` is true.
    answers, markers
        Questionnaire answers and stool-marker files (YAML/JSON), or already parsed objects.
        Both are read first, so a bad file fails before the slow profiling stage.
    db
        Reference bundle: ``None`` for the bundled default, a name or a folder.
    preset
        Read type (:class:`~gutbrain.model.ReadType`, or its value ``ont``, ``hifi`` or
        ``short``): the profiler's preset.
    threads
        Worker processes for alignment.
    sample_id
        Sample name shown in the outputs (default: derived from the first read file).
    example
        Mark the result as example data (the report says so).
    replace
        Replace an existing ``out_dir`` once the new folder is complete.
    progress
        ``progress(stage, done, total)``; stages are listed in :data:`STAGES`.
    crisis_contacts
        Checked local crisis lines added to the crisis message (none are built in).

    Returns
    -------
    RunOutputs

    Raises
    ------
    InputMissingError, InputFormatError, ValidationError
        Bad reads, answers or markers (nothing is written); ``GB-NO-READ-FILES``
        (:class:`~gutbrain.errors.EmptyInputError`) when ``read_paths`` is empty.
    OptionError
        ``GB-PROFILE-OPTIONS`` for an unknown preset or out-of-range option.
    ReferenceDatabaseError
        The reference bundle is unusable.
    OutputExistsError, OutputError
        ``out_dir`` exists (without ``replace``) or cannot be written.
    """
    target = Path(out_dir)
    _prepare_out_dir(target, replace=replace)
    clock = _Clock(progress)
    clock.start("inputs")
    paths = [check_input_file(p) for p in read_paths]
    if not paths:
        message = "no read files given; pass one or more FASTQ/FASTA files"
        raise EmptyInputError(message, code=ErrorCode.NO_READ_FILES)
    parsed_answers, parsed_markers, input_digests = _read_inputs(answers, markers)
    clock.stop()

    clock.start("reference")
    bundle = open_reference(db)
    clock.stop()

    clock.start("profile", None)
    profiled = profile_sample(
        paths,
        bundle=bundle,
        preset=preset,
        threads=threads,
        sample_id=sample_id,
        progress=clock.callback(),
        read_assignments=False,
    )
    clock.stop(None)

    run_info = RunInfo(
        preset=ReadType(preset),  # profile_sample accepted it
        threads=threads,
        assignment=dict(profiled.assignment),
        em=dict[str, bool | int | float | str](profiled.em.scalars()),
        example_data=example,
        input_sha256=input_digests,
    )
    clock.start("interpret")
    result = interpret_profile(
        profiled.profile,
        answers=parsed_answers,
        markers=parsed_markers,
        qc=profiled.qc,
        run_info=run_info.updated(stage_seconds=dict(clock.seconds)),
        crisis_contacts=tuple(crisis_contacts),
    )
    clock.stop()
    result, html = _render_timed(result, clock, run_info)

    clock.start("write")
    files: dict[str, Path] = {}
    with atomic_directory(target, replace=replace) as staging:
        add_profile_files(profiled, staging)
        write_result(result, staging / "result.json")
        atomic_write_text(staging / "report.html", html)
        files = {p.name: target / p.name for p in sorted(staging.iterdir())}
    clock.stop()
    logger.info("wrote %s (%d files)", target, len(files))
    return RunOutputs(out_dir=target, result=result, files=files, stage_seconds=clock.seconds)


def _pick_profile(profiles: Sequence[Profile], sample_id: str | None, path: Path) -> Profile:
    if sample_id is None:
        if len(profiles) == 1:
            return profiles[0]
        names = ", ".join(p.sample_id for p in profiles[:10])
        more = ", ..." if len(profiles) > 10 else ""
        message = (
            f"the table holds {len(profiles)} samples ({names}{more}); choose one with --sample-id"
        )
        raise InputFormatError(message, path=path)
    for profile in profiles:
        if profile.sample_id == sample_id:
            return profile
    message = f"no sample {sample_id!r} in the table; it holds " + ", ".join(
        p.sample_id for p in profiles[:10]
    )
    raise InputFormatError(message, path=path)


def _provenance_json(profile: Profile) -> str:
    return dumps_json(profile.provenance.as_dict())


def run_table(
    table: str | Path,
    *,
    out_dir: str | Path,
    answers: str | Path | Answers | None = None,
    markers: str | Path | Markers | None = None,
    sample_id: str | None = None,
    table_format: str = "auto",
    taxonomy: str | Path | None = None,
    rank: Rank | None = None,
    example: bool = False,
    replace: bool = False,
    progress: StageProgress | None = None,
    crisis_contacts: Sequence[str] = (),
) -> RunOutputs:
    """Interpret one sample of an imported abundance table and write the same outputs.

    Like :func:`run_sample` without reads: the table (BIOM, TSV, Emu, Kraken/Bracken, MetaPhlAn,
    a gutbrain ``profile.tsv``; see :func:`gutbrain.io.tables.read_table`) replaces the
    reference and profile stages, and no ``qc.json`` is written. ``table_format``, ``taxonomy``
    and ``rank`` mean what they mean for ``gutbrain import`` (``rank=None``: detected).

    Raises
    ------
    InputFormatError
        The table is malformed, or holds several samples and ``sample_id`` names none of them.
    """
    target = Path(out_dir)
    _prepare_out_dir(target, replace=replace)
    clock = _Clock(progress)
    clock.start("inputs")
    path = check_input_file(table)
    parsed_answers, parsed_markers, input_digests = _read_inputs(answers, markers)
    clock.stop()

    clock.start("import")
    profile = _pick_profile(
        read_table(path, format=table_format, taxonomy=taxonomy, rank=rank), sample_id, path
    )
    clock.stop()

    run_info = RunInfo(
        example_data=example,
        table_format=table_format,
        table_rank=rank or "auto",
        input_sha256=input_digests,
    )
    clock.start("interpret")
    result = interpret_profile(
        profile,
        answers=parsed_answers,
        markers=parsed_markers,
        qc=None,
        run_info=run_info.updated(stage_seconds=dict(clock.seconds)),
        crisis_contacts=tuple(crisis_contacts),
    )
    clock.stop()
    result, html = _render_timed(result, clock, run_info)

    clock.start("write")
    with atomic_directory(target, replace=replace) as staging:
        write_profile_tsv(profile, staging / "profile.tsv")
        write_profile_biom(profile, staging / "profile.biom")
        atomic_write_text(staging / "provenance.json", _provenance_json(profile))
        write_result(result, staging / "result.json")
        atomic_write_text(staging / "report.html", html)
        files = {p.name: target / p.name for p in sorted(staging.iterdir())}
    clock.stop()
    return RunOutputs(out_dir=target, result=result, files=files, stage_seconds=clock.seconds)
