"""The outputs of ``diff`` and ``upgrades``: a pull-request comment (Markdown), JSON, SARIF,
and a plain table.

Everything shown comes from the SBOMs, the index or the certificates, so every cell is
escaped: a package name cannot add rows, links, HTML or @-mentions to a comment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bomguard._version import __version__
from bomguard.models import Status
from bomguard.review.changes import KINDS, Change

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "GITLAB_COMMENT_LIMIT",
    "MARKER",
    "comment_length",
    "describe",
    "render_json",
    "render_markdown",
    "render_sarif",
    "render_table",
]

GITHUB_COMMENT_LIMIT = 65_536
"""The longest comment GitHub accepts (characters)."""
GITLAB_COMMENT_LIMIT = 1_000_000
"""The longest note GitLab accepts (characters)."""
MARKER = "<!-- bomguard:diff -->"
"""The first line of every comment: what a workflow looks for to update its comment."""

_ESCAPES = {
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "#": "\\#",
    "~": "\\~",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
    "@": "&#64;",
    "!": "\\!",
}


def cell(text: str, limit: int = 200) -> str:
    """``text`` as one inert table cell: one line, escaped, at most ``limit`` characters."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def comment_length(text: str) -> int:
    """How long a comment is for a forge's limit: UTF-16 code units (never fewer than
    characters, so a comment within it is within a limit counted either way)."""
    return len(text.encode("utf-16-le")) // 2


def _event(kind: str, before: str, after: str) -> str:
    return f"{kind.replace('-', ' ')} {before or '∅'} → {after or '∅'}"


def describe(change: Change) -> str:
    """One line on what a change did to provenance and identity, for people."""
    parts: list[str] = []
    new, base = change.new, change.base
    if change.kind == "removed":
        return "removed"
    if change.kind == "unchanged":
        return "unchanged"
    if change.kind == "downgraded":
        parts.append("downgrade")
    status = new.status if new is not None else None
    if status is not None and status is not Status.VERIFIED:
        reason = f" ({new.reason})" if new is not None and new.reason else ""
        parts.append(f"provenance {status.value}{reason}")
    if change.attestation == "lost" and base is not None and base.status is not None:
        parts.append(f"attestation lost ({base.status.value} → {status.value if status else '?'})")
    elif change.attestation == "gained":
        parts.append("attestation gained")
    for event in change.events:
        if event.kind == "attestation-disappeared":
            continue
        parts.append(_event(event.kind, event.before, event.after))
    for reason in change.unchecked:
        parts.append(f"not compared: {reason}")
    if not parts or parts == ["downgrade"]:
        if change.kind == "added" and new is not None and new.identity is not None:
            who = new.identity
            where = who.repository or who.san or who.kind or "?"
            flow = f" ({who.workflow})" if who.workflow else ""
            parts.append(f"verified: {who.kind or '?'} {where}{flow}")
        elif change.compared and change.attestation == "kept":
            workflow = "same workflow" if new and new.identity and new.identity.workflow else ""
            parts.append(", ".join(p for p in ("same publisher", workflow) if p))
        elif change.attestation == "none":
            parts.append("not attested, as before")
        elif status is Status.VERIFIED:
            parts.append("verified")
    for violation in change.violations:
        parts.append(f"policy {violation['severity']} {violation['rule']}")
    return "; ".join(parts)


def urgency(change: Change) -> int:
    """How soon a reviewer should look: policy errors and invalid provenance (0), identity
    events and lost attestations (1), then the rest (2). Ties keep name order."""
    new = change.new
    if any(v["severity"] == "error" for v in change.violations) or (
        new is not None and new.status is Status.INVALID
    ):
        return 0
    if change.events or change.attestation == "lost":
        return 1
    return 2


def _versions(change: Change) -> str:
    before = change.base.version if change.base is not None else ""
    after = change.new.version if change.new is not None else ""
    if change.kind == "added":
        return after
    if change.kind in ("removed", "unchanged"):
        return before
    return f"{before} → {after}"


