"""Issue 12 in a real browser, on real LRAS and American Gut samples.

The beta-diversity point on each cohort's PCoA cloud, the complete profile table, background-only
guilds, no verification notes in the page, and the crisis alert first; screenshots at desktop
and phone width go to tests/artifacts/.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from gutbrain.io.answers import read_answers, read_markers
from gutbrain.io.tables import read_table
from gutbrain.model import Profile
from gutbrain.report import write_report
from gutbrain.result import Result
from gutbrain.workflow.interpret import interpret_profile
from gutbrain.workflow.run import example_paths
from tests.browser.test_report import DESKTOP, PHONE, Visit, open_report

pytestmark = pytest.mark.browser

CRISIS = Path(__file__).parents[1] / "workflow" / "data" / "answers_crisis.yaml"


@functools.lru_cache(maxsize=2)
def _profiles(shared: Path) -> dict[str, Profile]:
    lras = shared / "data" / "lras_human_fecal_fulllength16s_asvs"
    ag = shared / "data" / "american_gut_2014_debug_subset"
    stool = {
        line.split("\t")[0]
        for line in (ag / "AG_100nt_sample_metadata.tsv").read_text().splitlines()
        if "UBERON:feces" in line
    }
    agp = next(
        p
        for p in read_table(ag / "AG_100nt_otu_table.tsv.gz")
        if p.sample_id in stool and (p.total_reads or 0) >= 5000
    )
    lras_profiles = read_table(
        lras / "lras_fecal_asv_counts.tsv.gz",
        taxonomy=lras / "lras_fecal_asv_taxonomy_silva128.tsv.gz",
    )
    return {"lras": lras_profiles[2], "agp": agp}


def _result(shared: Path, which: str, *, crisis: bool = False) -> Result:
    example = example_paths()
    return interpret_profile(
        _profiles(shared)[which],
        answers=read_answers(CRISIS if crisis else example.answers),
        markers=read_markers(example.markers),
    )


def _clean(visit: Visit) -> None:
    assert visit.requests_blocked == []
    assert visit.console_errors == []
    assert visit.dialogs == []


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        outer["x"] - 1 <= inner["x"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
        and outer["y"] - 1 <= inner["y"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


@pytest.mark.parametrize("which", ["lras", "agp"])
def test_beta_point_full_profile_and_no_internal_notes(
    browser: Any, shared_dir: Path, tmp_path: Path, artifacts: Path, which: str
) -> None:
    result = _result(shared_dir, which)
    path = write_report(result, tmp_path / "report.html")
    with open_report(browser, path, DESKTOP) as visit:
        page = visit.page
        # one PCoA per usable cohort and metric, the sample drawn inside the plotting frame
        figures = page.locator("#beta-diversity figure.beta-plot")
        assert figures.count() == len(result.beta_diversity) > 0
        for i, beta in enumerate(result.beta_diversity):
            figure = figures.nth(i)
            assert figure.get_attribute("data-cohort") == beta.cohort_key
            assert figure.locator(".pcoa-cohort circle").count() == beta.n_samples
            point = figure.locator("path.pcoa-sample").bounding_box()
            frame = figure.locator("rect.pcoa-frame").bounding_box()
            assert point is not None
            assert frame is not None
            assert _inside(point, frame)
            labels = figure.locator("text.pcoa-axis-label").all_text_contents()
            assert labels[0].startswith("PCoA axis 1 (")
            assert labels[1].startswith("PCoA axis 2 (")
            assert figure.locator("text.pcoa-tick-label").count() >= 6
            shown = figure.locator("[data-median-distance]").inner_text()
            assert shown == f"{beta.median_distance:,.2f}"
        if which == "agp":  # never compared with the cohort that holds it
            assert page.locator('[data-cohort="american_gut"]').count() == 0
        # the complete profile: every genus, behind a <details>
        details = page.locator("details#full-profile")
        assert details.count() == 1
        details.locator("summary").click()
        rows = page.locator("#full-taxa-genus tbody tr")
        assert rows.count() == len(result.profile.all_taxa["genus"])
        assert rows.count() >= len(result.profile.top_taxa["genus"])
        # background-only guilds show no personal value
        for gid in ("gaba", "lps", "mucin"):
            card = page.locator(f"#guild-{gid}")
            assert card.locator(".background-only").inner_text() == "background only"
            assert card.locator("[data-guild-value]").count() == 0
        text = page.inner_text("body")
        assert "Not verified" not in text
        assert "partially verified" not in text.lower()
        assert "Confidence:" not in text
        assert "Data coverage:" in text
        assert "Porcari" in page.inner_text("#methods")
        page.locator("#beta-diversity").screenshot(
            path=str(artifacts / f"beta_{which}_desktop.png")
        )
        page.screenshot(path=str(artifacts / f"evidence_{which}_desktop.png"), full_page=True)
        _clean(visit)
    with open_report(browser, path, PHONE) as visit:
        page = visit.page
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
        first = page.locator("#beta-diversity figure.beta-plot").first
        box = first.bounding_box()
        assert box is not None
        assert box["width"] <= PHONE["width"]
        first.screenshot(path=str(artifacts / f"beta_{which}_phone.png"))
        page.screenshot(path=str(artifacts / f"evidence_{which}_phone.png"), full_page=True)
        _clean(visit)


def test_crisis_alert_first_on_a_real_sample(
    browser: Any, shared_dir: Path, tmp_path: Path, artifacts: Path
) -> None:
    result = _result(shared_dir, "lras", crisis=True)
    assert result.alerts[0].level == "crisis"
    assert any("crisis" in w.lower() for w in result.warnings)  # no contact configured
    path = write_report(result, tmp_path / "report.html")
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        with open_report(browser, path, viewport) as visit:
            page = visit.page
            assert page.evaluate("document.body.firstElementChild.id") == "crisis"
            crisis = page.locator("#crisis").bounding_box()
            assert crisis is not None
            assert crisis["y"] < viewport["height"]
            page.screenshot(path=str(artifacts / f"evidence_crisis_{name}.png"))
            _clean(visit)
