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
from typing import Literal, cast

from gutbrain.errors import ErrorCode, InputFormatError, InputMissingError

__all__ = [
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
    functions: Mapping[str, FunctionEvidence] = field(default_factory=dict)

    def cited(self, source_ids: tuple[str, ...] | list[str]) -> tuple[Source, ...]:
        """The sources for ``source_ids`` (unknown ids are a bug in the tables)."""
        return tuple(self.sources[s] for s in source_ids)


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

    def check(name: str, line: int, r: dict[str, str]) -> tuple[Grade, Verification]:
        path = folder / name
        for sid in _ids(r.get("source_id", "")):
            if sid not in sources:
                message = f"source {sid!r} is not in sources.tsv"
                raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)
        if not _ids(r.get("source_id", "")):
            message = "row has no source_id; every knowledge row needs one"
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.KNOWLEDGE)
        grade = _choice(r["evidence_grade"], _GRADES, path=path, line=line, column="grade")
        ver = _choice(
            r["verification"], _VERIFICATIONS, path=path, line=line, column="verification"
        )
        if "report_use" in r:
            _choice(r["report_use"], _USES, path=path, line=line, column="report_use")
        return cast(Grade, grade), cast(Verification, ver)

    taxa = []
    for line, r in _rows(folder, "taxa.tsv"):
        grade, ver = check("taxa.tsv", line, r)
        taxa.append(
            TaxonEvidence(
                knowledge_id=r["id"],
                taxon=r["taxon"],
                rank=r["rank"],
                phenotype=r["phenotype"],
                direction=r["direction"],
                population=r["population"],
                n=r["n"],
                source_ids=_ids(r["source_id"]),
                study_type=r["study_type"],
                grade=grade,
                report_use=cast(ReportUse, r["report_use"]),
                verification=ver,
                unverified_fields=r["unverified_fields"],
                match_rank=r["match_rank"],
                match_names=_ids(r["match_names"]),
                guild=r["guild"],
                statement=r["statement"],
            )
        )

    guilds = []
    for line, r in _rows(folder, "guilds.tsv"):
        grade, ver = check("guilds.tsv", line, r)
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
                grade=grade,
                source_ids=_ids(r["source_id"]),
                report_use=cast(ReportUse, r["report_use"]),
                verification=ver,
            )
        )

    diversity = {}
    for line, r in _rows(folder, "diversity.tsv"):
        grade, ver = check("diversity.tsv", line, r)
        diversity[r["id"]] = DiversityEvidence(
            knowledge_id=r["id"],
            metric=r["metric"],
            topic=r["topic"],
            n=r["n"],
            source_ids=_ids(r["source_id"]),
            grade=grade,
            report_use=cast(ReportUse, r["report_use"]),
            verification=ver,
            statement=r["statement"],
        )

    markers = {}
    for line, r in _rows(folder, "markers.tsv"):
        grade, ver = check("markers.tsv", line, r)
        markers[r["id"]] = MarkerEvidence(
            knowledge_id=r["id"],
            marker=r["marker"],
            unit=r["unit"],
            value_rule=r["value_rule"],
            source_ids=_ids(r["source_id"]),
            grade=grade,
            verification=ver,
        )

    instruments = {}
    for line, r in _rows(folder, "instruments.tsv"):
        grade, ver = check("instruments.tsv", line, r)
        instruments[r["id"]] = InstrumentEvidence(
            knowledge_id=r["id"],
            instrument=r["instrument"],
            source_ids=_ids(r["source_id"]),
            grade=grade,
            verification=ver,
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
        grade, ver = check("functions.tsv", line, r)
        functions[r["id"]] = FunctionEvidence(
            knowledge_id=r["id"],
            trait=r["trait"],
            gbm_ids=tuple(dict.fromkeys(re.findall(r"MGB\d{3}", r["gbm_ids"]))),
            source_ids=_ids(r["source_id"]),
            grade=grade,
            report_use=cast(ReportUse, r["report_use"]),
            verification=ver,
        )

    kb = KnowledgeBase(
        version=str(manifest["knowledge_version"]),
        sources=sources,
        taxa=tuple(taxa),
        guilds=tuple(guilds),
        diversity=diversity,
        markers=markers,
        instruments=instruments,
        modules=modules,
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
