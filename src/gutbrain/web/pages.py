"""The lab's and the person's pages: people, uploads, samples, reports, the view over time,
download and deletion.

Access rule for every object route: the store answers only for a viewer allowed to see the object
(:meth:`~gutbrain.web.store.Store.sample_for`, :meth:`~gutbrain.web.store.Store.lab_serves`);
anyone else gets the same 404 as for an id that does not exist. Every view of or change to a
person's data writes an audit row (ids, action and outcome only).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import re
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from gutbrain.errors import ErrorCode
from gutbrain.web._portal import Portal, Viewer, check_csrf, portal, read_form, render, require
from gutbrain.web.auth import account_problem
from gutbrain.web.charts import LineChart, line_chart
from gutbrain.web.security import hash_password, new_password, tokens_equal
from gutbrain.web.store import (
    Consent,
    DuplicateError,
    JobState,
    Role,
    Sample,
    SampleSummary,
    StoredFile,
)
from gutbrain.web.uploads import (
    ReceivedFile,
    ReceivedForm,
    UploadError,
    check_content,
    keep_files,
    receive_form,
    remove_kept,
    validate_files,
)

__all__ = ["CONSENT_SCOPE", "CONSENT_TEXT", "CONSENT_VERSION", "PRESETS", "router"]

logger = logging.getLogger(__name__)

router = APIRouter()

#: The consent a lab confirms for every upload; a new wording gets a new version.
CONSENT_VERSION = "2026-12"
CONSENT_SCOPE = "analysis and report"
CONSENT_TEXT = (
    "The person agreed that their stool sample's sequencing data, questionnaire answers and "
    "marker results are stored on this server and analysed by gutbrain to produce a report "
    "that they and this lab can see. They can download or delete their data at any time."
)
#: ``gutbrain run --preset`` values and their words on the form.
PRESETS: tuple[tuple[str, str], ...] = (
    ("ont", "Nanopore (ONT) long reads"),
    ("hifi", "PacBio HiFi long reads"),
    ("short", "Illumina short reads"),
)
_JOB_WORDS = {
    "queued": "waiting",
    "running": "running",
    "done": "done",
    "failed": "failed",
}
_STAGE_WORDS = {
    "inputs": "checking inputs",
    "reference": "loading the reference",
    "profile": "profiling reads",
    "import": "importing the table",
    "interpret": "interpreting",
    "report": "writing the report",
    "write": "saving",
}
_LEVEL_WORDS = {
    "crisis": "Your safety comes first",
    "urgent": "Urgent: contact a clinician",
    "prompt": "Soon: see a clinician",
    "advise": "Advice",
    "info": "For your information",
}
#: Seconds between automatic refreshes while a job waits or runs.
REFRESH_SECONDS = 5
_MAX_LABEL = 200
_ID = re.compile(r"^[0-9a-f]{32}$")


def _common(**context: Any) -> dict[str, Any]:
    return {"job_words": _JOB_WORDS, "stage_words": _STAGE_WORDS, **context}


def _pending(samples: list[Sample]) -> bool:
    return any(s.job.state in (JobState.QUEUED, JobState.RUNNING) for s in samples)


def _check_id(value: str) -> None:
    if not _ID.fullmatch(value):
        raise HTTPException(status_code=404)


# lab -------------------------------------------------------------------------------------------


def _lab_page(
    request: Request, viewer: Viewer, *, status_code: int = 200, message: str | None = None
) -> Response:
    state = portal(request)
    people = state.store.people_of_lab(viewer.account.id)
    samples = state.store.samples_of_lab(viewer.account.id)
    counts: dict[str, int] = {}
    for sample in samples:
        counts[sample.person_id] = counts.get(sample.person_id, 0) + 1
    return render(
        request,
        "lab.html",
        viewer=viewer,
        status_code=status_code,
        message=message,
        people=people,
        samples=samples,
        sample_counts=counts,
        names={p.id: p.display_name for p in people},
        refresh_seconds=REFRESH_SECONDS if _pending(samples) else None,
        **_common(),
    )


@router.get("/lab", response_class=HTMLResponse)
def lab_dashboard(request: Request) -> Response:
    return _lab_page(request, require(request, Role.LAB))


@router.post("/lab/people", response_class=HTMLResponse)
async def register_person(request: Request) -> Response:
    state = portal(request)
    viewer = require(request, Role.LAB)
    form = await read_form(request)
    check_csrf(viewer, form)
    email = form.get("email", "").strip()
    name = form.get("display_name", "").strip()
    problem = account_problem(email, name)
    if problem is not None:
        return _lab_page(request, viewer, status_code=422, message=problem)
    found = state.store.credentials(email)
    if found is not None:
        person = found[0]
        if person.role is not Role.PERSON:
            message = "This e-mail address cannot be registered as a person."
            return _lab_page(request, viewer, status_code=409, message=message)
        state.store.link_person(viewer.account.id, person.id)
        state.store.audit(viewer.account.id, "link-person", "account", person.id, "success")
        return render(
            request,
            "shown_once.html",
            viewer=viewer,
            title="Person linked",
            intro=(
                f"{person.display_name} already had an account; it is now linked to your lab, "
                "and their password is unchanged."
            ),
            email=person.email,
            password=None,
            back="/lab",
        )
    password = new_password()
    try:
        person = state.store.create_account(email, hash_password(password), Role.PERSON, name)
    except DuplicateError:  # registered by another lab a moment ago
        message = "This e-mail address was registered just now; try again."
        return _lab_page(request, viewer, status_code=409, message=message)
    state.store.link_person(viewer.account.id, person.id)
    state.store.audit(viewer.account.id, "register-person", "account", person.id, "success")
    return render(
        request,
        "shown_once.html",
        viewer=viewer,
        title="Person registered",
        intro=f"{person.display_name} has an account and can log in.",
        email=person.email,
        password=password,
        back="/lab",
    )


def _served_person(request: Request, viewer: Viewer, person_id: str) -> Any:
    state = portal(request)
    _check_id(person_id)
    if not state.store.lab_serves(viewer.account.id, person_id):
        raise HTTPException(status_code=404)
    person = state.store.account(person_id)
    if person is None or person.role is not Role.PERSON:
        raise HTTPException(status_code=404)
    return person


def _limits(state: Portal) -> dict[str, str]:
    def size(n: int) -> str:
        for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if n >= factor:
                return f"{n / factor:g} {unit}"
        return f"{n} bytes"

    s = state.settings
    return {
        "reads": size(s.max_reads_bytes),
        "table": size(s.max_table_bytes),
        "answers": size(s.max_answers_bytes),
    }


def _upload_page(
    request: Request,
    viewer: Viewer,
    person: Any,
    *,
    status_code: int = 200,
    message: str | None = None,
    code: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    state = portal(request)
    return render(
        request,
        "upload.html",
        viewer=viewer,
        status_code=status_code,
        person=person,
        message=message,
        code=code,
        form=form or {},
        presets=PRESETS,
        limits=_limits(state),
        consent_text=CONSENT_TEXT,
        consent_version=CONSENT_VERSION,
    )


@router.get("/lab/people/{person_id}/upload", response_class=HTMLResponse)
def upload_form(request: Request, person_id: str) -> Response:
    viewer = require(request, Role.LAB)
    person = _served_person(request, viewer, person_id)
    return _upload_page(request, viewer, person)


def _file_caps(state: Portal) -> dict[str, int]:
    s = state.settings
    return {
        "reads": s.max_reads_bytes,
        "reads_r2": s.max_reads_bytes,
        "table": s.max_table_bytes,
        "answers": s.max_answers_bytes,
        "markers": s.max_answers_bytes,
    }


def _typed_file(state: Portal, form: ReceivedForm, kind: str) -> None:
    """Treat an answers/markers text box like an uploaded file of that kind."""
    text = form.fields.get(f"{kind}_text", "").strip()
    if not text:
        return
    if kind in form.files:
        message = f"give the {kind} either as a file or typed in, not both"
        raise UploadError(message, status=422, code=ErrorCode.UPLOAD_FORM)
    data = (text + "\n").encode("utf-8")
    state.settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        prefix=".upload-", dir=state.settings.tmp_dir, delete=False
    ) as handle:
        handle.write(data)
    form.files[kind] = ReceivedFile(
        kind,
        "(typed in the form)",
        Path(handle.name),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _form_problem(form: ReceivedForm, today: date) -> str | None:
    fields = form.fields
    label = fields.get("label", "").strip()
    if not label or len(label) > _MAX_LABEL:
        return f"Give a sample label of 1 to {_MAX_LABEL} characters."
    try:
        collected = date.fromisoformat(fields.get("collected_on", ""))
    except ValueError:
        return "Give the collection date as YYYY-MM-DD."
    if collected > today + timedelta(days=1):
        return "The collection date is in the future."
    if fields.get("preset") not in {p for p, _ in PRESETS}:
        return "Choose the read type."
    if fields.get("consent") != "yes":
        return "The upload needs the person's consent: tick the consent box."
    if fields.get("consent_version") != CONSENT_VERSION:
        return "The consent text changed since the form was opened: reload it and read it again."
    has_reads = "reads" in form.files
    if has_reads == ("table" in form.files):
        return "Upload either reads or an abundance table (one of them)."
    if "reads_r2" in form.files and not has_reads:
        return "A second reads file needs the first one."
    return None


def _check_and_validate(form: ReceivedForm) -> None:
    for received in form.files.values():
        check_content(received)
    validate_files(form.files)


@router.post("/lab/people/{person_id}/samples", response_class=HTMLResponse)
async def upload_sample(request: Request, person_id: str) -> Response:
    state = portal(request)
    viewer = require(request, Role.LAB)
    person = _served_person(request, viewer, person_id)
    length = request.headers.get("content-length")
    caps = _file_caps(state)
    overall = sum(caps.values()) + 2 * 1024 * 1024
    if length is not None and length.isdigit() and int(length) > overall:
        raise HTTPException(status_code=413)
    form: ReceivedForm | None = None
    try:
        form = await receive_form(
            request.headers.get("content-type", ""),
            request.stream(),
            tmp_dir=state.settings.tmp_dir,
            file_caps=caps,
            field_caps={
                "answers_text": state.settings.max_answers_bytes,
                "markers_text": state.settings.max_answers_bytes,
            },
            csrf=lambda token: tokens_equal(token, viewer.csrf),
        )
        problem = _form_problem(form, state.clock().date())
        if problem is not None:
            raise UploadError(problem, status=422, code=ErrorCode.UPLOAD_FORM)
        for kind in ("answers", "markers"):
            _typed_file(state, form, kind)
        await run_in_threadpool(_check_and_validate, form)
        kept = keep_files(form.files, state.settings.uploads_dir)
    except UploadError as exc:
        if form is not None:
            form.remove_files()
        return _refused_upload(request, viewer, person, exc, form)
    except OSError as exc:
        if form is not None:
            form.remove_files()
        if exc.errno not in _DISK_FULL:
            raise
        logger.error("upload refused: the data folder's file system is full")
        full = UploadError(_DISK_FULL_MESSAGE, status=507, code=ErrorCode.NOSPACE)
        return _refused_upload(request, viewer, person, full, form)
    except BaseException:
        if form is not None:
            form.remove_files()
        raise
    return _register_sample(request, viewer, person, form, kept)


#: ``errno`` values of a full disk or an exhausted quota.
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_DISK_FULL_MESSAGE = (
    "The server's storage is full, so nothing was stored. Try again later, or tell the "
    "server's operator."
)


def _refused_upload(
    request: Request, viewer: Viewer, person: Any, exc: UploadError, form: ReceivedForm | None
) -> Response:
    state = portal(request)
    state.store.audit(viewer.account.id, "upload", "person", person.id, f"refused {exc.code}")
    if exc.status == 403:
        raise HTTPException(status_code=403)
    fields = form.fields if form is not None else {}
    shown = {k: v for k, v in fields.items() if k != "csrf"}
    return _upload_page(
        request,
        viewer,
        person,
        status_code=exc.status,
        message=str(exc),
        code=exc.code,
        form=shown,
    )


def _register_sample(
    request: Request, viewer: Viewer, person: Any, form: ReceivedForm, kept: list[StoredFile]
) -> Response:
    state = portal(request)
    fields = form.fields
    consent = Consent(
        given_at=state.clock(),
        version=fields["consent_version"],
        recorded_by=viewer.account.id,
        scope=CONSENT_SCOPE,
    )
    try:
        sample = state.store.create_sample(
            lab_id=viewer.account.id,
            person_id=person.id,
            label=fields["label"].strip(),
            collected_on=date.fromisoformat(fields["collected_on"]),
            preset=fields["preset"],
            files=kept,
            consent=consent,
        )
    except DuplicateError:
        remove_kept(kept)
        state.store.audit(viewer.account.id, "upload", "person", person.id, "refused duplicate")
        message = (
            "These reads (or this table) were already uploaded for this person: the same file "
            "was not stored twice."
        )
        shown = {k: v for k, v in fields.items() if k != "csrf"}
        return _upload_page(
            request,
            viewer,
            person,
            status_code=409,
            message=message,
            code=ErrorCode.DUPLICATE,
            form=shown,
        )
    except BaseException:
        remove_kept(kept)
        raise
    state.store.audit(viewer.account.id, "upload", "sample", sample.id, "success")
    return RedirectResponse(f"/samples/{sample.id}", status_code=303)


# samples (lab or person) -----------------------------------------------------------------------


def _sample(request: Request, viewer: Viewer, sample_id: str) -> Sample:
    _check_id(sample_id)
    sample = portal(request).store.sample_for(viewer.account, sample_id)
    if sample is None:
        raise HTTPException(status_code=404)
    return sample


def _home_of(viewer: Viewer) -> str:
    return "/lab" if viewer.account.role is Role.LAB else "/me"


@router.get("/samples/{sample_id}", response_class=HTMLResponse)
def sample_page(request: Request, sample_id: str) -> Response:
    state = portal(request)
    viewer = require(request, Role.LAB, Role.PERSON)
    sample = _sample(request, viewer, sample_id)
    state.store.audit_view(viewer.account.id, "view", "sample", sample.id, "success")
    return render(
        request,
        "sample.html",
        viewer=viewer,
        sample=sample,
        back=_home_of(viewer),
        refresh_seconds=REFRESH_SECONDS if _pending([sample]) else None,
        **_common(),
    )


_REPORT_CSP = re.compile(rb'<meta http-equiv="Content-Security-Policy" content="([^"<>]*)">')


def report_path(state: Portal, sample: Sample) -> Path:
    """Where the worker put the sample's report."""
    return state.store.result_dir(sample.id) / "report.html"


