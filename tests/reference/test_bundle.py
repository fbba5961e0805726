"""Reference bundles: build, load, verify, index (RELIABILITY.md §2.3 R01–R09, §5.2)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import mappy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.model import Lineage
from gutbrain.profile.index import ensure_index
from gutbrain.reference import bundle as refdb
from gutbrain.reference import index as refindex
from gutbrain.reference.bundle import (
    ReferenceWarning,
    TaxonRecord,
    build_bundle,
    check_lineages,
    default_bundle_path,
    list_bundles,
    load_bundle,
    read_sequences,
    verify_bundle,
)
from gutbrain.reference.formats import import_bundle, read_fasta

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def _tiny(out: Path, **options: object) -> refdb.ReferenceBundle:
    return import_bundle(
        FIXTURES / "tiny.fasta",
        FIXTURES / "tiny_taxonomy.tsv",
        format="tsv-ranks",
        name="tiny",
        version="1",
        out=out,
        **options,  # type: ignore[arg-type]
    )


def _no_partials(folder: Path) -> bool:
    return not any(".partial-" in p.name for p in folder.iterdir())


def test_build_and_load_round_trip(tmp_path: Path) -> None:
    bundle = _tiny(tmp_path / "tiny")
    again = load_bundle(tmp_path / "tiny")
    assert again == bundle
    assert bundle.n_sequences == 5
    assert bundle.taxonomy["ref1"] == Lineage(
        superkingdom="Bacteria",
        phylum="Firmicutes",
        class_="Clostridia",
        order="Eubacteriales",
        family="Oscillospiraceae",
        genus="Faecalibacterium",
        species="Faecalibacterium prausnitzii",
    )
    assert bundle.taxonomy["ref4"].species is None
    assert bundle.taxids == {"ref1": "1", "ref2": "2", "ref3": "3", "ref4": "4"}
    assert bundle.copy_numbers == {}
    # identity = sha256 of the manifest bytes; provenance carries it
    manifest_bytes = (tmp_path / "tiny" / "manifest.json").read_bytes()
    assert bundle.sha256 == hashlib.sha256(manifest_bytes).hexdigest()
    assert bundle.provenance() == {"name": "tiny", "version": "1", "sha256": bundle.sha256}
    files = json.loads(manifest_bytes)["files"]
    for name in ("sequences.fasta.gz", "taxonomy.tsv"):
        assert (
            files[name]["sha256"] == hashlib.sha256((bundle.path / name).read_bytes()).hexdigest()
        )
    # sequences come back upper case, in input order, with the description dropped
    source = [(h.split()[0], s) for h, s, _ in read_fasta(FIXTURES / "tiny.fasta")]
    assert list(read_sequences(bundle)) == source


def test_build_is_deterministic(tmp_path: Path) -> None:
    first = _tiny(tmp_path / "a")
    second = _tiny(tmp_path / "b")
    for name in ("manifest.json", "sequences.fasta.gz", "taxonomy.tsv"):
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes()
    assert first.sha256 == second.sha256


@pytest.mark.parametrize("change", ["changed", "added", "removed"])
def test_verify_detects_changed_added_removed_file(tmp_path: Path, change: str) -> None:
    bundle = _tiny(tmp_path / "tiny")
    verify_bundle(bundle.path)  # intact: passes
    taxonomy = bundle.path / "taxonomy.tsv"
    if change == "changed":
        text = taxonomy.read_text(encoding="utf-8")
        taxonomy.write_text(text.replace("Akkermansia", "Akkermansio"), encoding="utf-8")
    elif change == "added":
        (bundle.path / "extra.fasta").write_text(">x\nACGT\n", encoding="utf-8")
    else:
        (bundle.path / "sequences.fasta.gz").unlink()
    with pytest.raises(ReferenceDatabaseError, match=change) as info:
        verify_bundle(bundle.path)
    assert info.value.code == "GB-REF-CHANGED"
    assert info.value.exit_code == 78


def test_load_without_verify_still_catches_a_size_change(tmp_path: Path) -> None:
    bundle = _tiny(tmp_path / "tiny")
    with open(bundle.path / "taxonomy.tsv", "a", encoding="utf-8") as handle:
        handle.write("ref9\t\t\t\t\t\t\tBacteria\t\t\t\n")
    with pytest.raises(ReferenceDatabaseError, match=r"taxonomy\.tsv changed") as info:
        load_bundle(bundle.path)
    assert info.value.code == "GB-REF-CHANGED"


def test_index_folder_is_not_an_added_file(tmp_path: Path) -> None:
    bundle = _tiny(tmp_path / "tiny")
    ensure_index(bundle, preset="map-ont")
    assert (bundle.path / "index").is_dir()
    verify_bundle(bundle.path)


def test_missing_taxonomy_is_config_error_before_sequences_are_read(tmp_path: Path) -> None:
    # R01: the sequence file does not exist either; the taxonomy error must come first.
    with pytest.raises(ReferenceDatabaseError, match="taxonomy file not found") as info:
        import_bundle(
            tmp_path / "absent.fasta",
            tmp_path / "absent_taxonomy.tsv",
            format="qiime",
            name="x",
            out=tmp_path / "x",
        )
    assert info.value.code == "GB-REF-TAX"
    assert not (tmp_path / "x").exists()


def test_missing_taxonomy_in_bundle_is_config_error(tmp_path: Path) -> None:
    bundle = _tiny(tmp_path / "tiny")
    (bundle.path / "taxonomy.tsv").unlink()
    with pytest.raises(ReferenceDatabaseError) as info:
        load_bundle(bundle.path)
    assert info.value.code == "GB-REF-TAX"


def test_duplicate_reference_ids_rejected_and_nothing_written(tmp_path: Path) -> None:
    # R04: minimap2/mappy accept duplicate names; gutbrain must not.
    with pytest.raises(ReferenceDatabaseError, match="'ref1'") as info:
        import_bundle(
            FIXTURES / "duplicate_ids.fasta",
            FIXTURES / "tiny_taxonomy.tsv",
            format="tsv-ranks",
            name="dup",
            out=tmp_path / "dup",
        )
    assert info.value.code == "GB-REF-DUPID"
    assert not (tmp_path / "dup").exists()
    assert _no_partials(tmp_path)


def test_orphan_sequence_ids_listed_with_count_and_first_ten(tmp_path: Path) -> None:
    # R02: 12 sequences lack taxonomy: the message gives the count and exactly the first 10.
    fasta = tmp_path / "orphans.fasta"
    fasta.write_text(
        ">ref1\nACGTACGTAC\n" + "".join(f">orphan{i:02d}\nACGTACGTAC\n" for i in range(12)),
        encoding="utf-8",
    )
    with pytest.raises(ReferenceDatabaseError) as info:
        import_bundle(
            fasta, FIXTURES / "tiny_taxonomy.tsv", format="tsv-ranks", name="o", out=tmp_path / "o"
        )
    message = str(info.value)
    assert info.value.code == "GB-REF-NOTAX"
    assert "12 of 13 sequence(s) have no taxonomy row" in message
    assert "'orphan09'" in message
    assert "'orphan10'" not in message
    assert not (tmp_path / "o").exists()


def test_orphan_taxonomy_rows_warn_with_count(tmp_path: Path) -> None:
    # R03
    with pytest.warns(ReferenceWarning, match="2 taxonomy row"):
        bundle = import_bundle(
            FIXTURES / "tiny.fasta",
            FIXTURES / "taxonomy_without_sequences.tsv",
            format="tsv-ranks",
            name="t",
            out=tmp_path / "t",
        )
    assert "ref_extra1" not in bundle.taxonomy
    assert any("2 taxonomy row(s)" in note for note in bundle.manifest["warnings"])


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "non_nucleotide_sequence.fasta",
            r"'ref2' has non-nucleotide character 'E' at position 41",
        ),
        ("empty_sequence.fasta", r"'ref2' has an empty sequence"),
    ],
)
def test_bad_sequences_rejected(tmp_path: Path, fixture: str, expected: str) -> None:
    # R09: only IUPAC codes are accepted
    with pytest.raises(ReferenceDatabaseError, match=expected) as info:
        import_bundle(
            FIXTURES / fixture,
            FIXTURES / "tiny_taxonomy.tsv",
            format="tsv-ranks",
            name="bad",
            out=tmp_path / "bad",
        )
    assert info.value.code == "GB-REF-SEQ"
    assert not (tmp_path / "bad").exists()


def test_lowercase_and_iupac_accepted_and_upper_cased(tmp_path: Path) -> None:
    with pytest.warns(ReferenceWarning, match="4 taxonomy row"):
        bundle = import_bundle(
            FIXTURES / "lowercase_iupac.fasta",
            FIXTURES / "tiny_taxonomy.tsv",
            format="tsv-ranks",
            name="lc",
            out=tmp_path / "lc",
        )
    ((ref_id, sequence),) = list(read_sequences(bundle))
    assert ref_id == "ref1"
    assert sequence[50:55] == "NRYKM"
    assert sequence == sequence.upper()


def test_check_lineages_counts_names_under_two_parents() -> None:
    # Hand count: Clostridium under 2 families, Blautia under 2 families; nothing else conflicts.
    taxonomy = {
        "a": TaxonRecord(Lineage(family="Clostridiaceae", genus="Clostridium")),
        "b": TaxonRecord(Lineage(family="Peptostreptococcaceae", genus="Clostridium")),
        "c": TaxonRecord(Lineage(family="Clostridiaceae", genus="Clostridium")),
        "d": TaxonRecord(Lineage(family="Lachnospiraceae", genus="Blautia")),
        "e": TaxonRecord(Lineage(family="Ruminococcaceae", genus="Blautia")),
        "f": TaxonRecord(Lineage(family="Bacteroidaceae", genus="Bacteroides")),
    }
    (note,) = check_lineages(taxonomy)
    assert note.startswith("2 genus name(s) appear under more than one family")
    assert "Clostridium under Clostridiaceae (2), Peptostreptococcaceae (1)" in note


def test_inconsistent_lineage_warns_on_import(tmp_path: Path) -> None:
    with pytest.warns(ReferenceWarning, match="2 genus name"):
        import_bundle(
            FIXTURES / "tiny.fasta",
            FIXTURES / "inconsistent_lineage_taxonomy.tsv",
            format="tsv-ranks",
            name="inc",
            out=tmp_path / "inc",
        )


def test_interrupted_build_leaves_no_half_bundle(tmp_path: Path) -> None:
    def stream() -> Iterator[tuple[str, str]]:
        yield "ref1", "ACGT" * 40
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_bundle(
            tmp_path / "half",
            sequences=stream(),
            taxonomy={"ref1": TaxonRecord(Lineage(genus="Blautia"))},
            name="half",
            version="1",
            source="test",
            licence="none",
            citation="",
        )
    assert list(tmp_path.iterdir()) == []


def test_replace_keeps_old_bundle_until_new_one_is_complete(tmp_path: Path) -> None:
    old = _tiny(tmp_path / "tiny")
    with pytest.raises(ReferenceDatabaseError):
        import_bundle(
            FIXTURES / "duplicate_ids.fasta",
            FIXTURES / "tiny_taxonomy.tsv",
            format="tsv-ranks",
            name="tiny",
            out=tmp_path / "tiny",
            replace=True,
        )
    assert verify_bundle(tmp_path / "tiny") == old


def test_ensure_index_builds_once_and_reuses(tmp_path: Path) -> None:
    bundle = _tiny(tmp_path / "tiny")
    first = ensure_index(bundle, preset="map-ont")
    assert first.parent == bundle.path / "index"
    assert bundle.sha256[:16] in first.name
    assert f"mappy{mappy.__version__}" in first.name
    stamp = first.stat().st_mtime_ns
    again = ensure_index(bundle, preset="map-ont")
    assert again == first
    assert again.stat().st_mtime_ns == stamp
    aligner = mappy.Aligner(str(first), preset="map-ont")
    assert aligner.n_seq == 5
    ref3 = dict(read_sequences(bundle))["ref3"]
    hits = list(aligner.map(ref3))
    assert hits[0].ctg == "ref3"


def test_mmi_parameter_mismatch_rebuilds(tmp_path: Path) -> None:
    # R08: another preset or k/w gives another index file; the old one is not reused.
    bundle = _tiny(tmp_path / "tiny")
    ont = ensure_index(bundle, preset="map-ont")
    hifi = ensure_index(bundle, preset="map-hifi")
    small_k = ensure_index(bundle, preset="map-ont", k=11, w=5)
    assert len({ont, hifi, small_k}) == 3
    assert "-k11-w5" in small_k.name
    assert mappy.Aligner(str(small_k)).n_seq == 5


def test_changed_bundle_gets_a_new_index(tmp_path: Path) -> None:
    # R07: new bytes -> new manifest sha256 -> new index key.
    first = _tiny(tmp_path / "tiny")
    index_one = ensure_index(first, preset="map-ont")
    with pytest.warns(ReferenceWarning):
        second = import_bundle(
            FIXTURES / "lowercase_iupac.fasta",
            FIXTURES / "tiny_taxonomy.tsv",
            format="tsv-ranks",
            name="tiny",
            version="1",
            out=tmp_path / "tiny",
            replace=True,
        )
    assert second.sha256 != first.sha256
    assert ensure_index(second, preset="map-ont") != index_one


def test_read_only_bundle_indexes_into_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _tiny(tmp_path / "tiny")
    # root can write a 0o555 folder, so the permission check itself is what we stand in for
    real = refindex._writable_folder
    monkeypatch.setattr(
        refindex, "_writable_folder", lambda folder: folder.parent != bundle.path and real(folder)
    )
    path = ensure_index(bundle, preset="map-ont")
    assert path.parent == tmp_path / "xdg-cache" / "gutbrain" / "index"
    assert not (bundle.path / "index").exists()


def test_default_bundle_indexes_into_cache_not_package(tmp_path: Path) -> None:
    bundle = load_bundle()
    path = ensure_index(bundle, preset="map-ont", k=15, w=10)
    assert path.parent == tmp_path / "xdg-cache" / "gutbrain" / "index"
    assert not (default_bundle_path() / "index").exists()


def test_empty_sequences_never_reach_mappy(tmp_path: Path) -> None:
    # R05: mappy gives a truthy Aligner with n_seq == 0 for an empty file.
    bundle = _tiny(tmp_path / "tiny")
    (bundle.path / "sequences.fasta.gz").write_bytes(b"")
    with pytest.raises(ReferenceDatabaseError) as info:
        ensure_index(bundle, preset="map-ont")
    assert info.value.code == "GB-REF-INDEX"


def test_garbage_sequences_detected_after_indexing(tmp_path: Path) -> None:
    bundle = _tiny(tmp_path / "tiny")
    (bundle.path / "sequences.fasta.gz").write_bytes(b"\x00\x01garbage" * 20)
    with pytest.raises(ReferenceDatabaseError, match="empty index") as info:
        ensure_index(bundle, preset="map-ont")
    assert info.value.code == "GB-REF-INDEX"
    assert not list((bundle.path / "index").glob("*.mmi"))


def test_default_bundle_loads_and_verifies() -> None:
    bundle = load_bundle(None, verify=True)
    assert bundle.path == default_bundle_path()
    assert bundle.name == "refseq16s-gut"
    counts = bundle.manifest["counts"]
    # RefSeq records >= 1,200 bp (26,267 of 26,877, PROVENANCE.md), 45 + 69 mock-member copies,
    # HITdb's 2,473
    assert bundle.n_sequences == counts["sequences"] == 26_267 + 45 + 69 + 2_473
    assert bundle.manifest["refseq"]["records_kept"] == 26_267
    assert sum(bundle.manifest["refseq"]["lineage_tiers"].values()) == 26_267
    assert bundle.manifest["mock_members"]["sequences"] == 45 + 69
    assert counts["with_copy_number"] > 10_000
    # a RefSeq type-strain record (NR_024570.1, E. coli U 5/41) with its NCBI species tax id
    assert bundle.taxonomy["NR_024570.1"].species == "Escherichia coli"
    assert bundle.taxonomy["NR_024570.1"].family == "Enterobacteriaceae"
    assert bundle.taxids["NR_024570.1"] == "562"
    # mock members under today's NCBI names (Zymo's file says Lactobacillus fermentum)
    assert bundle.taxonomy["zymo|Lactobacillus_fermentum_16S_1"].species == (
        "Limosilactobacillus fermentum"
    )
    # known HITdb entries (HITdb_taxonomy_qiime.txt), prefixed
    assert bundle.taxonomy["hitdb|Abiotrophia_defectiva_AY879307"].species == (
        "Abiotrophia defectiva"
    )
    assert bundle.taxonomy["hitdb|OTU834"].genus == "Sphingomonas"
    assert bundle.taxonomy["hitdb|OTU834"].species is None
    licences = {s["name"]: s["licence"] for s in bundle.manifest["sources"]}
    assert "CC BY 4.0" in licences["HITdb"]
    assert "no licence file" in licences["HITdb"]
    assert any("no restrictions" in text for name, text in licences.items() if "RefSeq" in name)
    size = sum(p.stat().st_size for p in default_bundle_path().iterdir() if p.is_file())
    # ~9.5 MB: 28,854 sequences with lineages (the RefSeq set is 38.9 Mbp; gzip -9)
    assert size < 12 * 1024 * 1024


def test_default_bundle_script_is_reproducible(shared_dir: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_default_reference.py"),
            "--shared",
            str(shared_dir),
            "--check",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical to the committed bundle" in result.stdout


def test_names_resolve_through_user_data_folder(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDatabaseError) as info:
        load_bundle("tiny")
    assert info.value.code == "GB-REF-NOTFOUND"
    assert "refseq16s-gut" in str(info.value)
    import_bundle(
        FIXTURES / "tiny.fasta",
        FIXTURES / "tiny_taxonomy.tsv",
        format="tsv-ranks",
        name="tiny",
        version="2",
    )
    assert (tmp_path / "xdg-data" / "gutbrain" / "db" / "tiny" / "manifest.json").is_file()
    assert load_bundle("tiny").version == "2"
    assert load_bundle("default").name == "refseq16s-gut"
    # the bundled default's earlier name still resolves to it
    assert load_bundle("gut-default").path == default_bundle_path()
    listed = list_bundles()
    assert [(s.name, s.is_default) for s in listed] == [("refseq16s-gut", True), ("tiny", False)]
    assert listed[1].sequences == 5


def test_folder_without_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReferenceDatabaseError, match=r"manifest\.json is missing") as info:
        load_bundle(tmp_path / "empty")
    assert info.value.code == "GB-REF-MANIFEST"


def test_corrupt_manifest_is_config_error(tmp_path: Path) -> None:
    bundle = _tiny(tmp_path / "tiny")
    (bundle.path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ReferenceDatabaseError, match="not valid JSON"):
        load_bundle(bundle.path)


def test_copy_numbers_joined_by_species_else_genus(tmp_path: Path) -> None:
    # rrndb_mini.tsv hand means: F. prausnitzii (7+5)/2 = 6; B. longum 4;
    # genus Akkermansia (3+5)/2 = 4 (the 'Akkermansia sp.' row has no count); no Methanobrevibacter.
    bundle = _tiny(tmp_path / "tiny", copy_numbers=FIXTURES / "rrndb_mini.tsv")
    assert bundle.copy_numbers == {"ref1": 6.0, "ref2": 6.0, "ref3": 4.0, "ref4": 4.0}
    lines = (bundle.path / "taxonomy.tsv").read_text(encoding="utf-8").splitlines()
    by_id = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert by_id["ref1"][10] == "rrnDB 5.4 species mean"
    assert by_id["ref4"][10] == "rrnDB 5.4 genus mean"
    assert by_id["ref5"][9:] == ["", ""]
    assert bundle.manifest["copy_numbers"]["matched"] == {
        "species": 3,
        "genus": 1,
        "none": 1,
        "source": 0,
    }


_RANK_NAME = st.one_of(st.none(), st.from_regex(r"[A-Z][a-z]{1,10}( [a-z]{2,8})?", fullmatch=True))


@given(
    rows=st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9_.|:-]{1,12}", fullmatch=True),
            st.lists(_RANK_NAME, min_size=7, max_size=7),
            st.one_of(st.none(), st.from_regex(r"[0-9]{1,7}", fullmatch=True)),
            st.sampled_from("ACGTNRYacgtn"),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda row: row[0],
    )
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_build_load_round_trip_property(
    tmp_path: Path, rows: list[tuple[str, list[str | None], str | None, str]]
) -> None:
    # Whatever the lineages, ids and sequences, loading a bundle gives back exactly what was built.
    out = tmp_path / f"prop-{abs(hash(tuple(r[0] for r in rows)))}"
    taxonomy = {
        ref_id: TaxonRecord(Lineage(*names), taxid=taxid) for ref_id, names, taxid, _ in rows
    }
    sequences = [(ref_id, base * 30) for ref_id, _, _, base in rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReferenceWarning)
        bundle = build_bundle(
            out, sequences=sequences, taxonomy=taxonomy, name="p", version="1", source="test",
            licence="none", citation="", replace=True,
        )  # fmt: skip
    assert dict(bundle.taxonomy) == {ref_id: record.lineage for ref_id, record in taxonomy.items()}
    assert dict(bundle.taxids) == {r: rec.taxid for r, rec in taxonomy.items() if rec.taxid}
    assert list(read_sequences(bundle)) == [(ref_id, seq.upper()) for ref_id, seq in sequences]


def test_unknown_preset_is_refused_not_silently_map_ont(tmp_path: Path) -> None:
    """Regression: mappy builds map-ont's index for any unknown preset name ('map-on' typo)."""
    bundle = _tiny(tmp_path / "tiny")
    assert mappy.Aligner(seq="ACGT" * 50, preset="map-on").k == 15  # mappy's silent fallback
    with pytest.raises(ReferenceDatabaseError, match="'map-on' is not one of map-ont") as info:
        ensure_index(bundle, preset="map-on")
    assert info.value.code == "GB-REF-INDEX"
    assert not (bundle.path / "index").exists() or not list((bundle.path / "index").iterdir())
