"""Associations between a cohort's taxa/guilds and an outcome (a mental-health score, a diagnosis).

:func:`associate_tables` is the pure analysis (tables in, tables out); :func:`associate_store`
reads a cohort store, runs it and writes the results back under ``associations/``. The methods
and their choices are described in :mod:`gutbrain.cohort.stats` and ``docs/cohort.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from gutbrain.cohort.stats import (
    Agreement,
    ancombc_associations,
    clr,
    linear_associations,
    method_agreement,
    outcome_kind,
    permanova_outcome,
    presence_associations,
    prevalence_filter,
)
from gutbrain.cohort.store import CohortStore
from gutbrain.errors import OptionError, ValidationError

__all__ = [
    "AssociationResult",
    "Method",
    "associate_store",
    "associate_tables",
    "feature_table",
    "guild_table",
    "is_placeholder_taxon",
    "outcome_metadata",
]

logger = logging.getLogger(__name__)

Method = Literal["lm", "ancombc", "both"]


@dataclass(frozen=True, slots=True)
class AssociationResult:
    """Everything one association analysis produced.

    ``taxa_lm`` / ``taxa_ancombc``: one row per taxon (``feature, effect, ci_low, ci_high,
    std_error, pvalue, qvalue, n_samples, prevalence, mean_abundance``); ``guilds``: the same for
    guild scores (OLS on the raw score); ``presence``: for a case/control outcome, Fisher's exact
    test of each taxon's presence (log odds ratio as effect; rare taxa included); ``permanova``
    and ``agreement`` as computed by :mod:`gutbrain.cohort.stats`; ``settings`` records every
    choice made.
    """

    outcome: str
    term: str
    taxa_lm: pd.DataFrame | None
    taxa_ancombc: pd.DataFrame | None
    guilds: pd.DataFrame | None
    presence: pd.DataFrame | None
    permanova: dict[str, Any] | None
    agreement: Agreement | None
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary (settings, PERMANOVA, agreement, counts of findings)."""
        q = float(self.settings.get("max_qvalue", 0.05))

        def hits(frame: pd.DataFrame | None) -> int | None:
            return None if frame is None else int((frame["qvalue"] <= q).sum())

        return {
            "outcome": self.outcome,
            "term": self.term,
            "settings": self.settings,
            "permanova": self.permanova,
            "agreement": None if self.agreement is None else dataclasses.asdict(self.agreement),
            "significant": {
                "lm": hits(self.taxa_lm),
                "ancombc": hits(self.taxa_ancombc),
                "guilds": hits(self.guilds),
                "presence": hits(self.presence),
            },
            "tested": {
                "lm": None if self.taxa_lm is None else len(self.taxa_lm),
                "ancombc": None if self.taxa_ancombc is None else len(self.taxa_ancombc),
                "guilds": None if self.guilds is None else len(self.guilds),
                "presence": None if self.presence is None else len(self.presence),
            },
        }


def _annotate(result: pd.DataFrame, table: pd.DataFrame, method: str) -> pd.DataFrame:
    relative = table.div(table.sum(axis=1), axis=0)
    prevalence = (table > 0).mean(axis=0)
    mean_abundance = relative.mean(axis=0)
    out = result.copy()
    out.insert(1, "method", method)
    out["prevalence"] = out["feature"].map(prevalence.rename(index=str)).astype(float)
    out["mean_abundance"] = out["feature"].map(mean_abundance.rename(index=str)).astype(float)
    return out.sort_values(["qvalue", "pvalue"], kind="mergesort").reset_index(drop=True)


