"""Claims the evidence does not support (guide.md), as patterns every shown text is checked against.

:func:`unsupported_claims` returns the patterns a text matches; the workflow refuses to build a
result whose text matches any (a bug, never the user's fault), and a test renders every text of
example results through it. Patterns target the affirmative claim, so negations the report needs
("this is not a diagnosis") do not match.
"""

from __future__ import annotations

import re

__all__ = ["UNSUPPORTED_CLAIMS", "UnsupportedClaimError", "unsupported_claims"]


class UnsupportedClaimError(RuntimeError):
    """Generated text contains a claim guide.md lists as unsupported (a bug in gutbrain)."""


#: (guide.md claim number, pattern). Case-insensitive.
UNSUPPORTED_CLAIMS: tuple[tuple[int, re.Pattern[str]], ...] = tuple(
    (n, re.compile(p, re.IGNORECASE))
    for n, p in (
        (
            1,
            r"\b(at (a )?(higher |increased )?risk of|you (have|likely have|may have)) "
            r"(depression|anxiety|ibs|a psychiatric)",
        ),
        (1, r"\bdepression bacteria\b"),
        (2, r"\b(good|bad) (bacteri\w*|microbe\w*|for (your )?mood)\b"),
        (3, r"\b90 ?% of (your |the body'?s )?serotonin\b"),
        (3, r"\b(fix|fixing|heal|healing) your (gut|mood)\b"),
        (
            4,
            r"\b(make|makes|produce|produces) (gaba|dopamine|serotonin) (that|which) "
            r"(calms|reaches|acts on) (your )?brain",
        ),
        (4, r"\bcalms? your brain\b"),
        (5, r"\b(low|high) diversity (is|means) (unhealthy|healthy)\b"),
        (5, r"\bnormal (shannon|diversity) range is\b"),
        (6, r"\bfirmicutes\s*(/|:|to)\s*bacteroidetes\b"),
        (6, r"\bbacteroidetes\s*(/|:|to)\s*firmicutes\b"),
        (6, r"\bF/B ratio\b"),
        (7, r"\bleaky[- ]gut\b"),
        (8, r"\bimmune (dys)?function\b"),
        (9, r"\b(probiotic|psychobiotic)s? (will|can|could) (treat|cure|fix)\b"),
        (9, r"\b(take|try) (a )?(probiotic|psychobiotic|supplement)s?\b"),
        (10, r"\b(prove|proves|proven) (that )?(gut )?bacteria cause\b"),
        (11, r"\bdiagnos\w* (ibs|depression|anxiety) from (your )?(microbiome|stool)\b"),
        (
            11,
            r"\b(ibs|depression|anxiety) (can be|is|was) diagnosed (from|by) (your )?"
            r"(microbiome|stool|gut bacteria)",
        ),
        (12, r"\b(your|the) gut is healthy\b"),
        (12, r"\bcalprotectin means (ibd|crohn|colitis)\b"),
        (13, r"\b30 plants?( types)?( a| per) week (to|will) (fix|improve|lift) (your )?mood\b"),
        (14, r"\b(gut age|dysbiosis index|gut-brain score)\b"),
        (0, r"\b(cures?|curing|treats?|treatment for) (your )?(depression|anxiety|ibs)\b"),
        (0, r"\byou (are|were) diagnosed\b"),
    )
)


def unsupported_claims(text: str) -> list[int]:
    """Return the guide.md claim numbers whose pattern ``text`` matches (empty when clean)."""
    return [n for n, pattern in UNSUPPORTED_CLAIMS if pattern.search(text)]
