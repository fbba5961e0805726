"""Dask worker preload for a local cohort cluster: Ctrl-C is the coordinator's business.

A terminal's Ctrl-C reaches every process of the job, the local cluster's worker processes too;
they would die mid-task with a traceback each. With this module preloaded they ignore SIGINT, and
the coordinator, on its KeyboardInterrupt, closes the cluster (which stops them cleanly).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["dask_setup"]


def dask_setup(worker: Any) -> None:
    """Ignore SIGINT in this worker process (Dask's preload hook)."""
    del worker
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
