"""Runner pieces that need no cluster: task keys, error capture, disk-space preflight."""

from __future__ import annotations

import contextlib
import shutil
from collections import namedtuple
from pathlib import Path
from typing import cast

import pytest

from gutbrain.cohort.runner import (
    SampleFailure,
    SampleTask,
    check_free_space,
    compute_task_key,
    run_cohort,
    run_sample_safely,
)
from gutbrain.cohort.sheet import SampleSheet, SampleSpec
from gutbrain.cohort.store import CohortStore
from gutbrain.cohort.tasks import SampleParameters
from gutbrain.errors import ErrorCode, InputFormatError, OptionError, OutputError
from gutbrain.model import SampleId


def _spec(path: Path, sample: str = "S1") -> SampleSpec:
    return SampleSpec(sample_id=SampleId(sample), profile=str(path), covariates={"age": 3.0})


def test_task_key_depends_on_content_parameters_reference_and_version(tmp_path: Path) -> None:
    a = tmp_path / "a.tsv"
    a.write_text("x\t1\n")
    b = tmp_path / "moved" / "b.tsv"
    b.parent.mkdir()
    shutil.copy(a, b)
    key = compute_task_key(
        _spec(a), reference_sha256=None, parameters=SampleParameters(rank="genus")
    )
    assert len(key) == 64
    # same bytes elsewhere, parameters in another order: same key
    assert key == compute_task_key(
        _spec(b), reference_sha256=None, parameters=SampleParameters(rank="genus")
    )
    # covariates do not change the per-sample result, so not the key
    moved = SampleSpec(sample_id=SampleId("S1"), profile=str(b), covariates={"age": 9.0})
    assert key == compute_task_key(
        moved, reference_sha256=None, parameters=SampleParameters(rank="genus")
    )
    assert key != compute_task_key(
        _spec(a), reference_sha256=None, parameters=SampleParameters(rank="family")
    )
    assert key != compute_task_key(
        _spec(a), reference_sha256="f" * 64, parameters=SampleParameters(rank="genus")
    )
    assert key != compute_task_key(
        _spec(a),
        reference_sha256=None,
        parameters=SampleParameters(rank="genus"),
        code_version="9.9",
    )
    b.write_text("x\t2\n")
    assert key != compute_task_key(
        _spec(b), reference_sha256=None, parameters=SampleParameters(rank="genus")
    )


def _raises_input_error(task: SampleTask) -> object:
    message = "line 3: bad cell"
    raise InputFormatError(message, path="t.tsv")


def _raises_bug(task: SampleTask) -> object:
    raise KeyError("oops")


def test_run_sample_safely_turns_exceptions_into_failures(tmp_path: Path) -> None:
    task = SampleTask(_spec(tmp_path / "x"), "k" * 64, None)
    failure = run_sample_safely(_raises_input_error, task)  # type: ignore[arg-type]
    assert failure == SampleFailure("S1", "GB-INPUT", "t.tsv: line 3: bad cell")
    failure = run_sample_safely(_raises_bug, task)  # type: ignore[arg-type]
    assert isinstance(failure, SampleFailure)
    assert failure.code == "KeyError"


def test_free_space_preflight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**9, 0, 10**6))
    with pytest.raises(OutputError, match="1 MB free") as info:
        check_free_space(tmp_path, 10**6)
    assert info.value.code == "GB-NOSPACE"
    check_free_space(tmp_path, 10**5)  # enough


def test_a_worker_count_below_one_is_an_option_error(tmp_path: Path) -> None:
    sheet = SampleSheet(path=str(tmp_path / "samples.tsv"), samples=(), covariate_names=())
    with pytest.raises(OptionError, match="workers must be at least 1") as info:
        run_cohort(sheet, cast("CohortStore", None), workers=0)  # refused before any use
    assert info.value.code == ErrorCode.OPTION


@pytest.mark.parametrize("ending", ["normal", "error", "interrupt"])
def test_dask_stays_quiet_after_an_interrupted_run_only(
    ending: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Dask's loop outlives the cluster and may log a queued clean-up's traceback after an
    # interrupt (distributed.utils.sync's unbound `future`), through tornado.application, which
    # Dask's logging configuration gives a level of its own; nothing else keeps Dask quiet
    import logging

    import distributed  # noqa: F401  (its logging configuration: tornado.application at ERROR)

    from gutbrain.cohort import runner

    names = ("distributed", "distributed.client", "tornado", "tornado.application", "asyncio")
    dask_loggers = [logging.getLogger(n) for n in names]
    saved = [lg.level for lg in dask_loggers]
    try:
        raised = {"normal": None, "error": ValueError, "interrupt": KeyboardInterrupt}[ending]
        with contextlib.suppress(ValueError, KeyboardInterrupt), runner._quiet_dask():
            if raised is not None:
                raise raised
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            logging.getLogger("tornado.application").error("Exception in callback")
        assert bool(caplog.records) is (ending != "interrupt")
    finally:
        for lg, level in zip(dask_loggers, saved, strict=True):
            lg.setLevel(level)
