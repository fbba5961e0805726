"""Hand-built results for report tests: complete, with alerts, without answers, from a table.

The numbers are invented but internally consistent (abundances per rank plus unassigned sum to 1),
so tests can compare what the page shows with what the result holds.
"""

from __future__ import annotations

from typing import Any

from gutbrain.result import (
    Alert,
    Diversity,
    DiversityPercentile,
    Finding,
    GuildMember,
    GuildScore,
    MarkerResult,
    ProfileSummary,
    QuestionnaireResult,
    ReadQCSummary,
    Recommendation,
    Reference,
    Result,
    ResultProvenance,
    TaxonAbundance,
)

EVIL = "<script>alert(1)</script>"

_LINEAGE = {
    "Blautia": ("Firmicutes", "Lachnospiraceae"),
    "Subdoligranulum": ("Firmicutes", "Ruminococcaceae"),
    "Dorea": ("Firmicutes", "Lachnospiraceae"),
    "Faecalibacterium": ("Firmicutes", "Ruminococcaceae"),
    "Roseburia": ("Firmicutes", "Lachnospiraceae"),
    "Bacteroides": ("Bacteroidetes", "Bacteroidaceae"),
    "Bifidobacterium": ("Actinobacteria", "Bifidobacteriaceae"),
    "Kluyvera": ("Proteobacteria", "Enterobacteriaceae"),
}


def _taxon(name: str, rank: str, abundance: float, total: int = 2900) -> TaxonAbundance:
    genus = name.split()[0]
    phylum, family = _LINEAGE.get(genus, (None, None))
    lineage = {"phylum": phylum, "family": family, "genus": genus if rank != "phylum" else None}
    if rank == "phylum":
        lineage = {"phylum": name}
    return TaxonAbundance(
        name=name,
        rank=rank,
        abundance=abundance,
        reads=abundance * total,
        abundance_low=max(0.0, abundance - 0.01),
        abundance_high=min(1.0, abundance + 0.012),
        lineage=lineage,
    )


def references() -> tuple[Reference, ...]:
    rows = [
        (
            "S001",
            "Valles-Colomer M",
            "2019",
            "The neuroactive potential of the human gut microbiota",
        ),
        ("S002", "Nikolova VL", "2021", "Perturbations in gut microbiota composition"),
        ("S023", "Falony G", "2016", "Population-level analysis of gut microbiome variation"),
        ("S035", "Scheffler L", "2018", "Widely used commercial ELISA does not detect ..."),
        ("S045", "Simon GE", "2013", "Does response on the PHQ-9 predict suicide attempt?"),
        ("S046", "Kroenke K", "2001", "The PHQ-9: validity of a brief depression severity measure"),
        ("S030", "NICE", "2013", "Faecal calprotectin diagnostic tests (DG11)"),
    ]
    return tuple(
        Reference(
            source_id=s, first_author=a, year=y, title=t, journal="J", verification="verified"
        )
        for s, a, y, t in rows
    )


