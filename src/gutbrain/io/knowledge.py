"""Load gutbrain's packaged knowledge tables into frozen records.

The tables live in ``gutbrain/data/knowledge`` and are built by ``scripts/build_knowledge.py``
from the project's curated knowledge base (see ``docs/interpretation.md``). Every row keeps its
``source_id``(s), evidence grade (A/B/C), verification status and ``report_use``:

* ``report_ok`` rows may back a hedged statement in a personal result;
* ``context_only`` rows are background and never a personal inference;
* ``research_only`` rows (and any ``unverified`` row) are loaded for research but never shown.

:attr:`TaxonEvidence.shown` and friends encode that rule in one place.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal, TypedDict, cast

from gutbrain.errors import ErrorCode, InputFormatError, InputMissingError

__all__ = [
    "ALERT_TESTS",
    "AlertRule",
    "Citation",
    "DiversityEvidence",
    "FunctionEvidence",
    "GbmModule",
    "Grade",
    "Guild",
    "InstrumentEvidence",
    "KnowledgeBase",
    "MarkerEvidence",
    "ReportUse",
    "Source",
    "TaxonEvidence",
    "load_knowledge",
]

logger = logging.getLogger(__name__)

Grade = Literal["A", "B", "C"]
ReportUse = Literal["report_ok", "context_only", "research_only"]
Verification = Literal["verified", "partially_verified", "unverified"]
_GRADES = ("A", "B", "C")
_USES = ("report_ok", "context_only", "research_only")
_VERIFICATIONS = ("verified", "partially_verified", "unverified")
_LEVELS = ("crisis", "urgent", "prompt", "advise", "info")
#: What an alert rule can test (``alert_rules.tsv``, column ``test``), explained in
#: ``scripts/build_knowledge.py`` next to the rules.
ALERT_TESTS = (
    "item_above",
    "score_at_least",
    "score_above",
    "band_in",
    "symptoms",
    "age_below",
    "outside_assay_range",
)
_NUMERIC_TESTS = ("item_above", "score_at_least", "score_above", "age_below")
#: Alerts guide.md requires ("When to advise seeing a clinician"): a rules table without any of
#: them is refused at load, so a lost row can never read as "no alerts".
_REQUIRED_ALERTS = (
    "crisis-phq9-item9",
    "urgent-blood-in-stool",
    "urgent-fit",
    "urgent-alarm-features",
    "prompt-red-flags",
    "prompt-calprotectin",
    "prompt-phq9",
    "advise-phq9",
    "prompt-gad7",
    "advise-gad7",
    "advise-calprotectin",
    "advise-implausible-{marker}",
    "advise-elastase",
    "advise-bowel-symptoms",
    "info-under-18",
)
_ALERT_COLUMNS = (
    "id",
    "alert_id",
    "level",
    "subject",
    "test",
    "threshold",
    "unless",
    "trigger",
    "source_id",
    "evidence_grade",
    "wording",
)


@dataclass(frozen=True, slots=True)
class Source:
    """One bibliographic source (``S001`` …)."""

    source_id: str
    first_author: str
    year: str
    title: str
    journal: str
    doi: str
    pmid: str
    url: str
    verification: Verification
    study_design: str = ""


class _Evidence(TypedDict):
    """The columns every evidence row has, checked once."""

    source_ids: tuple[str, ...]
    grade: Grade
    verification: Verification


@dataclass(frozen=True, slots=True)
class TaxonEvidence:
    """A taxon (or group) × phenotype × direction association from the literature."""

    knowledge_id: str
    taxon: str
    rank: str
    phenotype: str
    direction: str
    population: str
    n: str
    source_ids: tuple[str, ...]
    study_type: str
    grade: Grade
    report_use: ReportUse
    verification: Verification
    unverified_fields: str
    match_rank: str
    match_names: tuple[str, ...]
    guild: str
    statement: str

    @property
    def shown(self) -> bool:
        """May this row back a statement in a personal result?"""
        return (
            self.report_use == "report_ok"
            and self.verification != "unverified"
            and bool(self.statement)
        )


@dataclass(frozen=True, slots=True)
class FunctionEvidence:
    """A gut-brain functional trait with the gut-brain modules (GBM ids) that encode it."""

    knowledge_id: str
    trait: str
    gbm_ids: tuple[str, ...]
    source_ids: tuple[str, ...]
    grade: Grade
    report_use: ReportUse
    verification: Verification


@dataclass(frozen=True, slots=True)
class Guild:
    """A functional guild scored from a profile: members as ``(rank, name)`` pairs."""

    guild: str
    name: str
    knowledge_ids: tuple[str, ...]
    members: tuple[tuple[str, str], ...]
    computable: bool
    reason: str
    statement: str
    caveat: str
    grade: Grade
    source_ids: tuple[str, ...]
    report_use: ReportUse
    verification: Verification


@dataclass(frozen=True, slots=True)
class DiversityEvidence:
    """What a cohort or review says about diversity."""

    knowledge_id: str
    metric: str
    topic: str
    n: str
    source_ids: tuple[str, ...]
    grade: Grade
    report_use: ReportUse
    verification: Verification
    statement: str

    @property
    def shown(self) -> bool:
        """May this row be shown as a statement in a personal result?"""
        return self.report_use == "report_ok" and self.verification != "unverified"


@dataclass(frozen=True, slots=True)
class MarkerEvidence:
    """A stool-marker row (band, caveat or validity note)."""

    knowledge_id: str
    marker: str
    unit: str
    value_rule: str
    source_ids: tuple[str, ...]
    grade: Grade
    verification: Verification


@dataclass(frozen=True, slots=True)
class InstrumentEvidence:
    """A questionnaire (instrument) row."""

    knowledge_id: str
    instrument: str
    source_ids: tuple[str, ...]
    grade: Grade
    verification: Verification


@dataclass(frozen=True, slots=True)
class GbmModule:
    """A gut-brain module id and name (Valles-Colomer 2019); definitions are not shipped."""

    module_id: str
    name: str
    category: str
    n_steps: int
    source_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One clinical alert rule (``alert_rules.tsv``); safety.py evaluates it.

    ``threshold`` is the number the ``test`` compares with (an age for ``symptoms``; ``None``
    when the rule has none); ``bands`` are the marker bands of a ``band_in`` rule. An
    ``outside_assay_range`` rule has no sources of its own: it cites the marker's rows.
    """

    rule_id: str
    alert_id: str
    level: Literal["crisis", "urgent", "prompt", "advise", "info"]
    subject: str
    test: str
    threshold: float | None
    bands: tuple[str, ...]
    unless: str
    trigger: str
    source_ids: tuple[str, ...]
    grade: Grade | None
    wording: str


