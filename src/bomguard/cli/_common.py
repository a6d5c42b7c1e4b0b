"""What the commands share: exit codes, the index options, the progress line."""

from __future__ import annotations

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
]

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_OPERATIONAL = 0, 1, 2, 3


class Progress:
    """A one-line counter on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.counts = {"page": 0, "provenance": 0, "verify": 0, "retry": 0}

    def __call__(self, event: str, detail: str) -> None:
        if event == "cache-tampered":
            self.close()
            click.echo(f"WARNING: cache: {detail}", err=True)
            return
        if event in self.counts:
            self.counts[event] += 1
        if self.enabled:
            c = self.counts
            click.echo(
                f"\rbomguard: {c['page']} project pages, {c['provenance']} provenance "
                f"objects, {c['verify']} files verified",
                err=True,
                nl=False,
            )

    def close(self) -> None:
        if self.enabled:
            click.echo("\r\033[K", err=True, nl=False)


def _check_index_urls(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse, before any work, a value that is no index URL: one line naming the option."""
    from bomguard.errors import InputError
    from bomguard.index import index_url_problem, redact_url

    for url in (value,) if isinstance(value, str) else value:
        problem = index_url_problem(url)
        if problem is not None:
            option = param.opts[0]
            if ctx.get_parameter_source(param.name or "") is click.core.ParameterSource.ENVIRONMENT:
                option = f"BOMGUARD_INDEX_URL (for {option})"
            raise InputError(f"{option} {redact_url(url)!r} {problem}")
    return value


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
            default=16,
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
    if not no_cache and mirror is None:
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
