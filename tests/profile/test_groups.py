"""Species groups at profile time: contested sister species become one group row."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from biom import load_table

from gutbrain.io.profile_files import write_profile_files
from gutbrain.io.tables import read_profile_tsv
from gutbrain.profile.groups import compute_species_groups, species_identities
from gutbrain.profile.pipeline import profile_sample
from gutbrain.reference.bundle import ReferenceBundle
from gutbrain.reference.formats import import_bundle
from gutbrain.reference.groups import write_species_groups
from tests.profile.profile_helpers import mutate, reference_sequences, substitute_bases

_LINEAGE = "Bacteroidaceae\tBacteroidales\tBacteroidia\tBacteroidetes\tBacteria"


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def _sources() -> dict[str, tuple[str, str]]:
    seqs = reference_sequences()
    fragilis = seqs["7000004128190436"]
    return {
        "frag1": ("Bacteroides fragilis", fragilis),
        "sis1": ("Bacteroides sororis", substitute_bases(fragilis, 4, 2)),  # 0.3 % apart
        "vulg1": ("Bacteroides vulgatus", seqs["S000436356"]),
        "kleb1": ("Klebsiella pneumoniae", seqs["S000003122"]),
    }


def _bundle(folder: Path, *, groups: bool) -> ReferenceBundle:
    rows = _sources()
    folder.mkdir(parents=True, exist_ok=True)
    fasta = folder / "ref.fasta"
    fasta.write_text("".join(f">{k}\n{s}\n" for k, (_, s) in rows.items()))
    taxonomy = folder / "taxonomy.tsv"
    lines = ["id\ttax_id\tspecies\tgenus\tfamily\torder\tclass\tphylum\tsuperkingdom"]
    for number, (ref_id, (species, _)) in enumerate(rows.items(), start=1):
        lines.append(f"{ref_id}\t{number}\t{species}\t{species.split()[0]}\t{_LINEAGE}")
    taxonomy.write_text("\n".join(lines) + "\n")
    bundle = import_bundle(
        fasta, taxonomy, format="tsv-ranks", name="sisters", version="1", out=folder / "b"
    )
    return write_species_groups(bundle, compute_species_groups(bundle)) if groups else bundle


def _reads(path: Path, counts: dict[str, int], *, seed: int, rate: float) -> Path:
    rng = np.random.default_rng(seed)
    sources = _sources()
    with gzip.open(path, "wt") as handle:
        k = 0
        for ref_id, n in counts.items():
            for _ in range(n):
                k += 1
                read = mutate(sources[ref_id][1], rate, rng)
                handle.write(f"@r{k}\n{read}\n+\n{'5' * len(read)}\n")
    return path


@pytest.fixture
def reads(tmp_path: Path) -> Callable[..., Path]:
    def make(counts: dict[str, int], *, rate: float = 0.05, seed: int = 5) -> Path:
        return _reads(tmp_path / "reads.fastq.gz", counts, seed=seed, rate=rate)

    return make


def test_contested_sisters_are_reported_as_their_group(
    tmp_path: Path, reads: Callable[..., Path]
) -> None:
    bundle = _bundle(tmp_path / "ref", groups=True)
    sample = reads({"frag1": 60, "vulg1": 40})
    result = profile_sample([sample], bundle=bundle, preset="ont", sample_id="s")
    species = {row.taxon: row for row in result.profile.at_rank("species")}
    assert "Bacteroides fragilis group" in species
    group = species["Bacteroides fragilis group"]
    assert group.members == ("Bacteroides fragilis", "Bacteroides sororis")
    assert group.lineage.genus == "Bacteroides"
    assert group.reads == pytest.approx(60, abs=3)
    assert "Bacteroides sororis" not in species
    assert "Bacteroides fragilis" not in species
    # a well-separated species stays a species, without members
    assert species["Bacteroides vulgatus"].members == ()
    assert species["Bacteroides vulgatus"].reads == pytest.approx(40, abs=3)
    assert result.assignment["reads_assigned_group"] == pytest.approx(60, abs=3)
    assert result.em.species_groups_merged == ("Bacteroides fragilis group",)
    # genus rows are unchanged by groups
    genus = {row.taxon: row.reads for row in result.profile.at_rank("genus")}
    assert genus["Bacteroides"] == pytest.approx(100, abs=3)
    # profile.tsv carries the members and reads back
    out = write_profile_files(result, tmp_path / "out")
    again = read_profile_tsv(out / "profile.tsv")
    read_group = next(r for r in again.rows if r.taxon == "Bacteroides fragilis group")
    assert read_group.members == group.members
    table = load_table(str(out / "profile.biom"))
    members = table.metadata("Bacteroides fragilis group", axis="observation")["members"]
    assert members == "Bacteroides fragilis;Bacteroides sororis"


def test_without_groups_the_sisters_are_species(tmp_path: Path, reads: Callable[..., Path]) -> None:
    bundle = _bundle(tmp_path / "ref", groups=False)
    result = profile_sample([reads({"frag1": 60})], bundle=bundle, preset="ont")
    names = {row.taxon for row in result.profile.at_rank("species")}
    assert not any(name.endswith(" group") for name in names)
    assert all(not row.members for row in result.profile.rows)


def test_ambiguity_codes_are_not_differences(tmp_path: Path) -> None:
    """A sister record with 20 IUPAC codes besides its 4 substitutions (0.3 %) is still ≥ 99 %
    identical: minimap2 counts the codes in NM, the identity leaves them out."""
    rows = _sources()
    species, sister = rows["sis1"]
    chars = list(sister)
    for position in range(100, 1100, 50):  # 20 positions, none of the substituted ones
        if chars[position] == rows["frag1"][1][position]:
            chars[position] = "N" if position % 100 else "R"
    rows["sis1"] = (species, "".join(chars))
    folder = tmp_path / "ref"
    folder.mkdir()
    fasta = folder / "ref.fasta"
    fasta.write_text("".join(f">{k}\n{s}\n" for k, (_, s) in rows.items()))
    taxonomy = folder / "taxonomy.tsv"
    lines = ["id\ttax_id\tspecies\tgenus\tfamily\torder\tclass\tphylum\tsuperkingdom"]
    for number, (ref_id, (name, _)) in enumerate(rows.items(), start=1):
        lines.append(f"{ref_id}\t{number}\t{name}\t{name.split()[0]}\t{_LINEAGE}")
    taxonomy.write_text("\n".join(lines) + "\n")
    bundle = import_bundle(
        fasta, taxonomy, format="tsv-ranks", name="ambiguous", version="1", out=folder / "b"
    )
    identity = species_identities(bundle)
    assert identity["Bacteroides fragilis", "Bacteroides sororis"] == pytest.approx(
        1 - 4 / 1500, abs=0.002
    )
    groups = compute_species_groups(bundle, identities=identity)
    assert [g.members for g in groups.groups] == [("Bacteroides fragilis", "Bacteroides sororis")]
