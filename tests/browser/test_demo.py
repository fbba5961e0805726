"""The demo report (``gutbrain demo`` on the bundled example) opened from disk in Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gutbrain.report import SECTION_IDS
from tests.browser.test_report import DESKTOP, PHONE, open_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "gutbrain-demo"
    done = subprocess.run(
        [sys.executable, "-m", "gutbrain", "demo", "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "500"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"report: {out / 'report.html'}"
    return out


def test_demo_report_in_the_browser(browser: Any, demo_dir: Path, artifacts: Path) -> None:
    data = json.loads((demo_dir / "result.json").read_text(encoding="utf-8"))
    with open_report(browser, demo_dir / "report.html", DESKTOP) as visit:
        page = visit.page
        for section in SECTION_IDS:
            assert page.locator(f"section#{section}").count() == 1, section
        assert "example data" in page.inner_text("header")
        # top taxa: same names, same numbers, same order as result.json
        top = data["profile"]["top_taxa"]
        rank = next(r for r in ("species", "genus", "family") if top.get(r))
        rows = page.locator("#top-taxa tbody tr")
        assert rows.count() == len(top[rank])
        for i, taxon in enumerate(top[rank]):
            cells = rows.nth(i).locator("td")
            shown = cells.nth(1).inner_text().splitlines()
            assert shown[0] == taxon["name"]
            if taxon.get("members"):  # a species group lists its members below its name
                assert "16S cannot separate these" in shown[-1]
                assert all(m.split()[-1] in shown[-1] for m in taxon["members"])
            assert cells.nth(2).inner_text() == f"{100 * taxon['abundance']:.2f} %"
        for guild in data["guilds"]:
            card = page.locator(f"#guild-{guild['guild_id']}")
            assert card.count() == 1
            if guild["value"] is not None:
                assert card.locator(".big").inner_text() == f"{100 * guild['value']:.1f} %"
        for diversity in data["diversity"]:
            shannon = diversity["metrics"].get("shannon")
            if diversity["computable"] and shannon is not None:
                shown = page.locator('dd[data-metric="shannon"]').all_inner_texts()
                assert f"{shannon:,.2f}" in shown
        qc = data["read_qc"]
        assert page.locator('dd[data-qc="reads_in"]').inner_text() == f"{qc['reads_in']:,}"
        assert page.locator('dd[data-qc="reads_kept"]').inner_text() == f"{qc['reads_kept']:,}"
        for marker in data["markers"]:
            row = page.locator(f"#marker-{marker['marker']}")
            assert row.count() == 1
            assert marker["value_as_given"] in row.inner_text()
        for q in data["questionnaires"]:
            row = page.locator(f"#q-{q['instrument']}")
            assert row.count() == 1, q["instrument"]
        for alert in data["alerts"]:
            assert page.locator(f"#alert-{alert['alert_id']}").count() == (
                0 if alert["level"] == "crisis" else 1
            )
        # issue 12: beta diversity point per cohort, complete profile, no internal notes
        assert page.locator("#beta-diversity figure.beta-plot").count() == len(
            data["beta_diversity"]
        )
        assert page.locator("#beta-diversity path.pcoa-sample").count() == len(
            data["beta_diversity"]
        )
        assert page.locator("details#full-profile").count() == 1
        assert "Not verified" not in page.inner_text("body")
        page.screenshot(path=str(artifacts / "demo_desktop.png"), full_page=True)
        assert visit.requests_blocked == []
        assert visit.console_errors == []
    with open_report(browser, demo_dir / "report.html", PHONE) as visit:
        page = visit.page
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
        page.screenshot(path=str(artifacts / "demo_phone.png"), full_page=True)
        assert visit.requests_blocked == []
        assert visit.console_errors == []
