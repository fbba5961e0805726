"""Real tables from ../shared/data (Tengeler 2020 ADHD, Tito 2024 CRC).

These pin what the association analysis finds on published data (see docs/cohort.md,
"Real data"); they are regression anchors plus the checks that the published facts hold:
Tito 2024 found no adenoma-vs-control signal and CRC-associated oral taxa only in CRC samples.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gutbrain.cohort.associate import associate_tables
from gutbrain.cohort.stats import presence_associations


def test_tengeler2020_adhd_vs_control(shared_dir: Path) -> None:
    folder = shared_dir / "data" / "mia_tengeler2020_adhd_microbiota"
    counts = pd.read_csv(folder / "tengeler2020_counts.tsv.gz", sep="\t", index_col=0)
    taxonomy = pd.read_csv(folder / "tengeler2020_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(folder / "tengeler2020_sample_metadata.tsv", sep="\t", index_col=0)
    genus = counts.groupby(taxonomy.loc[counts.index, "Genus"].fillna("unclassified")).sum().T
    res = associate_tables(
        genus, meta, "patient_status", counts=True, covariates=["cohort"], permutations=99
    )
    assert res.term == "patient_status[ADHD]"  # Control is the reference level
    assert res.settings["n_samples"] == 27
    for frame in (res.taxa_lm, res.taxa_ancombc):
        assert frame is not None
        called = frame.loc[frame["qvalue"] <= 0.05].set_index("feature")["effect"]
        assert called["Faecalibacterium"] > 0
        assert called["[Ruminococcus]_gauvreauii_group"] < 0
    assert res.agreement is not None
    assert res.agreement.sign_agreement == pytest.approx(1.0)


def test_tito2024_adenoma_vs_control_has_no_signal(shared_dir: Path) -> None:
    folder = shared_dir / "data" / "mia_tito2024_crc_quantitative_profiles"
    qmp = pd.read_csv(folder / "tito2024qmp_abundance.tsv.gz", sep="\t", index_col=0).T
    meta = pd.read_csv(folder / "tito2024qmp_sample_metadata.tsv", sep="\t", index_col=0)
    keep = meta.index[meta["diagnosis"].isin(["ADE", "CTL"])]
    res = associate_tables(
        qmp.loc[keep],
        meta.loc[keep, ["diagnosis"]],
        "diagnosis",
        counts=False,
        method="lm",
        permutations=99,
    )
    assert res.term == "diagnosis[ADE]"
    assert res.taxa_lm is not None
    assert int((res.taxa_lm["qvalue"] <= 0.05).sum()) == 0
    # the published CRC-robust oral taxa are (nearly) absent from controls, present in CRC
    crc = meta.index[meta["diagnosis"] == "CRC"]
    ctl = meta.index[meta["diagnosis"] == "CTL"]
    for species in ("Parvimonas.micra", "Porphyromonas.asaccharolytica", "Dialister.pneumosintes"):
        assert (qmp.loc[crc, species] > 0).mean() > 0.05
        assert (qmp.loc[ctl, species] > 0).mean() < 0.01


def test_tito2024_crc_oral_taxa_ranked_first_by_presence_test(shared_dir: Path) -> None:
    # Tito et al. 2024 (Nat Med 30:1339) report Parvimonas micra, Peptostreptococcus anaerobius,
    # Porphyromonas asaccharolytica, Dialister pneumosintes, Anaerococcus vaginalis and Prevotella
    # intermedia as robustly CRC-associated; the log-ratio models miss them (rare taxa). With 47
    # CRC samples and ~390 taxa tested, the presence test ranks them at the top (none reaches
    # q <= 0.05; the best q is 0.052).
    folder = shared_dir / "data" / "mia_tito2024_crc_quantitative_profiles"
    qmp = pd.read_csv(folder / "tito2024qmp_abundance.tsv.gz", sep="\t", index_col=0).T
    meta = pd.read_csv(folder / "tito2024qmp_sample_metadata.tsv", sep="\t", index_col=0)
    keep = meta.index[meta["diagnosis"].isin(["CRC", "CTL"])]
    res = presence_associations(qmp.loc[keep], meta.loc[keep, ["diagnosis"]], "diagnosis")
    assert res.attrs["term"] == "diagnosis[CRC]"
    top = res.sort_values("pvalue", kind="mergesort").head(12).set_index("feature")
    published = {
        "Parvimonas.micra",
        "Peptostreptococcus.anaerobius",
        "Porphyromonas.asaccharolytica",
        "Dialister.pneumosintes",
        "Anaerococcus.vaginalis",
    }  # Prevotella.intermedia is in 2 samples only: below min_present = 3, not tested
    assert published <= set(top.index)
    assert (top.loc[list(published), "effect"] > 0).all()
    assert top.index[0] == "Porphyromonas.asaccharolytica"
