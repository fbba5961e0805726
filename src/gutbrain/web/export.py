"""Everything the portal holds about a person, as one zip file they can download.

The zip holds, per sample (in a folder ``<collected on>-<sample id>/``), the run's
``result.json``, ``report.html`` and ``profile.tsv`` when the analysis is done, and the uploaded
answers and markers files; ``account.json`` and ``samples.json`` describe the account, the samples
and their consent records. Uploaded reads and tables are not included (they can be large; the
profile is what was measured from them).

The zip is written to a temporary name in the data folder's ``tmp/`` and renamed into place when
complete, so no reader ever sees half of it. The caller sends it and removes it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from gutbrain.errors import OutputError
from gutbrain.io.jsonfile import dumps_json
from gutbrain.web.store import Consent, Sample, Store, StoreUsageError, new_id

__all__ = ["EXPORTED_RESULT_FILES", "export_person"]

#: Files of a finished run that go into the export.
EXPORTED_RESULT_FILES: tuple[str, ...] = ("result.json", "report.html", "profile.tsv")
_EXPORTED_UPLOADS = ("answers", "markers")
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")
_README = """\
This archive holds what the gutbrain portal stores about you.

account.json   your account (email, name, when it was created)
samples.json   your samples: label, collection date, analysis state, consent record
<date>-<id>/   one folder per sample: the analysis result (result.json), the report
               (report.html, opens in any browser), the profile (profile.tsv), and the
               questionnaire answers and stool-marker results that were uploaded

gutbrain is not a diagnostic device and its reports are not a diagnosis.
"""


def _suffix(original_name: str) -> str:
    suffix = Path(original_name).suffix
    return suffix if _SAFE_SUFFIX.fullmatch(suffix) else ""


def _sample_record(sample: Sample, consent: Consent | None) -> dict[str, Any]:
    return {
        "id": sample.id,
        "label": sample.label,
        "collected_on": sample.collected_on.isoformat(),
        "uploaded_at": sample.created_at.isoformat(),
        "preset": sample.preset,
        "analysis": sample.job.state.value,
        "analysis_error": sample.job.error,
        "consent": None
        if consent is None
        else {
            "given_at": consent.given_at.isoformat(),
            "version": consent.version,
            "scope": consent.scope,
        },
    }


def export_person(store: Store, person_id: str) -> Path:
    """Write a zip of everything stored about a person; return its path (in ``tmp/``).

    Raises
    ------
    StoreUsageError
        When ``person_id`` is not a person account, or the store has no data folder.
    OutputError
        When the zip cannot be written (disk full); nothing is left behind.
    """
    settings = store.settings
    person = store.account(person_id)
    if settings is None or person is None or person.role != "person":
        message = f"cannot export {person_id!r}: not a person account of a store with files"
        raise StoreUsageError(message)
    settings.tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = settings.tmp_dir / f"export-{person_id}-{new_id()}.zip"
    samples = store.samples_of_person(person_id)
    consents = store.consents_of_person(person_id)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.partial-", dir=settings.tmp_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("README.txt", _README)
                account = {
                    "email": person.email,
                    "display_name": person.display_name,
                    "created_at": person.created_at.isoformat(),
                }
                archive.writestr("account.json", dumps_json(account, sort_keys=False))
                records = [_sample_record(s, consents.get(s.id)) for s in samples]
                archive.writestr("samples.json", dumps_json(records, sort_keys=False))
                for sample in samples:
                    _add_sample(archive, store, sample)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        message = (
            f"cannot write the export ({exc.strerror or exc}); check space in {settings.tmp_dir}"
        )
        raise OutputError(message) from exc
    return target


def _add_sample(archive: zipfile.ZipFile, store: Store, sample: Sample) -> None:
    folder = f"{sample.collected_on.isoformat()}-{sample.id}"
    if sample.job.state == "done":
        out = store.result_dir(sample.id)
        for name in EXPORTED_RESULT_FILES:
            if (out / name).is_file():
                archive.write(out / name, f"{folder}/{name}")
    for stored in sample.files:
        if stored.kind in _EXPORTED_UPLOADS and stored.path.is_file():
            archive.write(stored.path, f"{folder}/{stored.kind}{_suffix(stored.original_name)}")
