"""Cohort-mode benchmark and validation: throughput, memory, scaling, recall/FDR, real tables.

One command from a clean clone (the shared folder sits beside the checkout)::

    .venv/bin/python benchmarks/bench_cohort.py tables    # 1,000 samples × 2,000 taxa; 1, 2 workers
    .venv/bin/python benchmarks/bench_cohort.py reads     # 50 samples × 300 ONT reads; 1, 2 workers
    .venv/bin/python benchmarks/bench_cohort.py validate  # simulated cohorts: recall and FDR
    .venv/bin/python benchmarks/bench_cohort.py real      # Tengeler 2020 ADHD, Tito 2024 CRC
    .venv/bin/python benchmarks/bench_cohort.py all

Options: ``--samples``, ``--taxa``, ``--reads``, ``--workers 1 2``, ``--out DIR`` (default
``benchmarks/out/cohort``; inputs and stores are rebuilt on every run).

What is measured, per worker count, on a fresh store and a fresh ``LocalCluster(processes=True,
threads_per_worker=1)`` (its start-up is timed separately and not counted in the throughput):
wall time of ``run_cohort`` (sheet already validated; task keys, Dask scheduling, per-sample
read → alpha diversity → interpretation on the workers, Parquet + catalogue commits by the
coordinator), samples per minute, peak RSS of each worker process (``ru_maxrss`` read inside the
worker after the run) and of the coordinator, then a resume run (everything skipped) and the
association analysis + report on the finished store.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gutbrain.cohort.tasks import SampleParameters
from gutbrain.model import ReadType

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker_peak_rss_mib() -> float:  # runs inside a worker
    import resource as r

    return r.getrusage(r.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_seconds() -> float:  # user + system CPU of the calling process
    import resource as r

    usage = r.getrusage(r.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_once(
    sheet_path: Path,
    store_path: Path,
    workers: int,
    parameters: SampleParameters,
    reference: tuple[str | None, str | None] = (None, None),
) -> dict[str, float]:
    import dask
    from distributed import Client, LocalCluster

    from gutbrain.cohort.runner import cluster_options, run_cohort, scheduler_config
    from gutbrain.cohort.sheet import read_sample_sheet
    from gutbrain.cohort.store import open_store

    shutil.rmtree(store_path, ignore_errors=True)
    t0 = time.perf_counter()
    sheet = read_sample_sheet(sheet_path)
    t_sheet = time.perf_counter() - t0
    with dask.config.set(scheduler_config(2)):
        t0 = time.perf_counter()
        cluster = LocalCluster(**cluster_options(workers), silence_logs=logging.ERROR)
        client = Client(cluster)
        t_cluster = time.perf_counter() - t0
        try:
            with open_store(store_path, writable=True) as store:
                cpu_workers0 = sum(client.run(_cpu_seconds).values())
                cpu_coord0 = _cpu_seconds()
                t0 = time.perf_counter()
                summary = run_cohort(
                    sheet,
                    store,
                    scheduler=cluster.scheduler_address,
                    parameters=parameters,
                    reference=reference[0],
                    reference_sha256=reference[1],
                )
                t_run = time.perf_counter() - t0
                cpu_workers = sum(client.run(_cpu_seconds).values()) - cpu_workers0
                cpu_coord = _cpu_seconds() - cpu_coord0
                rss = client.run(_worker_peak_rss_mib)
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                again = run_cohort(
                    sheet,
                    store,
                    scheduler=cluster.scheduler_address,
                    parameters=parameters,
                    reference=reference[0],
                    reference_sha256=reference[1],
                )
                t_resume = time.perf_counter() - t0
        finally:
            client.close()
            cluster.close()
    n = len(sheet.samples)
    figures = {
        "workers": workers,
        "samples": n,
        "done": summary.done,
        "failed": summary.failed,
        "sheet_s": t_sheet,
        "cluster_start_s": t_cluster,
        "run_s": t_run,
        "samples_per_min": 60.0 * n / t_run,
        "worker_peak_rss_mib": max(rss.values()),
        "coordinator_peak_rss_mib": _peak_rss_mib(),
        "worker_cpu_s_per_sample": cpu_workers / n,
        "coordinator_cpu_s_per_sample": cpu_coord / n,
        "resume_s": t_resume,
        "resume_skipped": again.skipped,
    }
    print(
        f"  workers={workers}: {summary.done}/{n} done, {summary.failed} failed; run "
        f"{t_run:.1f} s = {figures['samples_per_min']:.0f} samples/min; cluster start "
        f"{t_cluster:.1f} s; sheet {t_sheet:.2f} s; peak RSS per worker "
        f"{figures['worker_peak_rss_mib']:.0f} MiB (all: "
        f"{', '.join(f'{v:.0f}' for v in sorted(rss.values()))}); coordinator "
        f"{figures['coordinator_peak_rss_mib']:.0f} MiB; resume (all skipped: "
        f"{again.skipped}) {t_resume:.1f} s",
        flush=True,
    )
    print(
        f"    CPU per sample: workers {1000 * cpu_workers / n:.0f} ms, coordinator "
        f"{1000 * cpu_coord / n:.0f} ms incl. the in-process scheduler (user+sys); load average "
        f"{load:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    return figures


def analyse(store_path: Path, outcome: str, covariates: list[str], method: str) -> None:
    from gutbrain.cohort.associate import associate_store
    from gutbrain.cohort.report import write_cohort_report
    from gutbrain.cohort.store import open_store

    with open_store(store_path, writable=True) as store:
        t0 = time.perf_counter()
        result = associate_store(
            store,
            outcome,
            covariates=covariates,
            method=method,  # type: ignore[arg-type]
            permutations=199,
        )
        t_assoc = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_cohort_report(store, store_path / "cohort.html", sample_reports=False)
        t_report = time.perf_counter() - t0
    s = result.summary()
    print(
        f"  associate ({method}, {s['settings']['n_taxa_tested']} taxa × "
        f"{s['settings']['n_samples']} samples): {t_assoc:.1f} s; significant lm "
        f"{s['significant']['lm']}, ancombc {s['significant']['ancombc']}; report "
        f"{t_report:.1f} s ({(store_path / 'cohort.html').stat().st_size / 1e6:.1f} MB); peak RSS "
        f"{_peak_rss_mib():.0f} MiB",
        flush=True,
    )


def bench_tables(args: argparse.Namespace) -> None:
    from gutbrain.cohort.simulate import simulate_cohort, write_cohort_files

    print(f"== cohort from tables: {args.samples} samples × {args.taxa} taxa", flush=True)
    sim = simulate_cohort(
        n_samples=args.samples, n_taxa=args.taxa, n_shifted=20, effect=0.5, seed=1
    )
    folder = args.out / "tables"
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    sheet = write_cohort_files(
        sim.counts, sim.metadata.rename(columns={"outcome": "PHQ9"}), folder / "in"
    )
    present = int((sim.counts > 0).sum(axis=1).median())
    print(
        f"  wrote inputs in {time.perf_counter() - t0:.1f} s (median {present} taxa present "
        "per sample)",
        flush=True,
    )
    for w in args.workers:
        run_once(sheet, folder / f"store{w}", w, SampleParameters(rank="genus"))
    analyse(folder / f"store{args.workers[-1]}", "PHQ9", ["age"], "lm")


def _split_reads(source: Path, folder: Path, samples: int, reads: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(source, "rt") as handle:
        lines = handle.read().splitlines()
    records = [lines[i : i + 4] for i in range(0, len(lines) - 3, 4)]
    rng = np.random.default_rng(7)
    rows = ["sample_id\treads\tPHQ9\tage"]
    for i in range(samples):
        pick = rng.choice(len(records), size=min(reads, len(records)), replace=False)
        path = folder / f"R{i:03d}.fastq"
        path.write_text("".join("\n".join(records[j]) + "\n" for j in pick))
        rows.append(
            f"R{i:03d}\t{path.name}\t{int(rng.integers(0, 28))}\t{int(rng.integers(20, 70))}"
        )
    sheet = folder / "sheet.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


def bench_reads(args: argparse.Namespace) -> None:
    from gutbrain.reference.bundle import load_bundle

    source = SHARED / "bench" / "reads" / "gut_ont_5k.fastq.gz"
    print(
        f"== cohort from reads: {args.read_samples} samples × {args.reads} ONT reads "
        f"(subsampled from {source.name}), bundled reference",
        flush=True,
    )
    folder = args.out / "reads"
    shutil.rmtree(folder, ignore_errors=True)
    sheet = _split_reads(source, folder / "in", args.read_samples, args.reads)
    bundle = load_bundle(None)
    print(
        f"  reference {bundle.name} {bundle.version} ({bundle.n_sequences} sequences)", flush=True
    )
    for w in args.workers:
        figures = run_once(
            sheet,
            folder / f"store{w}",
            w,
            SampleParameters(preset=ReadType.ont, rank="genus"),
            reference=(str(bundle.path), bundle.sha256),
        )
        print(f"    = {figures['samples_per_min'] * args.reads / 60:.0f} reads/s", flush=True)


def validate(args: argparse.Namespace) -> None:
    from gutbrain.cohort.associate import associate_tables
    from gutbrain.cohort.simulate import recall_and_fdr, simulate_cohort

    print("== simulated cohorts: recall and false-discovery proportion at q ≤ 0.05", flush=True)
    print(
        "  design                                   method    tested  called  recall  FDP",
        flush=True,
    )
    for n, taxa, shifted, effect, binary in (
        (100, 150, 15, 0.5, False),
        (100, 150, 15, 1.0, False),
        (300, 150, 15, 0.5, False),
        (100, 150, 15, 1.0, True),
        (300, 300, 30, 0.5, True),
    ):
        recalls: dict[str, list[float]] = {"lm": [], "ancombc": []}
        fdps: dict[str, list[float]] = {"lm": [], "ancombc": []}
        called_n: dict[str, list[int]] = {"lm": [], "ancombc": []}
        tested = 0
        for seed in range(3):
            sim = simulate_cohort(
                n_samples=n,
                n_taxa=taxa,
                n_shifted=shifted,
                effect=effect,
                binary=binary,
                seed=100 + seed,
            )
            res = associate_tables(
                sim.counts,
                sim.metadata,
                "outcome",
                counts=True,
                covariates=["age"],
                method="both",
                permutations=99,
            )
            tested = res.settings["n_taxa_tested"]
            for name, frame in (("lm", res.taxa_lm), ("ancombc", res.taxa_ancombc)):
                assert frame is not None
                called = set(frame.loc[frame["qvalue"] <= 0.05, "feature"])
                r, f = recall_and_fdr(called, sim.shifted)
                recalls[name].append(r)
                fdps[name].append(f)
                called_n[name].append(len(called))
        design = (
            f"n={n}, {taxa} taxa, {shifted} shifted, "
            f"{'case/control logFC' if binary else 'per-SD'} {effect}"
        )
        for name in ("lm", "ancombc"):
            print(
                f"  {design:<40} {name:<8} {tested:>6} {np.mean(called_n[name]):>7.1f} "
                f"{np.mean(recalls[name]):>7.2f} {np.mean(fdps[name]):>5.2f}",
                flush=True,
            )
    print("  (means over 3 seeds; FDP = false discoveries / calls)", flush=True)


def _print_top(frame: pd.DataFrame | None, label: str, n: int = 10) -> None:
    if frame is None:
        return
    print(f"  top {label}:")
    for row in frame.head(n).itertuples(index=False):
        print(
            f"    {row.feature:<40} effect {row.effect:+.2f} "
            f"[{row.ci_low:+.2f}, {row.ci_high:+.2f}] q={row.qvalue:.3g} "
            f"prev={row.prevalence:.2f}"
        )


def real(args: argparse.Namespace) -> None:
    from gutbrain.cohort.associate import associate_tables

    data = SHARED / "data"
    folder = data / "mia_tengeler2020_adhd_microbiota"
    counts = pd.read_csv(folder / "tengeler2020_counts.tsv.gz", sep="\t", index_col=0)
    taxonomy = pd.read_csv(folder / "tengeler2020_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(folder / "tengeler2020_sample_metadata.tsv", sep="\t", index_col=0)
    genus = counts.groupby(taxonomy.loc[counts.index, "Genus"].fillna("unclassified")).sum().T
    print("== Tengeler 2020 (ADHD vs control, 27 samples; genus level, features summed by genus)")
    for covs in ([], ["cohort"]):
        res = associate_tables(
            genus,
            meta,
            "patient_status",
            counts=True,
            covariates=covs,
            method="both",
            permutations=999,
        )
        s = res.summary()
        print(
            f"  covariates {covs or 'none'}: term {s['term']}; tested "
            f"{s['settings']['n_taxa_tested']}; significant lm {s['significant']['lm']}, "
            f"ancombc {s['significant']['ancombc']}; agreement {s['agreement']}"
        )
        print(f"  PERMANOVA {res.permanova}")
        _print_top(res.taxa_lm, "CLR+OLS")
        _print_top(res.taxa_ancombc, "ANCOM-BC", 6)
    folder = data / "mia_tito2024_crc_quantitative_profiles"
    qmp = pd.read_csv(folder / "tito2024qmp_abundance.tsv.gz", sep="\t", index_col=0).T
    meta = pd.read_csv(folder / "tito2024qmp_sample_metadata.tsv", sep="\t", index_col=0)
    print("== Tito 2024 (QMP, species; CRC vs control, and adenoma vs control)")
    for case in ("CRC", "ADE"):
        keep = meta.index[meta["diagnosis"].isin([case, "CTL"])]
        m = meta.loc[keep, ["diagnosis"]].copy()
        t0 = time.perf_counter()
        res = associate_tables(
            qmp.loc[keep], m, "diagnosis", counts=False, method="both", permutations=999
        )
        s = res.summary()
        print(
            f"  {case} vs CTL: n={s['settings']['n_samples']}, tested "
            f"{s['settings']['n_taxa_tested']}; significant lm {s['significant']['lm']}, "
            f"ancombc {s['significant']['ancombc']}; agreement {s['agreement']}; "
            f"{time.perf_counter() - t0:.1f} s"
        )
        print(f"  PERMANOVA {res.permanova}")
        _print_top(res.taxa_lm, "CLR+OLS")
        _print_top(res.taxa_ancombc, "ANCOM-BC", 6)
        if res.presence is not None:
            top = res.presence.sort_values("pvalue", kind="mergesort").head(12)
            print(f"  presence (Fisher), {len(res.presence)} taxa tested; top by p:")
            for r in top.itertuples(index=False):
                print(
                    f"    {r.feature:<40} cases {r.present_cases:>3} controls "
                    f"{r.present_controls:>3} logOR {r.effect:+.2f} p={r.pvalue:.2g} "
                    f"q={r.qvalue:.2g}"
                )
        # absolute (QMP) abundances: the same OLS on log10(cells/g + 1) instead of CLR
        from gutbrain.cohort.stats import linear_associations, prevalence_filter

        filt = prevalence_filter(qmp.loc[keep], min_prevalence=0.1)
        log_abs = np.log10(filt + 1.0)
        absolute = linear_associations(log_abs, m, "diagnosis")
        absolute = absolute.sort_values("pvalue")
        hits = int((absolute["qvalue"] <= 0.05).sum())
        print(
            f"  absolute log10 QMP OLS: {hits} significant; top: "
            + ", ".join(f"{r.feature} {r.effect:+.2f}" for r in absolute.head(8).itertuples())
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["tables", "reads", "validate", "real", "all"])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--taxa", type=int, default=2000)
    parser.add_argument("--read-samples", type=int, default=50)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "cohort")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import distributed  # noqa: F401 - configures its loggers on import; quieten them after

    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    import platform

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    if args.what in ("tables", "all"):
        bench_tables(args)
    if args.what in ("reads", "all"):
        bench_reads(args)
    if args.what in ("validate", "all"):
        validate(args)
    if args.what in ("real", "all"):
        real(args)


if __name__ == "__main__":
    main()