class Citation(TypedDict):
    """Sources and grade of a fixed finding or recommendation (``statements.tsv``).

    Spread it into the statement: ``Finding(finding_id=..., **kb.citation(finding_id))``.
    """

    source_ids: tuple[str, ...]
    grade: Grade


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """All packaged knowledge tables."""

    version: str
    sources: Mapping[str, Source]
    taxa: tuple[TaxonEvidence, ...]
    guilds: tuple[Guild, ...]
    diversity: Mapping[str, DiversityEvidence]
    markers: Mapping[str, MarkerEvidence]
    instruments: Mapping[str, InstrumentEvidence]
    modules: Mapping[str, GbmModule]
    alert_rules: tuple[AlertRule, ...]
    statements: Mapping[str, Citation]
    functions: Mapping[str, FunctionEvidence] = field(default_factory=dict)

    def cited(self, source_ids: tuple[str, ...] | list[str]) -> tuple[Source, ...]:
        """The sources for ``source_ids`` (unknown ids are a bug in the tables)."""
        return tuple(self.sources[s] for s in source_ids)

    def citation(self, statement_id: str) -> Citation:
        """Sources and grade of a fixed finding or recommendation.

        Raises
        ------
        InputFormatError
            When ``statements.tsv`` has no row for ``statement_id`` (code ``GB-KNOWLEDGE``).
        """
        found = self.statements.get(statement_id)
        if found is None:
            message = (
                f"statements.tsv has no row {statement_id!r}; rebuild the knowledge tables "
                "with scripts/build_knowledge.py"
            )
            raise InputFormatError(message, code=ErrorCode.KNOWLEDGE)
        return found


