"""``bomguard diff BASE NEW``: review a change to the dependencies before it lands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bomguard.cli._common import EXIT_FAIL, EXIT_PASS, Progress
from bomguard.cli._review import check_output, emit, make_options, review_options
from bomguard.sbom import FORMATS as SBOM_FORMATS

__all__ = ["diff"]

_SHOWN = 20
"""Changes that need review named on stderr (all of them are in the output)."""


@click.command()
@click.argument("base", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["markdown", "json", "sarif"]),
    default="markdown",
    show_default=True,
    help="markdown: a pull-request comment; json: every change; sarif: code scanning.",
)
@click.option(
    "--comment-limit",
    type=click.IntRange(2000),
    default=65536,
    show_default=True,
    metavar="CHARS",
    help="The longest Markdown comment to write (GitHub: 65536; GitLab: 1000000); rows "
    "that do not fit are left out and counted.",
)
@review_options
@click.option(
    "--base-format",
    type=click.Choice(SBOM_FORMATS),
    help="BASE's format, when detecting it from the content is not wanted.",
)
@click.option(
    "--input-format",
    type=click.Choice(SBOM_FORMATS),
    help="NEW's format, when detecting it from the content is not wanted.",
)
def diff(
    base: Path,
    new: Path,
    output_format: str,
    comment_limit: int,
    output: str,
    base_format: str | None,
    verbose: bool,
    **options: Any,
) -> None:
    """Review a dependency change: every PyPI package BASE and NEW differ in, verified.

    BASE is the SBOM of the target branch (ideally one bomguard enriched: the identities
    it recorded are expected), NEW the SBOM of the change. Every release the change brings
    in is fetched and verified, and its publisher identity compared with the base
    version's, field by field. Exit 1 when the policy fails for one of them.
    """
    from bomguard.index import redact_url
    from bomguard.review.changes import KINDS
    from bomguard.review.diff import diff as run
    from bomguard.review.render import (
        comment_length,
        render_json,
        render_markdown,
        render_sarif,
    )

    check_output(
        output,
        [
            ("BASE", base),
            ("NEW", new),
            *(("--policy", p) for p in options["policies"]),
            ("--pins", options["pins"]),
        ],
    )
    settings = make_options(**options)
    progress = Progress(sys.stderr.isatty())
    try:
        result = run(base, new, settings, base_format=base_format, observer=progress)
    finally:
        progress.close()
    verdict = result.verdict.verdict
    comment = render_markdown(result.changes, verdict, limit=comment_limit)
    assert comment_length(comment) <= comment_limit
    if output_format == "json":
        extra: dict[str, Any] = {"base": str(base), "new": str(new)}
        if result.trust_root is not None:
            extra["trust_root"] = {
                "source": result.trust_root.source,
                "sha256": result.trust_root.sha256,
            }
        data = render_json(result.changes, result.verdict, extra)
    elif output_format == "sarif":
        data = render_sarif(result.changes, str(new), verdict)
    else:
        data = comment.encode("utf-8")
    emit(output, data, comment)

    risky = [c for c in result.changes if c.risky]
    for change in risky[:_SHOWN]:
        reasons = ", ".join(change.reasons())
        click.echo(f"REVIEW: {change.display} ({change.kind}): {reasons}", err=True)
    if len(risky) > _SHOWN:
        click.echo(f"REVIEW: ... and {len(risky) - _SHOWN} more (see the output)", err=True)
    counts = {k: sum(1 for c in result.changes if c.kind == k) for k in KINDS}
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no PyPI package"
    where = options["mirror"] or redact_url(options["index_url"])
    click.echo(f"bomguard: {summary}; {where}; verdict: {verdict}", err=True)
    sys.exit(EXIT_PASS if verdict == "pass" else EXIT_FAIL)