def _report_csp(path: Path) -> str:
    """The report's own CSP (from its ``<meta>``) plus ``frame-ancestors 'none'``."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    found = _REPORT_CSP.search(head)
    policy = found.group(1).decode("ascii", errors="replace") if found else "default-src 'none'"
    if "default-src 'none'" not in policy:  # not a report we wrote: allow nothing
        policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return f"{policy}; frame-ancestors 'none'"


@router.get("/samples/{sample_id}/report")
def sample_report(request: Request, sample_id: str) -> Response:
    state = portal(request)
    viewer = require(request, Role.LAB, Role.PERSON)
    sample = _sample(request, viewer, sample_id)
    path = report_path(state, sample)
    if sample.job.state is not JobState.DONE:
        raise HTTPException(status_code=404)
    try:  # one read and one send (a streamed file costs a thread hop per 64 kB chunk)
        content = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise HTTPException(status_code=404) from None
    state.store.audit_view(viewer.account.id, "view-report", "sample", sample.id, "success")
    return Response(
        content,
        media_type="text/html; charset=utf-8",
        headers={
            "content-disposition": 'inline; filename="report.html"',
            "cache-control": "no-store",
            "content-security-policy": _report_csp(path),
        },
    )


@router.get("/samples/{sample_id}/delete", response_class=HTMLResponse)
def confirm_delete_sample(request: Request, sample_id: str) -> Response:
    viewer = require(request, Role.LAB, Role.PERSON)
    sample = _sample(request, viewer, sample_id)
    return render(
        request,
        "confirm_delete.html",
        viewer=viewer,
        title=f"Delete the sample {sample.label}?",
        what=(
            "This removes the uploaded files, the analysis results and the report of this "
            "sample from this server."
        ),
        action=f"/samples/{sample.id}/delete",
        back=f"/samples/{sample.id}",
    )


@router.post("/samples/{sample_id}/delete", response_class=HTMLResponse)
async def delete_sample(request: Request, sample_id: str) -> Response:
    state = portal(request)
    viewer = require(request, Role.LAB, Role.PERSON)
    _check_id(sample_id)
    form = await read_form(request)
    check_csrf(viewer, form)
    receipt = state.store.delete_sample(viewer.account, sample_id)
    if receipt is None:  # not theirs, or gone: the store audited the deletion it made
        raise HTTPException(status_code=404)
    return render(request, "receipt.html", viewer=viewer, receipt=receipt, back=_home_of(viewer))


# the person ------------------------------------------------------------------------------------


def _alerts(summaries: list[SampleSummary], labels: dict[str, str]) -> list[dict[str, str]]:
    """Every safety alert of every analysed sample, newest sample first, in the run's order."""
    shown: list[dict[str, str]] = []
    for summary in sorted(summaries, key=lambda s: s.collected_on, reverse=True):
        for alert in summary.alerts:
            shown.append(
                {
                    "level": str(alert.get("level", "")),
                    "title": str(alert.get("title", "")),
                    "message": str(alert.get("message", "")),
                    "sample_label": labels.get(summary.sample_id, ""),
                    "collected_on": summary.collected_on.isoformat(),
                }
            )
    return shown