def make_result(
    *,
    sample_id: str = "sample-1",
    crisis: bool = False,
    answers: bool = True,
    markers: bool = True,
    from_reads: bool = True,
    evil_text: str | None = None,
    example: bool = False,
) -> Result:
    """Return a complete result; switches remove or add parts as a real run would."""
    text = evil_text or ""
    genera = [
        ("Blautia", 0.19),
        ("Subdoligranulum", 0.09),
        ("Dorea", 0.08),
        ("Faecalibacterium", 0.05),
        ("Roseburia", 0.045),
        ("Bacteroides", 0.015),
        ("Bifidobacterium", 0.01),
        ("Kluyvera", 0.025),
    ]
    if evil_text:
        genera.append((evil_text, 0.01))
    species = [
        ("Blautia obeum", 0.08),
        ("Faecalibacterium prausnitzii", 0.05),
        ("Roseburia intestinalis", 0.03),
        ("Dorea longicatena", 0.03),
    ]
    phyla = [("Firmicutes", 0.86), ("Proteobacteria", 0.03), ("Bacteroidetes", 0.02)]
    profile = ProfileSummary(
        sample_id=sample_id,
        source="gutbrain profile" if from_reads else "import:biom",
        total_reads=2973 if from_reads else None,
        ranks=("phylum", "genus", "species"),
        n_taxa={"phylum": 5, "genus": 61, "species": 88},
        top_taxa={
            "phylum": tuple(_taxon(n, "phylum", a) for n, a in phyla),
            "genus": tuple(_taxon(n, "genus", a) for n, a in genera),
            "species": tuple(_taxon(n, "species", a) for n, a in species),
        },
        unassigned={"phylum": 0.01, "genus": 0.12, "species": 0.45},
        notes=(f"note {text}",) if text else (),
    )
    qc = (
        ReadQCSummary(
            reads_in=3000,
            reads_kept=2973,
            dropped={"too_short": 20, "low_quality": 7},
            bases_kept=4_300_000,
            length_n50=1452,
            length_quantiles={"min": 1001.0, "median": 1450.0, "max": 1610.0},
            mean_quality=11.6,
        )
        if from_reads
        else None
    )
    diversity = (
        Diversity(
            rank="genus",
            metrics={"observed": 61.0, "shannon": 3.12, "simpson": 0.91, "pielou": 0.76},
            percentiles=(
                DiversityPercentile(
                    metric="shannon",
                    value=3.12,
                    percentile=62.0,
                    cohort="LRAS stool (PacBio full-length 16S)",
                    method="16S rRNA (full length)",
                    rank="genus",
                    n_samples=9,
                ),
            ),
            context="There is no universal normal range for Shannon diversity.",
            source_ids=("S023",),
            grade="B",
        ),
    )
    guilds = (
        GuildScore(
            guild_id="scfa",
            name="Short-chain fatty acid producers",
            knowledge_ids=("FN001",),
            value=0.31,
            computable=True,
            members=(
                GuildMember(
                    taxon="Faecalibacterium",
                    matched_as="Faecalibacterium",
                    rank="genus",
                    abundance=0.05,
                ),
                GuildMember(
                    taxon="Roseburia", matched_as="Roseburia", rank="genus", abundance=0.045
                ),
            ),
            coverage=0.88,
            coverage_rank="genus",
            confidence="moderate",
            source_ids=("S001",),
            grade="B",
            caveats=("Genetic potential, not measured butyrate.",),
        ),
        GuildScore(
            guild_id="gaba",
            name="GABA producers",
            knowledge_ids=("FN008",),
            value=0.025,
            computable=True,
            coverage=0.88,
            coverage_rank="genus",
            confidence="low",
            source_ids=("S001",),
            grade="C",
        ),
        GuildScore(
            guild_id="mucin",
            name="Mucin degraders",
            knowledge_ids=("FN014",),
            value=None,
            computable=False,
            reason="no member genus resolved",
            coverage=0.88,
            coverage_rank="genus",
            confidence="none",
            source_ids=("S001",),
            grade="C",
        ),
    )
    alerts: list[Alert] = []
    if crisis:
        alerts.append(
            Alert(
                alert_id="phq9_item9",
                level="crisis",
                trigger="PHQ-9 item 9 = 1",
                title="If you are thinking about harming yourself, please get help today",
                message="Contact a doctor, a crisis line or an emergency number today.",
                source_ids=("S045",),
                grade="A",
            )
        )
    if markers:
        alerts.append(
            Alert(
                alert_id="calprotectin_repeat",
                level="advise",
                trigger="calprotectin 85 µg/g",
                title="Repeat calprotectin through a clinical laboratory",
                message="A value between 50 and 200 µg/g is common and often settles.",
                source_ids=("S030",),
                grade="B",
            )
        )
    marker_rows = (
        (
            MarkerResult(
                marker="calprotectin",
                name="Faecal calprotectin",
                value=85.0,
                unit="µg/g",
                value_as_given="85",
                unit_as_given="mg/kg",
                band="borderline",
                band_label="50–200 µg/g",
                statement="Mildly raised; often repeated.",
                caveats=("NSAIDs and PPIs can raise it.",),
                source_ids=("S030",),
                grade="B",
            ),
            MarkerResult(
                marker="zonulin",
                name="Zonulin (stool ELISA)",
                value=110.0,
                unit="ng/mL",
                value_as_given="110",
                unit_as_given="ng/mL",
                interpretable=False,
                statement="Not interpreted.",
                caveats=("Commercial zonulin ELISAs do not measure zonulin.",),
                source_ids=("S035",),
                grade="A",
            ),
        )
        if markers
        else ()
    )
    questionnaires = (
        (
            QuestionnaireResult(
                instrument="phq9",
                name="PHQ-9 (depression screen)",
                scorable=True,
                score=7.0,
                score_range=(0.0, 27.0),
                band="mild",
                items_answered=9,
                statement=f"A screen, not a diagnosis. {text}",
                source_ids=("S046",),
                grade="A",
            ),
            QuestionnaireResult(
                instrument="gad7",
                name="GAD-7 (anxiety screen)",
                scorable=False,
                reason="3 of 7 items missing",
                items_answered=4,
                items_missing=(2, 5, 7),
                source_ids=("S046",),
                grade="A",
            ),
        )
        if answers
        else ()
    )
    findings = (
        Finding(
            finding_id="div1",
            category="diversity",
            text="In large cohorts, stool consistency explains part of diversity differences.",
            source_ids=("S023",),
            grade="A",
        ),
        Finding(
            finding_id="tax1",
            category="taxon",
            text=(
                "In population studies, people with depression tended to have less "
                f"Coprococcus. {text}"
            ),
            source_ids=("S001", "S002"),
            grade="A",
        ),
    )
    recommendations = (
        Recommendation(
            recommendation_id="plants",
            topic="Plant variety",
            text="Eating a wide variety of plants is general health advice.",
            based_on=("diversity",),
            source_ids=("S023",),
            grade="B",
        ),
    )
    run_info: dict[str, Any] = {"stage_seconds": {"profile": 41.2, "interpret": 0.4}}
    if example:
        run_info["example_data"] = True
    return Result(
        sample_id=sample_id,
        disclaimer=f"This report describes one stool sample and is not a diagnosis. {text}",
        alerts=tuple(alerts),
        profile=profile,
        read_qc=qc,
        diversity=diversity,
        guilds=guilds,
        markers=marker_rows,
        questionnaires=questionnaires,
        recommendations=recommendations,
        findings=findings,
        references=references(),
        warnings=(f"warn {text}",) if text else (),
        provenance=ResultProvenance(
            gutbrain_version="0.1.0",
            schema_version="1.0.0",
            created="2026-11-26T16:00:00Z",
            profile_source=profile.source,
            inputs={"reads.fastq.gz": "ab" * 32} if from_reads else {"table.biom": "cd" * 32},
            parameters={"preset": "ont"},
            reference={"name": "gutbrain-default", "version": "1", "sha256": "ef" * 32},
            tools={"minimap2 (mappy)": "2.28"},
            run_info=run_info,
        ),
    )
