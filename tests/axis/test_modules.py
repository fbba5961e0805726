"""GBM coverage by the Omixer-RPM rules, against a hand-worked example.

Hand calculation for ``data/modules_hand_worked.txt`` with ``ko_picrust2.tsv`` column S1
(K00002=4, K00003=2, K00004=1, K00005=0, K00006=3):

* M1 step 1 (K00001 | K00002): K00002 present -> covered, abundance 4;
  step 2 (complex K00003,K00004): both present -> covered, abundance min(2, 1) = 1;
  step 3 (K00005): 0 -> not covered. Coverage 2/3 = 0.667 >= 0.66 -> present; abundance
  median(4, 1) = 2.5.
* M2 step 1 (COG0001): a KO table cannot cover it; step 2 (K00006 = 3) covered. Coverage 1/2 ->
  absent at 0.66; abundance 3; one non-KO step.

Column S2 (K00003=2 only of the complex, K00006=1): M1 coverage 0 (the complex needs both).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gutbrain.axis.modules import module_coverage, read_ko_table, read_module_definitions
from gutbrain.errors import InputFormatError

DATA = Path(__file__).parent / "data"


def test_hand_worked_example() -> None:
    defs = read_module_definitions(DATA / "modules_hand_worked.txt")
    ko = read_ko_table(DATA / "ko_picrust2.tsv", sample="S1")
    m1, m2 = module_coverage(defs, ko)
    assert (m1.steps_covered, m1.steps_total) == (2, 3)
    assert m1.coverage == pytest.approx(2 / 3)
    assert m1.present
    assert m1.abundance == pytest.approx(2.5)
    assert (m2.coverage, m2.present, m2.abundance, m2.non_ko_steps) == (0.5, False, 3.0, 1)


def test_complex_needs_every_member() -> None:
    defs = read_module_definitions(DATA / "modules_hand_worked.txt")
    m1, _ = module_coverage(defs, read_ko_table(DATA / "ko_picrust2.tsv", sample="S2"))
    assert m1.coverage == 0.0
    assert m1.abundance is None


def test_min_coverage_threshold() -> None:
    defs = read_module_definitions(DATA / "modules_hand_worked.txt")
    ko = read_ko_table(DATA / "ko_picrust2.tsv", sample="S1")
    assert not module_coverage(defs, ko, min_coverage=0.7)[0].present
    assert module_coverage(defs, ko, min_coverage=0.5)[1].present


def test_humann_stratified_rows_skipped() -> None:
    ko = read_ko_table(DATA / "ko_humann.tsv")
    assert ko == {"K00002": 4.0, "K00003": 2.0, "K00004": 1.0, "K00006": 3.0}


def test_bad_files() -> None:
    with pytest.raises(InputFormatError, match="has no steps"):
        read_module_definitions(DATA / "modules_without_steps.txt")
    with pytest.raises(InputFormatError, match=r"ko_non_numeric\.tsv:2"):
        read_ko_table(DATA / "ko_non_numeric.tsv")
    with pytest.raises(InputFormatError, match="--ko-sample"):
        read_ko_table(DATA / "ko_picrust2.tsv")


def test_real_gbm_definitions_parse(shared_dir: Path) -> None:
    defs = read_module_definitions(
        shared_dir / "data" / "gut_brain_and_gut_metabolic_modules" / "GBMs.v1.0.txt"
    )
    assert len(defs) == 56
    mgb005 = next(d for d in defs if d.module_id == "MGB005")
    assert mgb005.steps[0][0] == ("K01657", "K01658")
    assert len(mgb005.steps) == 5
