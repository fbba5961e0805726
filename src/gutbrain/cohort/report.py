"""The cohort HTML report: one self-contained file (inline CSS and SVG, no scripts, no fetches).

Sections: run summary, sample QC table, beta-diversity ordination (PCoA of Bray–Curtis)
coloured by the outcome, volcano plot and table of taxon associations (both methods and their
agreement), guild associations, PERMANOVA. Every value from input (sample and taxon names,
covariate values) is escaped: the Jinja2 environment uses ``autoescape=True`` for every template.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from gutbrain import __version__
from gutbrain.cohort.store import CohortStore
from gutbrain.errors import ErrorCode, GutbrainError, InputFormatError, OutputError, ValidationError
from gutbrain.io.files import atomic_write_text

__all__ = [
    "Point",
    "available_outcomes",
    "nice_ticks",
    "render_cohort_report",
    "write_cohort_report",
]

logger = logging.getLogger(__name__)

#: Plot geometry (SVG user units; the SVG scales to the page width).
_WIDTH, _HEIGHT = 640.0, 420.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 84.0, 16.0, 16.0, 58.0
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
#: Significant taxa labelled by name in a volcano plot (most significant first).
_MAX_LABELS = 12


@dataclass(frozen=True, slots=True)
class Point:
    """One mark of an SVG scatter: position in pixels, colour, tooltip text."""

    x: float
    y: float
    colour: str
    label: str
    radius: float = 3.5


@dataclass(frozen=True, slots=True)
class _Tick:
    position: float
    label: str


@dataclass(frozen=True, slots=True)
class _Label:
    x: float
    y: float
    text: str
    anchor: str


@dataclass(frozen=True, slots=True)
class _Plot:
    """A scatter with axes: ticks and labels on both axes, optional point labels and guides."""

    points: list[Point]
    xticks: list[_Tick]
    yticks: list[_Tick]
    xlabel: str
    ylabel: str
    labels: list[_Label] = field(default_factory=list)
    vlines: list[float] = field(default_factory=list)
    hlines: list[float] = field(default_factory=list)


def _environment() -> jinja2.Environment:
    # the personal report's stylesheet is shared: both templates include report.css
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("gutbrain.cohort", "templates"),
                jinja2.PackageLoader("gutbrain.report", "templates"),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 × 10^k steps) covering ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high - low < 1e-12:
        return [low]
    raw = (high - low) / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [0.0 if k == 0 else float(f"{k * step:.12g}") for k in range(first, last + 1)]


def _tick_label(value: float) -> str:
    return f"{value:g}"


class _Axis:
    """Maps data values onto a pixel range, with room for round ticks."""

    def __init__(self, low: float, high: float, start: float, stop: float) -> None:
        if not (math.isfinite(low) and math.isfinite(high)) or high - low < 1e-12:
            centre = low if math.isfinite(low) else 0.0
            low, high = centre - 1.0, centre + 1.0
        pad = (high - low) * 0.05
        self.ticks = nice_ticks(low - pad, high + pad)
        self.low = min(low - pad, self.ticks[0]) if self.ticks else low - pad
        self.high = max(high + pad, self.ticks[-1]) if self.ticks else high + pad
        self.start, self.stop = start, stop

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.stop - self.start)

    def tick_marks(self) -> list[_Tick]:
        return [_Tick(round(self(t), 1), _tick_label(t)) for t in self.ticks]


def _gradient(value: float, vmin: float, vmax: float) -> str:
    t = 0.0 if vmax - vmin < 1e-12 else (value - vmin) / (vmax - vmin)
    r, g, b = (round(a + (z - a) * t) for a, z in ((49, 220), (130, 50), (189, 47)))
    return f"#{r:02x}{g:02x}{b:02x}"


def _axes(xs: np.ndarray, ys: np.ndarray) -> tuple[_Axis, _Axis]:
    x_axis = _Axis(float(np.nanmin(xs)), float(np.nanmax(xs)), _LEFT, _WIDTH - _RIGHT)
    y_axis = _Axis(float(np.nanmin(ys)), float(np.nanmax(ys)), _HEIGHT - _BOTTOM, _TOP)
    return x_axis, y_axis


def _ordination(
    store: CohortStore, metadata: pd.DataFrame, outcome: str | None, rank: str
) -> dict[str, Any] | None:
    from scipy.spatial.distance import pdist, squareform
    from skbio import DistanceMatrix
    from skbio.stats.ordination import pcoa

    rows = store.read_profiles(rank=rank)
    if rows.empty:
        return None
    table = rows.pivot_table(
        index="sample_id", columns="taxon", values="abundance", aggfunc="sum", fill_value=0.0
    )
    table = table.loc[table.sum(axis=1) > 0]
    if len(table) < 3:
        return None
    rel = table.div(table.sum(axis=1), axis=0).to_numpy()
    dm = DistanceMatrix(squareform(pdist(rel, "braycurtis")), ids=[str(i) for i in table.index])
    result = pcoa(dm, number_of_dimensions=2, method="fsvd" if len(table) > 500 else "eigh")
    coords = result.samples.to_numpy()[:, :2]
    explained = result.proportion_explained.to_numpy()[:2]
    x_axis, y_axis = _axes(coords[:, 0], coords[:, 1])
    legend: list[tuple[str, str]] = []
    colours = ["#555555"] * len(table)
    values = None
    if outcome and outcome in metadata.columns:
        values = metadata[outcome].reindex(table.index)
        present = values.dropna()
        if pd.api.types.is_numeric_dtype(present) and present.nunique() > 2:
            vmin, vmax = float(present.min()), float(present.max())
            colours = ["#bbbbbb" if pd.isna(v) else _gradient(float(v), vmin, vmax) for v in values]
            legend = [
                (f"{outcome} = {vmin:g}", _gradient(vmin, vmin, vmax)),
                (f"{outcome} = {vmax:g}", _gradient(vmax, vmin, vmax)),
            ]
        else:
            levels = sorted(map(str, pd.unique(present)))
            lookup = {lv: _PALETTE[i % len(_PALETTE)] for i, lv in enumerate(levels)}
            colours = ["#bbbbbb" if pd.isna(v) else lookup[str(v)] for v in values]
            legend = [(f"{outcome} = {lv}", lookup[lv]) for lv in levels]
    points = [
        Point(
            round(x_axis(float(x)), 1),
            round(y_axis(float(y)), 1),
            c,
            f"{sid}" + ("" if values is None else f" ({outcome} = {values.loc[sid]})"),
        )
        for (x, y), c, sid in zip(coords, colours, table.index, strict=True)
    ]
    plot = _Plot(
        points=points,
        xticks=x_axis.tick_marks(),
        yticks=y_axis.tick_marks(),
        xlabel=f"PCoA 1 ({explained[0]:.1%} of variation)",
        ylabel=(f"PCoA 2 ({explained[1]:.1%} of variation)" if len(explained) > 1 else "PCoA 2"),
    )
    return {"plot": plot, "legend": legend, "n": len(points), "rank": rank}


def _volcano(frame: pd.DataFrame, max_qvalue: float) -> dict[str, Any] | None:
    usable = frame.loc[frame["pvalue"].notna() & frame["effect"].notna()]
    if usable.empty:
        return None
    effect = usable["effect"].to_numpy(dtype=float)
    logp = -np.log10(np.clip(usable["pvalue"].to_numpy(dtype=float), 1e-300, 1.0))
    bound = max(float(np.max(np.abs(effect))), 1e-6)
    x_axis = _Axis(-bound, bound, _LEFT, _WIDTH - _RIGHT)
    y_axis = _Axis(0.0, max(float(np.max(logp)), 1.0), _HEIGHT - _BOTTOM, _TOP)
    points = []
    significant_rows = []
    for e, lp, (_, row) in zip(effect, logp, usable.iterrows(), strict=True):
        significant = bool(row["qvalue"] <= max_qvalue)
        colour = ("#d62728" if e > 0 else "#1f77b4") if significant else "#9aa3b2"
        label = (
            f"{row['feature']}: effect {e:.2f}, p = {row['pvalue']:.3g}, q = {row['qvalue']:.3g}"
        )
        x, y = round(x_axis(float(e)), 1), round(y_axis(float(lp)), 1)
        points.append(Point(x, y, colour, label, 4.5 if significant else 3.0))
        if significant:
            significant_rows.append((float(row["qvalue"]), x, y, str(row["feature"])))
    labels = []
    for _, x, y, name in sorted(significant_rows)[:_MAX_LABELS]:
        right_half = x > (_LEFT + _WIDTH - _RIGHT) / 2
        labels.append(
            _Label(x - 7 if right_half else x + 7, y + 4, name, "end" if right_half else "start")
        )
    plot = _Plot(
        points=points,
        xticks=x_axis.tick_marks(),
        yticks=y_axis.tick_marks(),
        xlabel="effect (CLR log-ratio scale)",
        ylabel="−log10 p",
        labels=labels,
        vlines=[round(x_axis(0.0), 1)],
    )
    return {
        "plot": plot,
        "n_significant": len(significant_rows),
        "n_labelled": len(labels),
    }


def available_outcomes(store: CohortStore) -> list[str]:
    """Outcomes with an association summary in the store."""
    return sorted(
        p.name.removesuffix(".summary.json")
        for p in (store.root / "associations").glob("*.summary.json")
    )


def _read(store: CohortStore, name: str) -> pd.DataFrame | None:
    path = store.root / "associations" / name
    if not path.is_file():
        return None
    try:
        frame: pd.DataFrame = pq.read_table(path).to_pandas()
    except (OSError, ValueError) as exc:
        message = (
            f"store file associations/{name} cannot be read ({exc}); rerun `gutbrain cohort "
            "associate` to rewrite it"
        )
        raise InputFormatError(message, path=store.root, code=ErrorCode.STORE) from None
    return frame


def _qc_table(store: CohortStore) -> list[dict[str, Any]]:
    alpha = store.read_scores(kind="alpha")
    shannon: dict[str, float] = {}
    if not alpha.empty:
        hit = alpha.loc[alpha["name"].str.lower().str.contains("shannon")]
        shannon = {str(k): float(v) for k, v in hit.groupby("sample_id")["value"].first().items()}
    rows = []
    for record in store.records().values():
        rows.append(
            {
                "sample_id": record.sample_id,
                "status": record.status,
                "total_reads": record.total_reads,
                "n_taxa": record.n_taxa,
                "shannon": shannon.get(record.sample_id),
                "seconds": record.seconds,
                "error": (
                    None
                    if record.error_code is None
                    else f"{record.error_code}: {record.error_message}"
                ),
            }
        )
    return rows


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value != 0 and (abs(value) < 10 ** (-digits) or abs(value) >= 1e5):
            return f"{value:.{digits - 1}e}"
        return (
            f"{value:.{digits}g}"
            if abs(value) < 1
            else f"{value:,.{digits}f}".rstrip("0").rstrip(".")
        )
    return str(value)


def _guild_names() -> dict[str, str]:
    from gutbrain.io.knowledge import load_knowledge

    try:
        kb = load_knowledge()
    except GutbrainError:  # the bundled knowledge is broken: fall back to the IDs
        logger.warning("guild names unavailable; the cohort report shows guild IDs")
        return {}
    return {g.guild: g.name for g in kb.guilds}


def _write_sample_reports(store: CohortStore, folder: Path) -> dict[str, str]:
    """Render each done sample's personal report into ``folder``; return sample → file name."""
    from pydantic import ValidationError as SchemaError

    from gutbrain.report import write_report
    from gutbrain.result import Result

    links: dict[str, str] = {}
    created = False
    for record in store.records().values():
        text = store.read_result_json(record.sample_id)
        if text is None:
            continue
        try:
            result = Result.model_validate_json(text)
        except SchemaError:
            logger.warning(
                "sample %s: stored result has an older format; no personal report (rerun the "
                "cohort to refresh it)",
                record.sample_id,
            )
            continue
        if not created:
            try:
                folder.mkdir(mode=0o700, exist_ok=True)
            except OSError as exc:
                message = f"{folder}: cannot create ({exc.strerror or exc})"
                raise OutputError(message) from exc
            created = True
        name = f"{record.sample_id}.html"
        write_report(result, folder / name)
        links[record.sample_id] = f"{folder.name}/{name}"
    return links


