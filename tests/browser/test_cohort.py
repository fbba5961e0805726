"""The cohort report in a real browser: desktop and phone width, axis ticks, links, print.

The store comes from the real per-sample path (profile tables → interpretation) on a local Dask
cluster, so every sample has a stored result and a personal report to link to. Screenshots go
to tests/artifacts/ for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.cohort.simulate import simulate_cohort, write_cohort_files

pytestmark = [pytest.mark.browser, pytest.mark.dask_distributed, pytest.mark.timeout(300)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

#: Elements wider than the page (or than their own box) on screen.
_OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 1 || box.left < -1) bad.push(el.tagName + '.' + el.className.baseVal
      + el.className + ' ' + Math.round(box.left) + '..' + Math.round(box.right));
  }
  return bad;
}"""

#: Elements that scroll their own content (a "scroll box").
_SCROLL_BOXES = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const style = getComputedStyle(el);
    const scrolls = ['auto', 'scroll'].includes(style.overflowY)
      || ['auto', 'scroll'].includes(style.overflowX);
    if (scrolls && (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1))
      bad.push(el.tagName + '.' + el.className);
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def cohort_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cohort-browser")
    sim = simulate_cohort(n_samples=36, n_taxa=45, n_shifted=5, effect=1.6, seed=5)
    # real genera so the guilds are scored, and a placeholder that must not be tested
    real = ["Faecalibacterium", "Roseburia", "Bacteroides", "Akkermansia", "Desulfovibrio"]
    counts = sim.counts.rename(
        columns=dict(zip(sim.counts.columns, [*real, "uncultured"], strict=False))
    )
    meta = sim.metadata.rename(columns={"outcome": "PHQ9"})
    meta["age"] = [25 + (i * 7) % 40 for i in range(len(meta))]
    sheet = write_cohort_files(counts, meta, folder / "in")
    store = folder / "store"
    runner = CliRunner()
    for args in (
        ["cohort", "run", str(sheet), "--out", str(store), "--workers", "2"],
        ["cohort", "associate", str(store), "--outcome", "PHQ9", "--covariates", "age"],
        ["cohort", "report", str(store), "--out", str(folder / "cohort.html")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return folder / "cohort.html"


@contextmanager
def _open(browser: Any, path: Path, viewport: dict[str, int]) -> Iterator[Any]:
    context = browser.new_context(viewport=viewport)
    blocked: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    try:
        yield page
    finally:
        context.close()
    assert blocked == []


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_cohort_report_fits_the_screen_without_scroll_boxes(
    browser: Any, cohort_report: Path, artifacts: Path, name: str, viewport: dict[str, int]
) -> None:
    with _open(browser, cohort_report, viewport) as page:
        page.screenshot(path=str(artifacts / f"cohort_{name}.png"), full_page=True)
        page.locator("#ordination").screenshot(path=str(artifacts / f"cohort_{name}_pcoa.png"))
        page.locator("figure.plot").nth(1).screenshot(
            path=str(artifacts / f"cohort_{name}_volcano.png")
        )
        page.locator("table.assoc").first.locator("tbody tr").nth(0).screenshot(
            path=str(artifacts / f"cohort_{name}_table_row.png")
        )
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"page is {overflow}px wider than a {viewport['width']}px screen"
        assert page.evaluate(_OVERFLOWING) == []
        assert page.evaluate(_SCROLL_BOXES) == []


def test_cohort_plots_have_axis_ticks_labels_and_named_taxa(
    browser: Any, cohort_report: Path
) -> None:
    with _open(browser, cohort_report, DESKTOP) as page:
        plots = page.locator("svg.plot")
        assert plots.count() == 2  # PCoA and volcano
        for i in range(plots.count()):
            plot = plots.nth(i)
            assert plot.locator(".x-tick").count() >= 3
            assert plot.locator(".y-tick").count() >= 3
            x_labels = plot.locator(".x-tick-label").all_text_contents()
            assert all(label.strip() for label in x_labels)
            assert [float(v.replace("−", "-")) for v in x_labels] == sorted(
                float(v.replace("−", "-")) for v in x_labels
            )
            assert (plot.locator(".x-axis-label").text_content() or "").strip()
            assert (plot.locator(".y-axis-label").text_content() or "").strip()
        pcoa, volcano = plots.nth(0), plots.nth(1)
        assert "PCoA 1" in (pcoa.locator(".x-axis-label").text_content() or "")
        names = volcano.locator(".point-label").all_text_contents()
        assert names, "significant taxa are named in the volcano plot"
        significant = page.locator("table.assoc").first.locator("tr.significant td.taxon")
        assert set(names) <= set(significant.all_inner_texts())


def test_cohort_tables_are_complete_and_guilds_readable(browser: Any, cohort_report: Path) -> None:
    with _open(browser, cohort_report, DESKTOP) as page:
        tested = page.locator("table.assoc").first.locator("tbody tr").count()
        assert tested > 40  # every tested taxon, no top-N cut and no scroll box
        guilds = page.locator("table.guild-assoc tbody td.stack-head").all_inner_texts()
        assert "Butyrate producers" in guilds  # the knowledge base's name, not the ID
        assert "butyrate" not in guilds
        taxa = page.locator("table.assoc").first.locator("td.taxon").all_inner_texts()
        assert "Faecalibacterium" in taxa
        assert "uncultured" not in taxa  # a placeholder is not a genus
        assert "uncultured" in page.locator("section.associations p.small").first.inner_text()


def test_cohort_report_links_each_sample_report(browser: Any, cohort_report: Path) -> None:
    with _open(browser, cohort_report, DESKTOP) as page:
        links = page.locator("table.qc td.sample a")
        assert links.count() == 36
        href = links.first.get_attribute("href")
        assert href is not None
        target = cohort_report.parent / href
        assert target.is_file()
        assert (target.stat().st_mode & 0o777) == 0o600
        links.first.click()
        page.wait_for_load_state("load")
        assert page.url == target.as_uri()
        assert page.locator("section#summary").count() == 1


def test_cohort_report_prints_every_row(browser: Any, cohort_report: Path, artifacts: Path) -> None:
    with _open(browser, cohort_report, DESKTOP) as page:
        page.emulate_media(media="print")
        rows = page.locator("table.qc tbody tr")
        assert rows.count() == 36
        assert all(rows.nth(i).is_visible() for i in (0, 17, 35))
        page.pdf(path=str(artifacts / "cohort_print.pdf"))
