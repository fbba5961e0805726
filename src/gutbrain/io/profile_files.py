"""The files of a profiled sample and the record they are written from.

:func:`gutbrain.profile.pipeline.profile_sample` returns a :class:`ProfileResult`;
:func:`write_profile_files` writes it as one folder (``gutbrain profile``) and
:func:`add_profile_files` puts the same files into a folder being built (``gutbrain run``'s
output folder)::

    profile.tsv            taxa with lineage, estimated reads, abundance (and CI), unassigned rows
    profile.biom           the species profile as BIOM 2.1 (HDF5)
    qc.json                read QC, read outcomes and the EM run (:class:`EMSummary`)
    provenance.json        versions, reference, parameters, input checksums
    read_assignments.tsv   one line per read (only when asked for)

Every file is written atomically (:mod:`gutbrain.io.files`), so a reader never sees half of
one; :func:`write_profile_files` builds the whole folder under a temporary name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gutbrain.errors import ErrorCode, OptionError
from gutbrain.io.files import atomic_directory, atomic_write_text
from gutbrain.io.jsonfile import write_json
from gutbrain.io.tables import write_profile_biom, write_profile_tsv
from gutbrain.model import Profile, ReadQC

__all__ = [
    "EMSummary",
    "ProfileResult",
    "add_profile_files",
    "write_profile_files",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EMSummary:
    """What the abundance estimate of one sample took and kept.

    ``iterations``, ``log_likelihood`` and ``converged`` describe the final EM run (pruning
    included, :func:`gutbrain.profile.em.estimate_abundances`); ``taxa_kept`` counts the taxon
    units with a non-zero abundance and ``prune_threshold`` (abundance, 0–1) is the last
    pruning threshold. ``distinct_reads`` (identical reads collapsed) and ``alignments`` are the
    size of the problem; ``error_model`` holds the error-type probabilities
    (:class:`gutbrain.profile.likelihood.ErrorModel`). ``bootstrap_replicates`` is 0 when no
    interval was computed. ``species_groups`` counts the reference's groups present in the
    index; ``species_groups_merged`` names the groups reported as one row (reference and ad-hoc
    ones), ``species_groups_adhoc`` the ad-hoc ones and ``species_contests_at_genus`` the genera
    whose contests were too large for a group (:mod:`gutbrain.profile.contest`, whose
    log-likelihood threshold is ``contest_threshold_log_likelihood``; ``None`` when contests
    are off).
    """

    iterations: int
    log_likelihood: float
    converged: bool
    taxa_kept: int
    prune_threshold: float
    distinct_reads: int
    alignments: int
    error_model: Mapping[str, float]
    bootstrap_replicates: int
    species_groups: int
    species_groups_merged: tuple[str, ...] = ()
    species_groups_adhoc: tuple[str, ...] = ()
    species_contests_at_genus: tuple[str, ...] = ()
    contest_threshold_log_likelihood: float | None = None

    def scalars(self) -> dict[str, int | float | bool]:
        """The single-number figures (for a run's ``run_info``), in a stable order.

        ``references_kept`` repeats ``taxa_kept`` under the name files written before this
        record existed use (see :meth:`as_dict`).
        """
        out: dict[str, int | float | bool] = {
            "iterations": self.iterations,
            "log_likelihood": self.log_likelihood,
            "converged": self.converged,
            "references_kept": self.taxa_kept,
            "taxa_kept": self.taxa_kept,
            "prune_threshold": self.prune_threshold,
            "distinct_reads": self.distinct_reads,
            "alignments": self.alignments,
            "bootstrap_replicates": self.bootstrap_replicates,
            "species_groups": self.species_groups,
        }
        if self.contest_threshold_log_likelihood is not None:
            out["contest_threshold_log_likelihood"] = self.contest_threshold_log_likelihood
        return out

    def as_dict(self) -> dict[str, object]:
        """The ``em`` document of ``qc.json``: every field, lists as lists.

        The files keep the ``references_kept`` key (the same value as ``taxa_kept``) so that
        they read as they did before this record replaced a plain mapping.
        """
        return {
            **self.scalars(),
            "error_model": dict(self.error_model),
            "species_groups_merged": list(self.species_groups_merged),
            "species_groups_adhoc": list(self.species_groups_adhoc),
            "species_contests_at_genus": list(self.species_contests_at_genus),
            "contest_threshold_log_likelihood": self.contest_threshold_log_likelihood,
        }


@dataclass(frozen=True, slots=True)
class ProfileResult:
    """A sample's profile with the figures behind it.

    ``profile`` has species rows and genus rows; per rank, rows plus ``unassigned`` sum to 1
    (fractions of all input reads). ``assignment`` counts reads by outcome, ``em`` describes the
    EM run. ``read_assignments`` holds one ``(read, status, rank, taxon)`` tuple per input read.
    """

    profile: Profile
    qc: ReadQC
    assignment: Mapping[str, int]
    em: EMSummary
    read_assignments: tuple[tuple[str, str, str, str], ...] = field(default=(), repr=False)


def write_profile_files(
    result: ProfileResult,
    folder: str | Path,
    *,
    read_assignments: bool = False,
    replace: bool = False,
) -> Path:
    """Write ``result``'s profile files into ``folder`` atomically: the folder appears complete
    or not at all.

    Parameters
    ----------
    result
        What :func:`gutbrain.profile.pipeline.profile_sample` returned.
    folder
        The folder to create.
    read_assignments
        Also write ``read_assignments.tsv`` (one line per read).
    replace
        Replace an existing gutbrain output folder once the new one is complete.

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    OutputExistsError
        ``folder`` exists and ``replace`` is false (or it is not a gutbrain output).
    OutputError
        ``folder`` cannot be written.
    OptionError
        ``read_assignments`` asked of a result profiled without read names.
    """
    with atomic_directory(folder, replace=replace) as staging:
        add_profile_files(result, staging, read_assignments=read_assignments)
    return Path(folder)


def add_profile_files(
    result: ProfileResult, folder: str | Path, *, read_assignments: bool = False
) -> tuple[Path, ...]:
    """Write ``result``'s profile files into the existing ``folder``, each file atomically.

    For a folder that is itself being built (``gutbrain run`` adds its result and report);
    :func:`write_profile_files` makes a folder of its own.

    Returns
    -------
    tuple of Path
        The files written: ``profile.tsv``, ``profile.biom``, ``qc.json``,
        ``provenance.json`` (and ``read_assignments.tsv``).

    Raises
    ------
    OutputError
        A file cannot be written; the files written before it stay.
    OptionError
        ``GB-PROFILE-OPTIONS`` when ``read_assignments`` is asked of a result profiled without
        read names.
    """
    if read_assignments and result.qc.reads_in and not result.read_assignments:
        message = "read_assignments.tsv needs profile_sample(..., read_assignments=True)"
        raise OptionError(message, code=ErrorCode.PROFILE_OPTIONS)
    target = Path(folder)
    written = [
        write_profile_tsv(result.profile, target / "profile.tsv"),
        write_profile_biom(result.profile, target / "profile.biom", rank="species"),
        write_json(target / "qc.json", _qc_document(result)),
        write_json(target / "provenance.json", result.profile.provenance.as_dict()),
    ]
    if read_assignments:
        lines = ["read\tstatus\trank\ttaxon"]
        lines.extend("\t".join(_tsv_cell(c) for c in row) for row in result.read_assignments)
        written.append(atomic_write_text(target / "read_assignments.tsv", "\n".join(lines) + "\n"))
    logger.debug("profile files of %s: %d written", result.profile.sample_id, len(written))
    return tuple(Path(p) for p in written)


def _qc_document(result: ProfileResult) -> dict[str, object]:
    qc = result.qc
    return {
        "sample": str(result.profile.sample_id),
        "read_qc": {
            "reads_in": qc.reads_in,
            "reads_kept": qc.reads_kept,
            "dropped": dict(qc.dropped),
            "bases_kept": qc.bases_kept,
            "length_n50": qc.length_n50,
            "length_quantiles": dict(qc.length_quantiles),
            "mean_quality": qc.mean_quality,
            "ambiguous_bases": qc.ambiguous_bases,
            "lowercase_reads": qc.lowercase_reads,
            "crlf_lines": qc.crlf_lines,
        },
        "assignment": dict(result.assignment),
        "em": result.em.as_dict(),
        "unassigned_fraction": dict(result.profile.unassigned),
    }


def _tsv_cell(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