def _ids(cell: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in cell.split(";") if s.strip())


def _choice(value: str, allowed: tuple[str, ...], *, path: Path, line: int, column: str) -> str:
    if value not in allowed:
        message = f"column {column!r} is {value!r}; expected one of {', '.join(allowed)}"
        raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)
    return value


def _rows(folder: Path, name: str) -> list[tuple[int, dict[str, str]]]:
    path = folder / name
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return [(i + 2, row) for i, row in enumerate(csv.DictReader(handle, delimiter="\t"))]
    except FileNotFoundError:
        message = f"{path}: knowledge table missing; rebuild with scripts/build_knowledge.py"
        raise InputMissingError(message) from None


def _known(ids: tuple[str, ...], sources: Mapping[str, Source], *, path: Path, line: int) -> None:
    for sid in ids:
        if sid not in sources:
            message = f"source {sid!r} is not in sources.tsv"
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)


def _alert_rule(
    r: dict[str, str | None], sources: Mapping[str, Source], path: Path, line: int
) -> AlertRule:
    """One row of ``alert_rules.tsv``, checked cell by cell."""

    def refuse(why: str) -> InputFormatError:
        return InputFormatError(
            f"rule {r.get('id')!r}: {why}", path=path, line=line, code=ErrorCode.KNOWLEDGE
        )

    cells = {c: (r.get(c) or "").strip() for c in _ALERT_COLUMNS}
    level = _choice(cells["level"], _LEVELS, path=path, line=line, column="level")
    test = _choice(cells["test"], ALERT_TESTS, path=path, line=line, column="test")
    if cells["unless"]:
        _choice(cells["unless"], _LEVELS, path=path, line=line, column="unless")
    for column in ("id", "alert_id", "subject", "trigger", "wording"):
        if not cells[column]:
            raise refuse(f"column {column!r} is empty")
    threshold: float | None = None
    bands: tuple[str, ...] = ()
    text = cells["threshold"]
    if test == "band_in":
        bands = _ids(text)
        if not bands:
            raise refuse("a band_in rule needs the bands it fires on in 'threshold'")
    elif text:
        try:
            threshold = float(text)
        except ValueError:
            raise refuse(f"threshold {text!r} is not a number") from None
        if test == "outside_assay_range":
            raise refuse("an outside_assay_range rule takes no threshold")
    elif test in _NUMERIC_TESTS:
        raise refuse(f"a {test} rule needs a number in 'threshold'")
    source_ids = _ids(cells["source_id"])
    _known(source_ids, sources, path=path, line=line)
    grade: Grade | None = None
    if test == "outside_assay_range":
        if source_ids or cells["evidence_grade"]:
            raise refuse(
                "an outside_assay_range rule cites the marker's own rows; leave "
                "source_id and evidence_grade empty"
            )
    else:
        if not source_ids:
            raise refuse("row has no source_id; every alert rule needs one")
        grade = cast(
            Grade,
            _choice(
                cells["evidence_grade"], _GRADES, path=path, line=line, column="evidence_grade"
            ),
        )
    return AlertRule(
        rule_id=cells["id"],
        alert_id=cells["alert_id"],
        level=cast(Literal["crisis", "urgent", "prompt", "advise", "info"], level),
        subject=cells["subject"],
        test=test,
        threshold=threshold,
        bands=bands,
        unless=cells["unless"],
        trigger=cells["trigger"],
        source_ids=source_ids,
        grade=grade,
        wording=cells["wording"],
    )


