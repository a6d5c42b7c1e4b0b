"""A self-contained HTML audit report: one file, no external fonts, scripts or images.

Every value is escaped (component names and messages come from untrusted SBOMs), and a
Content-Security-Policy allows only this file's own script (by hash) and styles, so the
page can make no request of its own even if something slipped through. Links to the
forge and the transparency log are plain ``https`` anchors (:mod:`.links`); following
one is the reader's choice.

The page is built from one function per section (:func:`_header`, :func:`_attention`,
:func:`_coverage`, :func:`_components`, :func:`_rules`, :func:`_evidence`), put together
by :func:`render_html`. Problems come first: a pass with warnings is its own state, the
sbom-scope findings and failing rules are listed before the tables, and components that
fail a rule sort to the top of theirs, highlighted. Long lists are paged (in the browser;
printing shows every row). Below 720 px every table becomes a list of cards.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from bomguard.report.data import ComponentRow, ReportData, RuleRow
from bomguard.report.graph import (
    GRAPH_CSS,
    STATUS_COLOURS,
    GraphView,
    render_blast_radius,
    render_criticality,
    render_tree,
)

__all__ = ["PAGE_SIZE", "render_html"]

#: Component rows per page in the browser.
PAGE_SIZE = 50

_STATUS_COLOURS = STATUS_COLOURS
#: The order rows are shown in: worst first.
_STATUS_RANK = {
    s: n
    for n, s in enumerate(
        ("invalid", "unknown", "unsupported", "absent", "partial", "verified", "not-applicable")
    )
}
_STATE_LABELS = {"pass": "PASS", "pass-with-warnings": "PASS WITH WARNINGS", "fail": "FAIL"}

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem}
body{color:#1f2328;overflow-wrap:anywhere}
h1{font-size:1.5rem;margin:0 0 .3rem}
h2{font-size:1.2rem;margin:1.8rem 0 .6rem;border-bottom:1px solid #d0d7de}
a{color:#0969da}
.verdict{display:inline-block;padding:.2rem .8rem;border-radius:1rem;color:#fff;font-weight:600}
.pass{background:#1a7f37}.fail{background:#cf222e}.pass-with-warnings{background:#9a6700}
.attention{border:1px solid #d0d7de;border-left:4px solid #cf222e;padding:.4rem .9rem}
.attention{margin:.8rem 0;background:#fff8f8}
.attention.warn{border-left-color:#9a6700;background:#fffbea}
.attention ul{margin:.3rem 0;padding-left:1.2rem}
table{border-collapse:collapse;width:100%;font-size:13px;table-layout:fixed}
th,td{border:1px solid #d0d7de;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;user-select:none}
th.sortable{cursor:pointer}
th[data-sort=asc]::after{content:" ▲"}th[data-sort=desc]::after{content:" ▼"}
tr.failing td{background:#ffebe9}tr.failing td:first-child{box-shadow:inset 4px 0 #cf222e}
tr.warned td:first-child{box-shadow:inset 4px 0 #d4a72c}
td.status{font-weight:600}
code{font-size:12px;overflow-wrap:anywhere}
code.commit{display:inline-block;max-width:12ch;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom}
.tag{display:inline-block;font-size:11px;font-weight:600;border-radius:.6rem;padding:0 .4rem}
.tag{margin:.1rem .2rem 0 0;border:1px solid currentColor}
.tag.code{color:#57606a;font-family:ui-monospace,monospace;font-weight:400}
.hint{color:#57606a}.hint::before{content:"What to do: ";font-weight:600}
details summary{cursor:pointer;color:#57606a}
ul.plain{margin:0;padding-left:1rem}
.meta td:first-child{font-weight:600;width:12rem}
.bars{display:flex;gap:2rem;flex-wrap:wrap}.bar{margin:0}.bar figcaption{font-weight:600}
.bar svg{max-width:100%;height:auto}
.controls{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center;margin:.5rem 0}
#filter{padding:.3rem;width:22rem;max-width:100%}
.chips button,.pager button{font:inherit;font-size:13px;border:1px solid #d0d7de}
.chips button,.pager button{background:#f6f8fa;border-radius:1rem;padding:.1rem .6rem}
.chips button,.pager button{cursor:pointer}
.chips button[aria-pressed=true]{background:#0969da;color:#fff;border-color:#0969da}
.muted{color:#656d76}
tr.nomatch{display:none}
@media screen{tr.offpage{display:none!important}}
@media (max-width:720px){
 body{margin:.6rem}
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:auto!important}
 table.cards thead,table.cards colgroup{display:none}
 table.cards tr{border:1px solid #d0d7de;border-radius:6px;margin:0 0 .6rem;padding:.2rem 0}
 table.cards td{border:0;padding:.15rem .6rem}
 table.cards td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#57606a}
 table.cards td:empty{display:none}
 table.cards tr.nomatch{display:none}
 .meta td:first-child{width:auto}
}
@media print{.controls,.noprint{display:none}body{margin:0}a{color:inherit}
 details>*{display:block}}
"""

