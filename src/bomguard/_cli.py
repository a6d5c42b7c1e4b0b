"""The command line: a thin layer over :mod:`bomguard.pipeline`.

Exit codes: 0 policy passed · 1 policy failed · 2 usage or input error · 3 operational
error that prevented a verdict. The report (the enriched SBOM) goes to ``-o`` or stdout;
progress and problems go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from bomguard import __version__
from bomguard.errors import BomguardError
from bomguard.sbom import FORMATS as SBOM_FORMATS

__all__ = ["main"]

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_OPERATIONAL = 0, 1, 2, 3


class _Progress:
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


class _LazyGroup(click.Group):
    """Subcommands in other modules are imported only when they run (fast --help)."""

    lazy: dict[str, tuple[str, str, str]] = {
        "policy": (
            "bomguard._cli_policy",
            "policy_group",
            "Check, test and explain CEL policy files.",
        )
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

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            import importlib

            module, attr, _ = self.lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bomguard")
def cli() -> None:
    """Turn an SBOM into supply-chain evidence: verified PEP 740 provenance and a verdict."""


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


def _index_options(func: Callable[..., None]) -> Callable[..., None]:
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
            help="Cache directory (default: the user cache directory).",
        ),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the cache."),
        click.option(
            "--cert",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="CA bundle for a private index (SSL_CERT_FILE is honoured too).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _make_index_options(
    index_url: str,
    extra_index_urls: Sequence[str],
    concurrency: int,
    timeout: float,
    retries: int,
    allowed_hosts: Sequence[str],
    cache_dir: Path | None,
    no_cache: bool,
    cert: Path | None,
    mirror: Path | None = None,
    hash_files: bool = False,
    max_file_bytes: int | None = None,
) -> Any:
    from bomguard.index import MAX_FILE_BYTES, IndexOptions, default_cache_dir

    cache = None if (no_cache or mirror is not None) else (cache_dir or default_cache_dir())
    return IndexOptions(
        index_url=index_url,
        extra_index_urls=tuple(extra_index_urls),
        concurrency=concurrency,
        timeout=timeout,
        retries=retries,
        allowed_provenance_hosts=frozenset(h.lower() for h in allowed_hosts),
        cache_dir=cache,
        mirror=mirror,
        cert=cert,
        hash_files=hash_files,
        max_file_bytes=max_file_bytes or MAX_FILE_BYTES,
    )


def _drift_entries(result: Any) -> list[dict[str, Any]]:
    """Every drift event, in component order, with its one-line summary."""
    entries = []
    for component in result.components:
        evidence = result.evidence.get(component.locator)
        if evidence is None:
            continue
        name = component.pypi.raw_name if component.pypi else component.name
        for event in evidence.drift:
            entries.append(
                {
                    "component": component.purl or f"{name}@{component.version or ''}",
                    "kind": event.kind,
                    "before": event.before,
                    "after": event.after,
                    "source": event.source.value,
                    "since": event.since,
                    "asserted_by_index": event.asserted_by_index,
                    "summary": event.summary(name, component.version or ""),
                }
            )
    return entries


def _parse_report(value: str) -> tuple[str, Path]:
    from bomguard.report import FORMATS

    fmt, sep, path = value.partition(":")
    if not sep or not path or fmt not in FORMATS:
        raise click.BadParameter(
            f"{value!r}: expected FORMAT:PATH with FORMAT one of {', '.join(FORMATS)}",
            param_hint="'--report'",
        )
    return fmt, Path(path)


@cli.command()
@click.argument("sbom", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="Where to write the enriched SBOM ('-' for stdout).",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A policy file (repeatable). Default: fail only on invalid provenance.",
)
@click.option(
    "--verdict",
    "verdict_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the verdict document (JSON) here.",
)
@click.option(
    "--report",
    "reports",
    multiple=True,
    metavar="FORMAT:PATH",
    help="Also write a report: html, sarif, markdown or junit (repeatable). With "
    "GITHUB_STEP_SUMMARY set, a Markdown summary is appended there too.",
)
@click.option(
    "--strict", is_flag=True, help="Also fail when a PyPI component's provenance is unknown."
)
@click.option(
    "--trust-root",
    default="tuf",
    show_default=True,
    help="'tuf' (refresh online), 'embedded' (shipped with sigstore, no network) or a "
    "trusted_root.json file.",
)
@click.option("--staging", is_flag=True, help="Use Sigstore's staging instance.")
@click.option(
    "--drift-depth",
    default=1,
    show_default=True,
    type=click.IntRange(0, 20),
    help="Compare each release's publisher identity with this many earlier releases "
    "on the index (0: off).",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An SBOM bomguard enriched earlier: the identities it recorded are expected again.",
)
@click.option(
    "--pins",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Expected identities: a pylock.toml with attestation-identities, or a pin file.",
)
@click.option(
    "--mirror",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Read pages and provenance from a 'bomguard fetch' directory: no network.",
)
@_index_options
@click.option(
    "--hash-files",
    is_flag=True,
    help="Download every distribution file (streamed, not kept) and bind verification to the "
    "sha256 of the bytes received; bytes other than the index advertises are invalid. For "
    "an index you do not trust; costs a download of every file.",
)
@click.option(
    "--max-file-bytes",
    type=click.IntRange(1),
    metavar="BYTES",
    help="With --hash-files: a larger distribution file is not downloaded and is unknown "
    "(default: 1 GiB).",
)
@click.option(
    "--cel-engine",
    type=click.Choice(["auto", "python", "cpp"]),
    default="auto",
    show_default=True,
    help="CEL engine: 'auto' picks Google's cel-expr-python ('cpp', about 50x faster; "
    "pip install 'bomguard[cpp]') when installed, else cel-python ('python', the engine "
    "of record); both give identical decisions.",
)
@click.option(
    "--input-format",
    type=click.Choice(SBOM_FORMATS),
    help="The SBOM's format, when detecting it from the content is not wanted.",
)
@click.option(
    "--embed-evidence/--no-embed-evidence",
    default=None,
    help="Embed each provenance object in CycloneDX 1.6+ declarations, so the SBOM can be "
    "re-verified offline with 'bomguard verify' (default: on where the format has "
    "declarations). Off: the evidence links to the index instead.",
)
@click.option(
    "--validate-output",
    is_flag=True,
    help="Validate the enriched SBOM against its official schema before writing it.",
)
@click.option("-v", "--verbose", is_flag=True, help="Per-component detail and tracebacks.")
def enrich(
    sbom: Path,
    output: str,
    policies: Sequence[Path],
    verdict_path: Path | None,
    reports: Sequence[str],
    strict: bool,
    trust_root: str,
    staging: bool,
    drift_depth: int,
    baseline: Path | None,
    pins: Path | None,
    mirror: Path | None,
    input_format: str | None,
    cel_engine: str,
    embed_evidence: bool | None,
    validate_output: bool,
    verbose: bool,
    hash_files: bool,
    max_file_bytes: int | None,
    **index: Any,
) -> None:
    """Enrich SBOM with verified PEP 740 provenance and evaluate policies."""
    from bomguard._io import write_atomic
    from bomguard.errors import OperationalError
    from bomguard.index import redact_url
    from bomguard.pipeline import EnrichOptions
    from bomguard.pipeline import enrich as run

    if hash_files and mirror is not None:
        raise click.UsageError(
            "--hash-files downloads from the index; it cannot be used with --mirror"
        )
    report_specs = [_parse_report(r) for r in reports]
    options = EnrichOptions(
        policies=tuple(policies),
        index=_make_index_options(
            mirror=mirror, hash_files=hash_files, max_file_bytes=max_file_bytes, **index
        ),
        trust_root=trust_root,
        staging=staging,
        strict=strict,
        drift_depth=drift_depth,
        baseline=baseline,
        pins=pins,
        input_format=input_format,
        cel_engine=cel_engine,
        embed_evidence=embed_evidence,
    )
    progress = _Progress(sys.stderr.isatty())
    try:
        result = run(sbom, options, observer=progress)
    finally:
        progress.close()

    if validate_output:
        problem = result.document.validate()
        if problem is not None:
            raise OperationalError(f"the enriched SBOM does not validate: {problem}")
    data = result.document.serialize()
    drift = _drift_entries(result)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        write_atomic(Path(output), data)
    if verdict_path is not None:
        verdict = result.verdict.to_dict()
        verdict["sbom"] = str(sbom)
        verdict["evaluated_at"] = result.evaluated_at.isoformat()
        verdict["drift"] = sorted(
            drift, key=lambda e: (e["component"], e["kind"], e["source"], e["since"])
        )
        if result.trust_root is not None:
            verdict["trust_root"] = {
                "source": result.trust_root.source,
                "instance": result.trust_root.instance,
                "sha256": result.trust_root.sha256,
            }
        text = json.dumps(verdict, indent=2, sort_keys=True) + "\n"
        write_atomic(verdict_path, text.encode("utf-8"))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if report_specs or summary_file:
        from bomguard.report import build_report, render

        facts = build_report(result, str(sbom))
        for fmt, path in report_specs:
            write_atomic(path, render(fmt, facts))
        if summary_file:
            try:
                with Path(summary_file).open("ab") as handle:
                    handle.write(render("markdown", facts))
            except OSError as err:
                click.echo(f"bomguard: cannot append to GITHUB_STEP_SUMMARY: {err}", err=True)

    for component in result.components:
        ev = result.evidence.get(component.locator)
        if ev is None:
            continue
        label = component.purl or component.name
        if verbose:
            click.echo(f"{ev.status.value:>14}  {label}  {ev.reason}".rstrip(), err=True)
    for entry in drift:
        click.echo(f"DRIFT: {entry['summary']}", err=True)
    for expired in result.verdict.expired_waivers:
        waiver = expired.waiver
        click.echo(
            f"WARNING: {expired.policy}: the waiver of rule {waiver.rule} for "
            f"{waiver.purl or waiver.name or 'the SBOM'} expired on {waiver.expires.isoformat()} "
            "and is ignored",
            err=True,
        )
    for violation in result.verdict.violations:
        click.echo(
            f"{violation.severity.upper()}: {violation.rule}: {violation.component}: "
            f"{violation.message}",
            err=True,
        )
    counts = ", ".join(f"{n} {s}" for s, n in result.verdict.counts.items() if n)
    source = f"mirror {mirror}" if mirror is not None else f"index {redact_url(index['index_url'])}"
    click.echo(
        f"bomguard: {len(result.components)} components ({counts or 'none'}); "
        f"{source}; verdict: {result.verdict.verdict}",
        err=True,
    )
    sys.exit(EXIT_PASS if result.verdict.verdict == "pass" else EXIT_FAIL)


@cli.command()
@click.argument("sbom", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--into",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory to write the mirror into (created if missing).",
)
@_index_options
@click.option("-v", "--verbose", is_flag=True, help="Tracebacks on errors.")
def fetch(sbom: Path, into: Path, verbose: bool, **index: Any) -> None:
    """Fetch the pages and provenance SBOM needs into a mirror, for offline runs.

    A later 'bomguard enrich SBOM --mirror DIR --trust-root embedded' makes no network
    request at all and gives the same statuses.
    """
    from bomguard.errors import OperationalError
    from bomguard.pipeline import EnrichOptions
    from bomguard.pipeline import fetch as run

    try:
        into.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OperationalError(f"{into}: cannot create: {err.strerror or err}") from err
    options = EnrichOptions(index=_make_index_options(**index))
    progress = _Progress(sys.stderr.isatty())
    try:
        counts = run(sbom, into, options, observer=progress)
    finally:
        progress.close()
    click.echo(
        f"bomguard: mirrored {counts['releases']} releases, {counts['files']} files, "
        f"{counts['provenance']} provenance objects into {into}"
        + (f" ({counts['unknown']} could not be fetched)" if counts["unknown"] else ""),
        err=True,
    )
    sys.exit(EXIT_PASS)


@cli.command()
@click.argument("sbom", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--trust-root",
    default="embedded",
    show_default=True,
    help="'embedded' (shipped with sigstore, no network), a trusted_root.json file, or "
    "'tuf' (refresh online).",
)
@click.option("--staging", is_flag=True, help="Use Sigstore's staging instance.")
@click.option("-v", "--verbose", is_flag=True, help="One line per component.")
def verify(sbom: Path, trust_root: str, staging: bool, verbose: bool) -> None:
    """Re-verify an enriched SBOM offline from the provenance embedded in it.

    Exits 1 if any component's status would now differ from the one recorded (altered
    evidence or digests, or a 'verified' component that carries no evidence).
    """
    from bomguard.reverify import reverify

    findings = reverify(sbom, trust_root=trust_root, staging=staging)
    differing = [f for f in findings if f.differs]
    for finding in findings:
        if finding.differs or verbose:
            mark = "FAIL" if finding.differs else "OK"
            detail = f": {finding.reason}" if finding.reason and finding.differs else ""
            click.echo(
                f"{mark}: {finding.component}: recorded {finding.recorded}, now {finding.now}"
                f"{detail}",
                err=True,
            )
    checked = sum(f.files_checked for f in findings)
    click.echo(
        f"bomguard: {len(findings)} components, {checked} embedded provenance objects "
        f"re-verified; {len(differing)} differ from the record",
        err=True,
    )
    sys.exit(EXIT_FAIL if differing else EXIT_PASS)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; exits with the documented exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    try:
        cli.main(args=args, prog_name="bomguard", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.exceptions.Abort:
        click.echo("bomguard: aborted", err=True)
        sys.exit(EXIT_OPERATIONAL)
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
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as err:
        click.echo(f"bomguard: internal error: {type(err).__name__}: {err}", err=True)
        if verbose:
            traceback.print_exc()
        else:
            click.echo("bomguard: run again with --verbose for a traceback", err=True)
        sys.exit(EXIT_OPERATIONAL)
    sys.exit(EXIT_PASS)
