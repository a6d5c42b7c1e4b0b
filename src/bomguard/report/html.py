"""A self-contained HTML audit report: one file, no external fonts, scripts or images.

Every value is escaped (component names and messages come from untrusted SBOMs), and a
Content-Security-Policy allows only this file's own script (by hash) and styles, so the
page can make no request of its own even if something slipped through.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from bomguard.report.data import ComponentRow, ReportData
from bomguard.report.graph import (
    GRAPH_CSS,
    GraphView,
    render_blast_radius,
    render_criticality,
    render_tree,
)

__all__ = ["render_html"]

_STATUS_COLOURS = {
    "verified": "#1a7f37",
    "partial": "#9a6700",
    "absent": "#6e7781",
    "invalid": "#cf222e",
    "unsupported": "#8250df",
    "unknown": "#bc4c00",
    "not-applicable": "#afb8c1",
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.6rem;margin:0 0 .3rem}
h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:1px solid #d0d7de}
.verdict{display:inline-block;padding:.2rem .8rem;border-radius:1rem;color:#fff;font-weight:600}
.pass{background:#1a7f37}.fail{background:#cf222e}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #d0d7de;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;cursor:pointer;user-select:none;white-space:nowrap}
td.status{font-weight:600;white-space:nowrap}
code{font-size:12px;word-break:break-all}
.meta td:first-child{font-weight:600;width:12rem}
.bars{display:flex;gap:2rem;flex-wrap:wrap}.bar figcaption{font-weight:600}
#filter{margin:.5rem 0;padding:.3rem;width:22rem;max-width:100%}
.muted{color:#656d76}
@media print{#filter,.noprint{display:none}body{margin:0}th{cursor:auto}a{color:inherit}}
"""

