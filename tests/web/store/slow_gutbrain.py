"""A stand-in for ``gutbrain`` that starts a run and then hangs (for the killed-worker tests).

It prints the log line of a finished first stage (as ``gutbrain run`` does), writes its process
id beside the ``--out`` folder (``standin.pid``), and sleeps until it is killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

out = Path(sys.argv[sys.argv.index("--out") + 1])
out.parent.mkdir(parents=True, exist_ok=True)
sys.stderr.write("INFO     stage inputs: 0.01 s\n")
sys.stderr.flush()
(out.parent / "standin.pid").write_text(str(os.getpid()))
time.sleep(600)
sys.exit(1)
