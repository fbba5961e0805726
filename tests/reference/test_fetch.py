"""``gutbrain db fetch refseq-16s`` against local mirrors (file:// and a loopback HTTP server).

No test touches the network: mirrors are folders in ``tmp_path`` with NCBI's layout, served from
disk or by ``http.server`` on 127.0.0.1; the offline case uses a closed loopback port.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.errors import OutputExistsError, ReferenceDatabaseError
from gutbrain.reference.bundle import load_bundle
from gutbrain.reference.fetch import (
    FASTA_PATH,
    TAXDUMP_PATH,
    download,
    fetch_refseq_16s,
    read_taxdump,
)

# A hand-made NCBI taxonomy: (tax id, parent, rank, scientific name)
NODES: list[tuple[int, int, str, str]] = [
    (1, 1, "no rank", "root"),
    (131567, 1, "no rank", "cellular organisms"),
    (2, 131567, "superkingdom", "Bacteria"),
    (1224, 2, "phylum", "Proteobacteria"),
    (1236, 1224, "class", "Gammaproteobacteria"),
    (91347, 1236, "order", "Enterobacterales"),
    (543, 91347, "family", "Enterobacteriaceae"),
    (561, 543, "genus", "Escherichia"),
    (562, 561, "species", "Escherichia coli"),
    (564, 561, "species", "Escherichia fergusonii"),
    (1239, 2, "phylum", "Bacillota"),
    (91061, 1239, "class", "Bacilli"),
    (1385, 91061, "order", "Bacillales"),
    (186817, 1385, "family", "Bacillaceae"),
    (1386, 186817, "genus", "Bacillus"),
    (1423, 1386, "species", "Bacillus subtilis"),
]
SYNONYMS = [(564, "Escherichia fergusoni")]  # an old spelling, listed as a synonym


def _sequence(seed: int, length: int = 1300) -> str:
    state = seed
    bases = []
    for _ in range(length):
        state = (state * 1103515245 + 12345) % 2**31
        bases.append("ACGT"[state >> 29])
    return "".join(bases)


RECORDS = [
    ("NR_024570.1", "Escherichia coli strain U 5/41", _sequence(1)),
    ("NR_104826.1", "Escherichia fergusoni strain ATCC 35469", _sequence(2)),
    ("NR_112116.2", "Bacillus subtilis strain IAM 12118", _sequence(3)),
    ("NR_900001.1", "Bacillus novus strain X1", _sequence(4)),  # species unknown: genus tier
    ("NR_900002.1", "Novogenus primus strain Y", _sequence(5)),  # genus unknown too
    ("NR_900003.1", "Escherichia coli strain short", _sequence(6, length=500)),  # too short
]


def _dmp(rows: list[list[str]]) -> bytes:
    return "".join("\t|\t".join(row) + "\t|\n" for row in rows).encode()


def _taxdump(nodes: list[tuple[int, int, str, str]], extra_names: list[list[str]]) -> bytes:
    node_rows = [[str(t), str(p), r, "", "0"] for t, p, r, _ in nodes]
    name_rows = [[str(t), n, "", "scientific name"] for t, _, _, n in nodes]
    name_rows += [[str(t), n, "", "synonym"] for t, n in SYNONYMS]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, data in (
            ("nodes.dmp", _dmp(node_rows)),
            ("names.dmp", _dmp(name_rows + extra_names)),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _mirror(
    root: Path,
    *,
    nodes: list[tuple[int, int, str, str]] = NODES,
    extra_names: list[list[str]] | None = None,
    records: list[tuple[str, str, str]] = RECORDS,
    md5: str | None = None,
) -> Path:
    fasta = root / FASTA_PATH
    fasta.parent.mkdir(parents=True)
    text = "".join(
        f">{acc} {organism} 16S ribosomal RNA, partial sequence\n{seq}\n"
        for acc, organism, seq in records
    )
    fasta.write_bytes(gzip.compress(text.encode(), mtime=0))
    taxdump = root / TAXDUMP_PATH
    taxdump.parent.mkdir(parents=True)
    data = _taxdump(nodes, extra_names or [])
    taxdump.write_bytes(data)
    digest = md5 if md5 is not None else hashlib.md5(data, usedforsecurity=False).hexdigest()
    taxdump.with_name("taxdump.tar.gz.md5").write_text(f"{digest}  taxdump.tar.gz\n")
    return root


def test_file_mirror_builds_a_bundle_with_ncbi_lineages(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path / "mirror")
    bundle = fetch_refseq_16s(out=tmp_path / "out", mirror=mirror.as_uri())
    taxonomy = bundle.taxonomy
    # the short record is left out; the others are kept
    assert sorted(taxonomy) == [
        "NR_024570.1",
        "NR_104826.1",
        "NR_112116.2",
        "NR_900001.1",
        "NR_900002.1",
    ]
    coli = taxonomy["NR_024570.1"]
    assert (coli.species, coli.genus, coli.family, coli.phylum, coli.superkingdom) == (
        "Escherichia coli",
        "Escherichia",
        "Enterobacteriaceae",
        "Proteobacteria",
        "Bacteria",
    )
    assert bundle.taxids["NR_024570.1"] == "562"
    # a synonym in names.dmp finds the species; the lineage uses the scientific names
    assert bundle.taxids["NR_104826.1"] == "564"
    assert taxonomy["NR_104826.1"].order == "Enterobacterales"
    # species unknown to the dump: its genus's lineage with the header's species name
    novus = taxonomy["NR_900001.1"]
    assert (novus.species, novus.family) == ("Bacillus novus", "Bacillaceae")
    assert "NR_900001.1" not in bundle.taxids
    # genus unknown too: kingdom, genus and species only
    primus = taxonomy["NR_900002.1"]
    assert (primus.species, primus.genus, primus.family, primus.superkingdom) == (
        "Novogenus primus",
        "Novogenus",
        None,
        "Bacteria",
    )
    fetched = bundle.manifest["fetch"]
    assert fetched["lineage_tiers"] == {
        "taxid": 3,
        "genus": 1,
        "taxid-family": 0,
        "genus-only": 1,
    }
    assert fetched["records_shorter_than_min_length"] == 1
    assert [f["path"] for f in fetched["files"]] == [FASTA_PATH, TAXDUMP_PATH]
    taxdump_bytes = (mirror / TAXDUMP_PATH).read_bytes()
    assert (
        fetched["files"][1]["md5"] == hashlib.md5(taxdump_bytes, usedforsecurity=False).hexdigest()
    )
    assert {s["name"] for s in bundle.manifest["sources"]} >= {"NCBI Taxonomy (taxdump)"}


def test_existing_bundle_is_refused_before_downloading(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    # an unreachable mirror: the existing folder is reported first, nothing is fetched
    with pytest.raises(OutputExistsError, match="--force"):
        fetch_refseq_16s(out=tmp_path / "out", mirror=f"http://127.0.0.1:{_closed_port()}/")
    mirror = _mirror(tmp_path / "mirror")
    bundle = fetch_refseq_16s(out=tmp_path / "out", mirror=mirror.as_uri(), replace=True)
    assert bundle.n_sequences == 5


def test_domain_rank_of_2025_dumps_is_read_as_superkingdom(tmp_path: Path) -> None:
    nodes = [(t, p, "domain" if r == "superkingdom" else r, n) for t, p, r, n in NODES]
    mirror = _mirror(tmp_path / "mirror", nodes=nodes)
    bundle = fetch_refseq_16s(out=tmp_path / "out", mirror=mirror.as_uri())
    assert bundle.taxonomy["NR_112116.2"].superkingdom == "Bacteria"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "served"
    root.mkdir()

    def handler(*args: object, **kwargs: object) -> _QuietHandler:
        return _QuietHandler(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_loopback_http_mirror_gives_the_same_bundle_and_a_dated_version(
    tmp_path: Path, http_mirror: tuple[str, Path]
) -> None:
    url, root = http_mirror
    _mirror(root / "ncbi")
    bundle = fetch_refseq_16s(out=tmp_path / "http", mirror=url + "ncbi/")
    from_file = fetch_refseq_16s(out=tmp_path / "file", mirror=(root / "ncbi").as_uri())
    assert bundle.taxonomy == from_file.taxonomy
    # http.server sends Last-Modified: the version is that date
    assert len(bundle.version) == 10
    assert bundle.version[4] == "-"
    assert bundle.version[7] == "-"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_offline_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    mirror = f"http://127.0.0.1:{_closed_port()}/"
    with pytest.raises(ReferenceDatabaseError, match="cannot reach the server") as info:
        fetch_refseq_16s(out=tmp_path / "out", mirror=mirror, timeout=5)
    assert info.value.code == "GB-REF-OFFLINE"
    assert "--mirror" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_md5_mismatch_is_refused(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path / "mirror", md5="0" * 32)
    with pytest.raises(ReferenceDatabaseError, match="does not match the published") as info:
        fetch_refseq_16s(out=tmp_path / "out", mirror=mirror.as_uri())
    assert info.value.code == "GB-REF-FETCH"
    assert not (tmp_path / "out").exists()


def test_corrupt_fasta_gzip_is_refused(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path / "mirror")
    fasta = mirror / FASTA_PATH
    data = fasta.read_bytes()
    fasta.write_bytes(data[: len(data) // 2])  # truncated in transit
    with pytest.raises(ReferenceDatabaseError, match="not intact gzip") as info:
        fetch_refseq_16s(out=tmp_path / "out", mirror=mirror.as_uri())
    assert info.value.code == "GB-REF-FETCH"


def test_missing_file_on_the_mirror(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path / "mirror")
    (mirror / FASTA_PATH).unlink()
    with pytest.raises(ReferenceDatabaseError, match="no such file on the mirror") as info:
        fetch_refseq_16s(out=tmp_path / "out", mirror=mirror.as_uri())
    assert info.value.code == "GB-REF-FETCH"


def test_taxdump_naming_a_tax_id_it_lacks(tmp_path: Path) -> None:
    # names.dmp names E. coli under tax id 562, but nodes.dmp has no node 562
    nodes = [row for row in NODES if row[0] != 562]
    mirror = _mirror(
        tmp_path / "mirror",
        nodes=nodes,
        extra_names=[["562", "Escherichia coli", "", "scientific name"]],
    )
    with pytest.raises(ReferenceDatabaseError, match="tax id 562") as info:
        fetch_refseq_16s(out=tmp_path / "out", mirror=mirror.as_uri())
    assert info.value.code == "GB-REF-TREE"
    assert "nodes.dmp" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_taxdump_node_with_a_missing_parent(tmp_path: Path) -> None:
    nodes = [row for row in NODES if row[0] != 543]  # the family of Escherichia is gone
    mirror = _mirror(tmp_path / "mirror", nodes=nodes)
    with pytest.raises(ReferenceDatabaseError, match="tax id 543") as info:
        fetch_refseq_16s(out=tmp_path / "out", mirror=mirror.as_uri())
    assert info.value.code == "GB-REF-TREE"


class _ShortHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"x" * 10)  # then the connection closes early

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_short_download_is_refused_and_leaves_no_partial_file(tmp_path: Path) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _ShortHandler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    dest = tmp_path / "dl" / "file.gz"
    try:
        with pytest.raises(ReferenceDatabaseError) as info:
            download(f"http://127.0.0.1:{server.server_address[1]}/f", dest, timeout=10)
    finally:
        thread.join()
        server.server_close()
    assert info.value.code == "GB-REF-FETCH"
    assert list((tmp_path / "dl").iterdir()) == []


def test_read_taxdump_skips_homonyms(tmp_path: Path) -> None:
    # two species-rank nodes share a name: the name alone cannot tell which
    nodes = [*NODES, (999999, 1386, "species", "Escherichia coli")]
    path = tmp_path / "taxdump.tar.gz"
    path.write_bytes(_taxdump(nodes, []))
    dump = read_taxdump(path, species_names=["Escherichia coli", "Bacillus subtilis"])
    assert dump.species == {"Bacillus subtilis": "1423"}


def test_cli_fetch_from_mirror_and_offline(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path / "mirror")
    runner = CliRunner()
    out = tmp_path / "bundle"
    result = runner.invoke(
        app, ["db", "fetch", "refseq-16s", "--mirror", mirror.as_uri(), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert load_bundle(out).n_sequences == 5
    assert "taxid 3" in result.output
    offline = runner.invoke(
        app,
        [
            "db",
            "fetch",
            "refseq-16s",
            "--mirror",
            f"http://127.0.0.1:{_closed_port()}/",
            "--out",
            str(tmp_path / "never"),
        ],
    )
    assert isinstance(offline.exception, ReferenceDatabaseError)
    assert offline.exception.code == "GB-REF-OFFLINE"
    assert offline.exception.exit_code == 78
    unknown = runner.invoke(app, ["db", "fetch", "silva"])
    assert unknown.exit_code == 2


def test_shared_refseq_records_with_a_reduced_ncbi_dump(tmp_path: Path, shared_dir: Path) -> None:
    """Real RefSeq records of the Zymo species and the reduced NCBI dump of Emu's example."""
    data = shared_dir / "data"
    mock = data / "mock_member_16s_references"
    wanted = {"Escherichia coli", "Staphylococcus aureus", "Listeria monocytogenes"}
    records = []
    with gzip.open(data / "ncbi_refseq_16s" / "bacteria.16SrRNA.fna.gz", "rt") as handle:
        header, chunks = "", []
        for line in [*handle, ">end"]:
            if line.startswith(">"):
                if header and " ".join(header.split()[1:3]) in wanted:
                    acc, _, rest = header.partition(" ")
                    organism = rest.split(" 16S ribosomal RNA")[0]
                    records.append((acc, organism, "".join(chunks)))
                header, chunks = line[1:].strip(), []
            else:
                chunks.append(line.strip())
    root = tmp_path / "mirror"
    _mirror(root, records=records)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in ("nodes.dmp", "names.dmp"):
            archive.add(mock / f"zymo_d6300_{member}", arcname=member)
    (root / TAXDUMP_PATH).write_bytes(buffer.getvalue())
    digest = hashlib.md5(buffer.getvalue(), usedforsecurity=False).hexdigest()
    (root / (TAXDUMP_PATH + ".md5")).write_text(f"{digest}  taxdump.tar.gz\n")
    bundle = fetch_refseq_16s(out=tmp_path / "out", mirror=root.as_uri())
    species = {lineage.species for lineage in bundle.taxonomy.values()}
    assert species == wanted
    # the reduced dump's lineage (Emu's example taxonomy) for every record
    for ref_id, lineage in bundle.taxonomy.items():
        assert lineage.family is not None, ref_id
        assert lineage.superkingdom == "Bacteria"
    assert set(bundle.taxids.values()) == {"562", "1280", "1639"}