def _number(value: float) -> str:
    return f"{value:.3g}"


def _share(value: float) -> str:
    return f"{value:.3f}"


#: Questionnaires charted first (each on its own axis: their scales differ), then the rest.
_FIRST_SCORES = ("PHQ-9", "GAD-7", "PSS-10", "IBS-SSS")


def _score_order(names: set[str]) -> list[str]:
    first = [n for n in _FIRST_SCORES if n in names]
    return first + sorted(names - set(first))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "score"


def timeline_charts(summaries: list[SampleSummary]) -> list[LineChart]:
    """The longitudinal view: diversity, guild shares and questionnaire scores over time."""
    if not summaries:
        return []
    from gutbrain.web.timeline import variability_statement

    dates = [s.collected_on for s in summaries]
    charts: list[LineChart] = []
    if any(s.shannon is not None for s in summaries):
        charts.append(
            line_chart(
                dates,
                {"Shannon diversity": [s.shannon for s in summaries]},
                key="shannon",
                title="Diversity (Shannon index)",
                statements=[variability_statement(summaries, "shannon")],
                value_text=_number,
            )
        )
    if any(s.observed_richness is not None for s in summaries):
        charts.append(
            line_chart(
                dates,
                {
                    "Observed taxa": [
                        None if s.observed_richness is None else float(s.observed_richness)
                        for s in summaries
                    ]
                },
                key="richness",
                title="Richness (observed taxa)",
                statements=[variability_statement(summaries, "observed_richness")],
                value_text=lambda v: f"{v:.0f}",
            )
        )
    guilds = sorted({g for s in summaries for g in s.guild_shares})
    if guilds:
        charts.append(
            line_chart(
                dates,
                {g: [s.guild_shares.get(g) for s in summaries] for g in guilds},
                key="guilds",
                title="Guild shares (abundance, 0–1)",
                statements=[variability_statement(summaries, f"guild:{g}") for g in guilds],
                value_text=_share,
            )
        )
    for name in _score_order({q for s in summaries for q in s.scores}):
        charts.append(
            line_chart(
                dates,
                {name: [s.scores.get(name) for s in summaries]},
                key=f"score-{_slug(name)}",
                title=f"{name} (total)",
                statements=[variability_statement(summaries, f"score:{name}")],
                value_text=lambda v: f"{v:g}",
            )
        )
    return charts


