"""Run the portal's job worker in its own process (for the killed-worker tests).

``python worker_process.py DATA_DIR LEASE_SECONDS real|slow``: ``slow`` runs the stand-in
``slow_gutbrain.py`` instead of gutbrain; the worker handles every queued job, then exits.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gutbrain.web.jobs import run_worker
from gutbrain.web.settings import PortalSettings

data_dir, lease, mode = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
settings = PortalSettings(data_dir=data_dir, job_lease_seconds=lease)
stand_in = (sys.executable, str(Path(__file__).with_name("slow_gutbrain.py")))
run_worker(
    settings, once=True, poll_seconds=0.1, gutbrain_command=stand_in if mode == "slow" else None
)
