"""Reports for people and for CI: HTML, SARIF 2.1.0, Markdown and JUnit."""

from __future__ import annotations

from collections.abc import Callable

from bomguard.report.data import ReportData, build_report
from bomguard.report.html import render_html
from bomguard.report.junit import render_junit
from bomguard.report.markdown import render_markdown
from bomguard.report.sarif import render_sarif

__all__ = ["FORMATS", "ReportData", "build_report", "render"]

FORMATS: dict[str, Callable[[ReportData], bytes]] = {
    "html": render_html,
    "sarif": render_sarif,
    "markdown": render_markdown,
    "junit": render_junit,
}


def render(fmt: str, data: ReportData) -> bytes:
    """Render ``data`` in one of :data:`FORMATS`."""
    return FORMATS[fmt](data)