def _status(change: Change) -> str:
    def one(side: Any) -> str:
        if side is None or side.status is None:
            return "n/a"
        return str(side.status.value)

    if change.kind == "added":
        return one(change.new)
    if change.kind == "removed":
        return one(change.base)
    return f"{one(change.base)} → {one(change.new)}"


def _row(change: Change) -> str:
    flag = "⚠️" if change.risky else "✅" if change.kind != "removed" else ""
    return (
        f"| {flag} | {cell(change.display)} | {change.kind} | {cell(_versions(change))} | "
        f"{cell(_status(change))} | {cell(describe(change), 400)} |"
    )


_HEADER = "| | package | change | version | provenance | identity and review |"
_RULE = "|---|---|---|---|---|---|"


def _summary(changes: Sequence[Change], verdict: str, title: str) -> list[str]:
    counts = {k: sum(1 for c in changes if c.kind == k) for k in KINDS}
    listed = [c for c in changes if c.kind != "unchanged"]
    risky = sum(1 for c in listed if c.risky)
    parts = [f"{counts[k]} {k}" for k in KINDS if counts[k]]
    return [
        MARKER,
        f"### {title}",
        "",
        f"**{risky} of {len(listed)} package changes need review** · "
        + (" · ".join(parts) or "no PyPI package changed")
        + f" · verdict: **{verdict}**",
        "",
    ]


def render_markdown(
    changes: Sequence[Change],
    verdict: str,
    *,
    limit: int = GITHUB_COMMENT_LIMIT,
    title: str = "bomguard: dependency review",
    hint: str = "bomguard diff --format json",
) -> str:
    """The pull-request comment: one table with the rows that need review first, the rest
    in a collapsed section, unchanged packages counted. Never longer than ``limit``
    (:func:`comment_length`): rows that do not fit are left out (quiet rows first), and
    the comment says how many, and how many of those need review."""
    listed = [c for c in changes if c.kind != "unchanged"]
    risky = sorted((c for c in listed if c.risky), key=urgency)
    quiet = [c for c in listed if not c.risky]
    unchanged = len(changes) - len(listed)
    head = _summary(changes, verdict, title)

    def build(n_risky: int, n_quiet: int) -> str:
        lines = list(head)
        if risky:
            lines += [_HEADER, _RULE, *(_row(c) for c in risky[:n_risky])]
        elif listed:
            lines.append("Nothing needs review.")
        if n_quiet:
            lines += [
                "",
                f"<details><summary>{len(quiet)} more without findings</summary>",
                "",
                _HEADER,
                _RULE,
                *(_row(c) for c in quiet[:n_quiet]),
                "",
                "</details>",
            ]
        left_risky, left_quiet = len(risky) - n_risky, len(quiet) - n_quiet
        if left_risky or left_quiet:
            lines += [
                "",
                f"**{left_risky + left_quiet} more rows not shown** ({left_risky} of them need "
                f"review): the comment is cut to {limit} characters. Every change is in "
                f"`{hint}`.",
            ]
        if unchanged == 1:
            lines += ["", "1 unchanged package is not listed."]
        elif unchanged:
            lines += ["", f"{unchanged} unchanged packages are not listed."]
        lines += ["", f"<sub>bomguard {__version__}</sub>", ""]
        return "\n".join(lines)

    full = build(len(risky), len(quiet))
    if comment_length(full) <= limit:
        return full
    # The most rows that fit: review rows first, then quiet ones (lengths grow with rows).
    low, high = 0, len(risky) + len(quiet)
    while low < high:
        mid = (low + high + 1) // 2
        text = build(min(mid, len(risky)), max(0, mid - len(risky)))
        if comment_length(text) <= limit:
            low = mid
        else:
            high = mid - 1
    text = build(min(low, len(risky)), max(0, low - len(risky)))
    if comment_length(text) > limit:  # not even the header fits
        raise ValueError(f"a comment limit of {limit} characters cannot hold the summary")
    return text


