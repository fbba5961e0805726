"""Grades earned by the cited sources, and which sources a shown statement may cite.

guide.md grades an association **A** only when it is replicated: a meta-analysis or systematic
review, or at least two independent large cohorts, *cited in that statement*. A statement whose
own sources cannot carry an A is shown with grade **B** (:func:`earned_grade`); the knowledge base
keeps its upstream grade.

Sources that are not scientific evidence (press releases) are never cited, and placeholder
references (no named author or no year, e.g. "(GPB 2016 authors)") are left out of a statement
whenever it has another source (:func:`citable_sources`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from gutbrain.io.knowledge import KnowledgeBase, Source
from gutbrain.result import Grade

__all__ = [
    "citable_sources",
    "earned_grade",
    "is_cohort",
    "is_placeholder",
    "is_review",
]

logger = logging.getLogger(__name__)

_REVIEW = re.compile(r"meta-analys|systematic review|umbrella review", re.IGNORECASE)
_COHORT = re.compile(r"\bcohort\b", re.IGNORECASE)
_NOT_EVIDENCE = re.compile(r"press release", re.IGNORECASE)


def is_review(source: Source) -> bool:
    """A meta-analysis, systematic or umbrella review (by its recorded study design)."""
    return bool(_REVIEW.search(source.study_design))


def is_cohort(source: Source) -> bool:
    """A cohort study (population or clinical cohort), not a case-control or animal study."""
    design = source.study_design
    return bool(_COHORT.search(design)) and "animal" not in design.lower()


def is_placeholder(source: Source) -> bool:
    """No named first author (``"(… authors)"``, ``"(X?)"``) or no year."""
    author = source.first_author.strip()
    return not author or author.startswith("(") or not source.year.strip()


def _not_evidence(source: Source) -> bool:
    return bool(_NOT_EVIDENCE.search(source.journal) or _NOT_EVIDENCE.search(source.study_design))


def citable_sources(source_ids: Sequence[str], kb: KnowledgeBase) -> tuple[str, ...]:
    """``source_ids`` without non-evidence sources, and without placeholders when others remain.

    Unknown ids are kept (the schema check downstream names them).
    """
    known = [s for s in source_ids if s in kb.sources]
    evidence = [s for s in known if not _not_evidence(kb.sources[s])]
    complete = [s for s in evidence if not is_placeholder(kb.sources[s])]
    kept = complete or evidence or list(source_ids)
    return tuple(dict.fromkeys(kept + [s for s in source_ids if s not in kb.sources]))


def earned_grade(grade: Grade, source_ids: Sequence[str], kb: KnowledgeBase) -> Grade:
    """``grade``, capped at B unless the cited sources earn an A (module docstring).

    >>> from gutbrain.io.knowledge import load_knowledge
    >>> kb = load_knowledge()
    >>> earned_grade("A", ("S005",), kb)  # one case-control study
    'B'
    >>> earned_grade("A", ("S002",), kb)  # a meta-analysis
    'A'
    >>> earned_grade("C", ("S002",), kb)  # never raised
    'C'
    """
    if grade != "A":
        return grade
    cited = [kb.sources[s] for s in source_ids if s in kb.sources]
    if any(is_review(s) for s in cited):
        return "A"
    cohorts = {s.source_id for s in cited if is_cohort(s)}
    return "A" if len(cohorts) >= 2 else "B"
