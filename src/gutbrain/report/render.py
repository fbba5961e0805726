"""Render a :class:`~gutbrain.result.Result` as one self-contained HTML file.

The page needs nothing but itself: CSS is inline, charts are inline SVG, there are no fonts,
images or scripts from anywhere else, and a Content-Security-Policy ``<meta>`` forbids the
browser from fetching anything (``default-src 'none'``). Every value that came from input
(sample names, taxon names, free text) is escaped: the Jinja2 environment is built with
``autoescape=True`` for every template whatever its file name (RELIABILITY.md W10), and the
result is embedded for machines only through ``tojson`` inside a non-executed
``<script type="application/json">``.

Rendering only: this module lays out values the result already holds; it computes no statistic.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from gutbrain import __version__
from gutbrain.io.files import atomic_write_text
from gutbrain.report.charts import (
    SCATTER_HEIGHT,
    SCATTER_WIDTH,
    Scatter,
    StackedBar,
    scatter,
    stacked_bar,
)
from gutbrain.result import (
    Alert,
    BetaDiversity,
    DiversityPercentile,
    Finding,
    Reference,
    Result,
    TaxonAbundance,
    TaxonOfInterest,
)

__all__ = ["INTERNAL_KEYS", "SECTION_IDS", "public_json", "render_report", "write_report"]

logger = logging.getLogger(__name__)

#: ``id`` of every ``<section>`` of the report, in page order (tests and the web layer use them).
SECTION_IDS: tuple[str, ...] = (
    "summary",
    "composition",
    "diversity",
    "guilds",
    "taxa",
    "markers",
    "questionnaires",
    "suggestions",
    "how-to-read",
    "methods",
    "references",
)

_ALERT_LABELS: Mapping[str, str] = {
    "crisis": "Get support now",
    "urgent": "Contact a clinician urgently",
    "prompt": "See a doctor soon",
    "advise": "Worth discussing with a doctor",
    "info": "Please note",
}

_GRADE_TITLES: Mapping[str, str] = {
    "A": "Grade A: replicated (meta-analysis or several large cohorts); still an association",
    "B": "Grade B: one large cohort or several small studies in the same direction",
    "C": "Grade C: a single small study, animal or laboratory evidence only",
}

#: Runs before printing so that folded details are printed too (its hash goes into the CSP).
_PRINT_SCRIPT = (
    "window.addEventListener('beforeprint',function(){"
    "document.querySelectorAll('details').forEach(function(d){d.open=true;});});"
)


@dataclass(frozen=True, slots=True)
class _SummaryItem:
    title: str
    text: str
    anchor: str


def _environment() -> jinja2.Environment:
    # autoescape=True, NOT select_autoescape(): our templates end in .j2 (RELIABILITY.md §0.9).
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gutbrain.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = _pct
    env.filters["pct_range"] = _pct_range
    env.filters["num"] = _num
    env.filters["count"] = _count
    env.filters["label"] = _label
    env.filters["ordinal"] = _ordinal
    env.filters["plain"] = _plain
    env.filters["short_species"] = _short_species
    env.globals["grade_title"] = lambda grade: _GRADE_TITLES.get(str(grade), "")
    env.globals["alert_label"] = lambda level: _ALERT_LABELS.get(str(level), str(level))
    return env


def _pct(value: float | None, digits: int = 1) -> str:
    """Format a fraction (0–1) as a percent string: 0.1234 -> "12.3 %"."""
    if value is None:
        return "–"
    percent = 100.0 * value
    if 0.0 < percent < 10 ** (-digits):
        return f"<{10 ** (-digits):.{digits}f} %"
    return f"{percent:.{digits}f} %"


def _pct_range(low: float | None, high: float | None, digits: int = 1) -> str:
    if low is None or high is None:
        return "–"
    return f"{100.0 * low:.{digits}f}–{100.0 * high:.{digits}f} %"


def _num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def _count(value: float | int | None) -> str:
    if value is None:
        return "–"
    return f"{round(value):,}"


def _ordinal(value: float) -> str:
    """Format a percentile as an English ordinal: 1 -> "1st", 72.3 -> "72nd", 13 -> "13th"."""
    n = round(value)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plain(value: Any) -> str:
    """Format a parameter value for people: nested mappings as ``key=value`` lists."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if value is None:
        return "–"
    return str(value)


