"""The public Python entry points: reads or a table -> profile -> interpretation -> outputs.

Five functions cover what the command line does; everything else in the package is an
implementation detail that may change between releases. They are also importable from the
top-level package (``gutbrain.profile_sample``), which loads this module only on first use so
that ``import gutbrain`` (and ``gutbrain --help``) stay fast.

* :func:`load_bundle` — a reference bundle (the bundled default, a name shown by
  ``gutbrain db list``, or a folder);
* :func:`profile_sample` — one sample's 16S reads against a bundle: species and genus
  abundances with confidence intervals (``gutbrain profile``);
* :func:`read_table` — an abundance table from another pipeline (BIOM, Kraken/Bracken,
  MetaPhlAn, Emu, CAMI, ...) as one profile per sample (``gutbrain import``);
* :func:`interpret_profile` — diversity, guilds, taxa evidence, markers, questionnaires and
  safety alerts for one profile (``gutbrain interpret``);
* :func:`run_sample` — reads -> profile -> interpretation -> report, every output written
  into one folder (``gutbrain run``).

Examples
--------
>>> import gutbrain
>>> from gutbrain.api import load_bundle
>>> gutbrain.load_bundle is load_bundle
True
>>> load_bundle().name  # the bundled default reference
'refseq16s-gut'

A whole sample (not run here: it aligns reads)::

    bundle = load_bundle()
    profiled = profile_sample(["sample.fastq.gz"], bundle=bundle, preset="ont")
    result = interpret_profile(profiled.profile, qc=profiled.qc)
"""

from __future__ import annotations

from gutbrain.io.tables import read_table
from gutbrain.profile.pipeline import profile_sample
from gutbrain.reference.bundle import load_bundle
from gutbrain.workflow.interpret import interpret_profile
from gutbrain.workflow.run import run_sample

__all__ = ["interpret_profile", "load_bundle", "profile_sample", "read_table", "run_sample"]