_SCRIPT = """
(function(){
  var table=document.getElementById('components');
  if(!table){return;}
  var body=table.tBodies[0];
  var input=document.getElementById('filter');
  var info=document.getElementById('pageinfo');
  var size=parseInt(table.getAttribute('data-page-size'),10)||50;
  var page=0,group='all';
  function rows(){return Array.prototype.slice.call(body.rows);}
  function inGroup(r){
    if(group==='all'){return true;}
    if(group==='failing'){return r.classList.contains('failing')||r.classList.contains('warned');}
    return r.getAttribute('data-status')===group;
  }
  function show(){
    var q=input.value.toLowerCase(),shown=[];
    rows().forEach(function(r){
      var ok=inGroup(r)&&r.textContent.toLowerCase().indexOf(q)>=0;
      r.classList.toggle('nomatch',!ok);
      if(ok){shown.push(r);}
    });
    var pages=Math.max(1,Math.ceil(shown.length/size));
    if(page>=pages){page=pages-1;}
    shown.forEach(function(r,i){r.classList.toggle('offpage',Math.floor(i/size)!==page);});
    rows().forEach(function(r){if(r.classList.contains('nomatch')){r.classList.remove('offpage');}});
    var first=shown.length?page*size+1:0,last=Math.min(shown.length,(page+1)*size);
    info.textContent='Showing '+first+'\\u2013'+last+' of '+shown.length+
      (shown.length!==body.rows.length?' (of '+body.rows.length+' components)':' components');
    document.getElementById('prev').disabled=page===0;
    document.getElementById('next').disabled=page>=pages-1;
  }
  input.addEventListener('input',function(){page=0;show();});
  document.getElementById('prev').addEventListener('click',function(){page--;show();});
  document.getElementById('next').addEventListener('click',function(){page++;show();});
  Array.prototype.forEach.call(document.querySelectorAll('.chips button'),function(b){
    b.addEventListener('click',function(){
      group=b.getAttribute('data-group');page=0;
      Array.prototype.forEach.call(document.querySelectorAll('.chips button'),function(o){
        o.setAttribute('aria-pressed',o===b?'true':'false');
      });
      show();
    });
  });
  var heads=table.tHead.rows[0].cells;
  var sel=document.getElementById('sort');
  function key(r,i){
    if(i<0){return r.getAttribute('data-order');}
    var c=r.cells[i];return c.getAttribute('data-key')||c.textContent.trim();
  }
  function sortBy(i,asc){
    Array.prototype.forEach.call(heads,function(c,j){
      if(j===i){c.setAttribute('data-sort',asc?'asc':'desc');}else{c.removeAttribute('data-sort');}
    });
    rows().sort(function(a,b){
      var c=key(a,i).localeCompare(key(b,i),undefined,{sensitivity:'base',numeric:true});
      return asc?c:-c;
    }).forEach(function(r){body.appendChild(r);});
    page=0;show();
  }
  Array.prototype.forEach.call(heads,function(th,i){
    th.classList.add('sortable');
    th.addEventListener('click',function(){
      var asc=th.getAttribute('data-sort')!=='asc';
      sel.value=asc&&th.hasAttribute('data-col')?th.getAttribute('data-col'):'';
      sortBy(i,asc);
    });
  });
  sel.addEventListener('change',function(){
    var col=-1;
    Array.prototype.forEach.call(heads,function(th,i){
      if(th.getAttribute('data-col')===sel.value){col=i;}
    });
    sortBy(col,true);
  });
  show();
})();
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _link(url: str, text: str, title: str = "", cls: str = "") -> str:
    """An anchor when ``url`` is set (always an https URL from :mod:`.links`), else text."""
    title_attr = f' title="{_e(title)}"' if title else ""
    inner = f'<code class="{cls}"{title_attr}>{_e(text)}</code>' if cls else _e(text)
    if not url:
        return inner
    return f'<a href="{_e(url)}" rel="noreferrer noopener"{title_attr}>{inner}</a>'


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


def _why(data: ReportData) -> str:
    """The one sentence under the verdict."""
    attested = (
        f"{data.coverage_overall * 100:.0f}% of PyPI components attested"
        if data.coverage_overall is not None
        else "no PyPI components"
    )
    if data.state == "fail":
        failed = [r for r in data.rules if r.failed and r.severity == "error"]
        named = ", ".join(f"{r.rule} ({r.failed})" for r in failed)
        return f"Failed: {named or 'a rule could not be evaluated'}. {attested}."
    if data.state == "pass-with-warnings":
        warned = [r for r in data.rules if r.failed]
        n = sum(r.failed for r in warned)
        rules = ", ".join(f"{r.rule} ({r.failed})" for r in warned)
        return f"Passed with {n} warning{'s' if n != 1 else ''}: {rules}. {attested}."
    return f"All rules passed. {attested}."


def _header(data: ReportData) -> str:
    return (
        "<h1>Supply-chain provenance report</h1>\n"
        f'<p><span id="verdict" class="verdict {_e(data.state)}" data-state="{_e(data.state)}">'
        f"{_e(_STATE_LABELS.get(data.state, data.state.upper()))}</span>"
        f' <span class="muted">{_e(data.sbom)}</span></p>\n'
        f'<p id="why">{_e(_why(data))}</p>'
    )


def _attention(data: ReportData) -> str:
    """What needs a person's attention, before any table: sbom-wide findings, failing rules."""
    blocks = []
    sbom_items = "".join(
        f"<li><strong>{_e(v.get('severity', ''))}</strong> "
        f'<a href="#rule-{_e(v.get("policy", ""))}-{_e(v.get("rule", ""))}">'
        f"<code>{_e(v.get('rule', ''))}</code></a>: {_e(v.get('message', ''))}</li>"
        for v in sorted(data.sbom_violations, key=lambda v: v.get("severity") != "error")
    )
    if sbom_items:
        warn = all(v.get("severity") != "error" for v in data.sbom_violations)
        blocks.append(
            f'<div id="sbom-findings" class="attention{" warn" if warn else ""}">'
            f"<strong>About the whole SBOM</strong><ul>{sbom_items}</ul></div>"
        )
    failing = [r for r in data.rules if r.failed]
    if failing:
        items = "".join(
            f'<li><a href="#rule-{_e(r.policy)}-{_e(r.rule)}"><code>{_e(r.rule)}</code></a> '
            f"({_e(r.severity)}, policy {_e(r.policy)}): {r.failed} "
            f"violation{'s' if r.failed != 1 else ''}</li>"
            for r in sorted(failing, key=lambda r: (r.severity != "error", -r.failed))
        )
        warn = all(r.severity != "error" for r in failing)
        blocks.append(
            f'<div id="failing-rules" class="attention{" warn" if warn else ""}">'
            f"<strong>Rules with violations</strong><ul>{items}</ul></div>"
        )
    return "\n".join(blocks)


