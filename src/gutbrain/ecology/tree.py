"""Phylogenetic trees for Faith PD and UniFrac: from a reference tree to a tree of taxa.

A reference tree (e.g. HITdb's, Ritari et al. 2015) has one tip per reference sequence. Profiles
name taxa at a rank, so :func:`taxon_tree` keeps one representative tip per taxon — the first tip
(in tree order) whose lineage names that taxon — prunes the rest (scikit-bio ``shear``, which
removes single-child nodes and adds their branch lengths) and renames each kept tip to its taxon.
Distances between taxa are therefore distances between their representatives; this is stated in
every output that uses it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gutbrain.errors import ErrorCode, InputFormatError
from gutbrain.io.tables.text import read_text
from gutbrain.model import Lineage, Rank

__all__ = ["check_taxa_in_tree", "read_tree", "taxon_tree"]

logger = logging.getLogger(__name__)


def read_tree(path: str | Path) -> Any:
    """Read a Newick tree (gzip allowed) as a :class:`skbio.TreeNode`.

    Raises
    ------
    InputFormatError
        When the file is not a readable Newick tree.
    """
    from skbio import TreeNode

    p = Path(path)
    text = read_text(p)  # missing file, damaged gzip and non-UTF-8 text are named errors
    try:
        tree = TreeNode.read(io.StringIO(text), format="newick")
    except Exception as exc:  # scikit-bio raises its own NewickFormatError and others
        message = f"not a Newick tree ({type(exc).__name__}: {exc})"
        raise InputFormatError(message, path=p, code=ErrorCode.TREE) from None
    return tree


def taxon_tree(
    tree: Any, tip_lineages: Mapping[str, Lineage], taxa: Iterable[str], *, rank: Rank
) -> Any:
    """Return a tree whose tips are ``taxa`` (names at ``rank``), one representative each.

    Parameters
    ----------
    tree
        Reference tree (tips are reference IDs).
    tip_lineages
        ``{tip name: Lineage}`` for the reference (its taxonomy file).
    taxa
        Taxon names needed.
    rank
        Rank of the names.

    Raises
    ------
    InputFormatError
        When fewer than two taxa are asked for, or a taxon has no tip in the tree (missing ones
        are listed, up to 10).
    """
    wanted = set(taxa)
    if len(wanted) < 2:
        message = f"a taxon tree needs at least two taxa at rank {rank}, got {len(wanted)}"
        raise InputFormatError(message, code=ErrorCode.TREE)
    chosen: dict[str, str] = {}
    for tip in tree.tips():
        lineage = tip_lineages.get(str(tip.name))
        if lineage is None:
            continue
        name = lineage.at(rank)
        if name in wanted and name not in chosen:
            chosen[name] = str(tip.name)
    missing = sorted(wanted - set(chosen))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        message = (
            f"{len(missing)} taxa have no tip in the tree at rank {rank}: {shown}; phylogenetic "
            "measures need every taxon in the tree"
        )
        raise InputFormatError(message, code=ErrorCode.TREE)
    pruned = tree.shear(list(chosen.values()))
    back = {tip: name for name, tip in chosen.items()}
    for tip in pruned.tips():
        tip.name = back[str(tip.name)]
    pruned.prune()
    return pruned


def check_taxa_in_tree(taxa: Iterable[str], tree: Any) -> None:
    """Raise :class:`InputFormatError` unless every taxon is a tip of ``tree``."""
    tips = {str(t.name) for t in tree.tips()}
    missing = sorted(set(taxa) - tips)
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        message = f"{len(missing)} taxa are not tips of the tree: {shown}"
        raise InputFormatError(message, code=ErrorCode.TREE)
