"""``-`` on the command line: the SBOM from stdin, one output to stdout.

``bomguard enrich -`` reads the SBOM from stdin (copied to a private temporary file, so
the library reads a file as usual); ``-o -`` (the default), ``--verdict -`` or
``--report FORMAT:-`` writes that one output to stdout, after every file output is
written (all or none, as ever). Two outputs cannot share stdout: that is a usage error
naming both, before any work.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

__all__ = ["STDIN_LABEL", "STDIO", "is_stdio", "refuse_terminal_stdin", "stdout_owner"]

STDIO = "-"
STDIN_LABEL = "(stdin)"


def is_stdio(path: Path | str | None) -> bool:
    """Whether an option's value is ``-``."""
    return path is not None and str(path) == STDIO


def stdout_owner(
    output: str, verdict: Path | None, reports: Sequence[tuple[str, Path]]
) -> str | None:
    """The one option that writes to stdout (``None`` for none); a usage error for two."""
    claims = [("-o/--output", output)] if is_stdio(output) else []
    if is_stdio(verdict):
        claims.append(("--verdict", STDIO))
    claims += [(f"--report {fmt}:-", STDIO) for fmt, path in reports if is_stdio(path)]
    if len(claims) > 1:
        named = " and ".join(option for option, _ in claims)
        hint = (
            " (-o/--output is stdout by default: give it a file)"
            if claims[0][0] == ("-o/--output")
            else ""
        )
        raise click.UsageError(f"{named} both write to stdout; only one output can{hint}")
    return claims[0][0] if claims else None


def refuse_terminal_stdin() -> None:
    """``-`` names stdin, which :func:`bomguard.sbom.read_sbom` reads with the same bound
    as any file; a terminal there is a mistake, not an SBOM to wait for."""
    from bomguard.errors import InputError

    if sys.stdin is None or (sys.stdin.isatty() if hasattr(sys.stdin, "isatty") else False):
        raise InputError(
            "SBOM '-': stdin is a terminal; pipe the SBOM in (bomguard enrich - < sbom.json)"
        )