def _alert_rules(folder: Path, sources: Mapping[str, Source]) -> tuple[AlertRule, ...]:
    """Read and check ``alert_rules.tsv``: a missing or malformed table fails here, loudly."""
    path = folder / "alert_rules.tsv"
    rows = _rows(folder, "alert_rules.tsv")
    header = tuple(rows[0][1]) if rows else ()
    missing = [c for c in _ALERT_COLUMNS if c not in header]
    if missing:
        message = f"column(s) {', '.join(missing)} missing; expected {', '.join(_ALERT_COLUMNS)}"
        raise InputFormatError(message, path=path, line=1, code=ErrorCode.KNOWLEDGE)
    rules: list[AlertRule] = []
    first: dict[str, AlertRule] = {}
    for line, r in rows:
        if None in r or None in r.values():
            message = "row has a different number of cells than the header"
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)
        rule = _alert_rule(dict(r), sources, path, line)
        if any(x.rule_id == rule.rule_id for x in rules):
            message = f"rule id {rule.rule_id!r} given twice"
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)
        same = first.setdefault(rule.alert_id, rule)
        shared = ("level", "unless", "source_ids", "grade", "wording")
        differs = [a for a in shared if getattr(same, a) != getattr(rule, a)]
        if differs:
            message = (
                f"rule {rule.rule_id!r} and rule {same.rule_id!r} make alert {rule.alert_id!r} "
                f"but differ in {', '.join(differs)}; the rows of one alert share them"
            )
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)
        rules.append(rule)
    lost = [a for a in _REQUIRED_ALERTS if a not in first]
    if lost:
        message = (
            f"no rule for alert(s) {', '.join(lost)}; a safety alert may never be dropped "
            "(rebuild the knowledge tables with scripts/build_knowledge.py)"
        )
        raise InputFormatError(message, path=path, code=ErrorCode.KNOWLEDGE)
    return tuple(rules)


def _statements(folder: Path, sources: Mapping[str, Source]) -> dict[str, Citation]:
    """Read and check ``statements.tsv`` (sources and grade of fixed findings/recommendations)."""
    path = folder / "statements.tsv"
    out: dict[str, Citation] = {}
    for line, r in _rows(folder, "statements.tsv"):
        source_ids = _ids(r.get("source_id") or "")
        if not source_ids:
            message = "row has no source_id; every statement needs one"
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)
        _known(source_ids, sources, path=path, line=line)
        grade = _choice(
            r.get("evidence_grade") or "", _GRADES, path=path, line=line, column="evidence_grade"
        )
        if r["id"] in out:
            message = f"statement id {r['id']!r} given twice"
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)
        out[r["id"]] = Citation(source_ids=source_ids, grade=cast(Grade, grade))
    return out


