"""The unsupported-claims checker catches each claim of guide.md and spares needed negations."""

from __future__ import annotations

import pytest

from gutbrain.clinical.wording import unsupported_claims


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        ("Your microbiome shows you are at risk of depression.", 1),
        ("Faecalibacterium is a good bacterium for mood.", 2),
        ("Your gut makes 90 % of your serotonin.", 3),
        ("Your bacteria make GABA that calms your brain.", 4),
        ("Low diversity means unhealthy.", 5),
        ("Your Firmicutes/Bacteroidetes ratio is 2.1.", 6),
        ("Zonulin shows leaky gut.", 7),
        ("Low sIgA means immune dysfunction.", 8),
        ("This probiotic will treat your anxiety.", 9),
        ("Faecal transplant studies prove gut bacteria cause depression.", 10),
        ("IBS can be diagnosed from your microbiome.", 11),
        ("A normal calprotectin means your gut is healthy.", 12),
        ("Eat 30 plants a week to fix your mood.", 13),
        ("Your gut-brain score is 71.", 14),
    ],
)
def test_each_claim_caught(text: str, claim: int) -> None:
    assert claim in unsupported_claims(text)


@pytest.mark.parametrize(
    "text",
    [
        "This is a screening score, not a diagnosis.",
        "Microbiome findings cannot diagnose depression, anxiety or IBS.",
        "Coprococcus was lower on average in people with depression than in comparison groups.",
        "There is no evidence that GABA made in the gut reaches the human brain.",
    ],
)
def test_needed_wording_passes(text: str) -> None:
    assert unsupported_claims(text) == []
