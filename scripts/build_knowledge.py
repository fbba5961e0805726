#!/usr/bin/env python3
"""Build gutbrain's packaged knowledge tables from the project's curated knowledge base.

Usage::

    .venv/bin/python scripts/build_knowledge.py [--source ../shared/knowledge] [--check]

Reads the curated TSVs in ``../shared/knowledge`` (sources, taxa, functions, markers, instruments,
diversity_reference, gbm_modules) and writes ``src/gutbrain/data/knowledge/`` with:

* the facts carried over (ids, taxon, rank, direction, population, n, source ids, grade,
  verification, report_use);
* statements in gutbrain's own wording, generated from those facts by the templates below or
  written here by hand (the source tables' summary sentences are never copied);
* curated matching rules (which profile names a row or guild refers to, at which rank);
* evidence grades for tables that have none upstream (diversity, markers, instruments), with the
  rationale recorded next to them;
* ``MANIFEST.json`` with the build version and the SHA-256 of every input and output file.

The GBM step definitions (``gbm_definitions.tsv``, from omixer-rpmR, GPL-3 / academic
non-commercial) are deliberately NOT copied: users pass a definitions file at run time. Module ids
and names (published facts, Valles-Colomer 2019) are copied.

``--check`` rebuilds in memory and exits 1 if the committed files differ (used by a test).
Rerunnable: the output depends only on the input files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
from pathlib import Path

#: Sources that are not scientific evidence (press releases): never packaged, never cited.
DROPPED_SOURCES: dict[str, str] = {
    "S046": "press release (a licence announcement, not scientific evidence)",
    "S071": "commercial laboratory web pages (marketing, not peer-reviewed)",
}

#: Sources added here, with bibliographic details checked against the publisher's record.
ADDED_SOURCES: list[dict[str, str]] = [
    {
        "source_id": "S082",
        "first_author": "Porcari S",
        "year": "2025",
        "title": "International consensus statement on microbiome testing in clinical practice",
        "journal_ref": "Lancet Gastroenterol Hepatol 10(2):154-167",
        "doi": "10.1016/S2468-1253(24)00311-X",
        "pmid": "39647502",
        "study_design": "international expert consensus (Delphi) on microbiome testing",
        "url_checked": "https://pubmed.ncbi.nlm.nih.gov/39647502/",
        "verification": "verified",
        "unverified_fields": "",
    },
]

#: Placeholder references completed with details checked against the publisher's record
#: (doi.org / journal page / PubMed); fields not checked stay as they were.
SOURCE_COMPLETIONS: dict[str, dict[str, str]] = {
    "S039": {
        "first_author": "Singh VK",
        "title": "Less common etiologies of exocrine pancreatic insufficiency (Table 4)",
    },
    "S040": {"year": "2023", "pmid": "37581180"},
}

#: Rows whose cited sources are replaced (with the reason): ``{id: (sources, authors, years)}``.
#: MK001, the ADULT < 50 ug/g band, cited two reference studies in children (S032, S066);
#: it now cites adult evidence only: NICE DG11 (adults), Banerjee 2015 (adults referred with
#: bowel symptoms) and Park 2020 (healthy adults 30-80 y).
SOURCE_OVERRIDES: dict[str, tuple[str, str, str]] = {
    "MK001": ("S031;S074;S076", "NICE; Banerjee A; Park SY", "2013; 2015; 2020"),
}

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "knowledge"
OUT = REPO / "src" / "gutbrain" / "data" / "knowledge"
KNOWLEDGE_VERSION = "2026.12.04"

# --------------------------------------------------------------------------------------------
# Curated: which profile names each taxa.tsv row refers to (rank, names). Rows not listed name a
# group, a community, a phylum ratio or an experiment, and are never matched to a profile.
TAXON_MATCH: dict[str, tuple[str, tuple[str, ...]]] = {
    "TX001": ("genus", ("Coprococcus",)),
    "TX002": ("genus", ("Coprococcus",)),
    "TX003": ("genus", ("Faecalibacterium",)),
    "TX004": ("genus", ("Dialister",)),
    "TX008": ("genus", ("Faecalibacterium",)),
    "TX009": ("genus", ("Coprococcus",)),
    "TX010": ("genus", ("Eggerthella",)),
    "TX011": ("genus", ("Eggerthella",)),
    "TX012": ("genus", ("Subdoligranulum",)),
    "TX013": ("genus", ("Coprococcus",)),
    "TX014": ("genus", ("Sellimonas",)),
    "TX015": ("genus", ("Lachnoclostridium",)),
    "TX016": ("genus", ("Hungatella",)),
    "TX017": ("genus", ("Ruminococcaceae UCG-002",)),
    "TX018": ("genus", ("Ruminococcaceae UCG-003",)),
    "TX019": ("genus", ("Ruminococcaceae UCG-005",)),
    "TX020": ("genus", ("Lachnospiraceae UCG-001",)),
    "TX021": ("species", ("Eubacterium ventriosum",)),
    "TX022": ("genus", ("Ruminococcus gauvreauii group",)),
    "TX023": ("family", ("Ruminococcaceae",)),
    "TX027": ("species", ("Ruminococcus bromii",)),
    "TX028": ("species", ("Bifidobacterium bifidum",)),
    "TX029": ("family", ("Enterobacteriaceae",)),
    "TX030": ("genus", ("Alistipes",)),
    "TX031": ("genus", ("Faecalibacterium",)),
    "TX037": ("genus", ("Coprococcus",)),
    "TX038": ("family", ("Enterobacteriaceae",)),
    "TX039": ("genus", ("Desulfovibrio",)),
    "TX040": ("genus", ("Faecalibacterium",)),
    "TX042": ("genus", ("Escherichia",)),
    "TX043": ("genus", ("Fusobacterium",)),
    "TX044": ("species", ("Ruminococcus gnavus",)),
    "TX045": ("genus", ("Bacteroides",)),
    "TX046": ("genus", ("Bacteroides",)),
    "TX047": (
        "species",
        ("Faecalibacterium prausnitzii", "Roseburia hominis", "Roseburia intestinalis"),
    ),
    "TX048": ("species", ("Escherichia coli", "Ruthenibacterium lactatiformans")),
    "TX049": ("genus", ("Eggerthella", "Hungatella", "Coprobacillus")),
    "TX050": ("family", ("Enterobacteriaceae",)),
    "TX051": ("family", ("Lactobacillaceae",)),
    "TX052": ("genus", ("Bacteroides",)),
    "TX054": ("genus", ("Faecalibacterium",)),
    "TX055": ("genus", ("Bifidobacterium",)),
    "TX060": ("genus", ("Escherichia",)),
    "TX061": ("genus", ("Clostridium",)),
}

# Rows describing a functional group are linked to the guild they describe.
TAXON_GUILD: dict[str, str] = {"TX006": "butyrate", "TX007": "lps", "TX041": "butyrate"}

# Short phenotype phrase for generated statements (the fact is the upstream phenotype column).
PHENOTYPE_PHRASE: dict[str, str] = {
    "TX001": "depression",
    "TX002": "better quality-of-life scores",
    "TX003": "better quality-of-life scores",
    "TX004": "depression",
    "TX006": "depression, bipolar disorder, psychosis or anxiety",
    "TX007": "depression, bipolar disorder, psychosis or anxiety",
    "TX008": "depression and other psychiatric disorders",
    "TX027": "a depressive disorder",
    "TX028": "an anxiety disorder",
    "TX029": "major depressive disorder",
    "TX031": "major depressive disorder",
    "TX038": "anxiety or depression",
    "TX039": "anxiety or depression",
    "TX040": "anxiety or depression",
    "TX041": "generalised anxiety disorder",
    "TX042": "generalised anxiety disorder",
    "TX050": "irritable bowel syndrome",
    "TX051": "irritable bowel syndrome",
    "TX052": "irritable bowel syndrome",
    "TX054": "irritable bowel syndrome",
    "TX055": "irritable bowel syndrome",
}

# --------------------------------------------------------------------------------------------
# Guilds (functions.tsv rows grouped into the scores gutbrain reports). Members are curated from
# the rows' member-taxa text; "computable" says whether a taxonomic profile can score the guild.
GUILDS: list[dict[str, str]] = [
    {
        "guild": "butyrate",
        "name": "Butyrate producers",
        "knowledge_ids": "FN001",
        "members": "genus:Faecalibacterium;genus:Roseburia;genus:Coprococcus;"
        "genus:Agathobacter;genus:Anaerobutyricum;genus:Butyricicoccus;"
        "species:Eubacterium rectale;species:Eubacterium hallii",
        "computable": "yes",
        "statement": "Taxa of the main butyrate-producing groups (Lachnospiraceae and "
        "Ruminococcaceae such as Faecalibacterium, Roseburia and Coprococcus) were summed. Lower "
        "amounts of these producers have been reported, on average, in groups of people with "
        "depression and other psychiatric conditions.",
        "caveat": "16S data cannot see the butyrate genes themselves; the group spans many genera, "
        "so a genus-level sum only approximates it.",
    },
    {
        "guild": "propionate",
        "name": "Propionate producers",
        "knowledge_ids": "FN003;FN004;FN005",
        "members": "genus:Bacteroides;class:Negativicutes;species:Coprococcus catus;"
        "species:Blautia obeum;species:Roseburia inulinivorans",
        "computable": "yes",
        "statement": "Taxa known to carry a propionate route were summed: Bacteroides and the "
        "Negativicutes (succinate route), Coprococcus catus (acrylate route), Blautia obeum and "
        "Roseburia inulinivorans (propanediol route).",
        "caveat": "Pathway carriage differs between strains; species-level members are only "
        "counted when the profile reaches species.",
    },
    {
        "guild": "acetate",
        "name": "Acetate producers",
        "knowledge_ids": "FN007",
        "members": "",
        "computable": "no: most gut anaerobes make acetate, so a taxon sum would say nothing",
        "statement": "",
        "caveat": "",
    },
    {
        "guild": "gaba",
        "name": "GABA-producing genera",
        "knowledge_ids": "FN008",
        "members": "genus:Bacteroides;genus:Parabacteroides;genus:Escherichia",
        "computable": "yes",
        "statement": "Genera shown to make GABA in culture or to express GABA pathways in stool "
        "(Bacteroides, Parabacteroides, Escherichia) were summed.",
        "caveat": "This is genetic potential, not measured GABA. There is no evidence that GABA "
        "made in the gut reaches the human brain.",
    },
    {
        "guild": "tryptophan",
        "name": "Tryptophan / indole metabolism",
        "knowledge_ids": "FN009",
        "members": "",
        "computable": "no: the knowledge base has no checked list of indole-producing taxa; "
        "supply a KEGG-orthology table to score the tryptophan modules instead",
        "statement": "",
        "caveat": "",
    },
    {
        "guild": "serotonin",
        "name": "Serotonin-related spore-formers",
        "knowledge_ids": "FN010",
        "members": "",
        "computable": "no: the spore-former consortium was defined in mice and is not resolved "
        "to named taxa",
        "statement": "",
        "caveat": "",
    },
    {
        "guild": "mucin",
        "name": "Mucin degraders",
        "knowledge_ids": "FN014",
        "members": "genus:Akkermansia",
        "computable": "yes",
        "statement": "Akkermansia, a mucus-layer bacterium that can live on mucin, was measured.",
        "caveat": "Akkermansia abundance goes with stool consistency (Bristol type), which must be "
        "considered before reading anything into it.",
    },
    {
        "guild": "lps",
        "name": "LPS-bearing pro-inflammatory taxa",
        "knowledge_ids": "FN013",
        "members": "family:Enterobacteriaceae;genus:Desulfovibrio",
        "computable": "yes",
        "statement": "Gram-negative taxa reported as enriched across psychiatric conditions "
        "(Enterobacteriaceae, Desulfovibrio) were summed.",
        "caveat": "The proposed route (bacterial lipopolysaccharide signalling inflammation) was "
        "not demonstrated in these studies.",
    },
]

# Grade of each guild score = grade of the association that makes it worth reporting.
GUILD_GRADE = {
    "butyrate": ("A", "S014;S002"),
    "propionate": ("B", "S015;S016"),
    "acetate": ("B", "S016"),
    "gaba": ("C", "S012;S001"),
    "tryptophan": ("B", "S018;S010"),
    "serotonin": ("C", "S013"),
    "mucin": ("B", "S022;S023"),
    "lps": ("B", "S002;S008"),
}

# --------------------------------------------------------------------------------------------
# Diversity rows: our wording and a grade (the upstream table has none). Grades follow guide.md:
# A = meta-analysis/systematic review or >=2 large cohorts; B = one large cohort or a review with
# few studies; C = a single small study.
DIVERSITY: dict[str, tuple[str, str]] = {
    "DV001": (
        "B",
        "No Shannon-diversity range is accepted as normal across laboratories: the value "
        "depends on the log base, the taxonomic unit, the primers, the sequencing depth and the "
        "pipeline. gutbrain therefore places your value among reference samples processed with a "
        "stated method instead of calling it good or bad.",
    ),
    "DV002": (
        "C",
        "Two laboratory methods gave the same two stool samples Shannon values that "
        "differed by roughly 0.5 to 1.6 units.",
    ),
    "DV003": (
        "C",
        "Shannon values near 3 are typical of some 16S pipelines, far from other "
        "published values, which is another reason not to compare raw numbers.",
    ),
    "DV004": (
        "A",
        "In about 4,000 Belgian, Dutch and other stool samples, stool consistency had the "
        "largest single effect on composition and medication explained the most variation in "
        "total.",
    ),
    "DV005": (
        "B",
        "In 1,135 Dutch adults, 126 lifestyle, diet, drug and health factors together "
        "explained under a fifth of person-to-person differences.",
    ),
    "DV006": (
        "B",
        "In the American Gut citizen-science cohort, people who reported more than 30 plant "
        "types a week had more diverse stool microbiomes than people reporting 10 or fewer (an "
        "observational association).",
    ),
    "DV007": (
        "B",
        "Diversity varied widely between healthy adults in the Human Microbiome Project.",
    ),
    "DV008": (
        "C",
        "Looser stools went with lower species richness in 53 healthy women, so stool form "
        "must be considered when reading diversity.",
    ),
    "DV009": (
        "A",
        "A meta-analysis of psychiatric case-control studies found lower microbial richness in "
        "patients than in controls on average.",
    ),
    "DV010": (
        "A",
        "A systematic review of 44 studies found no strong evidence of an alpha-diversity "
        "difference between people with depression, bipolar disorder or schizophrenia and "
        "controls.",
    ),
    "DV011": (
        "A",
        "A 2023 meta-analysis of 44 depression studies found no overall alpha-diversity "
        "difference between patients and controls.",
    ),
    "DV012": (
        "B",
        "In 3,211 Amsterdam adults of six ethnic groups, diversity was associated with "
        "depressive-symptom levels after adjustment.",
    ),
    "DV013": ("C", "A small case-control study reported lower richness in depression."),
    "DV014": (
        "C",
        "A small case-control study reported higher Shannon diversity in active depression.",
    ),
    "DV015": ("C", "Two small studies reported lower diversity in generalised anxiety disorder."),
    "DV016": (
        "A",
        "Across 26 studies of anxiety and depression, diversity findings were inconsistent.",
    ),
    "DV017": (
        "A",
        "In irritable bowel syndrome, diversity was lower or no different from "
        "controls across studies.",
    ),
    "DV018": (
        "B",
        "Re-analysing 10 obesity studies, Shannon diversity differed by only about 2 % between "
        "groups, too little to say anything about one person.",
    ),
    "DV019": (
        "C",
        "In a small randomised diet study, a phase rich in fermented foods raised microbiota "
        "diversity steadily, while a high-fibre phase did not change diversity.",
    ),
    "DV020": (
        "C",
        "After a short broad-spectrum antibiotic course, composition was close to baseline "
        "after about six weeks, but some common species were still missing after six months.",
    ),
    "DV021": (
        "C",
        "In small samples of healthy adults, lower perceived stress went with higher "
        "alpha diversity.",
    ),
}

# Markers: our grade of the evidence behind each row's use, with a short reason.
MARKER_GRADE: dict[str, tuple[str, str]] = {
    "MK001": ("B", "adult 50 ug/g cut-off in guidance and validation studies"),
    "MK002": ("C", "grey-zone band is local pathway practice"),
    "MK003": ("B", "NICE DG11 with UK pathway practice for the 200 threshold"),
    "MK004": ("B", "national guidance"),
    "MK005": ("C", "small paediatric reference samples"),
    "MK006": ("B", "one cohort of 590 plus a small elderly study"),
    "MK007": ("B", "one cross-sectional study of 590 adults"),
    "MK008": ("C", "cited only second-hand"),
    "MK009": ("C", "single-centre retrospective study"),
    "MK010": ("B", "two independent assay-validation studies"),
    "MK012": ("C", "review plus low-quality range sources"),
    "MK013": ("C", "small research studies"),
    "MK014": ("C", "review-level bands, endorsement unverified"),
    "MK015": ("B", "national guidance"),
}

# Instruments: our grade of the validation evidence for the scoring/bands used.
INSTRUMENT_GRADE: dict[str, tuple[str, str]] = {
    "IN001": ("B", "one large validation study (6,000 patients)"),
    "IN002": ("B", "one very large cohort (84,418 outpatients)"),
    "IN003": ("B", "one large validation study (2,740 patients)"),
    "IN004": ("C", "original validation in student and community samples"),
    "IN005": ("B", "transit validation plus two large population cohorts"),
    "IN006": ("C", "single validation study"),
    "IN007": ("C", "single validation study"),
    "IN008": ("C", "project-defined items, not validated"),
    "IN009": ("C", "observational, self-reported citizen-science cohort"),
    "IN010": ("C", "one small randomised study"),
    "IN011": ("B", "national dietary guidance"),
    "IN012": ("C", "small recovery studies and one survey"),
    "IN013": ("B", "EFSA scientific opinion"),
    "IN014": ("A", "several large cohorts"),
}

# --------------------------------------------------------------------------------------------
# Clinical alert rules (guide.md, "When to advise seeing a clinician"), read by
# gutbrain.clinical.safety; one rule a line, columns split on " | ". The rows of one alert_id
# share level, sources, grade and wording, and the alert fires once when any of its rows fires.
# Tests: ``item_above`` (subject ``phq9.item9``: that item above threshold); ``score_at_least`` /
# ``score_above`` (an instrument's total; the rows of one instrument form a ladder and only the
# most urgent one that fires counts); ``band_in`` (a marker's band, ``;``-separated);
# ``symptoms`` (every ``+``-joined flag reported, at threshold age or older; unknown age fires);
# ``age_below``; ``outside_assay_range`` (markers whose value no assay covers: the alert cites the
# marker's own rows, so source_id and evidence_grade stay empty). ``unless``: not when an alert
# of that level fired. ``wording`` keys the title and message in gutbrain.clinical.safety.
ALERT_RULE_COLUMNS = [
    "id",
    "alert_id",
    "level",
    "subject",
    "test",
    "threshold",
    "unless",
    "trigger",
    "source_id",
    "evidence_grade",
    "wording",
]
ALERT_RULES = """
AR001 | crisis-phq9-item9 | crisis | phq9.item9 | item_above | 0 |  | PHQ-9 item 9 above 0 | S045;S043 | B | crisis
AR002 | urgent-blood-in-stool | urgent | blood_in_stool | symptoms |  |  | blood in stool reported | S041;S042 | B | blood-in-stool
AR003 | urgent-fit | urgent | fit | band_in | 10_or_more |  | FIT at or above 10 µg Hb/g | S041 | B | fit
AR004 | urgent-alarm-features | urgent | unexplained_weight_loss+abdominal_pain | symptoms | 40 |  | unexplained weight loss with abdominal pain | S042 | B | alarm-features
AR005 | urgent-alarm-features | urgent | unexplained_rectal_bleeding | symptoms | 50 |  | unexplained rectal bleeding | S042 | B | alarm-features
AR006 | urgent-alarm-features | urgent | iron_deficiency_anaemia | symptoms | 60 |  | iron-deficiency anaemia | S042 | B | alarm-features
AR007 | urgent-alarm-features | urgent | change_in_bowel_habit | symptoms | 60 |  | a change in bowel habit | S042 | B | alarm-features
AR008 | urgent-alarm-features | urgent | severe_bloody_diarrhoea | symptoms |  |  | severe bloody diarrhoea | S042 | B | alarm-features
AR009 | prompt-red-flags | prompt | unexplained_weight_loss+change_in_bowel_habit | symptoms |  | urgent | unexplained weight loss with a change in bowel habit | S042 | B | red-flags
AR010 | prompt-red-flags | prompt | unexplained_weight_loss+new_or_persistent_bowel_change | symptoms |  | urgent | unexplained weight loss with a change in bowel habit | S042 | B | red-flags
AR011 | prompt-calprotectin | prompt | calprotectin | band_in | above_200 |  | calprotectin above 200 µg/g | S031;S073 | B | calprotectin-high
AR012 | prompt-phq9 | prompt | phq9 | score_at_least | 20 |  | PHQ-9 total 20 or more | S043 | B | phq9-severe
AR013 | advise-phq9 | advise | phq9 | score_at_least | 10 |  | PHQ-9 total 10 or more | S043 | B | phq9-moderate
AR014 | prompt-gad7 | prompt | gad7 | score_at_least | 15 |  | GAD-7 total 15 or more | S044 | B | gad7-severe
AR015 | advise-gad7 | advise | gad7 | score_at_least | 10 |  | GAD-7 total 10 or more | S044 | B | gad7-moderate
AR016 | advise-calprotectin | advise | calprotectin | band_in | 50_to_200 |  | calprotectin 50-200 µg/g | S034;S073 | C | calprotectin-grey
AR017 | advise-implausible-{marker} | advise | calprotectin;elastase | outside_assay_range |  |  | {marker} outside any assay range |  |  | implausible-marker
AR018 | advise-elastase | advise | elastase | band_in | below_100;100_to_200 |  | elastase below 200 µg/g | S039 | C | elastase-low
AR019 | advise-bowel-symptoms | advise | ibs_sss | score_above | 300 |  | IBS-SSS above 300 or a new/persistent bowel-habit change | S049;S055 | C | bowel-symptoms
AR020 | advise-bowel-symptoms | advise | new_or_persistent_bowel_change | symptoms |  |  | IBS-SSS above 300 or a new/persistent bowel-habit change | S049;S055 | C | bowel-symptoms
AR021 | info-under-18 | info | age | age_below | 18 |  | age under 18 | S032;S068 | C | under-18
"""  # noqa: E501

# Sources and grade of the fixed findings (gutbrain.workflow.interpret) and of the lifestyle
# recommendations (gutbrain.clinical.recommendations), by the statement's id.
STATEMENT_COLUMNS = ["id", "used_by", "source_id", "evidence_grade"]
STATEMENTS = """
scope-group-level | finding | S002;S057;S058 | A
context-potential | finding | S014;S072 | B
context-gut-vs-brain | finding | S013;S062;S012 | C
confounder-stool-medication | finding | S024;S023;S010 | A
context-modules | finding | S001;S072 | B
confounder-medication | finding | S024;S010;S001 | A
context-consensus | finding | S082 | B
plant-variety | recommendation | S026 | C
fibre | recommendation | S051;S016 | B
fermented-foods | recommendation | S027 | C
hydration | recommendation | S052 | B
antibiotics-recent | recommendation | S029 | C
"""


def _table(text: str, columns: list[str]) -> list[dict[str, str]]:
    """Rows of a ``" | "``-separated table written in this script."""
    rows = []
    for line in filter(None, (x.strip() for x in text.splitlines())):
        cells = [c.strip() for c in line.split("|")]
        rows.append(dict(zip(columns, cells, strict=True)))
    return rows


DIRECTION_WORD = {"depleted": "lower", "enriched": "higher"}

# Rows that are not taxon x direction associations but are shown as context, in our words.
CUSTOM_STATEMENT: dict[str, str] = {
    "TX056": "In a random sample of the adult population, people with IBS had no distinct stool "
    "microbiome signature. IBS is diagnosed from symptoms by a clinician after other causes are "
    "excluded, not from a stool profile.",
}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _tsv(rows: list[dict[str, str]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=columns, delimiter="\t", lineterminator="\n", extrasaction="raise"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({c: " ".join(str(row.get(c, "")).split()) for c in columns})
    return buffer.getvalue()


def _first_year(row: dict[str, str]) -> str:
    authors = row["first_author"].split(";")[0].strip()
    year = row["year"].split(";")[0].strip()
    return f"{authors} {year}".strip()


_NOT_VERIFIED = re.compile(r"\s*\((?:[^()]*\s)?not verified\)")


def _shown_n(n: str) -> str:
    """``n`` without internal verification remarks ("24 studies (count not verified)" -> "24
    studies"); the remark moves to ``unverified_fields``, which is never shown."""
    return _NOT_VERIFIED.sub("", n).strip()


def _taxon_statement(row: dict[str, str]) -> str:
    tid = row["id"]
    if tid in CUSTOM_STATEMENT:
        return CUSTOM_STATEMENT[tid]
    word = DIRECTION_WORD.get(row["direction"])
    phrase = PHENOTYPE_PHRASE.get(tid)
    if word is None or phrase is None:
        return ""
    design = row["study_type"].strip()
    n = _shown_n(row["n"])
    taxon = row["taxon"].split(" (incl.")[0].strip()
    return (
        f"{taxon} was {word} on average in people with {phrase} than in comparison groups "
        f"({design}; n = {n}; {_first_year(row)})."
    )


def _split_ids(cell: str) -> list[str]:
    return [s.strip() for s in cell.split(";") if s.strip()]


def build(source: Path) -> dict[str, str]:
    """Return ``{file name: text}`` of every packaged knowledge file."""
    files: dict[str, str] = {}
    sources = [
        {**s, **SOURCE_COMPLETIONS.get(s["source_id"], {})}
        for s in _read(source / "sources.tsv")
        if s["source_id"] not in DROPPED_SOURCES
    ]
    sources += ADDED_SOURCES
    files["sources.tsv"] = _tsv(
        sources,
        [
            "source_id",
            "first_author",
            "year",
            "title",
            "journal_ref",
            "doi",
            "pmid",
            "study_design",
            "url_checked",
            "verification",
            "unverified_fields",
        ],
    )
    known = {s["source_id"] for s in sources}

    taxa = []
    for row in _read(source / "taxa.tsv"):
        rank, names = TAXON_MATCH.get(row["id"], ("", ()))
        if _shown_n(row["n"]) != row["n"].strip():
            remark = f"n as recorded: {row['n'].strip()}"
            unverified = "; ".join(x for x in (row.get("unverified_fields", ""), remark) if x)
            row = {**row, "n": _shown_n(row["n"]), "unverified_fields": unverified}
        taxa.append(
            {
                **row,
                "match_rank": rank,
                "match_names": ";".join(names),
                "guild": TAXON_GUILD.get(row["id"], ""),
                "statement": _taxon_statement(row),
            }
        )
    files["taxa.tsv"] = _tsv(
        taxa,
        [
            "id",
            "taxon",
            "rank",
            "phenotype",
            "direction",
            "population",
            "n",
            "first_author",
            "year",
            "source_id",
            "study_type",
            "evidence_grade",
            "report_use",
            "verification",
            "unverified_fields",
            "match_rank",
            "match_names",
            "guild",
            "statement",
        ],
    )

    functions = {r["id"]: r for r in _read(source / "functions.tsv")}
    guild_rows = []
    for guild in GUILDS:
        grade, sids = GUILD_GRADE[guild["guild"]]
        ids = guild["knowledge_ids"].split(";")
        uses = {functions[i]["report_use"] for i in ids}
        verif = {functions[i]["verification"] for i in ids}
        guild_rows.append(
            {
                **guild,
                "evidence_grade": grade,
                "source_id": sids,
                "report_use": "report_ok" if "report_ok" in uses else sorted(uses)[0],
                "verification": "verified" if verif == {"verified"} else "partially_verified",
            }
        )
    files["guilds.tsv"] = _tsv(
        guild_rows,
        [
            "guild",
            "name",
            "knowledge_ids",
            "members",
            "computable",
            "statement",
            "caveat",
            "evidence_grade",
            "source_id",
            "report_use",
            "verification",
        ],
    )
    files["functions.tsv"] = _tsv(
        list(functions.values()),
        [
            "id",
            "trait",
            "category",
            "gbm_ids",
            "source_id",
            "study_type",
            "evidence_grade",
            "report_use",
            "verification",
            "unverified_fields",
        ],
    )

    diversity = []
    for row in _read(source / "diversity_reference.tsv"):
        grade, statement = DIVERSITY[row["id"]]
        diversity.append({**row, "evidence_grade": grade, "statement": statement})
    files["diversity.tsv"] = _tsv(
        diversity,
        [
            "id",
            "metric",
            "topic",
            "sequencing_type",
            "n",
            "first_author",
            "year",
            "source_id",
            "evidence_grade",
            "report_use",
            "verification",
            "unverified_fields",
            "statement",
        ],
    )

    markers = []
    for row in _read(source / "markers.tsv"):
        if row["id"] in SOURCE_OVERRIDES:
            ids, authors, years = SOURCE_OVERRIDES[row["id"]]
            row = {**row, "source_id": ids, "first_author": authors, "year": years}
        if all(s in DROPPED_SOURCES for s in _split_ids(row["source_id"])):
            continue  # nothing but dropped sources behind it (MK011, sIgA): not packaged
        grade, why = MARKER_GRADE[row["id"]]
        markers.append({**row, "evidence_grade": grade, "grade_rationale": why})
    files["markers.tsv"] = _tsv(
        markers,
        [
            "id",
            "marker",
            "unit",
            "value_rule",
            "first_author",
            "year",
            "source_id",
            "evidence_grade",
            "grade_rationale",
            "verification",
            "unverified_fields",
        ],
    )

    instruments = []
    for row in _read(source / "instruments.tsv"):
        kept = [s for s in _split_ids(row["source_id"]) if s not in DROPPED_SOURCES]
        authors = [a.strip() for a in row["first_author"].split(";")]
        years = [y.strip() for y in row["year"].split(";")]
        if len(kept) != len(_split_ids(row["source_id"])) and len(authors) == len(
            _split_ids(row["source_id"])
        ):
            keep = [i for i, s in enumerate(_split_ids(row["source_id"])) if s in kept]
            row = {
                **row,
                "source_id": ";".join(kept),
                "first_author": "; ".join(authors[i] for i in keep),
                "year": "; ".join(years[i] for i in keep if i < len(years)),
            }
        grade, why = INSTRUMENT_GRADE[row["id"]]
        instruments.append({**row, "evidence_grade": grade, "grade_rationale": why})
    files["instruments.tsv"] = _tsv(
        instruments,
        [
            "id",
            "instrument",
            "items",
            "score_range",
            "reverse_items",
            "recall_period",
            "first_author",
            "year",
            "source_id",
            "evidence_grade",
            "grade_rationale",
            "verification",
            "unverified_fields",
        ],
    )

    files["gbm_modules.tsv"] = _tsv(
        _read(source / "gbm_modules.tsv"),
        ["module_id", "name", "category", "n_steps", "source_id", "verification"],
    )

    files["alert_rules.tsv"] = _tsv(_table(ALERT_RULES, ALERT_RULE_COLUMNS), ALERT_RULE_COLUMNS)
    files["statements.tsv"] = _tsv(_table(STATEMENTS, STATEMENT_COLUMNS), STATEMENT_COLUMNS)

    # consistency: every cited source exists; every grade is A/B/C
    for name, text in files.items():
        for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
            for sid in filter(None, (s.strip() for s in row.get("source_id", "").split(";"))):
                if sid not in known:
                    message = f"{name} {row.get('id') or row.get('guild')}: unknown source {sid}"
                    raise SystemExit(message)
            grade = row.get("evidence_grade")
            cites_marker = row.get("test") == "outside_assay_range"  # the marker's own grade
            if grade is not None and grade not in {"A", "B", "C"} and not cites_marker:
                raise SystemExit(f"{name}: bad grade {grade!r}")

    manifest = {
        "knowledge_version": KNOWLEDGE_VERSION,
        "built_by": "scripts/build_knowledge.py",
        "inputs": {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(source.glob("*.tsv"))
            if p.name != "gbm_definitions.tsv"
        },
        "outputs": {n: hashlib.sha256(t.encode()).hexdigest() for n, t in sorted(files.items())},
        "not_shipped": {
            "gbm_definitions.tsv": "GPL-3 / academic non-commercial (omixer-rpmR); pass the "
            "definitions file at run time"
        },
    }
    files["MANIFEST.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="fail if committed files differ")
    args = parser.parse_args()
    files = build(args.source)
    if args.check:
        stale = [
            n
            for n, t in files.items()
            if not (args.out / n).exists() or (args.out / n).read_text(encoding="utf-8") != t
        ]
        if stale:
            print("stale knowledge files: " + ", ".join(sorted(stale)))
            return 1
        print(f"knowledge files current ({len(files)})")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
