"""Pin the public names of the portal's storage half (a change here is an API change: say so in
CHANGELOG.md)."""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC = {
    "settings": ["PortalSettings"],
    "store": [
        "Account",
        "AuditEvent",
        "Consent",
        "DeletionReceipt",
        "DuplicateError",
        "FILE_KINDS",
        "Job",
        "JobState",
        "Role",
        "Sample",
        "SampleSummary",
        "Store",
        "StoreUsageError",
        "StoredFile",
        "new_id",
    ],
    "jobs": ["build_command", "run_job", "run_worker", "stage_progress"],
    "timeline": [
        "DIVERSITY_RANK",
        "metric_label",
        "metric_value",
        "summary_from_result",
        "variability_statement",
    ],
    "export": ["EXPORTED_RESULT_FILES", "export_person"],
    "db.engine": ["BUSY_TIMEOUT_MS", "WRITE", "create_engine", "migrate"],
}

#: The Store methods agreed in portal_api.md (the app relies on every one of them).
AGREED_STORE_METHODS = [
    "open", "create_account", "account", "credentials", "set_password_hash", "count_admins",
    "create_session", "session", "delete_session", "delete_sessions_of", "record_login_failure",
    "login_failures_since", "link_person", "lab_serves", "people_of_lab", "create_sample",
    "sample_for", "samples_of_person", "samples_of_lab", "result_dir", "summaries_of_person",
    "claim_job", "heartbeat", "finish_job", "fail_job", "recover_jobs", "delete_sample",
    "delete_person", "audit", "audit_events",
]  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned(module: str) -> None:
    mod = importlib.import_module(f"gutbrain.web.{module}")
    assert sorted(mod.__all__) == sorted(PUBLIC[module])


def test_the_agreed_store_methods_exist() -> None:
    from gutbrain.web.store import Store

    missing = [name for name in AGREED_STORE_METHODS if not callable(getattr(Store, name, None))]
    assert missing == []
    assert list(inspect.signature(Store.create_sample).parameters) == [
        "self", "lab_id", "person_id", "label", "collected_on", "preset", "files", "consent",
    ]  # fmt: skip