def associate_tables(
    table: pd.DataFrame,
    metadata: pd.DataFrame,
    outcome: str,
    *,
    counts: bool,
    covariates: Sequence[str] = (),
    method: Method = "both",
    guilds: pd.DataFrame | None = None,
    min_prevalence: float = 0.1,
    max_qvalue: float = 0.05,
    permutations: int = 999,
    seed: int = 0,
) -> AssociationResult:
    """Run the association analysis on a samples × taxa table.

    Parameters
    ----------
    table
        Samples × taxa: read counts (``counts=True``) or abundances.
    metadata
        Samples × variables, holding ``outcome`` and ``covariates``.
    outcome
        The tested variable; two-valued columns are analysed as case/control.
    counts
        Whether ``table`` holds read counts (decides the CLR zero handling and ANCOM-BC input).
    covariates
        Adjustment variables.
    method
        ``"lm"`` (CLR + OLS), ``"ancombc"`` or ``"both"`` (with their agreement).
    guilds
        Optional samples × guild scores, tested by OLS on the raw score.
    min_prevalence
        Taxa present in fewer than this fraction of the analysed samples are not tested.
    max_qvalue
        FDR level for calling an association and for the agreement.
    permutations, seed
        PERMANOVA permutations and random seed.
    """
    if method not in ("lm", "ancombc", "both"):
        message = f"method must be lm, ancombc or both, got {method!r}"
        raise OptionError(message)
    used = [outcome, *covariates]
    missing = [c for c in used if c not in metadata.columns]
    if missing:
        message = (
            f"no column {', '.join(map(repr, missing))} for these samples; "
            f"available: {', '.join(map(str, metadata.columns)) or 'none'}"
        )
        raise ValidationError(message)
    meta = metadata.loc[metadata.index.intersection(table.index), used].dropna()
    if len(meta) < 3:
        message = f"only {len(meta)} samples have {outcome!r} and the covariates; need more"
        raise ValidationError(message)
    data = table.loc[meta.index]
    data = data.loc[data.sum(axis=1) > 0]
    meta = meta.loc[data.index]
    filtered = prevalence_filter(data, min_prevalence=min_prevalence)
    filtered = filtered.loc[:, filtered.sum(axis=0) > 0]
    if filtered.shape[1] < 2:
        message = (
            f"{filtered.shape[1]} taxa pass the prevalence filter ({min_prevalence:.0%}); "
            "lower --min-prevalence or check the profiles"
        )
        raise ValidationError(message)
    logger.info(
        "associating %s with %d taxa over %d samples (covariates: %s)",
        outcome,
        filtered.shape[1],
        len(meta),
        ", ".join(covariates) or "none",
    )
    term = outcome
    taxa_lm = taxa_anc = None
    if method in ("lm", "both"):
        lm = linear_associations(clr(filtered, counts=counts), meta, outcome, covariates=covariates)
        term = str(lm.attrs.get("term", outcome))
        taxa_lm = _annotate(lm, filtered, "clr_ols")
    if method in ("ancombc", "both"):
        anc_input = filtered if counts else _replace_zeros(filtered)
        anc = ancombc_associations(
            anc_input, meta, outcome, covariates=covariates, pseudocount=1.0 if counts else 0.0
        )
        term = str(anc.attrs.get("term", term))
        taxa_anc = _annotate(anc, filtered, "ancombc")
    agreement = None
    if taxa_lm is not None and taxa_anc is not None:
        agreement = method_agreement(taxa_lm, taxa_anc, max_qvalue=max_qvalue)
    guild_result = None
    if guilds is not None and not guilds.empty:
        usable = guilds.loc[guilds.index.intersection(meta.index)]
        usable = usable.loc[:, usable.notna().all(axis=0) & (usable.std(axis=0) > 0)]
        if usable.shape[1] and len(usable) > len(covariates) + 3:
            guild_result = linear_associations(
                usable, meta.loc[usable.index], outcome, covariates=covariates
            )
            guild_result.insert(1, "method", "ols_score")
            guild_result = guild_result.sort_values("pvalue", kind="mergesort").reset_index(
                drop=True
            )
    presence = None
    if outcome_kind(meta[outcome]) == "binary":
        presence = presence_associations(data, meta, outcome)
        presence = None if presence.empty else _annotate(presence, data, "fisher_presence")
    permanova = None
    try:
        permanova = permanova_outcome(data, meta, outcome, permutations=permutations, seed=seed)
    except ValidationError as exc:
        logger.warning("PERMANOVA skipped: %s", exc)
    settings = {
        "outcome": outcome,
        "covariates": list(covariates),
        "method": method,
        "counts": counts,
        "zero_handling": (
            "counts + 0.5 before CLR; counts + 1 for ANCOM-BC"
            if counts
            else "zeros replaced by half the sample's smallest non-zero abundance"
        ),
        "min_prevalence": min_prevalence,
        "max_qvalue": max_qvalue,
        "n_samples": len(meta),
        "n_taxa_tested": int(filtered.shape[1]),
        "n_taxa_before_filter": int(data.shape[1]),
        "permutations": permutations,
        "seed": seed,
    }
    return AssociationResult(
        outcome=outcome,
        term=term,
        taxa_lm=taxa_lm,
        taxa_ancombc=taxa_anc,
        guilds=guild_result,
        presence=presence,
        permanova=permanova,
        agreement=agreement,
        settings=settings,
    )


def _replace_zeros(table: pd.DataFrame) -> pd.DataFrame:
    values = table.to_numpy(dtype=np.float64)
    floor = np.where(values > 0, values, np.inf).min(axis=1, keepdims=True) / 2.0
    return pd.DataFrame(
        np.where(values > 0, values, floor), index=table.index, columns=table.columns
    )


