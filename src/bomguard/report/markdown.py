"""A short Markdown summary for $GITHUB_STEP_SUMMARY and merge-request comments."""

from __future__ import annotations

import re

from bomguard.report.data import ReportData

__all__ = ["render_markdown"]

_MAX_ROWS = 50


def _cell(value: str) -> str:
    """Make untrusted text inert in a Markdown table cell."""
    out = value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for ch in "<>*_`[]":
        out = out.replace(ch, "\\" + ch)
    return out


def _code(value: str) -> str:
    """Untrusted text as an inline code span (shown literally: no backslash escapes).

    Inside a code span a backslash is shown as it is, so nothing is escaped; the span is
    fenced with one backtick more than the longest run of backticks in the text (padded
    with a space where the text starts or ends with one), as CommonMark defines.
    """
    text = " ".join(value.splitlines())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def render_markdown(data: ReportData) -> bytes:
    """Verdict, counts, violations and drift events, fit for a job summary."""
    icon = "✅" if data.verdict == "pass" else "❌"
    lines = [f"## {icon} bomguard: {data.verdict}", "", f"SBOM: {_code(data.sbom)}", ""]
    lines += ["| status | components |", "|---|---|"]
    lines += [f"| {s} | {n} |" for s, n in data.counts.items() if n]
    if data.coverage_overall is not None:
        lines += ["", f"Attested: {data.coverage_overall * 100:.1f}% of PyPI components"]
    if data.coverage_critical is not None:
        lines[-1] += f", {data.coverage_critical * 100:.1f}% of critical ones"
    violations = data.violations
    lines += ["", f"### Violations ({len(violations)})", ""]
    if violations:
        lines += [
            "| severity | rule | component | message | path from the root |",
            "|---|---|---|---|---|",
        ]
        for v in violations[:_MAX_ROWS]:
            path = data.path_of(v.get("component", ""))
            lines.append(
                f"| {_cell(v.get('severity', ''))} | {_cell(v.get('rule', ''))} | "
                f"{_cell(v.get('component', ''))} | {_cell(v.get('message', ''))} | "
                f"{_cell(path)} |"
            )
        if len(violations) > _MAX_ROWS:
            lines.append(f"\n…and {len(violations) - _MAX_ROWS} more (see the full report).")
    else:
        lines.append("None.")
    view = data.graph
    if view is not None and view.known and view.blast_radius:
        lines += ["", "### Unattested, by blast radius", ""]
        lines += ["| component | status | dependents | path from the root |", "|---|---|---|---|"]
        lines += [
            f"| {_cell(r.label)} | {_cell(r.status)} | {r.dependents} | {_cell(r.path)} |"
            for r in view.blast_radius[:10]
        ]
    if data.criticality:
        c = data.criticality
        lines += [
            "",
            f"Download ranks: {_cell(str(c.get('date', '')))} from "
            f"{_cell(str(c.get('source', '')))} (sha256 `{_cell(str(c.get('sha256', '')))}`)",
        ]
    drift = data.drift_lines
    lines += ["", f"### Identity drift ({len(drift)})", ""]
    lines += [f"- {_cell(d)}" for d in drift[:_MAX_ROWS]] or ["None."]
    return ("\n".join(lines) + "\n").encode("utf-8")
