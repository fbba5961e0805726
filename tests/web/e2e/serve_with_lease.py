"""``gutbrain serve`` with a short job lease, so a killed server's job is recovered in seconds.

``python serve_with_lease.py LEASE_SECONDS serve-options…`` runs the real ``gutbrain serve``
command (uvicorn and the job worker process) with ``job_lease_seconds=LEASE_SECONDS``; the
worker receives the same settings. With the default lease (60 s) a restarted server waits up to
a minute before it retries the job a killed server was running: correct, but too slow for a test.
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    from gutbrain.cli import main as gutbrain_main
    from gutbrain.cli import serve as serve_command

    lease = float(sys.argv[1])
    settings_of = serve_command._settings

    def with_short_lease(*args: Any, **kwargs: Any) -> Any:
        return settings_of(*args, **kwargs).model_copy(update={"job_lease_seconds": lease})

    serve_command._settings = with_short_lease
    sys.argv = ["gutbrain", *sys.argv[2:]]
    gutbrain_main()


if __name__ == "__main__":  # not when multiprocessing's spawned worker imports this file
    main()
