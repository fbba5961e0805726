"""The real tables in ../shared/data import without error and keep their totals."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutbrain.io.tables import read_table
from gutbrain.model import Profile

CASES = {
    # name: (table, taxonomy, expected samples, value type)
    "globalpatterns": (
        "phyloseq_globalpatterns_caporaso2011/GlobalPatterns_otu_table.tsv.gz",
        "phyloseq_globalpatterns_caporaso2011/GlobalPatterns_taxonomy.tsv.gz",
        26,
        "counts",
    ),
    "enterotype": (
        "phyloseq_enterotype_arumugam2011/enterotype_otu_table.tsv.gz",
        "phyloseq_enterotype_arumugam2011/enterotype_taxonomy.tsv.gz",
        280,
        "fractions",
    ),
    "american_gut_tsv": (
        "american_gut_2014_debug_subset/AG_100nt_otu_table.tsv.gz",
        None,
        202,
        "counts",
    ),
    "tito2024": (
        "mia_tito2024_crc_quantitative_profiles/tito2024qmp_abundance.tsv.gz",
        "mia_tito2024_crc_quantitative_profiles/tito2024qmp_taxonomy.tsv",
        589,
        "quantities",
    ),
    "tengeler2020": (
        "mia_tengeler2020_adhd_microbiota/tengeler2020_counts.tsv.gz",
        "mia_tengeler2020_adhd_microbiota/tengeler2020_taxonomy.tsv",
        27,
        "counts",
    ),
    "lras": (
        "lras_human_fecal_fulllength16s_asvs/lras_fecal_asv_counts.tsv.gz",
        "lras_human_fecal_fulllength16s_asvs/lras_fecal_asv_taxonomy_silva128.tsv.gz",
        9,
        "counts",
    ),
}


def _source_totals(path: Path) -> pd.Series:
    frame = pd.read_csv(path, sep="\t", index_col=0)
    frame = frame.drop(columns=[c for c in frame.columns if c.lower() == "taxonomy"])
    return frame.sum(axis=0)


def _check_profile(profile: Profile) -> None:
    for rank in profile.ranks():
        total = sum(r.abundance for r in profile.at_rank(rank)) + profile.unassigned[rank]
        assert total == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= r.abundance <= 1.0 for r in profile.at_rank(rank))


@pytest.mark.parametrize("name", list(CASES))
def test_real_table_imports_with_source_totals(shared_dir: Path, name: str) -> None:
    table, taxonomy, n_samples, kind = CASES[name]
    path = shared_dir / "data" / table
    profiles = read_table(path, taxonomy=shared_dir / "data" / taxonomy if taxonomy else None)
    assert len(profiles) == n_samples
    assert profiles[0].provenance.parameters["value_type"] == kind
    totals = _source_totals(path)
    assert [str(p.sample_id) for p in profiles] == [str(s) for s in totals.index]
    for profile in profiles:
        _check_profile(profile)
        if kind == "counts":
            assert profile.total_reads == int(totals[str(profile.sample_id)])
            for rank in profile.ranks():
                reads = sum(r.reads or 0 for r in profile.at_rank(rank))
                unassigned = profile.unassigned[rank] * profile.total_reads
                assert reads + unassigned == pytest.approx(profile.total_reads, rel=1e-9)


def test_american_gut_biom_matches_its_tsv(shared_dir: Path) -> None:
    """BIOM 1.0 (JSON, gzip) upstream and the TSV conversion agree sample by sample."""
    base = shared_dir / "data" / "american_gut_2014_debug_subset"
    from_biom = read_table(base / "AG_100nt.biom.gz")
    from_tsv = read_table(base / "AG_100nt_otu_table.tsv.gz")
    assert len(from_biom) == 202
    assert [p.sample_id for p in from_biom] == [p.sample_id for p in from_tsv]
    for a, b in zip(from_biom, from_tsv, strict=True):
        assert a.total_reads == b.total_reads
        assert {r.taxon: r.reads for r in a.at_rank("genus")} == {
            r.taxon: r.reads for r in b.at_rank("genus")
        }
    assert from_biom[0].provenance.source == "import:biom"
    with gzip.open(base / "AG_100nt.biom.gz", "rt") as handle:
        assert handle.read(1) == "{"


def test_globalpatterns_known_sums_and_species(shared_dir: Path) -> None:
    """Library sizes as printed by mia/scater on the same phyloseq object (OMA book)."""
    base = shared_dir / "data" / "phyloseq_globalpatterns_caporaso2011"
    profiles = {
        str(p.sample_id): p
        for p in read_table(
            base / "GlobalPatterns_otu_table.tsv.gz",
            taxonomy=base / "GlobalPatterns_taxonomy.tsv.gz",
        )
    }
    expected = {"CL3": 864077, "CC1": 1135457, "SV1": 697509, "M31Fcsw": 1543451}
    assert {k: profiles[k].total_reads for k in expected} == expected
    kingdoms = {r.taxon for r in profiles["CL3"].at_rank("superkingdom")}
    assert kingdoms == {"Archaea", "Bacteria"}
    assert np.isclose(profiles["CL3"].unassigned["superkingdom"], 0.0)