def _reasons(data: ReportData) -> str:
    """Why components are not verified: each reason code once, with its count and what
    to do (the rows below repeat only the code and their own sentence)."""
    from bomguard.reasons import CATALOGUE

    by_code: dict[str, list[ComponentRow]] = {}
    for c in data.components:
        if c.code:
            by_code.setdefault(c.code, []).append(c)
    if not by_code:
        return ""

    def order(item: tuple[str, list[ComponentRow]]) -> tuple[int, int, int]:
        _, rows = item
        failing = any(r.failing for r in rows)
        return (not failing, _STATUS_RANK.get(rows[0].status, 9), -len(rows))

    items = []
    for code, rows in sorted(by_code.items(), key=order):
        entry = CATALOGUE.get(code)
        summary = entry.summary if entry else rows[0].message
        colour = _STATUS_COLOURS.get(rows[0].status, "#1f2328")
        items.append(
            f'<tr data-code="{_e(code)}"><td data-label="Reason"><span class="tag code">'
            f'{_e(code)}</span><br><span style="color:{colour}">{_e(rows[0].status)}</span></td>'
            f'<td data-label="Components">{len(rows)}</td>'
            f'<td data-label="Meaning">{_e(summary)}</td>'
            f'<td data-label="What to do">{_e(rows[0].hint)}</td></tr>'
        )
    return (
        "<h2>Why components are not verified</h2>\n"
        '<table id="reasons" class="cards"><colgroup><col style="width:18%">'
        '<col style="width:9%"><col style="width:38%"><col style="width:35%"></colgroup>'
        "<thead><tr><th>Reason</th><th>Components</th><th>Meaning</th><th>What to do</th>"
        f"</tr></thead><tbody>{''.join(items)}</tbody></table>"
    )


