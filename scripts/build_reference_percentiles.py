#!/usr/bin/env python3
"""Build gutbrain's reference-cohort percentile table from real stool cohorts.

Usage::

    .venv/bin/python scripts/build_reference_percentiles.py [--shared ../shared] [--check]

Cohorts (all stool samples of the shared cohort tables; see each folder's PROVENANCE.md):

* American Gut 2014 subset: the UBERON:feces samples with >= 1,000 reads, 16S V4 (100 nt),
  Greengenes 13_8 OTUs;
* Enterotypes (Arumugam et al. 2011): genus abundances, split by method (Sanger shotgun,
  Illumina shotgun, 454 16S);
* Tito et al. 2024 (Nat Med): 589 stools, quantitative profiles at species level (genus taken as
  the first word of the species label; ``uc_*`` labels count as unassigned at genus).

For each cohort the script computes, at genus rank, with the SAME functions as
``gutbrain interpret`` (``gutbrain.ecology.alpha.alpha_diversity`` and
``gutbrain.axis.scores.score_guilds``): Shannon, inverse Simpson, observed genera and
every computable guild score, then stores 101 quantiles per metric in
``src/gutbrain/data/reference_cohorts/percentiles.json``, with each cohort's ``method_kind``
(16S, shotgun, unknown), its sample ids (so a sample is never compared with a cohort holding it)
and, for the genera named by the knowledge base's taxa of interest, the cohort median abundance
and prevalence. Deterministic and rerunnable; ``--check`` exits 1 when the committed file differs.

It also writes ``src/gutbrain/data/reference_cohorts/genus_tables.json.gz``: the genus
proportions of every sample of the cohorts whose licence allows redistributing derived data
(American Gut: modified BSD, biocore/American-Gut; Tito 2024: Artistic-2.0, microbiome/mia),
for personal beta diversity (``gutbrain.ecology.reference_beta``). The MetaHIT enterotype
tables come through phyloseq under AGPL-3, so only their summary quantiles are packaged, not
their per-sample genus tables.

Cohorts smaller than ``MIN_REFERENCE_SAMPLES`` (20) are left out: LRAS faecal (Callahan et al.
2019; 9 samples from three people, and the source of the demo sample) and GlobalPatterns (Caporaso
et al. 2011; 4 stools) are too small to place a sample among.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gutbrain.axis.reference import MIN_REFERENCE_SAMPLES
from gutbrain.axis.scores import match_rows, score_guilds
from gutbrain.ecology.alpha import alpha_diversity
from gutbrain.ecology.reference_beta import genus_key
from gutbrain.io.knowledge import load_knowledge
from gutbrain.io.tables import read_table
from gutbrain.model import Lineage, Profile, Provenance, SampleId, TaxonRow

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "gutbrain" / "data" / "reference_cohorts" / "percentiles.json"
GENUS_OUT = OUT.parent / "genus_tables.json.gz"
VERSION = "2026.12.04"
METRICS = ("shannon", "inverse_simpson", "observed")
MIN_READS = 1000


def _meta(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _ag(d: Path) -> list[Profile]:
    f = d / "american_gut_2014_debug_subset"
    stool = {
        r["sample"] if "sample" in r else next(iter(r.values())): r
        for r in _meta(f / "AG_100nt_sample_metadata.tsv")
    }
    keep = {s for s, r in stool.items() if r.get("BODY_SITE") == "UBERON:feces"}
    return [
        p
        for p in read_table(f / "AG_100nt_otu_table.tsv.gz")
        if p.sample_id in keep and (p.total_reads or 0) >= MIN_READS
    ]


def _enterotype(d: Path, tech: str) -> list[Profile]:
    f = d / "phyloseq_enterotype_arumugam2011"
    keep = {
        r["sample"] for r in _meta(f / "enterotype_sample_metadata.tsv") if r["SeqTech"] == tech
    }
    profiles = read_table(
        f / "enterotype_otu_table.tsv.gz", taxonomy=f / "enterotype_taxonomy.tsv.gz"
    )
    return [p for p in profiles if p.sample_id in keep]


def _tito(d: Path) -> list[Profile]:
    f = d / "mia_tito2024_crc_quantitative_profiles" / "tito2024qmp_abundance.tsv.gz"
    with gzip.open(f, "rt", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    samples = rows[0][1:]
    labels = [r[0] for r in rows[1:]]
    values = np.array([[float(x) for x in r[1:]] for r in rows[1:]])
    genus_of = [None if lab.startswith("uc_") else lab.split(".")[0] for lab in labels]
    provenance = Provenance(gutbrain_version="build", source="reference:tito2024")
    out = []
    for j, sample in enumerate(samples):
        column = values[:, j]
        total = column.sum()
        if total <= 0:
            continue
        by_genus: dict[str, float] = {}
        for g, v in zip(genus_of, column, strict=True):
            if g is not None and v > 0:
                by_genus[g] = by_genus.get(g, 0.0) + v / total
        assigned = sum(by_genus.values())
        taxon_rows = tuple(
            TaxonRow(rank="genus", lineage=Lineage(genus=g), abundance=a)
            for g, a in sorted(by_genus.items())
        )
        out.append(
            Profile(
                sample_id=SampleId(sample),
                rows=taxon_rows,
                unassigned={"genus": max(0.0, 1.0 - assigned)},
                provenance=provenance,
            )
        )
    return out


COHORTS: list[dict[str, object]] = [
    {
        "key": "american_gut",
        "genus_table_licence": "Modified BSD (biocore/American-Gut)",
        "method_kind": "16S",
        "cohort": "American Gut 2014 subset (stool)",
        "method": "16S rRNA V4 (100 nt), Greengenes 13_8 OTUs",
        "loader": _ag,
        "citation": "McDonald D et al. (2018) mSystems 3:e00031-18",
        "note": "Self-selected volunteers; samples with at least 1,000 reads.",
    },
    {
        "key": "enterotype_illumina",
        "method_kind": "shotgun",
        "cohort": "MetaHIT Illumina enterotype samples, Arumugam 2011",
        "method": "shotgun metagenomics, Illumina",
        "loader": lambda d: _enterotype(d, "Illumina"),
        "citation": "Arumugam M et al. (2011) Nature 473:174-180",
        "note": "Shotgun genus abundances: a different method from 16S; read as approximate.",
    },
    {
        "key": "enterotype_sanger",
        "method_kind": "shotgun",
        "cohort": "MetaHIT Sanger enterotype samples, Arumugam 2011",
        "method": "shotgun metagenomics, Sanger",
        "loader": lambda d: _enterotype(d, "Sanger"),
        "citation": "Arumugam M et al. (2011) Nature 473:174-180",
        "note": "Shotgun genus abundances: a different method from 16S; read as approximate.",
    },
    {
        "key": "enterotype_454",
        "method_kind": "16S",
        "cohort": "Enterotype 16S samples, Arumugam 2011",
        "method": "16S rRNA, 454 pyrosequencing",
        "loader": lambda d: _enterotype(d, "Pyro454"),
        "citation": "Arumugam M et al. (2011) Nature 473:174-180",
        "note": "",
    },
    {
        "key": "tito2024",
        "genus_table_licence": "Artistic-2.0 (microbiome/mia)",
        "method_kind": "unknown",
        "cohort": "Tito 2024 colonoscopy cohort (stool)",
        "method": "quantitative microbiome profiling, species labels (the sequencing method is "
        "not recorded in the shared export); relative abundances used",
        "loader": _tito,
        "citation": "Tito RY et al. (2024) Nat Med 30:1339-1348",
        "note": "People referred for colonoscopy (adenoma, cancer, controls), not a general "
        "population; genus taken from species labels.",
    },
]


def _taxa_of_interest_genera() -> list[str]:
    kb = load_knowledge()
    names = {n for t in kb.taxa if t.shown and t.match_rank == "genus" for n in t.match_names}
    return sorted(names)


def _genus_stats(profiles: list[Profile], genera: list[str]) -> dict[str, dict[str, float]]:
    """Median abundance (fraction of reads) and prevalence of each genus across ``profiles``."""
    out: dict[str, dict[str, float]] = {}
    for genus in genera:
        values = [sum(r.abundance for r, _ in match_rows(p, "genus", genus)) for p in profiles]
        if not values:
            continue
        out[genus] = {
            "median": float(f"{float(np.median(values)):.6g}"),
            "prevalence": float(f"{sum(v > 0 for v in values) / len(values):.4g}"),
        }
    return out


def _genus_table(spec: dict[str, object], profiles: list[Profile]) -> dict[str, object]:
    """Sparse genus proportions (fraction of reads, 5 significant digits) of every sample."""
    rows: list[dict[str, float]] = []
    for p in profiles:
        by: dict[str, float] = {}
        for r in p.at_rank("genus"):
            if r.abundance > 0:
                k = genus_key(r.taxon)
                by[k] = by.get(k, 0.0) + r.abundance
        rows.append(by)
    genera = sorted({g for row in rows for g in row})
    index = {g: i for i, g in enumerate(genera)}
    return {
        "key": spec["key"],
        "cohort": spec["cohort"],
        "method": spec["method"],
        "citation": spec["citation"],
        "licence": spec["genus_table_licence"],
        "samples": [str(p.sample_id) for p in profiles],
        "genera": genera,
        "values": [
            [
                [index[g], float(f"{v:.5g}")]
                for g, v in sorted(row.items(), key=lambda x: index[x[0]])
            ]
            for row in rows
        ],
    }


def _gzip_json(data: object) -> bytes:
    text = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as handle:
        handle.write(text)
    return buffer.getvalue()


def build(shared: Path) -> tuple[str, bytes]:
    kb = load_knowledge()
    genera = _taxa_of_interest_genera()
    genus_tables: list[dict[str, object]] = []
    data = shared / "data"
    cohorts = []
    for spec in COHORTS:
        loader: Callable[[Path], list[Profile]] = spec["loader"]  # type: ignore[assignment]
        profiles = [p for p in loader(data) if alpha_diversity(p, rank="genus").get("observed")]
        if len(profiles) < MIN_REFERENCE_SAMPLES:
            print(f"{spec['key']}: {len(profiles)} samples, too few; left out", file=sys.stderr)
            continue
        values: dict[str, list[float]] = {}
        ranks_used: dict[str, set[str]] = {}
        for p in profiles:
            alpha = alpha_diversity(p, rank="genus")
            if not alpha.get("observed"):
                continue
            for m in METRICS:
                v = alpha.get(m)
                if v is not None:
                    values.setdefault(m, []).append(float(v))
            for g in score_guilds(p, kb):
                if g.computable and g.value is not None:
                    key = f"guild:{g.guild_id}"
                    values.setdefault(key, []).append(g.value)
                    ranks_used.setdefault(key, set()).add(g.coverage_rank)
        if "genus_table_licence" in spec:
            genus_tables.append(_genus_table(spec, profiles))
        n = len(values.get("shannon", []))
        metrics = {}
        for key, vals in sorted(values.items()):
            q = np.quantile(np.array(vals), np.linspace(0, 1, 101))
            entry: dict[str, object] = {"n": len(vals), "quantiles": [float(f"{x:.6g}") for x in q]}
            if key in ranks_used:
                entry["ranks_used"] = ",".join(sorted(ranks_used[key]))
            metrics[key] = entry
        cohorts.append(
            {
                "key": spec["key"],
                "method_kind": spec["method_kind"],
                "sample_ids": sorted(str(p.sample_id) for p in profiles),
                "genus_medians": _genus_stats(profiles, genera),
                "cohort": spec["cohort"],
                "method": spec["method"],
                "n_samples": n,
                "rank": "genus",
                "citation": spec["citation"],
                "note": spec["note"],
                "metrics": metrics,
            }
        )
        print(f"{spec['key']}: {n} samples, {len(metrics)} metrics", file=sys.stderr)
    table = {
        "version": VERSION,
        "built_by": "scripts/build_reference_percentiles.py",
        "diversity_function": "gutbrain.ecology.alpha.alpha_diversity (genus rank, natural log)",
        "percentile_rule": "mid-rank among 101 stored quantiles",
        "cohorts": cohorts,
    }
    genus = {
        "version": VERSION,
        "built_by": "scripts/build_reference_percentiles.py",
        "values": "fraction of the sample's reads per genus (named genera only)",
        "cohorts": genus_tables,
    }
    return json.dumps(table, indent=1, sort_keys=True) + "\n", _gzip_json(genus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text, genus = build(args.shared)
    genus_out = args.out.parent / GENUS_OUT.name
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        current_genus = genus_out.read_bytes() if genus_out.exists() else b""
        if current != text or current_genus != genus:
            print("reference percentiles or genus tables are stale; rerun the script")
            return 1
        print("reference percentiles and genus tables current")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    genus_out.write_bytes(genus)
    print(f"wrote {args.out} and {genus_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
