"""The report names a species group's members and says 16S cannot separate them."""

from __future__ import annotations

import re

from gutbrain.report import render_report
from gutbrain.result import TaxonAbundance
from tests.report.report_factory import make_result


def test_group_row_lists_members_and_says_16s_cannot_separate_them() -> None:
    result = make_result()
    group = TaxonAbundance(
        name="Escherichia coli group",
        rank="species",
        abundance=0.2,
        reads=600.0,
        lineage={"genus": "Escherichia"},
        members=(
            "Escherichia coli",
            "Escherichia fergusonii",
            "Shigella boydii",
            "Shigella flexneri",
            "Shigella sonnei",
        ),
    )
    top = dict(result.profile.top_taxa)
    top["species"] = (group, *top["species"])
    result = result.model_copy(
        update={"profile": result.profile.model_copy(update={"top_taxa": top})}
    )
    text = re.sub(r"<[^>]+>", "", render_report(result))
    text = re.sub(r"\s+", " ", text)
    assert (
        "E. coli group: E. coli, E. fergusonii, S. boydii, S. flexneri, … "
        "— 16S cannot separate these"
    ) in text
    # a single species has no member line
    assert text.count("16S cannot separate these") == 1
