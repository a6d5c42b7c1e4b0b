"""``bomguard upgrades SBOM``: vet the releases newer than those in use."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bomguard.cli._common import EXIT_FAIL, EXIT_PASS, Progress
from bomguard.cli._review import check_output, emit, make_options, review_options
from bomguard.sbom import FORMATS as SBOM_FORMATS

__all__ = ["upgrades"]


@click.command()
@click.argument("sbom", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="table: one line per candidate; json: every candidate; markdown: a summary.",
)
@click.option("--pre", is_flag=True, help="Also vet pre-releases and development releases.")
@click.option(
    "--max",
    "max_per_project",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    metavar="N",
    help="Vet at most the N newest releases of each project.",
)
@review_options
@click.option(
    "--input-format",
    type=click.Choice(SBOM_FORMATS),
    help="The SBOM's format, when detecting it from the content is not wanted.",
)
def upgrades(
    sbom: Path,
    output_format: str,
    pre: bool,
    max_per_project: int,
    output: str,
    verbose: bool,
    **options: Any,
) -> None:
    """Vet upgrades: the releases newer than each PyPI package in SBOM, verified.

    Each candidate's publisher identity is compared with the release in use ("same
    publisher, same workflow", or what changed). Exit 1 when the policy fails for a
    candidate, so a scheduled run warns before anyone upgrades.
    """
    from bomguard.index import redact_url
    from bomguard.review.render import (
        GITHUB_COMMENT_LIMIT,
        render_json,
        render_markdown,
        render_table,
    )
    from bomguard.review.upgrades import upgrades as run

    check_output(
        output,
        [
            ("SBOM", sbom),
            *(("--policy", p) for p in options["policies"]),
            ("--pins", options["pins"]),
        ],
    )
    settings = make_options(**options)
    progress = Progress(sys.stderr.isatty())
    try:
        result = run(sbom, settings, pre=pre, max_per_project=max_per_project, observer=progress)
    finally:
        progress.close()
    verdict = result.verdict.verdict
    markdown = render_markdown(
        result.changes,
        verdict,
        limit=GITHUB_COMMENT_LIMIT,
        title="bomguard: upgrade candidates",
        hint="bomguard upgrades --format json",
    )
    if output_format == "json":
        extra: dict[str, Any] = {
            "sbom": str(sbom),
            "unchecked": [{"package": p, "reason": r} for p, r in result.unchecked],
        }
        data = render_json(result.changes, result.verdict, extra)
    elif output_format == "markdown":
        data = markdown.encode("utf-8")
    else:
        data = render_table(result.changes, result.unchecked).encode("utf-8")
    emit(output, data, markdown)
    for label, why in result.unchecked:
        click.echo(f"WARNING: {label}: newer releases not checked: {why}", err=True)
    for violation in result.verdict.violations:
        click.echo(
            f"{violation.severity.upper()}: {violation.rule}: {violation.component}: "
            f"{violation.message}",
            err=True,
        )
    where = options["mirror"] or redact_url(options["index_url"])
    click.echo(
        f"bomguard: {len(result.changes)} upgrade candidates "
        f"({sum(1 for c in result.changes if c.risky)} need review); {where}; verdict: {verdict}",
        err=True,
    )
    sys.exit(EXIT_PASS if verdict == "pass" else EXIT_FAIL)
