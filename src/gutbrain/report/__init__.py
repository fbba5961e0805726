"""Rendering only: Jinja2 templates and inline SVG charts for the self-contained HTML report."""
