"""Rendering only: Jinja2 templates and inline SVG charts for the self-contained HTML report.

:func:`render_report` turns a :class:`gutbrain.result.Result` into one HTML file that opens from
disk, requests nothing from the network, prints cleanly and escapes every input string;
:func:`write_report` writes it atomically. The report computes nothing: every number it shows is
in the result JSON, which ``gutbrain run`` writes beside it as the machine-readable twin.
"""

from __future__ import annotations

from gutbrain.report.render import SECTION_IDS, render_report, write_report

__all__ = ["SECTION_IDS", "render_report", "write_report"]