_SCRIPT = """
(function(){
  var table=document.getElementById('components');
  if(!table){return;}
  var body=table.tBodies[0];
  var input=document.getElementById('filter');
  input.addEventListener('input',function(){
    var q=input.value.toLowerCase();
    Array.prototype.forEach.call(body.rows,function(r){
      r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';
    });
  });
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('data-sort')!=='asc';
      Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.removeAttribute('data-sort');});
      th.setAttribute('data-sort',asc?'asc':'desc');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[i].textContent,y=b.cells[i].textContent;
        var n=parseFloat(x)-parseFloat(y);
        var c=isNaN(n)?x.localeCompare(y):n;
        return asc?c:-c;
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
})();
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _bar(label: str, fraction: float | None, detail: str) -> str:
    width = 260
    if fraction is None:
        inner = '<rect x="0" y="0" width="260" height="22" fill="#eaeef2"/>'
        text = "n/a"
    else:
        filled = round(width * fraction)
        inner = (
            f'<rect x="0" y="0" width="{width}" height="22" fill="#eaeef2"/>'
            f'<rect x="0" y="0" width="{filled}" height="22" fill="#1a7f37"/>'
        )
        text = f"{fraction * 100:.1f}%"
    return (
        f'<figure class="bar"><figcaption>{_e(label)}: {_e(text)}</figcaption>'
        f'<svg role="img" aria-label="{_e(label)} {_e(text)}" width="{width}" height="22" '
        f'viewBox="0 0 {width} 22" xmlns="http://www.w3.org/2000/svg">{inner}</svg>'
        f'<div class="muted">{_e(detail)}</div></figure>'
    )


def _status_bar(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    x = 0.0
    parts = []
    legend = []
    for status, colour in _STATUS_COLOURS.items():
        n = counts.get(status, 0)
        if not n:
            continue
        w = 520 * n / total
        parts.append(f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="22" fill="{colour}"/>')
        x += w
        legend.append(f'<span style="color:{colour}">■</span> {_e(status)} {n}')
    return (
        '<figure class="bar"><figcaption>Components by status</figcaption>'
        '<svg role="img" aria-label="components by status" width="520" height="22" '
        f'viewBox="0 0 520 22" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
        f"<div>{' · '.join(legend)}</div></figure>"
    )


def _row(c: ComponentRow) -> str:
    colour = _STATUS_COLOURS.get(c.status, "#1f2328")
    log = (
        f'<a href="{_e(c.log_url)}" rel="noreferrer noopener">{_e(c.log_index)}</a>'
        if c.log_url
        else ""
    )
    notes = "<br>".join(_e(x) for x in (*c.violations, *(f"waived: {w}" for w in c.waived)))
    return (
        "<tr>"
        f"<td>{_e(c.name)}</td><td>{_e(c.version)}</td>"
        f'<td class="status" style="color:{colour}">{_e(c.status)}</td>'
        f"<td>{'yes' if c.critical else ''}</td>"
        f"<td>{_e(c.publisher)}</td><td>{_e(c.repository)}</td><td>{_e(c.workflow)}</td>"
        f"<td><code>{_e(c.ref)}</code></td><td><code>{_e(c.commit[:12])}</code></td>"
        f"<td>{log}</td>"
        f"<td>{'<br>'.join(_e(d) for d in c.drift)}</td>"
        f"<td>{_e(c.reason)}{'<br>' if c.reason and notes else ''}{notes}</td>"
        "</tr>"
    )


def render_html(data: ReportData) -> bytes:
    """The report as one self-contained HTML document."""
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    failed_rules = [r for r in data.rules if r.failed]
    why = (
        "All rules passed."
        if data.verdict == "pass"
        else "Failed: "
        + ", ".join(f"{r.rule} ({r.failed})" for r in failed_rules if r.severity == "error")
    )
    components = "\n".join(_row(c) for c in data.components)
    rules = "\n".join(
        "<tr>"
        f"<td><code>{_e(r.rule)}</code></td><td>{_e(r.policy)}</td><td>{_e(r.severity)}</td>"
        f"<td>{_e(r.description)}</td><td>{_e(', '.join(r.references))}</td>"
        f"<td>{r.failed}</td><td>{len(r.waived)}</td>"
        "<td>"
        + "<br>".join(
            f"{_e(w.get('component', ''))}: {_e(w.get('reason', ''))} "
            f"(approved by {_e(w.get('approver', ''))}, expires {_e(w.get('expires', ''))})"
            for w in r.waived
        )
        + "</td></tr>"
        for r in data.rules
    )
    policies = "".join(
        f"<tr><td>{_e(p['name'])}</td><td><code>{_e(p['path'])}</code></td>"
        f"<td><code>{_e(p['sha256'])}</code></td></tr>"
        for p in data.policies
    )
    expired = "".join(
        f"<li>{_e(w.get('rule', ''))} for {_e(w.get('match', w.get('component', '')))}: "
        f"expired {_e(w.get('expires', ''))}</li>"
        for w in data.expired_waivers
    )
    trust = data.trust_root
    critical_detail = (
        f"{data.critical_total} critical PyPI components" if data.critical_total else "none named"
    )
    # The dependency view (report/graph.py): blast radius at the top, the tree below.
    view = data.graph or GraphView(False, False, (), ())
    blast, tree = render_blast_radius(view), render_tree(view)
    doc = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bomguard report: {_e(data.sbom)}</title>
<style>{_CSS}{GRAPH_CSS}</style>
</head>
<body>
<h1>Supply-chain provenance report</h1>
<p><span id="verdict" class="verdict {_e(data.verdict)}">{_e(data.verdict.upper())}</span>
 <span class="muted">{_e(data.sbom)}</span></p>
<p id="why">{_e(why)}</p>
{blast}
<h2>Attestation coverage</h2>
<div class="bars">
{_bar("PyPI components attested", data.coverage_overall, f"{len(data.components)} PyPI components")}
{_bar("Critical components attested", data.coverage_critical, critical_detail)}
{_status_bar(data.counts)}
</div>
<h2>Components</h2>
<input id="filter" type="search" placeholder="Filter components…" aria-label="Filter components">
<table id="components">
<thead><tr><th>Name</th><th>Version</th><th>Status</th><th>Critical</th><th>Publisher</th>
<th>Repository</th><th>Workflow</th><th>Ref</th><th>Commit</th><th>Log index</th>
<th>Drift</th><th>Reason, findings, waivers</th></tr></thead>
<tbody>
{components}
</tbody>
</table>
{tree}
<h2>Rules</h2>
<table id="rules">
<thead><tr><th>Rule</th><th>Policy</th><th>Severity</th><th>Description</th><th>References</th>
<th>Violations</th><th>Waived</th><th>Waived findings</th></tr></thead>
<tbody>
{rules}
</tbody>
</table>
{f"<h2>Expired waivers</h2><ul>{expired}</ul>" if expired else ""}
<h2>Evidence</h2>
<table class="meta">
<tr><td>SBOM</td><td><code>{_e(data.sbom)}</code></td></tr>
<tr><td>Trust root</td><td>{_e(trust.get("source", "none"))} ({_e(trust.get("instance", ""))})
 <code>{_e(trust.get("sha256", ""))}</code></td></tr>
{render_criticality(data.criticality)}
<tr><td>Tool</td><td>bomguard {_e(data.tool_version)}</td></tr>
<tr><td>Generated</td><td>{_e(data.generated)}</td></tr>
</table>
<h3>Policies</h3>
<table class="meta"><thead><tr><th>Name</th><th>File</th><th>sha256</th></tr></thead>
<tbody>{policies}</tbody></table>
<script>{_SCRIPT}</script>
</body>
</html>
"""
    return doc.encode("utf-8")
