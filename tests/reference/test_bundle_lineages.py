"""Loading a bundle's taxonomy: equal rows share one Lineage (issue 11, set-up CPU)."""

from __future__ import annotations

from pathlib import Path

from gutbrain.model import Lineage
from gutbrain.reference.bundle import load_bundle
from gutbrain.reference.formats import import_bundle

_SEQ = "ACGTTGCAAGGCTTACCGATGGTACCAGTTGCA" * 30


def test_equal_taxonomy_rows_share_one_lineage_and_keep_their_names(tmp_path: Path) -> None:
    fasta = tmp_path / "ref.fasta"
    fasta.write_text("".join(f">r{i}\n{_SEQ[i:]}\n" for i in range(4)))
    rows = [
        "id\ttax_id\tspecies\tgenus\tfamily\torder\tclass\tphylum\tsuperkingdom",
        "r0\t1\tBacteroides fragilis\tBacteroides\tBacteroidaceae\tBacteroidales\tB\tB\tBacteria",
        "r1\t2\tBacteroides ovatus\tBacteroides\tBacteroidaceae\tBacteroidales\tB\tB\tBacteria",
        "r2\t1\tBacteroides fragilis\tBacteroides\tBacteroidaceae\tBacteroidales\tB\tB\tBacteria",
        "r3\t3\t\tBacteroides\tBacteroidaceae\tBacteroidales\tB\tB\tBacteria",
    ]
    taxonomy = tmp_path / "taxonomy.tsv"
    taxonomy.write_text("\n".join(rows) + "\n")
    import_bundle(fasta, taxonomy, format="tsv-ranks", name="t", version="1", out=tmp_path / "b")
    loaded = load_bundle(tmp_path / "b")
    fragilis = Lineage(
        superkingdom="Bacteria",
        phylum="B",
        class_="B",
        order="Bacteroidales",
        family="Bacteroidaceae",
        genus="Bacteroides",
        species="Bacteroides fragilis",
    )
    assert loaded.taxonomy["r0"] == fragilis
    assert loaded.taxonomy["r0"] is loaded.taxonomy["r2"]
    assert loaded.taxonomy["r1"].species == "Bacteroides ovatus"
    assert loaded.taxonomy["r3"].species is None  # empty cell -> None, as before
    assert loaded.taxonomy["r3"].genus == "Bacteroides"
