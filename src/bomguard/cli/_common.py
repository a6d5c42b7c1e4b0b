"""What the commands share: exit codes, the index options, the progress line."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = [
    "EXIT_FAIL",
    "EXIT_INPUT",
    "EXIT_OPERATIONAL",
    "EXIT_PASS",
    "Progress",
    "index_options",
    "make_index_options",
    "make_progress",
    "output_options",
    "trust_root_options",
    "with_trust_root",
]

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_OPERATIONAL = 0, 1, 2, 3


class Progress:
    """Progress on stderr, fed by the pipeline's ``(event, detail)`` observer events.

    On a terminal (and unless turned off) it is a ``rich`` progress bar: the releases to
    check (``total``), those done (``release``), the rate and the time left, with counts
    of pages, provenance objects and verified files. Off a terminal it prints nothing.
    ``cache-tampered`` always prints one ``WARNING: cache: ...`` line, bar or not, and
    ``store-unwritten`` one ``WARNING: store: ...`` line.
    """

    def __init__(self, enabled: bool, *, color: bool = True) -> None:
        self.enabled = enabled
        self.color = color and "NO_COLOR" not in os.environ
        self.counts = {"page": 0, "provenance": 0, "verify": 0, "retry": 0, "release": 0}
        self.total: int | None = None
        self._bar: Any = None
        self._task: Any = None

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:.1f}/s" if speed else "-/s")

        console = Console(stderr=True, no_color=not self.color, highlight=False)
        self._bar = Bar(
            TextColumn("bomguard: releases"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            Rate(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task("releases", total=self.total, detail="")
        self._bar.start()

    def _detail(self) -> str:
        c = self.counts
        retries = f", {c['retry']} retries" if c["retry"] else ""
        return f"{c['page']} pages, {c['provenance']} provenance, {c['verify']} verified{retries}"

    def __call__(self, event: str, detail: str) -> None:
        if event == "cache-tampered":
            self.warn(f"WARNING: cache: {detail}")
            return
        if event == "store-unwritten":
            self.warn(f"WARNING: store: {detail}")
            return
        if event == "total":
            self.total = int(detail)
        elif event in self.counts:
            self.counts[event] += 1
        if not self.enabled:
            return
        if self._bar is None:
            self._start()
        self._bar.update(
            self._task,
            total=self.total,
            completed=min(self.counts["release"], self.total or self.counts["release"]),
            detail=self._detail(),
        )

    def warn(self, line: str) -> None:
        """A line on stderr above the bar (the bar keeps running)."""
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def make_progress(*, quiet: bool, no_progress: bool, no_color: bool) -> Progress:
    """The progress display the output options ask for (a bar only on a terminal)."""
    enabled = sys.stderr.isatty() and not (quiet or no_progress)
    return Progress(enabled, color=not no_color)


def output_options(func: Callable[..., None]) -> Callable[..., None]:
    """``--quiet``, ``--no-progress`` and ``--no-color`` (shared by commands)."""
    options = [
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            help="No progress and no summary lines on stderr; errors, warnings and drift "
            "are still printed.",
        ),
        click.option(
            "--no-progress", is_flag=True, help="No progress bar (shown only on a terminal)."
        ),
        click.option(
            "--no-color", is_flag=True, help="No colour on stderr (NO_COLOR is honoured too)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _check_index_urls(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse, before any work, a value that is no index URL: one line naming the option."""
    from bomguard.errors import InputError
    from bomguard.index import index_url_problem, redact_url

    for url in (value,) if isinstance(value, str) else value:
        problem = index_url_problem(url)
        if problem is not None:
            option = param.opts[0]
            source = ctx.get_parameter_source(param.name or "")
            if source is click.core.ParameterSource.ENVIRONMENT:
                option = f"{param.envvar or 'BOMGUARD_INDEX_URL'} (for {option})"
            elif source is click.core.ParameterSource.DEFAULT_MAP:
                option = f"the settings file (for {option})"
            raise InputError(f"{option} {redact_url(url)!r} {problem}")
    return value


_TRUST_ROOT_HELP = {
    "tuf": "'tuf' (refresh online), 'embedded' (shipped with sigstore, no network) or a "
    "trusted_root.json file.",
    "embedded": "'embedded' (shipped with sigstore, no network), a trusted_root.json file, or "
    "'tuf' (refresh online).",
}


