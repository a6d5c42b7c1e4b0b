"""The command line: a thin layer over :mod:`bomguard.pipeline`.

Exit codes: 0 policy passed · 1 policy failed · 2 usage or input error · 3 operational
error that prevented a verdict. The report (the enriched SBOM) goes to ``-o`` or stdout;
progress and problems go to stderr.

One module per command (:mod:`.enrich`, :mod:`.fetch`, :mod:`.verify`, :mod:`.policy`,
:mod:`.vsa`, :mod:`.inventory`, ...),
imported only when that command runs, so ``bomguard --help`` stays fast; what they share
(index options, progress, exit codes) is in :mod:`._common`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

import click

from bomguard import __version__
from bomguard.cli._common import EXIT_FAIL, EXIT_INPUT, EXIT_OPERATIONAL, EXIT_PASS
from bomguard.errors import BomguardError, describe

__all__ = ["EXIT_FAIL", "EXIT_INPUT", "EXIT_OPERATIONAL", "EXIT_PASS", "cli", "entry", "main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like SIGINT's KeyboardInterrupt so every cleanup runs the same way."""


class _Signalled(BaseException):
    """A KeyboardInterrupt or :class:`Terminated` carried past click to :func:`main`."""

    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        super().__init__()
        self.terminated = isinstance(interrupt, Terminated)


class _LazyGroup(click.Group):
    """Subcommands live in their own modules, imported only when they run (fast --help)."""

    #: name -> (module, attribute, the short help shown by ``bomguard --help``)
    lazy: dict[str, tuple[str, str, str]] = {
        "diff": (
            "bomguard.cli.diff",
            "diff",
            "Review a dependency change: every PyPI package BASE and NEW differ in, verified.",
        ),
        "data": (
            "bomguard.cli.data",
            "data_group",
            "Manage the reference data bomguard ships (PyPI download ranks).",
        ),
        "config": (
            "bomguard.cli.config",
            "config",
            "Show a command's effective settings and where each came from.",
        ),
        "enrich": (
            "bomguard.cli.enrich",
            "enrich",
            "Enrich SBOM with verified PEP 740 provenance and evaluate policies.",
        ),
        "fetch": (
            "bomguard.cli.fetch",
            "fetch",
            "Fetch the pages and provenance SBOM needs into a mirror, for offline runs.",
        ),
        "inventory": (
            "bomguard.cli.inventory",
            "inventory",
            "Report on the store: SBOMs containing a project, coverage, drift seen.",
        ),
        "policy": (
            "bomguard.cli.policy",
            "policy_group",
            "Check, test and explain CEL policy files.",
        ),
        "verify": (
            "bomguard.cli.verify",
            "verify",
            "Re-verify an enriched SBOM offline from the provenance embedded in it.",
        ),
        "upgrades": (
            "bomguard.cli.upgrades",
            "upgrades",
            "Vet upgrades: the releases newer than each PyPI package in SBOM, verified.",
        ),
        "verify-vsa": (
            "bomguard.cli.vsa",
            "verify_vsa",
            "Verify a signed VSA (Sigstore bundle) and that it vouches for an SBOM.",
        ),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                rows.append((name, self.lazy[name][2]))
            else:
                command = super().get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit=formatter.width - 6)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as err:
            # click would turn it into Abort (after a blank line); main() reports it.
            raise _Signalled(err) from err

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, attr, _ = self.lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            from bomguard.cli._settings import configure

            return configure(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bomguard")
def cli() -> None:
    """Turn an SBOM into supply-chain evidence: verified PEP 740 provenance and a verdict."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; exits with the documented exit codes.

    SIGINT and SIGTERM unwind like an exception: temporary files are removed, worker
    processes stopped, and the exit code is 130 or 143 with one line on stderr.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    verbose = verbose or os.environ.get("BOMGUARD_VERBOSE", "").lower() in (
        "1",
        "true",
        "yes",
        "on",
    )
    previous = None
    with contextlib.suppress(ValueError):  # not the main thread: signals are the caller's
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _run(args, verbose)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def entry() -> NoReturn:
    """The ``bomguard`` command (and ``python -m bomguard``): :func:`main`, then the process
    ends without tearing the interpreter down (:mod:`bomguard.cli._exit`)."""
    try:
        main()
    except SystemExit as done:
        code = done.code
        if code is not None and not isinstance(code, int):
            raise  # a message to print: Python's own exit does that
        from bomguard.cli._exit import leave

        leave(code or 0)
    raise AssertionError("main() always exits")  # pragma: no cover


def _run(args: list[str], verbose: bool) -> None:
    try:
        cli.main(args=args, prog_name="bomguard", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.exceptions.Abort as err:
        if isinstance(err.__cause__, KeyboardInterrupt):
            _interrupted(isinstance(err.__cause__, Terminated))
        click.echo("bomguard: aborted", err=True)
        sys.exit(EXIT_OPERATIONAL)
    except _Signalled as err:
        _interrupted(err.terminated)
    except click.ClickException as err:
        err.show()
        sys.exit(EXIT_INPUT)
    except BomguardError as err:
        click.echo(f"bomguard: error: {err.message}", err=True)
        if err.hint:
            click.echo(f"bomguard: hint: {err.hint}", err=True)
        if verbose:
            traceback.print_exc()
        sys.exit(err.exit_code)
    except KeyboardInterrupt as err:
        _interrupted(isinstance(err, Terminated))
    except Exception as err:
        click.echo(f"bomguard: internal error: {describe(err)}", err=True)
        if verbose:
            traceback.print_exc()
        else:
            click.echo("bomguard: run again with --verbose for a traceback", err=True)
        sys.exit(EXIT_OPERATIONAL)
    sys.exit(EXIT_PASS)


def _interrupted(terminated: bool) -> NoReturn:
    """One line on stderr; exit 143 for SIGTERM, 130 for SIGINT (128 + the signal)."""
    name = "terminated (SIGTERM)" if terminated else "interrupted (SIGINT)"
    click.echo(f"bomguard: {name}", err=True)
    sys.exit(128 + (signal.SIGTERM if terminated else signal.SIGINT))