def _short_species(name: str) -> str:
    """ "Escherichia coli" -> "E. coli"; a group's name keeps its word "group"."""
    words = name.split()
    if len(words) >= 2 and words[0][:1].isupper() and words[1][:1].islower():
        return " ".join([f"{words[0][0]}.", *words[1:]])
    return name


def _label(value: str) -> str:
    """Turn an identifier such as ``too_short`` into "too short"."""
    return str(value).replace("_", " ")


def _bar(result: Result, rank: str, title: str) -> StackedBar | None:
    taxa: Sequence[TaxonAbundance] = result.profile.top_taxa.get(rank, ())
    if not taxa:
        return None
    items = list(zip(_display_names(taxa), (taxon.abundance for taxon in taxa), strict=True))
    return stacked_bar(title, items, unassigned=result.profile.unassigned.get(rank, 0.0))


def _display_names(taxa: Sequence[TaxonAbundance]) -> list[str]:
    """Names, with the family added where one name stands for taxa of different lineages."""
    counts: dict[str, int] = {}
    for taxon in taxa:
        counts[taxon.name] = counts.get(taxon.name, 0) + 1
    names = []
    for taxon in taxa:
        family = taxon.lineage.get("family")
        if counts[taxon.name] > 1 and family and taxon.rank != "family":
            names.append(f"{taxon.name} ({family})")
        else:
            names.append(taxon.name)
    return names


@dataclass(frozen=True, slots=True)
class _CohortRow:
    cohort: str
    method: str
    n_samples: int
    note: str
    comparable: bool
    percentiles: dict[str, float]
    headline: bool = False


def _percentile_matrix(
    percentiles: Sequence[DiversityPercentile],
) -> tuple[list[str], list[_CohortRow]]:
    """Arrange percentiles as cohorts (rows) x metrics (columns), keeping the result's order."""
    metrics: list[str] = []
    rows: dict[str, _CohortRow] = {}
    for p in percentiles:
        if p.metric not in metrics:
            metrics.append(p.metric)
        row = rows.get(p.cohort)
        if row is None:
            row = _CohortRow(p.cohort, p.method, p.n_samples, p.note, p.comparable, {}, p.headline)
            rows[p.cohort] = row
        row.percentiles[p.metric] = p.percentile
    return metrics, list(rows.values())


def _summary(result: Result) -> list[_SummaryItem]:
    """Pick the three to five things that matter, from values the result already holds."""
    items: list[_SummaryItem] = []
    non_info = [a for a in result.alerts if a.level != "info"]
    if non_info:
        titles = "; ".join(a.title for a in non_info[:3])
        items.append(_SummaryItem("Please read the messages above first", titles, "summary"))
    genera = result.profile.top_taxa.get("genus") or result.profile.top_taxa.get("family") or ()
    if genera:
        named = [f"{t.name} ({_pct(t.abundance, 0)})" for t in genera[:3]]
        items.append(
            _SummaryItem(
                "Who lives there",
                "Most reads came from " + ", ".join(named) + ".",
                "composition",
            )
        )
    for diversity in result.diversity:
        shannon = diversity.metrics.get("shannon")
        if not diversity.computable or shannon is None:
            continue
        text = f"Shannon diversity at {diversity.rank} level is {shannon:.2f}"
        head = next(
            (p for p in diversity.percentiles if p.headline and p.metric == "shannon"), None
        )
        if head is not None:
            text += (
                f", the {_ordinal(head.percentile)} percentile of {head.cohort} "
                f"({head.n_samples} samples, {head.method})"
            )
        text += ". There is no universal normal range."
        items.append(_SummaryItem("Diversity", text, "diversity"))
        break
    computable = [g for g in result.guilds if g.computable and g.value is not None]
    if computable:
        parts = [
            f"{g.name} {_pct(g.value, 0)} (data coverage {g.confidence})" for g in computable[:3]
        ]
        items.append(
            _SummaryItem(
                "Gut–brain guilds (genetic potential)",
                "Share of reads from: " + "; ".join(parts) + ".",
                "guilds",
            )
        )
    scored = [q for q in result.questionnaires if q.scorable and q.score is not None and q.band]
    if scored and len(items) < 5:
        parts = [f"{q.name} {_num(q.score)} ({q.band})" for q in scored[:3]]
        items.append(
            _SummaryItem(
                "Questionnaires (screens, not diagnoses)", "; ".join(parts) + ".", "questionnaires"
            )
        )
    return items[:5]


