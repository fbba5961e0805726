"""K-mer likelihood rows (issue 11): hand-computed errors, the row rule, properties, end to end."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gutbrain.profile.em import LikelihoodMatrix, run_em
from gutbrain.profile.kmer_rows import KmerRows, RowScorer, kmer_row_hits
from gutbrain.profile.kmer_screen import (
    ScreenResult,
    ScreenSettings,
    build_kmer_index,
    kmer_row_errors,
    reverse_complement,
)
from gutbrain.profile.likelihood import ErrorModel, alignment_log_likelihood
from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.reference.bundle import load_bundle
from gutbrain.reference.formats import import_bundle
from tests.profile.profile_helpers import reference_sequences

# a 240-base reference with no repeated 8-mer, and a copy differing at 3 positions >= 8 apart
_RNG = np.random.default_rng(3)


def _unique_kmer_sequence(length: int, k: int) -> str:
    while True:
        sequence = "".join(_RNG.choice(list("ACGT"), size=length).tolist())
        kmers = [sequence[i : i + k] for i in range(length - k + 1)]
        if len(set(kmers)) == len(kmers):
            return sequence


def _substitute(sequence: str, positions: list[int]) -> str:
    chars = list(sequence)
    for p in positions:
        chars[p] = "ACGT"[("ACGT".index(chars[p]) + 1) % 4]
    return "".join(chars)


REF_A = _unique_kmer_sequence(240, 8)
REF_B = _substitute(REF_A, [60, 120, 180])
FINE = ScreenSettings(kmer_rows=True, row_k=8, row_scale=1, row_min_bases=0.0, row_z=0.0)


def _candidates(n_reads: int, units: list[list[int]]) -> ScreenResult:
    """A screen result whose reads are all row-eligible with the given candidate units."""
    z = np.zeros(n_reads, dtype=np.int64)
    read = np.array([i for i, us in enumerate(units) for _ in us], dtype=np.int64)
    unit = np.array([u for us in units for u in us], dtype=np.int64)
    return ScreenResult(
        z - 1, z, z, z, z, z, z, z[:0], z[:0],
        row=np.ones(n_reads, dtype=bool), row_read=read, row_unit=unit,
        reverse=np.zeros(n_reads, dtype=bool),
    )  # fmt: skip


def _scorer(settings: ScreenSettings, references: list[str], units: list[int]) -> RowScorer:
    return RowScorer(lambda i: references[i], np.asarray(units, dtype=np.int64), settings)


def test_errors_per_candidate_are_hand_computed() -> None:
    scorer = _scorer(FINE, [REF_A, REF_B], [0, 1])
    # an exact copy of A: 233 8-mers, all in A; each of B's 3 differences removes 8 of them
    # (e = 8 × 233 / 233 = 8 k-mers per base), so B is 24 / 8 = 3 bases behind
    read = REF_A
    rows = scorer.rows(_candidates(1, [[1, 0]]), [read])
    assert rows.row.tolist() == [True]
    assert rows.unit.tolist() == [0, 1]  # the best first
    assert rows.errors.tolist() == pytest.approx([0.0, 3.0])
    # one read error at base 20 removes 8 k-mers from every unit: 225 of 233 found,
    # e = 8 × 225 / 233, and B is still 24 k-mers behind: 24 × 233 / (8 × 225) bases
    noisy = _substitute(REF_A, [20])
    rows = scorer.rows(_candidates(1, [[0, 1]]), [noisy])
    assert rows.errors.tolist() == pytest.approx([0.0, 24 * 233 / (8 * 225)])
    # the slope converts bases into error events
    steep = _scorer(replace(FINE, row_slope=2.5), [REF_A, REF_B], [0, 1])
    assert steep.rows(_candidates(1, [[0, 1]]), [read]).errors.tolist() == pytest.approx([0.0, 7.5])
    assert kmer_row_errors([24], [8.0], slope=1.0).tolist() == [3.0]


def test_a_read_close_to_two_units_is_left_to_alignment() -> None:
    read = REF_A
    # 3 bases apart: below row_min_bases 4 -> aligned; at 2 -> a row
    assert (
        not _scorer(replace(FINE, row_min_bases=4.0), [REF_A, REF_B], [0, 1])
        .rows(_candidates(1, [[0, 1]]), [read])
        .row.any()
    )
    assert (
        _scorer(replace(FINE, row_min_bases=2.0), [REF_A, REF_B], [0, 1])
        .rows(_candidates(1, [[0, 1]]), [read])
        .row.all()
    )
    # the Poisson test: 3 >= z × sqrt(3 + 2 × 0) holds for z = 1.7, not for z = 1.8
    assert (
        _scorer(replace(FINE, row_z=1.7), [REF_A, REF_B], [0, 1])
        .rows(_candidates(1, [[0, 1]]), [read])
        .row.all()
    )
    assert (
        not _scorer(replace(FINE, row_z=1.8), [REF_A, REF_B], [0, 1])
        .rows(_candidates(1, [[0, 1]]), [read])
        .row.any()
    )
    # a member of the best unit's species group within 2 × margin × length is never in a row:
    # 3 bases of 240 is 0.0125; margin 0.005 needs 2.4 bases (a row), 0.01 needs 4.8 (aligned)
    groups = np.array([0, 0])
    scorer = _scorer(FINE, [REF_A, REF_B], [0, 1])
    rows = scorer.rows(_candidates(1, [[0, 1]]), [read], unit_group=groups)
    assert rows.row.all()
    rows = scorer.rows(
        _candidates(1, [[0, 1]]), [read], unit_group=groups, group_identity_margin=0.01
    )
    assert not rows.row.any()


def test_a_read_its_best_unit_does_not_explain_is_left_to_alignment() -> None:
    # A with B's base at 60: 8 of the read's 233 k-mers are in B only, so the best (A, 225
    # shared) misses m = 8 / 8 = 1 base of what the candidates explain, and B (217 shared) is
    # (225 - 217) / 8 = 1 base behind
    read = _substitute(REF_A, [60])
    scorer = _scorer(replace(FINE, row_max_missing=1.0), [REF_A, REF_B], [0, 1])
    rows = scorer.rows(_candidates(1, [[0, 1]]), [read])
    assert rows.row.all()
    assert rows.errors.tolist() == pytest.approx([0.0, 1.0])
    strict = _scorer(replace(FINE, row_max_missing=0.9), [REF_A, REF_B], [0, 1])
    assert not strict.rows(_candidates(1, [[0, 1]]), [read]).row.any()


def test_row_hits_carry_the_errors_as_mismatches() -> None:
    scorer = _scorer(replace(FINE, row_slope=2.0), [REF_A, REF_B], [0, 1])
    rows = scorer.rows(_candidates(2, [[0, 1], [1, 0]]), [REF_A, REF_B])
    hits = kmer_row_hits(rows, np.array([7, 9]), [REF_A, REF_B], np.array([0, 1]))
    assert hits.read.tolist() == [7, 7, 9, 9]
    assert hits.ref.tolist() == [0, 1, 1, 0]
    assert hits.edit_distance.tolist() == [0, 6, 0, 6]
    assert hits.mismatches.tolist() == [0, 6, 0, 6]
    assert hits.primary.tolist() == [True, False, True, False]
    model = ErrorModel(np.log(0.5), np.log(0.2), np.log(0.2), np.log(0.1))
    log_l = alignment_log_likelihood(hits, model, n_reads=10)
    assert log_l.tolist() == pytest.approx([0.0, 6 * np.log(0.5), 0.0, 6 * np.log(0.5)])


_DNA = st.text(alphabet="ACGT", min_size=60, max_size=140)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    references=st.lists(_DNA, min_size=2, max_size=5),
    picks=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 60), st.integers(30, 80)),
                   min_size=1, max_size=10),
    seed=st.integers(0, 2**16),
)  # fmt: skip
def test_row_properties(
    references: list[str], picks: list[tuple[int, int, int]], seed: int
) -> None:
    units = list(range(len(references)))
    loose = ScreenSettings(
        k=11, scale=1, max_units=8, min_kmers=1, min_found=0.0, min_purity=0.0,
        min_margin=10_000, margin_fraction=0.0, kmer_rows=True, row_k=9, row_scale=1,
        row_min_bases=0.0, row_z=0.0,
    )  # fmt: skip
    index = build_kmer_index(references, units, settings=loose)
    scorer = _scorer(loose, references, units)
    reads = []
    for ref, start, length in picks:
        source = references[ref % len(references)]
        read = source[start % len(source) :][:length]
        reads.append(reverse_complement(read) if (seed + start) % 2 else read)
    result = index.screen(reads)
    rows = scorer.rows(result, reads)
    # every read accounted for: decided, a row, or aligned; a row only for eligible reads
    assert rows.row.shape == (len(reads),)
    assert not (rows.row & result.decided).any()
    assert not (rows.row & ~result.row).any()
    assert set(rows.read.tolist()) == set(np.nonzero(rows.row)[0].tolist())
    # one best entry per row, first, with no errors; errors never negative
    first = np.ones(rows.read.size, dtype=bool)
    first[1:] = rows.read[1:] != rows.read[:-1]
    assert np.all(rows.errors[first] == 0.0)
    assert np.all(rows.errors >= 0.0)
    # an exact match to one unit only is never contradicted: no candidate beats it
    for i, read in enumerate(reads):
        holders = {
            u for u, ref in enumerate(references) if read in ref or reverse_complement(read) in ref
        }
        if len(holders) == 1 and rows.row[i]:
            mine = rows.read == i
            holder = holders.pop()
            assert holder in rows.unit[mine].tolist()
            assert rows.errors[mine][rows.unit[mine] == holder][0] == 0.0
    # batch order invariance: the same candidates and errors per read
    order = np.random.default_rng(seed).permutation(len(reads))
    shuffled_reads = [reads[i] for i in order]
    again = scorer.rows(index.screen(shuffled_reads), shuffled_reads)
    assert np.array_equal(again.row, rows.row[order])

    def per_read(r: KmerRows) -> list[list[tuple[int, float]]]:
        out: list[list[tuple[int, float]]] = [[] for _ in reads]
        for j, u, e in zip(r.read.tolist(), r.unit.tolist(), r.errors.tolist(), strict=True):
            out[j].append((u, round(e, 9)))
        return [sorted(x) for x in out]

    assert per_read(again) == [per_read(rows)[i] for i in order.tolist()]


@settings(max_examples=40, deadline=None)
@given(
    errors=st.lists(st.lists(st.floats(0, 20), min_size=1, max_size=4), min_size=1, max_size=8),
    aligned=st.lists(st.lists(st.floats(-60, 0), min_size=1, max_size=4), min_size=1, max_size=8),
    slope=st.floats(0.5, 4.0),
)
def test_em_likelihood_never_decreases_with_kmer_rows(
    errors: list[list[float]], aligned: list[list[float]], slope: float
) -> None:
    rows, cols, values = [], [], []
    log_p = np.log(0.5)
    for r, row in enumerate(errors):  # k-mer rows: best 0 errors, others slope × errors
        for j, e in enumerate([0.0, *row]):
            rows.append(r)
            cols.append(j)
            values.append(slope * e * log_p)
    for r, row in enumerate(aligned, start=len(errors)):
        for j, v in enumerate(row):
            rows.append(r)
            cols.append(j)
            values.append(v)
    matrix = LikelihoodMatrix.from_triplets(
        rows, cols, values, n_reads=len(errors) + len(aligned), n_taxa=5
    )
    result = run_em(matrix, tol=1e-9, max_iter=200)
    trace = np.array(result.log_likelihoods)
    assert np.all(np.diff(trace) >= -1e-9 * np.maximum(1.0, np.abs(trace[1:])))


def _near_tie_bundle(folder: Path) -> Path:
    seqs = reference_sequences()
    near_a = seqs["7000004128190436"]
    positions = [200, 400, 600, 800, 1000, 1200]
    near_b = _substitute(near_a, positions)  # 6 bases from A: a near-tie for the k-mer screen
    folder.mkdir(parents=True)
    fasta = folder / "ref.fasta"
    fasta.write_text(f">near_a\n{near_a}\n>near_b\n{near_b}\n")
    taxonomy = folder / "taxonomy.tsv"
    lines = ["id\ttax_id\tspecies\tgenus\tfamily\torder\tclass\tphylum\tsuperkingdom"]
    lines.append("near_a\t1\tAlpha one\tAlpha\tF1\tO1\tC1\tP1\tBacteria")
    lines.append("near_b\t2\tBeta two\tBeta\tF2\tO2\tC2\tP2\tBacteria")
    taxonomy.write_text("\n".join(lines) + "\n")
    fastq = folder / "reads.fastq"
    with fastq.open("w") as handle:
        for i in range(30):
            # error-free copies of A, trimmed a little differently (distinct reads)
            read = near_a[i : len(near_a) - i]
            handle.write(f"@r{i}\n{read}\n+\n{'I' * len(read)}\n")
    import_bundle(fasta, taxonomy, format="tsv-ranks", name="near", version="1", out=folder / "b")
    return fastq


def test_a_near_tie_read_becomes_a_kmer_row_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    reads = _near_tie_bundle(tmp_path / "ref")
    bundle = load_bundle(tmp_path / "ref" / "b")
    ont = PROFILE_PRESETS["ont"]
    assert ont.screen is not None
    assert ont.screen.kmer_rows
    result = profile_sample([reads], bundle=bundle, preset="ont", sample_id="near")
    counts = result.assignment
    # no read is decided outright (6 differences are a near-tie in sampled k-mers) and every
    # read gets a k-mer row: screened, none aligned
    assert counts["reads_screened_kmer_rows"] == 30
    assert counts["reads_screened"] == 30
    assert counts["reads_aligned"] == 0
    species = {row.taxon: row.reads for row in result.profile.at_rank("species")}
    assert species["Alpha one"] == pytest.approx(30, abs=0.5)
    assert "Beta two" not in species or species["Beta two"] < 0.5
    labels = {label for _, label, _, _ in result.read_assignments}
    assert labels == {"assigned_species"}
    # rows off: the same reads are aligned, with the same answer
    off = replace(ont, screen=replace(ont.screen, kmer_rows=False))
    plain = profile_sample([reads], bundle=bundle, preset="ont", sample_id="near", settings=off)
    assert plain.assignment["reads_screened_kmer_rows"] == 0
    assert plain.assignment["reads_aligned"] == 30
    plain_species = {row.taxon: row.reads for row in plain.profile.at_rank("species")}
    assert plain_species["Alpha one"] == pytest.approx(30, abs=0.5)