_PLACEHOLDER = re.compile(
    r"(?:^|[^a-z])(?:uncultured|unassigned|unknown|unclassified|unidentified|incertae[ _]sedis|"
    r"metagenome)(?:[^a-z]|$)",
    re.IGNORECASE,
)


def is_placeholder_taxon(name: str) -> bool:
    """Whether ``name`` is a placeholder, not a taxon (``uncultured``, ``Unknown_Family`` …).

    SILVA and GTDB label sequences they cannot name ("uncultured", "metagenome",
    "Lachnospiraceae_unclassified"); such a label pools unrelated organisms, so it is not tested
    as a genus (like the unassigned share, it is left out of the table).
    """
    return bool(_PLACEHOLDER.search(str(name))) or not str(name).strip()


def feature_table(store: CohortStore, *, rank: str = "genus") -> tuple[pd.DataFrame, bool]:
    """Samples × taxa at ``rank`` from the store; ``True`` when every row has read counts.

    Placeholder names (:func:`is_placeholder_taxon`) are left out; their names are listed in
    ``table.attrs["placeholders"]``.
    """
    rows = store.read_profiles(rank=rank)
    if rows.empty:
        message = f"no profile rows at rank {rank!r} in {store.root}; run `cohort run` first"
        raise ValidationError(message)
    counts = bool(rows["reads"].notna().all())
    value = "reads" if counts else "abundance"
    table = rows.pivot_table(
        index="sample_id", columns="taxon", values=value, aggfunc="sum", fill_value=0.0
    )
    table.columns = table.columns.astype(str)
    table.columns.name = None
    placeholders = [c for c in table.columns if is_placeholder_taxon(c)]
    table = table.drop(columns=placeholders).astype(float)
    table.attrs["placeholders"] = placeholders
    return table, counts


def guild_table(store: CohortStore) -> pd.DataFrame | None:
    """Samples × guild scores from the store (``None`` when no sample has any)."""
    rows = store.read_scores(kind="guild")
    if rows.empty:
        return None
    table = rows.pivot_table(index="sample_id", columns="name", values="value", aggfunc="mean")
    table.columns.name = None
    return table


def outcome_metadata(store: CohortStore, names: Sequence[str]) -> pd.DataFrame:
    """The sheet's covariates, plus any named variable found only as a sample score.

    A name missing from the sheet (e.g. ``PHQ9``) is looked up among the samples' instrument
    and marker scores (``kind`` ∈ instrument, marker, alpha), matched case-insensitively
    ignoring ``-`` and ``_``.
    """
    meta = store.metadata()
    wanted = [n for n in names if n not in meta.columns]
    if wanted:
        scores = store.read_scores()
        if not scores.empty:
            norm = scores["name"].map(_normalise)
            for name in wanted:
                hit = scores.loc[norm == _normalise(name)]
                if not hit.empty:
                    meta[name] = hit.groupby("sample_id")["value"].mean().reindex(meta.index)
    return meta


def _normalise(name: str) -> str:
    return re.sub(r"[-_\s]", "", str(name)).lower()


def associate_store(
    store: CohortStore,
    outcome: str,
    *,
    covariates: Sequence[str] = (),
    method: Method = "both",
    rank: str = "genus",
    min_prevalence: float = 0.1,
    max_qvalue: float = 0.05,
    permutations: int = 999,
    seed: int = 0,
) -> AssociationResult:
    """Run :func:`associate_tables` on a store and write ``associations/<outcome>.*``."""
    table, counts = feature_table(store, rank=rank)
    metadata = outcome_metadata(store, [outcome, *covariates])
    result = associate_tables(
        table,
        metadata,
        outcome,
        counts=counts,
        covariates=covariates,
        method=method,
        guilds=guild_table(store),
        min_prevalence=min_prevalence,
        max_qvalue=max_qvalue,
        permutations=permutations,
        seed=seed,
    )
    result.settings["rank"] = rank
    result.settings["placeholder_taxa_excluded"] = list(table.attrs.get("placeholders", []))
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", outcome)
    for suffix, frame in (
        ("lm", result.taxa_lm),
        ("ancombc", result.taxa_ancombc),
        ("guilds", result.guilds),
        ("presence", result.presence),
    ):
        path = store.root / "associations" / f"{safe}.{suffix}.parquet"
        if frame is not None:
            store.write_table(f"associations/{safe}.{suffix}.parquet", frame)
        elif path.exists():
            path.unlink()
    store.write_json(f"associations/{safe}.summary.json", _finite(result.summary()))
    return result


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