def _coverage(data: ReportData) -> str:
    critical_detail = (
        f"{data.critical_total} critical PyPI components" if data.critical_total else "none named"
    )
    overall_detail = f"{len(data.components)} PyPI components"
    return (
        '<h2>Attestation coverage</h2>\n<div class="bars">\n'
        f"{_bar('PyPI components attested', data.coverage_overall, overall_detail)}\n"
        f"{_bar('Critical components attested', data.coverage_critical, critical_detail)}\n"
        f"{_status_bar(data.counts)}\n</div>"
    )


def _row_order(c: ComponentRow) -> tuple[int, int, str, str]:
    flag = 0 if c.failing else 1 if c.warned else 2
    return (flag, _STATUS_RANK.get(c.status, 9), c.name.casefold(), c.version)


def _findings_cell(c: ComponentRow) -> str:
    """The reason once (sentence, code, what to do, raw detail folded), then rule findings,
    drift and waivers."""
    parts = []
    if c.message:
        parts.append(
            f'<div class="reason">{_e(c.message)} <span class="tag code">{_e(c.code)}</span></div>'
        )
        # Open for a failure; folded otherwise (the summary above the table says it once).
        parts.append(
            f"<details{' open' if c.failing else ''}><summary>what to do, detail</summary>"
            f'<div class="hint">{_e(c.hint)}</div><code>{_e(c.reason)}</code></details>'
        )
    elif c.reason:
        parts.append(f'<div class="reason">{_e(c.reason)}</div>')
    findings = []
    for v in c.violations:
        rule, _, message = v.partition(": ")
        # The reason is shown once, above: a rule's message does not repeat it.
        if c.reason and message.endswith(c.reason):
            message = message[: -len(c.reason)].rstrip(": ")
        shown = f": {_e(message)}" if message else ""
        findings.append(f"<li><code>{_e(rule)}</code>{shown}</li>")
    findings += [f"<li>drift: {_e(d)}</li>" for d in c.drift]
    findings += [f"<li>waived {_e(w)}</li>" for w in c.waived]
    if findings:
        parts.append(f'<ul class="plain">{"".join(findings)}</ul>')
    return "".join(parts)


