"""Private helpers shared by gutbrain's taxonomy-text readers (reference imports and tables).

One table of rank prefixes (Greengenes/QIIME ``g__``, SINTAX ``g:``, MetaPhlAn ``g__``) and one
splitter for a prefixed lineage element, so that the reference importers
(:mod:`gutbrain.reference.formats`) and the table readers (:mod:`gutbrain.io.tables.matrix`,
:mod:`gutbrain.io.tables.readers`) read ``g__Blautia`` and SILVA's ``D_5__Blautia`` alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from gutbrain.model import RANKS, Rank

__all__ = ["RANK_PREFIXES", "split_rank_prefix"]

#: Rank of each one-letter prefix (``k``/``d`` = superkingdom/domain).
RANK_PREFIXES: Mapping[str, Rank] = MappingProxyType(
    {
        "k": "superkingdom",
        "d": "superkingdom",
        "p": "phylum",
        "c": "class",
        "o": "order",
        "f": "family",
        "g": "genus",
        "s": "species",
    }
)
_SILVA = re.compile(r"D_(\d+)__(.*)")
_LETTER = re.compile(r"([A-Za-z])__(.*)")


def split_rank_prefix(part: str) -> tuple[Rank | None, str] | None:
    """Split one lineage element into ``(rank, name)``.

    ``g__Blautia`` (any one letter, either case) and SILVA's QIIME-release ``D_5__Blautia``
    (level 0 = superkingdom … 6 = species) are prefixed; the rank is ``None`` for a prefix
    gutbrain has no rank for (``t__`` strain, ``D_7__``). Returns ``None`` when ``part`` carries
    no prefix at all.

    Examples
    --------
    >>> split_rank_prefix("g__Blautia"), split_rank_prefix("D_5__Blautia")
    (('genus', 'Blautia'), ('genus', 'Blautia'))
    >>> split_rank_prefix("t__SGB4933"), split_rank_prefix("Blautia")
    ((None, 'SGB4933'), None)
    """
    silva = _SILVA.fullmatch(part)
    if silva is not None:
        level = int(silva.group(1))
        return (RANKS[level] if level < len(RANKS) else None), silva.group(2)
    letter = _LETTER.fullmatch(part)
    if letter is not None:
        return RANK_PREFIXES.get(letter.group(1).lower()), letter.group(2)
    return None