def _findings_by_category(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.category, []).append(finding)
    return grouped


@dataclass(frozen=True, slots=True)
class _TaxonGroup:
    taxon: str
    abundance: float
    matched_as: tuple[str, ...]
    items: tuple[TaxonOfInterest, ...]
    caveats: tuple[str, ...]
    standing: str = ""


def _group_taxa(taxa: Sequence[TaxonOfInterest]) -> list[_TaxonGroup]:
    """One group per taxon (first-appearance order), caveats shown once per taxon."""
    order: list[str] = []
    members: dict[str, list[TaxonOfInterest]] = {}
    for item in taxa:
        if item.taxon not in members:
            order.append(item.taxon)
            members[item.taxon] = []
        members[item.taxon].append(item)
    groups = []
    for taxon in order:
        items = members[taxon]
        matched = tuple(
            dict.fromkeys(name for item in items for name in item.matched_as if name != taxon)
        )
        caveats = tuple(dict.fromkeys(c for item in items for c in item.caveats))
        groups.append(
            _TaxonGroup(
                taxon, items[0].abundance, matched, tuple(items), caveats, items[0].standing
            )
        )
    return groups


def _guild_findings(result: Result) -> tuple[dict[str, list[Finding]], list[Finding]]:
    """Guild findings placed in the card of the guild sharing a knowledge id; the rest apart."""
    placed: dict[str, list[Finding]] = {}
    rest: list[Finding] = []
    for finding in result.findings:
        if finding.category != "guild":
            continue
        guild = next(
            (g for g in result.guilds if set(g.knowledge_ids) & set(finding.knowledge_ids)), None
        )
        if guild is None:
            rest.append(finding)
        else:
            placed.setdefault(guild.guild_id, []).append(finding)
    return placed, rest


def _unshown_taxon_findings(result: Result) -> list[Finding]:
    """Taxon findings whose statements the taxa table does not already show."""
    shown = {t.knowledge_id for t in result.taxa_of_interest}
    return [
        f
        for f in result.findings
        if f.category == "taxon" and not (f.knowledge_ids and set(f.knowledge_ids) <= shown)
    ]


def _timings(result: Result) -> list[tuple[str, float]]:
    raw = result.provenance.run_info.get("stage_seconds")
    if not isinstance(raw, Mapping):
        return []
    return [(str(k), float(v)) for k, v in raw.items() if isinstance(v, int | float)]


def _assignment(result: Result) -> list[tuple[str, int]]:
    raw = result.provenance.run_info.get("assignment")
    if not isinstance(raw, Mapping):
        return []
    return [(str(k), int(v)) for k, v in raw.items() if isinstance(v, int) and k != "reads_in"]


def _input_digests(result: Result) -> list[tuple[str, str]]:
    raw = result.provenance.run_info.get("input_sha256")
    if not isinstance(raw, Mapping):
        return []
    return [(str(k), str(v)) for k, v in raw.items()]


def _created(result: Result) -> str:
    try:
        when = datetime.fromisoformat(result.provenance.created.replace("Z", "+00:00"))
    except ValueError:
        return result.provenance.created
    return when.strftime("%d %B %Y, %H:%M UTC")


#: Keys of internal verification notes: kept in result.json, left out of the HTML (and its twin).
INTERNAL_KEYS = frozenset({"verification", "verification_note"})


def public_json(value: Any) -> Any:
    """``value`` (a JSON-like tree) without :data:`INTERNAL_KEYS` at any depth."""
    if isinstance(value, dict):
        return {k: public_json(v) for k, v in value.items() if k not in INTERNAL_KEYS}
    if isinstance(value, list):
        return [public_json(v) for v in value]
    return value