def _component_row(c: ComponentRow, order: int) -> str:
    colour = _STATUS_COLOURS.get(c.status, "#1f2328")
    cls = "failing" if c.failing else "warned" if c.warned else ""
    tags = ('<span class="tag">critical</span>' if c.critical else "") + (
        '<span class="tag" style="color:#cf222e">fails policy</span>'
        if c.failing
        else '<span class="tag" style="color:#9a6700">warning</span>'
        if c.warned
        else ""
    )
    links = c.links
    publisher = "<br>".join(
        x
        for x in (
            _e(c.publisher),
            _link(links.repository, c.repository) if c.repository else "",
            _link(links.workflow, c.workflow, title=c.workflow) if c.workflow else "",
        )
        if x
    )
    source = "<br>".join(
        x
        for x in (
            _link(links.ref, c.ref, cls="ref") if c.ref else "",
            _link(links.commit, c.commit, title=c.commit, cls="commit") if c.commit else "",
            _link(links.run, "run") if links.run else "",
        )
        if x
    )
    log = _link(c.log_url, c.log_index) if c.log_url else ""
    rank = _STATUS_RANK.get(c.status, 9)
    return (
        f'<tr class="{cls}" data-status="{_e(c.status)}" data-order="{order:06d}">'
        f'<td data-label="Name">{_e(c.name)}</td>'
        f'<td data-label="Version">{_e(c.version)}</td>'
        f'<td data-label="Status" class="status" data-key="{rank}{_e(c.status)}">'
        f'<span style="color:{colour}">{_e(c.status)}</span><br>{tags}</td>'
        f'<td data-label="Publisher">{publisher}</td>'
        f'<td data-label="Ref, commit">{source}</td>'
        f'<td data-label="Log">{log}</td>'
        f'<td data-label="Findings">{_findings_cell(c)}</td>'
        "</tr>"
    )


def _chips(data: ReportData) -> str:
    n_fail = sum(1 for c in data.components if c.failing or c.warned)
    chips = [("all", f"All {len(data.components)}")]
    if n_fail:
        chips.append(("failing", f"With findings {n_fail}"))
    present = {c.status for c in data.components}
    chips += [
        (s, f"{s} {sum(1 for c in data.components if c.status == s)}")
        for s in _STATUS_RANK
        if s in present
    ]
    return "".join(
        f'<button type="button" data-group="{_e(g)}" '
        f'aria-pressed="{"true" if g == "all" else "false"}">{_e(label)}</button>'
        for g, label in chips
    )


def _components(data: ReportData) -> str:
    ordered = sorted(data.components, key=_row_order)
    rows = "\n".join(_component_row(c, n) for n, c in enumerate(ordered))
    return f"""<h2>Components</h2>
<div class="controls">
<input id="filter" type="search" placeholder="Filter components…" aria-label="Filter components">
<label>Sort <select id="sort" aria-label="Sort components"><option value="">problems first</option>
<option value="name">name</option><option value="version">version</option>
<option value="status">status</option><option value="publisher">publisher</option></select></label>
<span class="chips" role="group" aria-label="Show">{_chips(data)}</span>
</div>
<table id="components" class="cards" data-page-size="{PAGE_SIZE}">
<colgroup><col style="width:13%"><col style="width:8%"><col style="width:10%">
<col style="width:18%"><col style="width:12%"><col style="width:8%">
<col style="width:31%"></colgroup>
<thead><tr><th data-col="name">Name</th><th data-col="version">Version</th>
<th data-col="status">Status</th><th data-col="publisher">Publisher</th>
<th>Ref, commit</th><th>Log index</th><th>Reason, findings, waivers</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<div class="controls pager"><button type="button" id="prev">&lsaquo; Previous</button>
<span id="pageinfo" class="muted">{len(data.components)} components</span>
<button type="button" id="next">Next &rsaquo;</button></div>"""


