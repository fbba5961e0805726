"""``python -m gutbrain`` runs the command line."""

from __future__ import annotations

from gutbrain.cli import main

if __name__ == "__main__":
    main()