@router.get("/me", response_class=HTMLResponse)
def person_dashboard(request: Request) -> Response:
    state = portal(request)
    viewer = require(request, Role.PERSON)
    person_id = viewer.account.id
    samples = state.store.samples_of_person(person_id)
    summaries = state.store.summaries_of_person(person_id)
    labels = {s.id: s.label for s in samples}
    state.store.audit_view(person_id, "view", "person", person_id, "success")
    return render(
        request,
        "person.html",
        viewer=viewer,
        samples=samples,
        alerts=_alerts(summaries, labels),
        level_words=_LEVEL_WORDS,
        crisis_contacts=state.settings.crisis_contacts,
        charts=timeline_charts(summaries),
        refresh_seconds=REFRESH_SECONDS if _pending(samples) else None,
        **_common(),
    )


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@router.get("/me/export")
def export_everything(request: Request) -> Response:
    state = portal(request)
    viewer = require(request, Role.PERSON)
    from gutbrain.web.export import export_person

    archive = export_person(state.store, viewer.account.id)
    state.store.audit(viewer.account.id, "export", "person", viewer.account.id, "success")
    return FileResponse(
        archive,
        media_type="application/zip",
        filename="gutbrain-export.zip",
        headers={"cache-control": "no-store"},
        background=BackgroundTask(_remove, archive),
    )


@router.get("/me/delete", response_class=HTMLResponse)
def confirm_delete_me(request: Request) -> Response:
    viewer = require(request, Role.PERSON)
    return render(
        request,
        "confirm_delete.html",
        viewer=viewer,
        title="Delete all your data and your account?",
        what=(
            "This removes every sample, uploaded file, result and report of yours, your links "
            "to labs, your sessions and your account from this server."
        ),
        action="/me/delete",
        back="/me",
    )


@router.post("/me/delete", response_class=HTMLResponse)
async def delete_me(request: Request) -> Response:
    state = portal(request)
    viewer = require(request, Role.PERSON)
    check_csrf(viewer, await read_form(request))
    person_id = viewer.account.id
    receipt = state.store.delete_person(person_id, person_id)  # audited by the store
    response = render(request, "receipt.html", viewer=None, receipt=receipt, back="/login")
    response.delete_cookie(
        state.session_cookie,
        path="/",
        secure=state.settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )
    return response