def trust_root_options(default: str) -> list[Callable[[Any], Any]]:
    """``--trust-root`` (with this default) and ``--staging``, as every verifying command
    takes them."""
    return [
        click.option(
            "--trust-root", default=default, show_default=True, help=_TRUST_ROOT_HELP[default]
        ),
        click.option("--staging", is_flag=True, help="Use Sigstore's staging instance."),
    ]


def with_trust_root(default: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a command with :func:`trust_root_options`."""

    def apply(func: Callable[..., None]) -> Callable[..., None]:
        for option in reversed(trust_root_options(default)):
            func = option(func)
        return func

    return apply


def index_options(func: Callable[..., None]) -> Callable[..., None]:
    """The options that say where and how to fetch provenance (shared by commands)."""
    options = [
        click.option(
            "--index-url",
            envvar="BOMGUARD_INDEX_URL",
            callback=_check_index_urls,
            default="https://pypi.org/simple/",
            show_default=True,
            help="Base URL of the PEP 503/691 index (as pip's --index-url); credentials "
            "in it are used for that index only and never printed.",
        ),
        click.option(
            "--extra-index-url",
            "extra_index_urls",
            multiple=True,
            callback=_check_index_urls,
            help="Another index that components' repository_url qualifiers may name (repeatable).",
        ),
        click.option(
            "--concurrency",
            default=64,
            show_default=True,
            type=click.IntRange(1, 256),
            help="HTTP requests in flight at once.",
        ),
        click.option(
            "--timeout",
            default=30.0,
            show_default=True,
            type=click.FloatRange(0.1, 600),
            help="Seconds before one HTTP request gives up.",
        ),
        click.option(
            "--retries",
            default=3,
            show_default=True,
            type=click.IntRange(0, 10),
            help="Retries on 429, 5xx and connection errors (with backoff).",
        ),
        click.option(
            "--allow-provenance-host",
            "allowed_hosts",
            multiple=True,
            help="A host other than the index's own that may serve provenance (repeatable).",
        ),
        click.option(
            "--cache-dir",
            type=click.Path(file_okay=False, path_type=Path),
            envvar="BOMGUARD_CACHE_DIR",
            help="Cache directory: the store is DIR/bomguard.sqlite3 (default: the user "
            "cache directory).",
        ),
        click.option(
            "--store",
            envvar="BOMGUARD_STORE",
            help="The evidence store: a SQLite file, or postgresql://... for a fleet (needs "
            "BOMGUARD_STORE_KEY_FILE). Overrides --cache-dir.",
        ),
        click.option(
            "--no-cache", is_flag=True, help="Use no store: neither read nor write the cache."
        ),
        click.option(
            "--revalidate",
            is_flag=True,
            help="Ask the index about every stored project page, even one its Cache-Control "
            "keeps fresh.",
        ),
        click.option(
            "--cert",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="CA bundle for a private index (SSL_CERT_FILE is honoured too).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_index_options(
    index_url: str,
    extra_index_urls: Sequence[str],
    concurrency: int,
    timeout: float,
    retries: int,
    allowed_hosts: Sequence[str],
    cache_dir: Path | None,
    no_cache: bool,
    cert: Path | None,
    store: str | None = None,
    revalidate: bool = False,
    mirror: Path | None = None,
    hash_files: bool = False,
    max_file_bytes: int | None = None,
) -> Any:
    from bomguard.index import MAX_FILE_BYTES, IndexOptions, default_cache_dir

    location: str | None = None
    if not no_cache:  # with --mirror only verification results are kept (bomguard.warm)
        from bomguard.store import STORE_FILENAME

        location = store or str((cache_dir or default_cache_dir()) / STORE_FILENAME)
    return IndexOptions(
        index_url=index_url,
        extra_index_urls=tuple(extra_index_urls),
        concurrency=concurrency,
        timeout=timeout,
        retries=retries,
        allowed_provenance_hosts=frozenset(h.lower() for h in allowed_hosts),
        store=location,
        revalidate=revalidate,
        mirror=mirror,
        cert=cert,
        hash_files=hash_files,
        max_file_bytes=max_file_bytes or MAX_FILE_BYTES,
    )
