"""``bomguard enrich``: the enriched SBOM, the verdict and the reports of one SBOM."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast

import click

from bomguard.cli._common import (
    EXIT_FAIL,
    EXIT_PASS,
    index_options,
    make_index_options,
    make_progress,
    output_options,
    with_trust_root,
)
from bomguard.sbom import FORMATS as SBOM_FORMATS

__all__ = ["enrich"]


def _drift_entries(result: Any) -> list[dict[str, Any]]:
    """Every drift event, in component order, with its one-line summary."""
    from bomguard.policy.facts import event_facts

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
                    **event_facts(event),
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


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _real_target(path: Path) -> Path:
    """Where an in-place write goes: the file a symlink names, not the link."""
    return Path(os.path.realpath(path))


def _destinations(
    output: str, verdict_path: Path | None, report_specs: Sequence[tuple[str, Path]]
) -> list[Any]:
    from bomguard._io import Destination

    found = [] if output == "-" else [Destination("-o/--output", Path(output))]
    if verdict_path is not None and str(verdict_path) != "-":
        found.append(Destination("--verdict", verdict_path))
    found.extend(Destination("--report", path) for _, path in report_specs if str(path) != "-")
    return found


def _verdict_json(result: Any, sbom: Path, drift: list[dict[str, Any]]) -> bytes:
    from bomguard.reasons import findings

    verdict = result.verdict.to_dict()
    verdict["sbom"] = str(sbom)
    verdict["evaluated_at"] = result.evaluated_at.isoformat()
    verdict["drift"] = sorted(
        drift, key=lambda e: (e["component"], e["kind"], e["source"], e["since"])
    )
    verdict["findings"] = findings(result.components, result.evidence)
    if result.trust_root is not None:
        verdict["trust_root"] = {
            "source": result.trust_root.source,
            "instance": result.trust_root.instance,
            "sha256": result.trust_root.sha256,
        }
    if getattr(result, "ranks", None) is not None:
        verdict["criticality"] = result.ranks.record()
    return (json.dumps(verdict, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _explained_line(evidence: Any, label: str) -> str:
    """``-v``'s line for one component: status, label, and for a reason its code, sentence,
    hint and the raw detail."""
    from bomguard.reasons import explain_component

    line = f"{evidence.status.value:>14}  {label}"
    if not evidence.reason:
        return line
    why = explain_component(evidence.status, evidence.reason, evidence)
    if not why.code:
        return f"{line}  {evidence.reason}"
    pad = " " * 16
    return (
        f"{line}  [{why.code}] {why.message}\n{pad}what to do: {why.hint}\n"
        f"{pad}detail: {why.detail}"
    )


@click.command()
@click.argument(
    "sboms",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="Where to write the enriched SBOM ('-' for stdout).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Enrich several SBOMs in one run (each distinct file fetched and verified once): "
    "DIR/NAME, DIR/NAME.verdict.json per SBOM and DIR/summary.json.",
)
@click.option(
    "--in-place",
    is_flag=True,
    help="Write the enriched SBOM over the input SBOM (atomically); without it, an "
    "output that is the input is refused.",
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
    type=click.Path(path_type=Path),
    help="Write the verdict document (JSON) here ('-' for stdout).",
)
@click.option(
    "--report",
    "reports",
    multiple=True,
    metavar="FORMAT:PATH",
    help="Also write a report: html, sarif, markdown or junit (repeatable; PATH '-' for "
    "stdout). With GITHUB_STEP_SUMMARY set, a Markdown summary is appended there too.",
)
@click.option(
    "--strict", is_flag=True, help="Also fail when a PyPI component's provenance is unknown."
)
@with_trust_root("tuf")
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
@index_options
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
@click.option(
    "--vsa",
    "vsa_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a SLSA Verification Summary Attestation here: an in-toto statement over the "
    "enriched SBOM's bytes, the files judged, the policies and the result (see docs/vsa.md).",
)
@click.option(
    "--sign",
    is_flag=True,
    help="Also sign the VSA with Sigstore (keyless; the ambient CI identity or "
    "--identity-token) into a bundle at VSA_PATH.sigstore.json. If signing fails, the "
    "other outputs and the unsigned VSA are still written, and the exit code is 3.",
)
@click.option(
    "--identity-token",
    envvar="SIGSTORE_IDENTITY_TOKEN",
    metavar="TOKEN",
    help="With --sign: the OIDC identity token to sign with (default: the CI's ambient "
    "credential, as sigstore-python detects it).",
)
@click.option(
    "--trust-config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --sign: a Sigstore ClientTrustConfig JSON naming the Fulcio and Rekor to "
    "sign with (a private Sigstore); default: Sigstore's own, refreshed over TUF.",
)
@click.option(
    "--store-history/--no-store-history",
    default=True,
    show_default=True,
    help="Record verified identities in the store and expect the identity the store has "
    "seen for a project again (the 'store' drift source); --no-store-history does neither.",
)
@click.option("-v", "--verbose", is_flag=True, help="Per-component detail and tracebacks.")
@output_options
def enrich(
    sboms: tuple[Path, ...],
    output: str,
    out_dir: Path | None,
    in_place: bool,
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
    store_history: bool,
    verbose: bool,
    hash_files: bool,
    max_file_bytes: int | None,
    vsa_path: Path | None,
    sign: bool,
    identity_token: str | None,
    trust_config: Path | None,
    quiet: bool,
    no_progress: bool,
    no_color: bool,
    **index: Any,
) -> None:
    """Enrich SBOM with verified PEP 740 provenance and evaluate policies.

    SBOM '-' reads it from stdin.
    """

    from bomguard._io import Content, Destination, check_destinations, write_all_atomic
    from bomguard.cli._streams import (
        STDIN_LABEL,
        is_stdio,
        refuse_terminal_stdin,
        stdout_owner,
    )
    from bomguard.errors import InputError, OperationalError
    from bomguard.index import redact_url
    from bomguard.pipeline import EnrichOptions
    from bomguard.pipeline import enrich as run

    many = len(sboms) > 1 or out_dir is not None
    if many and (
        out_dir is None
        or in_place
        or output != "-"
        or verdict_path
        or reports
        or vsa_path
        or any(is_stdio(s) for s in sboms)
    ):
        raise click.UsageError(
            "several SBOMs need --out-dir DIR (outputs DIR/NAME and DIR/NAME.verdict.json); "
            "-o, --in-place, --verdict, --report, --vsa and '-' (stdin) are for one SBOM"
        )
    sbom = sboms[0]
    if hash_files and mirror is not None:
        raise click.UsageError(
            "--hash-files downloads from the index; it cannot be used with --mirror"
        )
    bundle_path = _check_vsa_options(vsa_path, sign, identity_token, trust_config, staging)
    report_specs = [_parse_report(r) for r in reports]
    stdout_owner(output, verdict_path, report_specs)
    from_stdin = is_stdio(sbom)
    if in_place and from_stdin:
        raise click.UsageError("--in-place writes over the SBOM file; the SBOM is stdin")
    if in_place:
        if output not in ("-", str(sbom)) and not _same_path(Path(output), sbom):
            raise InputError(f"--in-place writes over {sbom}, but -o names {output}")
        output = str(sbom)
    # Every destination is checked before any network work; all are written at the end.
    destinations = _destinations(output, verdict_path, report_specs)
    if vsa_path is not None:
        destinations.append(Destination("--vsa", vsa_path))
    if bundle_path is not None:
        destinations.append(Destination("--sign", bundle_path))
    inputs = [] if from_stdin else [Destination("SBOM", sbom)]
    inputs += [Destination("--policy", p) for p in policies]
    if trust_config is not None:
        inputs.append(Destination("--trust-config", trust_config))
    inputs += [Destination(o, p) for o, p in (("--baseline", baseline), ("--pins", pins)) if p]
    check_destinations(
        destinations, inputs, in_place_pair=("-o/--output", "SBOM"), in_place=in_place
    )
    options = EnrichOptions(
        policies=tuple(policies),
        index=make_index_options(
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
        store_history=store_history,
    )
    progress = make_progress(quiet=quiet, no_progress=no_progress, no_color=no_color)
    if many:
        from bomguard.cli._many import enrich_many

        assert out_dir is not None
        try:
            passed = enrich_many(sboms, out_dir, options, progress, _verdict_json, _drift_entries)
        finally:
            progress.close()
        sys.exit(EXIT_PASS if passed else EXIT_FAIL)
    if from_stdin:
        refuse_terminal_stdin()
    try:
        result = run(sbom, options, observer=progress)
    finally:
        progress.close()
    sbom_label = Path(STDIN_LABEL) if from_stdin else sbom

    # Render every output in memory first: a failure here writes none of them.
    if validate_output:
        problem = result.document.validate()
        if problem is not None:
            raise OperationalError(f"the enriched SBOM does not validate: {problem}")
    # The enriched SBOM is streamed into its temporary file (or stdout's) while written.
    data = result.document.write_to
    drift = _drift_entries(result)
    files: list[tuple[Path, Content]] = []
    stdout: Content | None = data if output == "-" else None
    if output != "-":
        files.append((_real_target(Path(output)) if in_place else Path(output), data))
    if verdict_path is not None:
        verdict_data = _verdict_json(result, sbom_label, drift)
        if is_stdio(verdict_path):
            stdout = verdict_data
        else:
            files.append((verdict_path, verdict_data))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    summary: bytes | None = None
    if report_specs or summary_file:
        from bomguard.report import build_report, render

        facts = build_report(result, str(sbom_label))
        for fmt, path in report_specs:
            if is_stdio(path):
                stdout = render(fmt, facts)
            else:
                files.append((path, render(fmt, facts)))
        if summary_file:
            summary = render("markdown", facts)
    sign_error = None
    if vsa_path is not None:
        from bomguard.vsa.statement import build_statement, inputs_from_result

        name = sbom.name if output == "-" else Path(output).name
        digest, uri = _sbom_digest(result.document)
        statement = build_statement(inputs_from_result(result, name, digest, uri))
        files.append((vsa_path, statement))
        if bundle_path is not None:
            from bomguard.vsa.sign import sign_statement

            try:
                bundle = sign_statement(
                    statement,
                    trust_config=trust_config,
                    staging=staging,
                    identity_token=identity_token,
                )
                files.append((bundle_path, bundle))
            except OperationalError as err:
                sign_error = err  # the unsigned statement and the other outputs still go out
    write_all_atomic(files, stdout)
    if summary_file and summary is not None:
        try:
            with Path(summary_file).open("ab") as handle:
                handle.write(summary)
        except OSError as err:
            click.echo(f"bomguard: cannot append to GITHUB_STEP_SUMMARY: {err}", err=True)

    for component in result.components:
        ev = result.evidence.get(component.locator)
        if ev is None:
            continue
        label = component.purl or component.name
        if verbose:
            click.echo(_explained_line(ev, label), err=True)
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
    for violation in () if quiet else result.verdict.violations:
        click.echo(
            f"{violation.severity.upper()}: {violation.rule}: {violation.component}: "
            f"{violation.message}",
            err=True,
        )
    counts = ", ".join(f"{n} {s}" for s, n in result.verdict.counts.items() if n)
    where = f"mirror {mirror}" if mirror is not None else f"index {redact_url(index['index_url'])}"
    if not quiet:
        click.echo(
            f"bomguard: {len(result.components)} components ({counts or 'none'}); "
            f"{where}; verdict: {result.verdict.verdict}",
            err=True,
        )
    if sign_error is not None:
        raise sign_error
    sys.exit(EXIT_PASS if result.verdict.verdict == "pass" else EXIT_FAIL)


def _sbom_digest(document: Any) -> tuple[str, str | None]:
    """The enriched SBOM's sha256 (of the bytes written) and its own name for itself,
    without holding the whole document: a CycloneDX JSON one is streamed into the hash."""
    import hashlib

    from bomguard.sbom.cyclonedx_json import CycloneDxJson
    from bomguard.vsa.statement import resource_uri_in, resource_uri_of

    if not isinstance(document, CycloneDxJson):
        data = document.serialize()
        return hashlib.sha256(data).hexdigest(), resource_uri_of(data)

    class Sink:
        def __init__(self) -> None:
            self.hash = hashlib.sha256()

        def write(self, chunk: bytes | memoryview) -> int:
            self.hash.update(chunk)
            return len(chunk)

    sink = Sink()
    document.write_to(cast("IO[bytes]", sink))
    return sink.hash.hexdigest(), resource_uri_in(document.data)


def _check_vsa_options(
    vsa_path: Path | None,
    sign: bool,
    identity_token: str | None,
    trust_config: Path | None,
    staging: bool,
) -> Path | None:
    """Refuse, before any work, VSA options that cannot go together; the bundle's path."""
    if sign and vsa_path is None:
        raise click.UsageError("--sign signs the VSA: give --vsa PATH too")
    if not sign:
        if trust_config is not None:
            raise click.UsageError("--trust-config says where to sign: it goes with --sign")
        return None
    from bomguard.vsa.sign import BUNDLE_SUFFIX, check_identity_token, load_trust_config

    if identity_token:
        check_identity_token(identity_token)
    if trust_config is not None:
        load_trust_config(trust_config, staging=staging)
    assert vsa_path is not None
    return vsa_path.with_name(vsa_path.name + BUNDLE_SUFFIX)