def _beta_plots(result: Result) -> list[tuple[BetaDiversity, Scatter]]:
    """One PCoA scatter per reference cohort and metric (the sample as a marked point)."""
    plots = []
    for b in result.beta_diversity:
        px, py = (100 * b.axis_explained[0], 100 * b.axis_explained[1])
        plots.append(
            (
                b,
                scatter(
                    b.cohort_points,
                    b.sample_point,
                    title=f"{b.metric_label} PCoA of {b.cohort}",
                    x_label=f"PCoA axis 1 ({px:.0f} % of variation)",
                    y_label=f"PCoA axis 2 ({py:.0f} % of variation)",
                ),
            )
        )
    return plots


def _full_profile(result: Result) -> list[tuple[str, tuple[TaxonAbundance, ...]]]:
    """Complete taxon lists (the expandable full profile), narrowest rank first."""
    full = result.profile.all_taxa or result.profile.top_taxa
    return [(rank, full[rank]) for rank in ("species", "genus") if full.get(rank)]


def _context(result: Result) -> dict[str, Any]:
    references: dict[str, Reference] = {r.source_id: r for r in result.references}
    crisis: list[Alert] = [a for a in result.alerts if a.level == "crisis"]
    others: list[Alert] = [a for a in result.alerts if a.level != "crisis"]
    bars = [
        bar
        for bar in (
            _bar(result, "phylum", "By phylum"),
            _bar(result, "genus", "By genus"),
        )
        if bar is not None
    ]
    species_rank = next(
        (r for r in ("species", "genus", "family") if result.profile.top_taxa.get(r)), None
    )
    run_info = result.provenance.run_info
    guild_findings, unplaced_guild_findings = _guild_findings(result)
    script_hash = base64.b64encode(hashlib.sha256(_PRINT_SCRIPT.encode()).digest()).decode()
    return {
        "r": result,
        "crisis_alerts": crisis,
        "other_alerts": others,
        "summary": _summary(result),
        "bars": bars,
        "species_rank": species_rank,
        "species": result.profile.top_taxa.get(species_rank, ()) if species_rank else (),
        "findings": _findings_by_category(result.findings),
        "references": references,
        "example": bool(run_info.get("example_data")),
        "from_reads": result.read_qc is not None,
        "timings": _timings(result),
        "created": _created(result),
        "renderer_version": __version__,
        "print_script": _PRINT_SCRIPT,
        "script_hash": script_hash,
        "section_ids": SECTION_IDS,
        "percentile_matrix": _percentile_matrix,
        "display_names": _display_names,
        "assignment": _assignment(result),
        "input_digests": _input_digests(result),
        "taxa_groups": _group_taxa(result.taxa_of_interest),
        "guild_findings": guild_findings,
        "unplaced_guild_findings": unplaced_guild_findings,
        "unshown_taxon_findings": _unshown_taxon_findings(result),
        "result_json": public_json(result.model_dump(mode="json")),
        "beta_plots": _beta_plots(result),
        "scatter_size": (SCATTER_WIDTH, SCATTER_HEIGHT),
        "full_profile": _full_profile(result),
    }


def render_report(result: Result) -> str:
    """Return the report of ``result`` as one self-contained HTML document.

    Parameters
    ----------
    result
        The interpreted sample (its JSON twin is what ``gutbrain interpret`` writes).

    Returns
    -------
    str
        UTF-8 HTML with inline CSS and SVG, no external resource, all input text escaped.

    Examples
    --------
    >>> from gutbrain.report import render_report  # doctest: +SKIP
    >>> html = render_report(read_result("result.json"))  # doctest: +SKIP
    """
    template = _environment().get_template("report.html.j2")
    html = template.render(**_context(result))
    logger.debug("rendered report for one sample: %d characters", len(html))
    return html


def write_report(result: Result, path: str | Path) -> Path:
    """Render ``result`` and write the HTML atomically to ``path``; return the path.

    Raises
    ------
    OutputError
        When the file cannot be written (missing folder permissions, disk full).
    """
    return atomic_write_text(path, render_report(result))
