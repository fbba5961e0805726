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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from gutbrain import __version__
from gutbrain.cohort.store import CohortStore
from gutbrain.errors import ValidationError
from gutbrain.io.files import atomic_write_text

__all__ = ["Point", "available_outcomes", "render_cohort_report", "write_cohort_report"]

logger = logging.getLogger(__name__)

_WIDTH, _HEIGHT, _PAD = 560.0, 360.0, 44.0
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass(frozen=True, slots=True)
class Point:
    """One mark of an SVG scatter: position in pixels, colour, tooltip text."""

    x: float
    y: float
    colour: str
    label: str
    radius: float = 3.5


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("gutbrain.cohort", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    vmin, vmax = float(np.nanmin(values)), float(np.nanmax(values))
    if not math.isfinite(vmin) or vmax - vmin < 1e-12:
        return np.full(values.shape, (low + high) / 2)
    return low + (values - vmin) / (vmax - vmin) * (high - low)


def _ticks(values: np.ndarray) -> tuple[float, float]:
    return float(np.nanmin(values)), float(np.nanmax(values))


def _gradient(value: float, vmin: float, vmax: float) -> str:
    t = 0.0 if vmax - vmin < 1e-12 else (value - vmin) / (vmax - vmin)
    r, g, b = (round(a + (z - a) * t) for a, z in ((49, 220), (130, 50), (189, 47)))
    return f"#{r:02x}{g:02x}{b:02x}"


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
    xs = _scale(coords[:, 0], _PAD, _WIDTH - 10)
    ys = _scale(-coords[:, 1], 10, _HEIGHT - _PAD)
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
            float(x),
            float(y),
            c,
            f"{sid}" + ("" if values is None else f" ({outcome} = {values.loc[sid]})"),
        )
        for x, y, c, sid in zip(xs, ys, colours, table.index, strict=True)
    ]
    return {
        "points": points,
        "legend": legend,
        "xlabel": f"PCoA 1 ({explained[0]:.1%})",
        "ylabel": f"PCoA 2 ({explained[1]:.1%})" if len(explained) > 1 else "PCoA 2",
        "n": len(points),
        "rank": rank,
    }


def _volcano(frame: pd.DataFrame, max_qvalue: float) -> dict[str, Any] | None:
    usable = frame.loc[frame["pvalue"].notna() & frame["effect"].notna()]
    if usable.empty:
        return None
    effect = usable["effect"].to_numpy(dtype=float)
    logp = -np.log10(np.clip(usable["pvalue"].to_numpy(dtype=float), 1e-300, 1.0))
    bound = max(float(np.max(np.abs(effect))), 1e-6)
    xs = _PAD + (effect + bound) / (2 * bound) * (_WIDTH - _PAD - 10)
    ys = _scale(-logp, 10, _HEIGHT - _PAD) if np.ptp(logp) > 0 else np.full(logp.shape, _HEIGHT / 2)
    points = []
    for x, y, (_, row) in zip(xs, ys, usable.iterrows(), strict=True):
        significant = row["qvalue"] <= max_qvalue
        colour = ("#d62728" if row["effect"] > 0 else "#1f77b4") if significant else "#aaaaaa"
        label = f"{row['feature']}: effect {row['effect']:.2f}, q = {row['qvalue']:.3g}"
        points.append(Point(float(x), float(y), colour, label, 4.0 if significant else 3.0))
    return {
        "points": points,
        "xmin": -bound,
        "xmax": bound,
        "ymax": float(np.max(logp)),
        "zero_x": _PAD + 0.5 * (_WIDTH - _PAD - 10),
    }


def available_outcomes(store: CohortStore) -> list[str]:
    """Outcomes with an association summary in the store."""
    return sorted(
        p.name.removesuffix(".summary.json")
        for p in (store.root / "associations").glob("*.summary.json")
    )


def _read(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    frame: pd.DataFrame = pq.read_table(path).to_pandas()
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


def render_cohort_report(
    store: CohortStore,
    *,
    outcomes: Sequence[str] | None = None,
    rank: str = "genus",
    max_rows: int = 40,
) -> str:
    """Render the cohort report of ``store`` as an HTML string.

    ``outcomes`` defaults to every outcome with stored associations; the ordination is coloured
    by the first.
    """
    chosen = list(outcomes) if outcomes is not None else available_outcomes(store)
    metadata = store.metadata()
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
        lm = _read(store.root / "associations" / f"{outcome}.lm.parquet")
        anc = _read(store.root / "associations" / f"{outcome}.ancombc.parquet")
        guilds = _read(store.root / "associations" / f"{outcome}.guilds.parquet")
        presence = _read(store.root / "associations" / f"{outcome}.presence.parquet")
        primary = lm if lm is not None else anc
        sections.append(
            {
                "outcome": outcome,
                "summary": summary,
                "volcano": None if primary is None else _volcano(primary, max_q),
                "volcano_method": "CLR + OLS" if lm is not None else "ANCOM-BC",
                "tables": [
                    (name, frame.head(max_rows).to_dict("records"), len(frame))
                    for name, frame in (("CLR + OLS", lm), ("ANCOM-BC", anc))
                    if frame is not None
                ],
                "guilds": None if guilds is None else guilds.to_dict("records"),
                "presence": None
                if presence is None
                else presence.head(max_rows).to_dict("records"),
                "presence_total": 0 if presence is None else len(presence),
                "max_q": max_q,
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
        "ordination": ordination,
        "sections": sections,
        "width": _WIDTH,
        "height": _HEIGHT,
        "pad": _PAD,
        "fmt": _fmt,
    }
    return _environment().get_template("cohort.html.j2").render(**context)


def write_cohort_report(
    store: CohortStore,
    path: str | Path,
    *,
    outcomes: Sequence[str] | None = None,
    rank: str = "genus",
) -> Path:
    """Render the report and write it atomically to ``path``."""
    html = render_cohort_report(store, outcomes=outcomes, rank=rank)
    written = atomic_write_text(path, html)
    logger.info("cohort report written to %s", written)
    return written
