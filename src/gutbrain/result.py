"""The schema-versioned result of interpreting one sample.

:class:`Result` is the single input of the HTML report, of the cohort store and of the future web
service. It is a pydantic v2 model (a boundary format), frozen, and refuses unknown fields, so a
renderer can trust every key it reads. ``SCHEMA_VERSION`` follows semantic versioning: a minor bump
only adds optional fields; a major bump renames or removes fields. The JSON Schema is exported to
``docs/result.schema.json`` (a test fails when that file is stale).

Every statement meant for a reader (a :class:`Finding`, :class:`Alert`, :class:`Recommendation`,
and the evidence items of guild scores, taxa, markers and questionnaires) carries at least one
``source_id`` (joined to :attr:`Result.references`) and an evidence ``grade`` (A, B or C; see
``docs/interpretation.md``). Alerts come first in :attr:`Result.alerts`, ordered by severity.

Nothing in a result is a diagnosis: findings are group-level associations, questionnaires are
screens, functional guild scores are genetic potential, not measured metabolites.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic import ValidationError as PydanticValidationError

from gutbrain.errors import ErrorCode, InputFormatError, InputMissingError, OutputError
from gutbrain.model import ReadType

__all__ = [
    "SCHEMA_VERSION",
    "TERMINAL_ALERT_LEVELS",
    "Alert",
    "AlertLevel",
    "BetaDiversity",
    "Diversity",
    "DiversityPercentile",
    "Finding",
    "Grade",
    "GuildMember",
    "GuildScore",
    "MarkerResult",
    "ModuleCoverage",
    "ProfileSummary",
    "QuestionnaireResult",
    "ReadQCSummary",
    "Recommendation",
    "Reference",
    "Result",
    "ResultProvenance",
    "RunInfo",
    "TaxonAbundance",
    "TaxonOfInterest",
    "read_result",
    "write_result",
]

#: Version of the result schema (semantic versioning; see module docstring).
SCHEMA_VERSION = "1.2.0"

#: Evidence grade of an association (guide.md): A replicated, B one large cohort or several small
#: studies, C a single small, animal-only or mechanistic study.
Grade = Literal["A", "B", "C"]
#: Alert severity, most urgent first: ``crisis`` (PHQ-9 item 9), ``urgent`` (blood in stool, FIT,
#: alarm features), ``prompt`` (calprotectin > 200, PHQ-9 >= 20, GAD-7 >= 15), ``advise``
#: (discuss with a GP), ``info`` (scope notes such as age < 18).
AlertLevel = Literal["crisis", "urgent", "prompt", "advise", "info"]
#: Levels printed on the terminal before anything else (`run`, `interpret`, `cohort run`).
TERMINAL_ALERT_LEVELS: tuple[AlertLevel, ...] = ("crisis", "urgent", "prompt")
Confidence = Literal["high", "moderate", "low", "none"]
Verification = Literal["verified", "partially_verified", "unverified"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reference(_Frozen):
    """One source of the knowledge base that a shown statement rests on."""

    source_id: str = Field(pattern=r"^S\d{3}$")
    first_author: str
    year: str
    title: str
    journal: str = ""
    doi: str = ""
    pmid: str = ""
    url: str = ""
    verification: Verification


class TaxonAbundance(_Frozen):
    """A taxon of the profile with its abundance (fraction 0-1) and confidence interval."""

    name: str
    rank: str
    abundance: float = Field(ge=0.0, le=1.0)
    reads: float | None = None
    abundance_low: float | None = None
    abundance_high: float | None = None
    lineage: dict[str, str | None] = Field(default_factory=dict)
    #: Member species of a species group (16S cannot separate them); empty for one species.
    members: tuple[str, ...] = ()


class ProfileSummary(_Frozen):
    """What was measured: top taxa per rank (all at genus and species), unassigned, depth."""

    sample_id: str
    source: str
    total_reads: int | None = None
    copy_number_corrected: bool = False
    ranks: tuple[str, ...] = ()
    n_taxa: dict[str, int] = Field(default_factory=dict)
    top_taxa: dict[str, tuple[TaxonAbundance, ...]] = Field(default_factory=dict)
    #: Every taxon at genus and species rank (the report's expandable complete profile).
    all_taxa: dict[str, tuple[TaxonAbundance, ...]] = Field(default_factory=dict)
    unassigned: dict[str, float] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()


class ReadQCSummary(_Frozen):
    """Read-level quality control, present when the result came from reads."""

    reads_in: int
    reads_kept: int
    dropped: dict[str, int] = Field(default_factory=dict)
    bases_kept: int = 0
    length_n50: int = 0
    length_quantiles: dict[str, float] = Field(default_factory=dict)
    mean_quality: float | None = None
    ambiguous_bases: int = 0
    lowercase_reads: int = 0


class DiversityPercentile(_Frozen):
    """Where a value sits within a reference cohort (same metric, same rank)."""

    metric: str
    value: float
    percentile: float = Field(ge=0.0, le=100.0)
    cohort: str
    method: str  # "16S rRNA (V4)", "shotgun metagenomics", ...
    rank: str
    n_samples: int = Field(ge=1)
    comparable: bool = True
    note: str = ""
    cohort_key: str = ""
    #: ``16S``, ``shotgun`` or ``unknown``: the cohort's kind of method.
    method_kind: str = "unknown"
    #: True for the one cohort the summary and findings quote (the largest of the sample's method).
    headline: bool = False


class Diversity(_Frozen):
    """Alpha diversity at one rank with its context (there is no universal normal range)."""

    rank: str
    metrics: dict[str, float | None] = Field(default_factory=dict)
    computable: bool = True
    reason: str = ""
    percentiles: tuple[DiversityPercentile, ...] = ()
    #: Metrics deliberately not compared with reference cohorts, with the reason.
    not_compared: dict[str, str] = Field(default_factory=dict)
    context: str = ""
    source_ids: tuple[str, ...] = ()
    grade: Grade | None = None


class BetaDiversity(_Frozen):
    """How far the sample's genus composition lies from one reference cohort (one metric).

    ``median_distance`` is the sample's median distance to the cohort's members; ``percentile``
    places it among the members' own median distances to each other (mid-rank; high = further
    out than most members). ``cohort_points`` are the members' PCoA coordinates (axes 1 and 2)
    and ``sample_point`` the sample added to that ordination without moving the members.
    """

    cohort: str
    cohort_key: str
    method: str
    n_samples: int = Field(ge=1)
    rank: str = "genus"
    metric: Literal["bray_curtis", "aitchison"]
    metric_label: str
    median_distance: float = Field(ge=0.0)
    percentile: float = Field(ge=0.0, le=100.0)
    member_median_range: tuple[float, float]
    axis_explained: tuple[float, float]
    cohort_points: tuple[tuple[float, float], ...]
    sample_point: tuple[float, float]
    citation: str = ""


class GuildMember(_Frozen):
    """A profile taxon counted in a guild and the rank at which it matched."""

    taxon: str
    matched_as: str
    rank: str
    abundance: float = Field(ge=0.0, le=1.0)


class GuildScore(_Frozen):
    """Summed abundance of a functional guild (genetic potential, not a measured metabolite).

    ``coverage`` is the fraction of the profile resolved to the rank the guild is defined at;
    ``confidence`` drops with coverage. When ``computable`` is false, ``value`` is ``None`` and
    ``reason`` says why.
    """

    guild_id: str
    name: str
    knowledge_ids: tuple[str, ...]
    value: float | None = Field(default=None, ge=0.0, le=1.0)
    computable: bool
    reason: str = ""
    #: True for a guild whose knowledge rows are all ``context_only``: no personal value, ever.
    background_only: bool = False
    members: tuple[GuildMember, ...] = ()
    coverage: float = Field(ge=0.0, le=1.0)
    coverage_rank: str
    confidence: Confidence
    percentiles: tuple[DiversityPercentile, ...] = ()
    source_ids: tuple[str, ...] = Field(min_length=1)
    grade: Grade
    caveats: tuple[str, ...] = ()


class TaxonOfInterest(_Frozen):
    """A taxon found in the profile that the literature associates with a phenotype."""

    knowledge_id: str
    taxon: str
    matched_as: tuple[str, ...]
    rank: str
    abundance: float = Field(ge=0.0, le=1.0)
    phenotype: str
    direction: str
    population: str = ""
    n: str = ""
    study: str
    statement: str
    source_ids: tuple[str, ...] = Field(min_length=1)
    grade: Grade
    caveats: tuple[str, ...] = ()
    #: Where this sample stands: present, and above/below the headline cohort's median.
    present: bool = True
    standing: str = ""
    reference_cohort: str = ""
    reference_median: float | None = Field(default=None, ge=0.0, le=1.0)
    reference_prevalence: float | None = Field(default=None, ge=0.0, le=1.0)
    #: Internal verification note of the knowledge row (kept in result.json, never in the HTML).
    verification_note: str = ""


class ModuleCoverage(_Frozen):
    """Omixer-RPM-style coverage of one gut-brain module from a KEGG-orthology table."""

    module_id: str
    name: str
    coverage: float = Field(ge=0.0, le=1.0)
    present: bool
    steps_total: int
    steps_covered: int
    min_coverage: float
    abundance: float | None = None
    #: Steps defined only by COG/eggNOG ids, which a KO table can never cover.
    non_ko_steps: int = 0


class MarkerResult(_Frozen):
    """A stool marker value with its band, unit and caveats.

    ``operator`` is ``"<"``, ``"<="``, ``">"`` or ``">="`` for censored values (``<20``).
    ``interpretable`` is false for assay-invalid markers (zonulin) and for values outside the
    assay range.
    """

    marker: str
    name: str
    value: float | None
    operator: Literal["=", "<", "<=", ">", ">="] = "="
    unit: str
    value_as_given: str
    unit_as_given: str
    band: str | None = None
    band_label: str = ""
    interpretable: bool = True
    statement: str = ""
    caveats: tuple[str, ...] = ()
    collected: str | None = None
    source_ids: tuple[str, ...] = Field(min_length=1)
    grade: Grade


class QuestionnaireResult(_Frozen):
    """The score of one instrument (a screen, never a diagnosis) or a lifestyle answer."""

    instrument: str
    name: str
    scorable: bool
    score: float | None = None
    score_range: tuple[float, float] | None = None
    band: str | None = None
    prorated: bool = False
    items_answered: int = 0
    items_missing: tuple[int, ...] = ()
    reason: str = ""
    statement: str = ""
    unit: str = ""
    source_ids: tuple[str, ...] = Field(min_length=1)
    grade: Grade


class Alert(_Frozen):
    """A safety message; shown before anything else, never suppressible."""

    alert_id: str
    level: AlertLevel
    trigger: str
    title: str
    message: str
    source_ids: tuple[str, ...] = Field(min_length=1)
    grade: Grade


class Recommendation(_Frozen):
    """General lifestyle context tied to something measured; association wording only."""

    recommendation_id: str
    topic: str
    text: str
    based_on: tuple[str, ...]
    source_ids: tuple[str, ...] = Field(min_length=1)
    grade: Grade


class Finding(_Frozen):
    """One statement shown to the reader, with its sources and grade."""

    finding_id: str
    category: Literal[
        "scope", "diversity", "guild", "taxon", "marker", "questionnaire", "confounder", "context"
    ]
    text: str
    knowledge_ids: tuple[str, ...] = ()
    source_ids: tuple[str, ...] = Field(min_length=1)
    grade: Grade
    verification: Verification = "verified"


class RunInfo(_Frozen):
    """How the result was produced: the run's facts for the methods section (logs disappear).

    Every field is optional and only what a run recorded is written (``None`` fields are left out
    of the JSON, so a result carries the keys its command set and nothing more). ``gutbrain run``
    from reads records ``preset`` … ``input_sha256``; from a table ``table_format`` and
    ``table_rank``; ``gutbrain interpret`` records ``command``, ``profile`` and ``inputs``. Every
    run that times its stages records ``stage_seconds`` (stage -> wall-clock seconds).
    """

    command: str | None = None
    profile: str | None = None
    inputs: dict[str, str] | None = None
    preset: ReadType | None = None
    threads: int | None = None
    #: Reads by outcome of the profile (``reads_in``, ``reads_assigned_species``, …).
    assignment: dict[str, int] | None = None
    #: The EM run's plain figures (iterations, log-likelihood, …).
    em: dict[str, bool | int | float | str] | None = None
    example_data: bool | None = None
    #: Answers and markers files by role -> SHA-256.
    input_sha256: dict[str, str] | None = None
    table_format: str | None = None
    table_rank: str | None = None
    stage_seconds: dict[str, float] | None = None

    @model_serializer(mode="wrap")
    def _recorded_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        return {key: value for key, value in data.items() if value is not None}

    def updated(self, **changes: object) -> RunInfo:
        """A validated copy with ``changes`` applied (``model_copy`` would not validate)."""
        return RunInfo.model_validate({**self.model_dump(), **changes})


class ResultProvenance(_Frozen):
    """Where the result came from: versions, inputs, parameters, reference and knowledge base."""

    gutbrain_version: str
    schema_version: str
    created: str  # ISO 8601 UTC
    profile_source: str
    inputs: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    reference: dict[str, str] = Field(default_factory=dict)
    tools: dict[str, str] = Field(default_factory=dict)
    knowledge_version: str = ""
    reference_cohorts_version: str = ""
    run_info: RunInfo = Field(default_factory=RunInfo)


class Result(_Frozen):
    """Everything known and said about one sample (the report's only input)."""

    schema_version: str = SCHEMA_VERSION
    sample_id: str
    disclaimer: str
    alerts: tuple[Alert, ...] = ()
    profile: ProfileSummary
    read_qc: ReadQCSummary | None = None
    diversity: tuple[Diversity, ...] = ()
    #: Personal beta diversity: one entry per usable reference cohort and metric (genus rank).
    beta_diversity: tuple[BetaDiversity, ...] = ()
    guilds: tuple[GuildScore, ...] = ()
    taxa_of_interest: tuple[TaxonOfInterest, ...] = ()
    #: Taxa with a reportable association that were looked for and not found in this sample.
    taxa_not_found: tuple[str, ...] = ()
    modules: tuple[ModuleCoverage, ...] = ()
    markers: tuple[MarkerResult, ...] = ()
    questionnaires: tuple[QuestionnaireResult, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    findings: tuple[Finding, ...] = ()
    references: tuple[Reference, ...] = ()
    warnings: tuple[str, ...] = ()
    provenance: ResultProvenance


def write_result(result: Result, path: str | Path) -> Path:
    """Write ``result`` as indented UTF-8 JSON, atomically; return the path.

    The text goes to a ``.<name>.partial-*`` file beside the target, is fsynced, then renamed over
    it, so a reader sees the old file or the new one, never half of one.

    Raises
    ------
    OutputError
        When the file (or a missing parent folder) cannot be written.
    """
    target = Path(path)
    text = result.model_dump_json(indent=2) + "\n"
    tmp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # the process ID lets gutbrain.io.files sweep what a killed run left
        prefix = f".{target.name}.partial-{os.getpid()}-"
        fd, tmp_name = tempfile.mkstemp(prefix=prefix, dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as exc:
        message = f"{target}: cannot write the result ({exc.strerror}); check the folder"
        raise OutputError(message) from None
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
    return target


def read_result(path: str | Path) -> Result:
    """Read a result JSON file written by :func:`write_result`.

    Raises
    ------
    InputMissingError
        When the file cannot be opened.
    InputFormatError
        When it is not JSON, has another major schema version, or fails validation.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        message = (
            "not a JSON result (not UTF-8 text); expected a file written by gutbrain interpret"
        )
        raise InputFormatError(message, path=source) from None
    except OSError as exc:
        why = "a symbolic-link loop" if exc.errno == errno.ELOOP else exc.strerror
        message = f"{source}: cannot read the result ({why})"
        raise InputMissingError(message) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"not a JSON result ({exc.msg}); expected a file written by gutbrain interpret"
        raise InputFormatError(message, path=source, line=exc.lineno) from None
    version = str(raw.get("schema_version", "")) if isinstance(raw, dict) else ""
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        message = (
            f"result schema version {version or '(missing)'} is not readable by this gutbrain "
            f"(schema {SCHEMA_VERSION}); re-run gutbrain interpret"
        )
        raise InputFormatError(message, path=source, code=ErrorCode.RESULT_VERSION)
    try:
        return Result.model_validate(raw)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = f"invalid result at {where}: {first['msg']} ({exc.error_count()} error(s))"
        raise InputFormatError(message, path=source, code=ErrorCode.RESULT) from None