def _load(folder: Path) -> KnowledgeBase:
    manifest = json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))
    sources: dict[str, Source] = {}
    for line, r in _rows(folder, "sources.tsv"):
        verification = _choice(
            r["verification"],
            _VERIFICATIONS,
            path=folder / "sources.tsv",
            line=line,
            column="verification",
        )
        sources[r["source_id"]] = Source(
            source_id=r["source_id"],
            first_author=r["first_author"],
            year=r["year"],
            title=r["title"],
            journal=r["journal_ref"],
            doi=r["doi"],
            pmid=r["pmid"],
            url=r["url_checked"],
            verification=cast(Verification, verification),
            study_design=r.get("study_design", ""),
        )

    def check(name: str, line: int, r: dict[str, str]) -> _Evidence:
        path = folder / name
        _known(_ids(r.get("source_id", "")), sources, path=path, line=line)
        if not _ids(r.get("source_id", "")):
            message = "row has no source_id; every knowledge row needs one"
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)
        grade = _choice(r["evidence_grade"], _GRADES, path=path, line=line, column="grade")
        ver = _choice(
            r["verification"], _VERIFICATIONS, path=path, line=line, column="verification"
        )
        if "report_use" in r:
            _choice(r["report_use"], _USES, path=path, line=line, column="report_use")
        return _Evidence(
            source_ids=_ids(r["source_id"]),
            grade=cast(Grade, grade),
            verification=cast(Verification, ver),
        )

    taxa = []
    for line, r in _rows(folder, "taxa.tsv"):
        evidence = check("taxa.tsv", line, r)
        taxa.append(
            TaxonEvidence(
                knowledge_id=r["id"],
                taxon=r["taxon"],
                rank=r["rank"],
                phenotype=r["phenotype"],
                direction=r["direction"],
                population=r["population"],
                n=r["n"],
                study_type=r["study_type"],
                report_use=cast(ReportUse, r["report_use"]),
                **evidence,
                unverified_fields=r["unverified_fields"],
                match_rank=r["match_rank"],
                match_names=_ids(r["match_names"]),
                guild=r["guild"],
                statement=r["statement"],
            )
        )

    guilds = []
    for line, r in _rows(folder, "guilds.tsv"):
        evidence = check("guilds.tsv", line, r)
        members = []
        for item in _ids(r["members"]):
            rank, _, name = item.partition(":")
            members.append((rank, name))
        computable = r["computable"] == "yes"
        guilds.append(
            Guild(
                guild=r["guild"],
                name=r["name"],
                knowledge_ids=_ids(r["knowledge_ids"]),
                members=tuple(members),
                computable=computable,
                reason="" if computable else r["computable"].removeprefix("no: "),
                statement=r["statement"],
                caveat=r["caveat"],
                report_use=cast(ReportUse, r["report_use"]),
                **evidence,
            )
        )

    diversity = {}
    for line, r in _rows(folder, "diversity.tsv"):
        evidence = check("diversity.tsv", line, r)
        diversity[r["id"]] = DiversityEvidence(
            knowledge_id=r["id"],
            metric=r["metric"],
            topic=r["topic"],
            n=r["n"],
            report_use=cast(ReportUse, r["report_use"]),
            **evidence,
            statement=r["statement"],
        )

    markers = {}
    for line, r in _rows(folder, "markers.tsv"):
        evidence = check("markers.tsv", line, r)
        markers[r["id"]] = MarkerEvidence(
            knowledge_id=r["id"],
            marker=r["marker"],
            unit=r["unit"],
            value_rule=r["value_rule"],
            **evidence,
        )

    instruments = {}
    for line, r in _rows(folder, "instruments.tsv"):
        evidence = check("instruments.tsv", line, r)
        instruments[r["id"]] = InstrumentEvidence(
            knowledge_id=r["id"],
            instrument=r["instrument"],
            **evidence,
        )

    modules = {}
    for _line, r in _rows(folder, "gbm_modules.tsv"):
        modules[r["module_id"]] = GbmModule(
            module_id=r["module_id"],
            name=r["name"],
            category=r["category"],
            n_steps=int(r["n_steps"]),
            source_ids=_ids(r["source_id"]),
        )

    functions = {}
    for line, r in _rows(folder, "functions.tsv"):
        evidence = check("functions.tsv", line, r)
        functions[r["id"]] = FunctionEvidence(
            knowledge_id=r["id"],
            trait=r["trait"],
            gbm_ids=tuple(dict.fromkeys(re.findall(r"MGB\d{3}", r["gbm_ids"]))),
            report_use=cast(ReportUse, r["report_use"]),
            **evidence,
        )

    alert_rules = _alert_rules(folder, sources)
    statements = _statements(folder, sources)

    kb = KnowledgeBase(
        version=str(manifest["knowledge_version"]),
        sources=sources,
        taxa=tuple(taxa),
        guilds=tuple(guilds),
        diversity=diversity,
        markers=markers,
        instruments=instruments,
        modules=modules,
        alert_rules=alert_rules,
        statements=statements,
        functions=functions,
    )
    logger.debug("knowledge base %s: %d taxa rows, %d guilds", kb.version, len(taxa), len(guilds))
    return kb


@functools.lru_cache(maxsize=1)
def _packaged() -> KnowledgeBase:
    folder = Path(str(resources.files("gutbrain.data").joinpath("knowledge")))
    return _load(folder)


def load_knowledge(folder: str | Path | None = None) -> KnowledgeBase:
    """Load the knowledge tables (the packaged ones when ``folder`` is ``None``).

    Raises
    ------
    InputMissingError
        When a table is missing.
    InputFormatError
        When a row cites an unknown source, has no source, or an invalid grade, verification or
        report_use (code ``GB-KNOWLEDGE``).
    """
    if folder is None:
        return _packaged()
    return _load(Path(folder))