def _rule_row(r: RuleRow) -> str:
    waived = "<br>".join(
        f"{_e(w.get('component', ''))}: {_e(w.get('reason', ''))} "
        f"(approved by {_e(w.get('approver', ''))}, expires {_e(w.get('expires', ''))})"
        for w in r.waived
    )
    cls = (
        ' class="failing"'
        if r.failed and r.severity == "error"
        else (' class="warned"' if r.failed else "")
    )
    return (
        f'<tr id="rule-{_e(r.policy)}-{_e(r.rule)}"{cls}>'
        f'<td data-label="Rule"><code>{_e(r.rule)}</code></td>'
        f'<td data-label="Policy">{_e(r.policy)}</td>'
        f'<td data-label="Severity">{_e(r.severity)}</td>'
        f'<td data-label="Description">{_e(r.description)}</td>'
        f'<td data-label="References">{_e(", ".join(r.references))}</td>'
        f'<td data-label="Violations">{r.failed}</td>'
        f'<td data-label="Waived">{len(r.waived)}</td>'
        f'<td data-label="Waived findings">{waived}</td></tr>'
    )


def _rules(data: ReportData) -> str:
    ordered = sorted(
        data.rules, key=lambda r: (not (r.failed and r.severity == "error"), not r.failed)
    )
    rows = "\n".join(_rule_row(r) for r in ordered)
    return f"""<h2>Rules</h2>
<table id="rules" class="cards">
<colgroup><col style="width:17%"><col style="width:11%"><col style="width:7%">
<col style="width:27%"><col style="width:12%"><col style="width:7%"><col style="width:6%">
<col style="width:13%"></colgroup>
<thead><tr><th>Rule</th><th>Policy</th><th>Severity</th><th>Description</th><th>References</th>
<th>Violations</th><th>Waived</th><th>Waived findings</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>"""


def _expired(data: ReportData) -> str:
    items = "".join(
        f"<li>{_e(w.get('rule', ''))} for {_e(w.get('match', w.get('component', '')))}: "
        f"expired {_e(w.get('expires', ''))}</li>"
        for w in data.expired_waivers
    )
    return f"<h2>Expired waivers</h2><ul>{items}</ul>" if items else ""


def _evidence(data: ReportData) -> str:
    trust = data.trust_root
    policies = "".join(
        f'<tr><td data-label="Name">{_e(p["name"])}</td>'
        f'<td data-label="File"><code>{_e(p["path"])}</code></td>'
        f'<td data-label="sha256"><code>{_e(p["sha256"])}</code></td></tr>'
        for p in data.policies
    )
    return f"""<h2>Evidence</h2>
<table class="meta cards">
<tr><td>SBOM</td><td><code>{_e(data.sbom)}</code></td></tr>
<tr><td>Trust root</td><td>{_e(trust.get("source", "none"))} ({_e(trust.get("instance", ""))})
 <code>{_e(trust.get("sha256", ""))}</code></td></tr>
{render_criticality(data.criticality)}
<tr><td>Tool</td><td>bomguard {_e(data.tool_version)}</td></tr>
<tr><td>Generated</td><td>{_e(data.generated)}</td></tr>
</table>
<h3>Policies</h3>
<table class="meta cards"><thead><tr><th>Name</th><th>File</th><th>sha256</th></tr></thead>
<tbody>{policies}</tbody></table>"""


def render_html(data: ReportData) -> bytes:
    """The report as one self-contained HTML document."""
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    # The dependency view (report/graph.py): blast radius near the top, the tree below.
    view = data.graph or GraphView(False, False, (), ())
    sections = [
        _header(data),
        _attention(data),
        render_blast_radius(view),
        _coverage(data),
        _reasons(data),
        _components(data),
        render_tree(view),
        _rules(data),
        _expired(data),
        _evidence(data),
    ]
    body = "\n".join(s for s in sections if s)
    doc = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bomguard report: {_e(data.sbom)}</title>
<style>{_CSS}{GRAPH_CSS}</style>
</head>
<body>
{body}
<script>{_SCRIPT}</script>
</body>
</html>
"""
    return doc.encode("utf-8")
