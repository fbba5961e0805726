"""The HTML report in a real browser: sections, numbers, no network, no console errors, layout.

Results come from the hand-built factory in tests/report (complete, with a crisis alert, without
answers, from an imported table); the demo report itself is checked in test_demo.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gutbrain.report import SECTION_IDS, write_report
from gutbrain.result import Result
from tests.report.report_factory import EVIL, make_result

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Visit:
    page: Any
    requests_blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@contextmanager
def open_report(browser: Any, path: Path, viewport: dict[str, int]) -> Iterator[Visit]:
    """Open ``path`` from disk; record (and abort) every non-file request, console error, dialog."""
    context = browser.new_context(viewport=viewport, java_script_enabled=True)
    page = context.new_page()
    visit = Visit(page)

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            visit.requests_blocked.append(url)
            route.abort()

    context.route("**/*", guard)
    page.on("console", lambda m: visit.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.console_errors.append(str(e)))
    page.on("dialog", lambda d: (visit.dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    try:
        yield visit
    finally:
        context.close()


def _write(result: Result, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")
    return write_report(result, folder / name)


def _assert_clean(visit: Visit) -> None:
    assert visit.requests_blocked == []
    assert visit.console_errors == []
    assert visit.dialogs == []


def test_full_report_sections_numbers_and_screenshots(
    browser: Any, tmp_path: Path, artifacts: Path
) -> None:
    result = make_result(crisis=False)
    path = _write(result, tmp_path, "report.html")
    with open_report(browser, path, DESKTOP) as visit:
        page = visit.page
        for section in SECTION_IDS:
            assert page.locator(f"section#{section}").count() == 1, section
            assert page.locator(f"section#{section} h2").is_visible(), section
        data = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
        rows = page.locator("#top-taxa tbody tr")
        species = data["profile"]["top_taxa"]["species"]
        assert rows.count() == len(species)
        for i, taxon in enumerate(species):
            cells = rows.nth(i).locator("td")
            assert cells.nth(1).inner_text() == taxon["name"]
            assert float(cells.nth(2).get_attribute("data-abundance")) == taxon["abundance"]
            assert cells.nth(2).inner_text() == f"{100 * taxon['abundance']:.2f} %"
        for guild in data["guilds"]:
            if guild["value"] is not None:
                shown = page.locator(f"#guild-{guild['guild_id']} .big").inner_text()
                assert shown == f"{100 * guild['value']:.1f} %"
        shannon = data["diversity"][0]["metrics"]["shannon"]
        assert page.locator('dd[data-metric="shannon"]').inner_text() == f"{shannon:,.2f}"
        assert page.locator('dd[data-qc="reads_in"]').inner_text() == (
            f"{data['read_qc']['reads_in']:,}"
        )
        # every citation link jumps to a reference entry that exists
        for href in page.eval_on_selector_all(
            "a.src", "els => els.map(e => e.getAttribute('href'))"
        ):
            assert page.locator(href).count() == 1, href
        # charts carry a text alternative
        for svg in page.locator("svg[role=img]").all():
            assert svg.get_attribute("aria-label") or svg.get_attribute("aria-labelledby")
        page.screenshot(path=str(artifacts / "report_desktop.png"), full_page=True)
        _assert_clean(visit)
    with open_report(browser, path, PHONE) as visit:
        page = visit.page
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1
        page.screenshot(path=str(artifacts / "report_phone.png"), full_page=True)
        _assert_clean(visit)


def test_crisis_message_is_shown_first(browser: Any, tmp_path: Path, artifacts: Path) -> None:
    path = _write(make_result(crisis=True), tmp_path, "report.html")
    with open_report(browser, path, PHONE) as visit:
        page = visit.page
        first = page.evaluate("document.body.firstElementChild.id")
        assert first == "crisis"
        crisis_box = page.locator("#crisis").bounding_box()
        title_box = page.locator("h1").bounding_box()
        assert crisis_box["y"] < title_box["y"]
        assert crisis_box["y"] < PHONE["height"]  # on screen without scrolling
        page.screenshot(path=str(artifacts / "report_crisis_phone.png"))
        _assert_clean(visit)


def test_hostile_names_stay_text_in_the_browser(browser: Any, tmp_path: Path) -> None:
    evil = EVIL
    path = _write(make_result(sample_id=evil, evil_text=evil), tmp_path, "report.html")
    with open_report(browser, path, DESKTOP) as visit:
        page = visit.page
        assert page.locator(".sample-id").inner_text() == evil
        assert page.evaluate("document.scripts.length") == 2
        assert page.title().startswith("Gut–brain microbiome report: <script>")
        _assert_clean(visit)  # no alert() dialog fired


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("no_answers", {"answers": False, "markers": False}, "No questionnaire answers were given"),
        ("from_table", {"from_reads": False}, "imported abundance table"),
    ],
)
def test_partial_reports_render_cleanly(
    browser: Any,
    tmp_path: Path,
    artifacts: Path,
    name: str,
    options: dict[str, bool],
    expected: str,
) -> None:
    path = _write(make_result(**options), tmp_path, "report.html")
    with open_report(browser, path, DESKTOP) as visit:
        assert expected in visit.page.inner_text("body")
        for section in SECTION_IDS:
            assert visit.page.locator(f"section#{section}").count() == 1
        visit.page.screenshot(path=str(artifacts / f"report_{name}.png"), full_page=True)
        _assert_clean(visit)


def test_report_prints_to_pdf_without_navigation(
    browser: Any, tmp_path: Path, artifacts: Path
) -> None:
    path = _write(make_result(crisis=True), tmp_path, "report.html")
    with open_report(browser, path, DESKTOP) as visit:
        page = visit.page
        page.emulate_media(media="print")
        assert not page.locator("nav.toc").is_visible()
        assert page.locator("#crisis").is_visible()
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.startswith(b"%PDF")
        (artifacts / "report_print.pdf").write_bytes(pdf)
        _assert_clean(visit)