def render_cohort_report(
    store: CohortStore,
    *,
    outcomes: Sequence[str] | None = None,
    rank: str = "genus",
    sample_links: Mapping[str, str] | None = None,
) -> str:
    """Render the cohort report of ``store`` as an HTML string.

    ``outcomes`` defaults to every outcome with stored associations; the ordination is coloured
    by the first. Tables are complete (no scrolling boxes, everything prints); ``sample_links``
    maps sample IDs to their personal reports (relative URLs).
    """
    chosen = list(outcomes) if outcomes is not None else available_outcomes(store)
    metadata = store.metadata()
    guild_names = _guild_names()
    sections = []
    for outcome in chosen:
        summary_path = store.root / "associations" / f"{outcome}.summary.json"
        if not summary_path.is_file():
            message = (
                f"no associations for {outcome!r} in {store.root}; run "
                f"`gutbrain cohort associate {store.root} --outcome {outcome}` first"
            )
            raise ValidationError(message)
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        max_q = float(summary["settings"].get("max_qvalue", 0.05))
        lm = _read(store, f"{outcome}.lm.parquet")
        anc = _read(store, f"{outcome}.ancombc.parquet")
        guilds = _read(store, f"{outcome}.guilds.parquet")
        presence = _read(store, f"{outcome}.presence.parquet")
        primary = lm if lm is not None else anc
        guild_rows = None
        if guilds is not None:
            guild_rows = guilds.to_dict("records")
            for row in guild_rows:
                row["name"] = guild_names.get(str(row["feature"]), str(row["feature"]))
        sections.append(
            {
                "outcome": outcome,
                "summary": summary,
                "volcano": None if primary is None else _volcano(primary, max_q),
                "volcano_method": "CLR + OLS" if lm is not None else "ANCOM-BC",
                "tables": [
                    (name, frame.to_dict("records"))
                    for name, frame in (("CLR + OLS", lm), ("ANCOM-BC", anc))
                    if frame is not None
                ],
                "guilds": guild_rows,
                "presence": None if presence is None else presence.to_dict("records"),
                "max_q": max_q,
                "placeholders": summary["settings"].get("placeholder_taxa_excluded", []),
            }
        )
    colour_by = chosen[0] if chosen else None
    ordination = _ordination(store, metadata, colour_by, rank)
    qc = _qc_table(store)
    context = {
        "version": __version__,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "n_samples": len(qc),
        "n_done": sum(1 for r in qc if r["status"] == "done"),
        "n_failed": sum(1 for r in qc if r["status"] == "failed"),
        "qc": qc,
        "links": dict(sample_links or {}),
        "ordination": ordination,
        "sections": sections,
        "width": _WIDTH,
        "height": _HEIGHT,
        "left": _LEFT,
        "right": _RIGHT,
        "top": _TOP,
        "bottom": _BOTTOM,
        "fmt": _fmt,
    }
    return _environment().get_template("cohort.html.j2").render(**context)


def write_cohort_report(
    store: CohortStore,
    path: str | Path,
    *,
    outcomes: Sequence[str] | None = None,
    rank: str = "genus",
    sample_reports: bool = True,
) -> Path:
    """Render the report and write it atomically to ``path``.

    With ``sample_reports`` each done sample's personal report is written to
    ``<path stem>-samples/<sample>.html`` (0600 files in a 0700 folder: personal data) and the
    cohort report links to it.
    """
    target = Path(path)
    links: dict[str, str] = {}
    if sample_reports:
        links = _write_sample_reports(store, target.with_name(f"{target.stem}-samples"))
    html = render_cohort_report(store, outcomes=outcomes, rank=rank, sample_links=links)
    written = atomic_write_text(target, html)
    logger.info("cohort report written to %s", written)
    return written
