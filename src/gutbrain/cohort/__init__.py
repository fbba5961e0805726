"""Many samples: sample sheets, Dask orchestration, the cohort store and association statistics.

Terms: a *sample sheet* lists the cohort's samples with their inputs and *covariates*; a *task
key* fingerprints one sample's inputs, reference, parameters and code version; the *store* holds
per-sample Parquet files and a SQLite *catalogue* of run state; an *outcome* is the variable
(a questionnaire score such as PHQ-9, or a case/control label) that taxa and guilds are tested
against.

Modules: :mod:`~gutbrain.cohort.sheet` (validation), :mod:`~gutbrain.cohort.runner` (Dask),
:mod:`~gutbrain.cohort.sample` (the per-sample task), :mod:`~gutbrain.cohort.store`,
:mod:`~gutbrain.cohort.stats` and :mod:`~gutbrain.cohort.associate` (statistics),
:mod:`~gutbrain.cohort.report` (HTML), :mod:`~gutbrain.cohort.simulate` (known-answer cohorts).
See ``docs/cohort.md``.
"""

__all__: list[str] = []
