"""Do two gutbrain builds write the same outputs? (issue 11: speed work keeps outputs identical)

Runs ``gutbrain profile`` with two Python interpreters (each with its own gutbrain: e.g. a
worktree's ``.venv/bin/python`` and ``/work/main/.venv/bin/python``) on the four benchmark truth
sets, and ``gutbrain demo`` with each, then compares every output file byte for byte. Files that
carry the time they were made are compared without it: ``profile.biom`` (HDF5: every dataset and
attribute but ``creation-date``), and the demo's ``result.json`` / ``report.html`` (creation
time and per-stage seconds left out), and every file without the build's version string.
Exit status 1 when any file differs.

One command (benchmark reference imported as ``bench_speed.py`` imports it, indexes built)::

    .venv/bin/python benchmarks/compare_outputs.py --before /work/main/.venv/bin/python \\
        --after .venv/bin/python --bundle /tmp/bench-bundle --out /tmp/compare
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from bench_profile import SAMPLES

#: Per-run values: creation times (ISO and the report's long form) and stage timings.
_TIMES = (
    re.compile(r"20\d\d-\d\d-\d\dT[\d:.]+Z"),
    re.compile(r"\d\d [A-Z][a-z]+ 20\d\d, [\d:]+ UTC"),
    re.compile(r'id="timings">.*?</dl>'),
    re.compile(r"\"stage_seconds\": \{[^}]*\}"),
)
#: JSON keys whose values change from run to run.
_RUN_KEYS = frozenset({"created", "stage_seconds", "timings"})
#: A development build's version (``0.1.1.dev452+ga9868b97d``): two builds differ in it.
_VERSION = re.compile(r"\d+\.\d+\.\d+\.dev\d+\+g[0-9a-f]+")


def _drop_run_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_run_keys(v) for k, v in value.items() if k not in _RUN_KEYS}
    if isinstance(value, list):
        return [_drop_run_keys(v) for v in value]
    return value


def _without_times(path: Path) -> str:
    """The file's content with what changes from run to run (and the build's version) taken
    out."""
    raw = path.read_bytes()
    if raw.startswith(b"\x89HDF"):  # BIOM 2.1
        lines: list[str] = []
        with h5py.File(path, "r") as table:
            lines += [f"{k} {v!r}" for k, v in sorted(table.attrs.items()) if k != "creation-date"]

            def visit(name: str, item: Any) -> None:
                lines.extend(f"{name} {k} {v!r}" for k, v in sorted(item.attrs.items()))
                if isinstance(item, h5py.Dataset):
                    lines.append(f"{name} {item.dtype} {np.asarray(item[()]).tolist()!r}")

            table.visititems(visit)
        return _VERSION.sub("", "\n".join(lines))
    text = _VERSION.sub("", raw.decode("utf-8"))
    if path.suffix == ".json":
        return json.dumps(_drop_run_keys(json.loads(text)), sort_keys=True)
    for pattern in _TIMES:
        text = pattern.sub("", text)
    return text


def _run(python: str, out: Path, bundle: Path, shared: Path, threads: int) -> None:
    for name, preset in SAMPLES.items():
        reads = shared / "bench" / "reads" / f"{name}.fastq.gz"
        command = [python, "-m", "gutbrain", "-q", "profile", str(reads), "--out"]
        command += [str(out / name), "--preset", preset, "--threads", str(threads)]
        command += ["--db", str(bundle), "--read-assignments"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [python, "-m", "gutbrain", "-q", "demo", "--out", str(out / "demo")],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=out,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="Python interpreter of one build")
    parser.add_argument("--after", required=True, help="Python interpreter of the other")
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="new folder for both outputs")
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    for label in ("before", "after"):
        target = args.out / label
        target.mkdir(parents=True)
        python = getattr(args, label)
        python = str(Path(python).absolute()) if "/" in python else python  # the demo runs in out
        _run(python, target, args.bundle, args.shared, args.threads)
    differ = 0
    for folder in sorted((args.out / "before").iterdir()):
        for before in sorted(p for p in folder.iterdir() if p.is_file()):
            after = args.out / "after" / folder.name / before.name
            if after.is_file() and before.read_bytes() == after.read_bytes():
                verdict = "identical"
            elif after.is_file() and _without_times(before) == _without_times(after):
                verdict = "identical but for creation time, timings, version"
            else:
                verdict = "DIFFERENT"
                differ += 1
            print(f"{folder.name}/{before.name}: {verdict}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
