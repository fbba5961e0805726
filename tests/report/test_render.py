"""The HTML report: sections, safety order, escaping, self-containment, numbers."""

from __future__ import annotations

import base64
import hashlib
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gutbrain.report import SECTION_IDS, render_report, write_report
from gutbrain.report.render import public_json
from tests.report.report_factory import EVIL, make_result


class _Page(HTMLParser):
    """Collects elements, attributes, headings and visible text of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[int] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
        else:
            self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_every_section_present_once_and_in_order() -> None:
    page = _parse(render_report(make_result()))
    ids = [attrs.get("id") for tag, attrs in page.elements if tag == "section"]
    assert ids == list(SECTION_IDS)


def test_headings_never_skip_a_level() -> None:
    page = _parse(render_report(make_result(crisis=True)))
    assert page.headings[0] == 1
    assert page.headings.count(1) == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1


def test_crisis_message_is_the_first_content_of_the_page() -> None:
    html = render_report(make_result(crisis=True))
    body = html[html.index("<body>") :]
    first = re.search(r"<(\w+)[^>]*>", body[len("<body>") :])
    assert first is not None
    assert first.group(0).startswith('<div class="crisis" role="alert"')
    assert body.index("please get help today") < body.index("<h1>")


def test_no_crisis_block_without_the_trigger() -> None:
    html = render_report(make_result(crisis=False))
    assert 'class="crisis"' not in html
    # the calprotectin advice is still shown at the top of the summary, before the summary list
    assert html.index("Repeat calprotectin") < html.index('class="summary-list"')


@pytest.mark.parametrize(
    "evil",
    [
        EVIL,
        '"><img src=x onerror=alert(1)>',
        "</script><script>alert(1)</script>",
        "'onmouseover='x",
    ],
)
def test_input_text_is_escaped_everywhere(evil: str) -> None:
    # W10 (RELIABILITY.md): sample id, taxon names, free text, warnings all carry the payload.
    result = make_result(sample_id=evil, evil_text=evil, crisis=True)
    html = render_report(result)
    page = _parse(html)
    tags = [tag for tag, _ in page.elements]
    assert "img" not in tags
    assert tags.count("script") == 2  # the print helper and the JSON twin, nothing else
    for _, attrs in page.elements:
        assert not [name for name in attrs if name.startswith("on")]
    visible = "".join(page.text)
    assert evil in visible  # shown as text...
    assert f"Sample {evil}" in visible.replace("\n", " ")


def test_sample_named_script_appears_as_text() -> None:
    html = render_report(make_result(sample_id=EVIL))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert EVIL not in html


def test_json_twin_in_page_is_not_executable_and_round_trips() -> None:
    import json

    result = make_result(sample_id=EVIL, evil_text=EVIL)
    page = _parse(render_report(result))
    twin = next(attrs for tag, attrs in page.elements if tag == "script" and attrs.get("id"))
    assert twin["type"] == "application/json"
    data = json.loads(page.scripts[-1])
    assert data["sample_id"] == EVIL
    # the twin is the result without internal verification notes (those stay in result.json)
    assert data == public_json(result.model_dump(mode="json"))
    assert "verification" not in json.dumps(data)


def test_autoescape_is_on_for_j2_templates() -> None:
    # autoescape=True, not select_autoescape(), which skips templates ending in .j2
    html = render_report(make_result(sample_id="<b>x</b>"))
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html


def test_page_loads_nothing_from_anywhere() -> None:
    html = render_report(make_result(crisis=True))
    page = _parse(html)
    tags = {tag for tag, _ in page.elements}
    assert not tags & {"img", "link", "iframe", "object", "embed", "video", "audio", "source"}
    for tag, attrs in page.elements:
        assert "src" not in attrs, tag
        if tag != "a":
            assert not str(attrs.get("href", "")).startswith(("http", "//")), tag
    assert "url(" not in html
    assert "@import" not in html
    assert "default-src 'none'" in html


def test_csp_allows_exactly_the_print_script() -> None:
    html = render_report(make_result())
    executable = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    assert len(executable) == 1  # the JSON twin has a type and is never run
    (script,) = executable
    assert "beforeprint" in script  # the print helper: folded details are printed too
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html


def test_top_taxa_table_shows_the_result_numbers() -> None:
    result = make_result()
    html = render_report(result)
    for taxon in result.profile.top_taxa["species"]:
        row = re.search(
            rf"<em>{re.escape(taxon.name)}</em></td><td class=\"num\" "
            rf"data-abundance=\"([0-9.e-]+)\">([0-9.]+) %(?:<span|</td>)",
            html,
        )
        assert row is not None, taxon.name
        assert float(row.group(1)) == taxon.abundance
        assert row.group(2) == f"{100 * taxon.abundance:.2f}"


def test_guilds_markers_questionnaires_and_grades_are_shown() -> None:
    result = make_result()
    html = render_report(result)
    assert "31.0 %" in html  # SCFA guild value 0.31
    assert "not computable" in html  # mucin guild
    assert "Commercial zonulin ELISAs do not measure zonulin." in html
    assert "no valid band" in html
    assert "PHQ-9 (depression screen)" in html
    assert "not scorable" in html  # GAD-7 with 3 missing items
    assert "no universal normal range" in html.lower()
    assert 'class="grade grade-a"' in html
    # every source a statement cites links to an entry of the reference list
    cited = set(re.findall(r'href="#ref-(S\d{3})"', html))
    listed = set(re.findall(r'<li id="ref-(S\d{3})"', html))
    assert cited
    assert cited <= listed


def test_report_without_answers_or_markers_explains_what_is_missing() -> None:
    html = render_report(make_result(answers=False, markers=False))
    assert "No questionnaire answers were given" in html
    assert "No stool marker values were given" in html
    assert 'id="questionnaires-table"' not in html


def test_report_from_an_imported_table_has_no_read_qc() -> None:
    html = render_report(make_result(from_reads=False))
    assert "imported abundance table" in html
    assert 'id="read-qc"' not in html


def test_example_data_is_labelled() -> None:
    assert "example data" in render_report(make_result(example=True))
    assert "example data" not in render_report(make_result(example=False))


def test_stage_timings_are_shown() -> None:
    html = render_report(make_result())
    assert "41.2 s" in html
    assert "0.4 s" in html


def test_write_report_is_atomic_and_leaves_no_partial(tmp_path: Path) -> None:
    target = write_report(make_result(), tmp_path / "report.html")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [(0.1234, 1, "12.3 %"), (0.0, 1, "0.0 %"), (0.0004, 1, "<0.1 %"), (1.0, 0, "100 %")],
)
def test_percent_format(value: float, digits: int, expected: str) -> None:
    # a guild's value is shown with 1 digit, its coverage with 0 (the template's pct filter)
    guilds = make_result().guilds
    first = guilds[0]
    shown = first.model_copy(update={"value": value} if digits else {"coverage": value})
    html = render_report(make_result().model_copy(update={"guilds": (shown, *guilds[1:])}))
    guild = html[html.index(f'data-guild-value="{shown.value}">') :]
    if digits:
        got = re.search(r"^data-guild-value=\"[^\"]*\">([^<]*)<", guild)
    else:
        got = re.search(r"\(([^()]*) of reads named at", guild)
    assert got is not None
    assert unescape(got.group(1)) == expected


def test_percent_range_format() -> None:
    # the top-taxa table's interval column; a taxon without an interval shows a dash there
    result = make_result()
    species = result.profile.top_taxa["species"]
    with_ci = species[0].model_copy(update={"abundance_low": 0.05, "abundance_high": 0.0625})
    without = species[1].model_copy(update={"abundance_low": None, "abundance_high": 0.1})
    top = (with_ci, without, *species[2:])
    profile = result.profile.model_copy(
        update={"top_taxa": {**result.profile.top_taxa, "species": top}}
    )
    html = render_report(result.model_copy(update={"profile": profile}))

    def interval_cell(name: str) -> str:
        row = html[html.index(f"<em>{name}</em></td>") :]
        row = row[: row.index("</tr>")]
        got = re.search(r'<td class="num hide-narrow">([^<]*)</td>', row)
        assert got is not None
        return got.group(1)

    assert interval_cell(with_ci.name) == "5.0–6.2 %"
    assert interval_cell(without.name) == "–"


_KEEP = {
    "source_id",
    "source_ids",
    "grade",
    "level",
    "category",
    "confidence",
    "verification",
    "operator",
    "schema_version",
}
_FREE_KEYS = {"inputs", "parameters", "tools", "reference", "dropped", "metrics"}


def _poison(value: object, payload: str, key: str = "") -> object:
    """Put ``payload`` into every free-text string and every free dict key of a dumped result."""
    if key in _KEEP:
        return value
    if isinstance(value, str):
        return f"{payload}{value}"
    if isinstance(value, list):
        return [_poison(v, payload, key) for v in value]
    if isinstance(value, dict):
        return {
            (f"{payload}{k}" if key in _FREE_KEYS else k): _poison(v, payload, k)
            for k, v in value.items()
        }
    return value


@pytest.mark.parametrize("payload", ['"><img src=x onerror=alert(1)>', "</script><b>x</b>"])
def test_every_text_field_and_free_key_is_escaped(payload: str) -> None:
    # RELIABILITY.md W10 and §5.9: the payload in every text field, every free dict key.
    from gutbrain.result import Result

    clean = make_result(crisis=True, example=True)
    poisoned = Result.model_validate(_poison(clean.model_dump(mode="json"), payload))
    html = render_report(poisoned)
    page = _parse(html)
    tags = [tag for tag, _ in page.elements]
    assert "img" not in tags
    assert "b" not in tags
    assert tags.count("script") == 2
    for _, attrs in page.elements:
        assert not [name for name in attrs if name.startswith("on")]
    visible = "".join(page.text)
    assert visible.count(payload) > 50  # shown as text, many times
