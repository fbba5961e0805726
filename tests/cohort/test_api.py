"""Pin the public names of the cohort package (a change here is an API change)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "sheet": ["RESERVED_COLUMNS", "SampleSheet", "SampleSpec", "read_sample_sheet"],
    "store": [
        "CohortStore",
        "PROFILE_SCHEMA",
        "RUN_STATUSES",
        "SCORE_SCHEMA",
        "SampleRecord",
        "open_store",
        "profile_rows_table",
        "score_rows_table",
    ],
    "runner": [
        "DEFAULT_ALLOWED_FAILURES",
        "SAFETY_LEVELS",
        "RunSummary",
        "SafetyNotice",
        "SampleError",
        "SampleFailure",
        "SampleOutcome",
        "SampleTask",
        "check_free_space",
        "cluster_options",
        "compute_task_key",
        "run_cohort",
        "run_sample_safely",
        "scheduler_config",
        "tasks_estimate",
    ],
    "tasks": [
        "SAFETY_LEVELS",
        "SafetyNotice",
        "SampleError",
        "SampleFailure",
        "SampleFunction",
        "SampleOutcome",
        "SampleParameters",
        "SampleTask",
        "StoreRow",
    ],
    "sample": ["process_sample", "profile_rows", "result_score_rows", "safety_notices"],
    "stats": [
        "Agreement",
        "OutcomeKind",
        "ancombc_associations",
        "benjamini_hochberg",
        "clr",
        "design_matrix",
        "linear_associations",
        "method_agreement",
        "outcome_kind",
        "permanova_outcome",
        "presence_associations",
        "prevalence_filter",
    ],
    "associate": [
        "AssociationResult",
        "Method",
        "associate_store",
        "associate_tables",
        "feature_table",
        "guild_table",
        "is_placeholder_taxon",
        "outcome_metadata",
    ],
    "report": [
        "Point",
        "available_outcomes",
        "nice_ticks",
        "render_cohort_report",
        "write_cohort_report",
    ],
    "simulate": ["SimulatedCohort", "recall_and_fdr", "simulate_cohort", "write_cohort_files"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names(module: str) -> None:
    mod = importlib.import_module(f"gutbrain.cohort.{module}")
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name)