def render_json(
    changes: Sequence[Change], verdict: Any, extra: dict[str, Any] | None = None
) -> bytes:
    """Every change (``unchanged`` ones too), the summary and the verdict."""
    counts = {k: sum(1 for c in changes if c.kind == k) for k in KINDS}
    data: dict[str, Any] = {
        **(extra or {}),
        "summary": {**counts, "review": sum(1 for c in changes if c.risky)},
        "changes": [c.to_dict() for c in changes],
        "verdict": verdict.to_dict(),
    }
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _findings(change: Change) -> list[tuple[str, str, str]]:
    """``(rule id, level, message)`` for each finding of a change."""
    who = f"{change.display} {_versions(change)}"
    found: list[tuple[str, str, str]] = []
    new = change.new
    if change.kind == "downgraded":
        found.append(("downgrade", "warning", f"{who}: downgraded"))
    if change.kind in ("added", "upgraded", "downgraded") and new is not None:
        status = new.status or Status.UNKNOWN
        if status is not Status.VERIFIED and change.attestation != "none":
            level = "error" if status is Status.INVALID else "warning"
            reason = f": {new.reason}" if new.reason else ""
            found.append((f"provenance-{status.value}", level, f"{who}: {status.value}{reason}"))
    if change.attestation == "lost":
        found.append(("attestation-lost", "warning", f"{who}: attestation lost"))
    for event in change.events:
        if event.kind == "attestation-disappeared":
            continue
        found.append(
            (event.kind, "warning", f"{who}: {_event(event.kind, event.before, event.after)}")
        )
    for reason in change.unchecked:
        found.append(("not-compared", "note", f"{who}: identity not compared: {reason}"))
    for violation in change.violations:
        found.append(
            (
                violation["rule"],
                _LEVEL.get(violation["severity"], "error"),
                f"{who}: {violation['message']}",
            )
        )
    return found


def render_sarif(changes: Sequence[Change], sbom: str, verdict: str) -> bytes:
    """SARIF 2.1.0: one result per finding of a change, located at the new SBOM."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for change in changes:
        for rule, level, message in _findings(change):
            rules.setdefault(
                rule,
                {
                    "id": rule,
                    "name": rule,
                    "shortDescription": {"text": rule.replace("-", " ")},
                    "defaultConfiguration": {"level": level},
                    "properties": {"tags": ["supply-chain", "provenance", "dependency-review"]},
                },
            )
            results.append(
                {
                    "ruleId": rule,
                    "level": level,
                    "message": {"text": message},
                    "locations": [
                        {
                            "physicalLocation": {"artifactLocation": {"uri": sbom}},
                            "logicalLocations": [
                                {"name": change.display, "kind": "module"},
                            ],
                        }
                    ],
                    "partialFingerprints": {
                        "bomguard/v1": f"{rule}/{change.name}/{_versions(change)}"
                    },
                    "properties": {"change": change.kind, "package": change.name},
                }
            )
    order = sorted(rules)
    for result in results:
        result["ruleIndex"] = order.index(result["ruleId"])
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bomguard",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://pypi.org/project/bomguard/",
                        "rules": [rules[r] for r in order],
                    }
                },
                "artifacts": [{"location": {"uri": sbom}}],
                "results": results,
                "properties": {"verdict": verdict},
            }
        ],
    }
    return (json.dumps(log, indent=2, sort_keys=True) + "\n").encode("utf-8")


def render_table(changes: Sequence[Change], unchecked: Sequence[tuple[str, str]]) -> str:
    """One line per change: ``urllib3 2.2 → 2.3: workflow changed release.yml → publish.yml``."""
    lines = [
        f"{'!' if c.risky else ' '} {c.display} {_versions(c)}: {describe(c)}" for c in changes
    ]
    lines += [f"? {label}: not checked: {why}" for label, why in unchecked]
    return "\n".join(lines) + ("\n" if lines else "")
