"""``bomguard verify``: re-verify an enriched SBOM offline from its embedded evidence."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bomguard.cli._common import EXIT_FAIL, EXIT_PASS, with_trust_root
from bomguard.cli.vsa import identity_options

__all__ = ["verify"]


def _explained(finding: Any) -> str:
    """The reason with its code and sentence first (docs/enrichment.md#reason-codes)."""
    from bomguard.models import Status
    from bomguard.reasons import explain

    try:
        status = Status(finding.now)
    except ValueError:
        return str(finding.reason)
    why = explain(status, finding.reason)
    return f"[{why.code}] {why.message} ({why.detail})" if why.code else str(finding.reason)


@click.command()
@click.argument("sbom", type=click.Path(dir_okay=False, path_type=Path))
@with_trust_root("embedded")
@click.option(
    "--vsa",
    "vsa_bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also verify this signed VSA (Sigstore bundle) and that it vouches for SBOM's "
    "bytes (needs --cert-identity and --cert-oidc-issuer): catches any edit of the SBOM.",
)
@identity_options(required=False)
@click.option("-v", "--verbose", is_flag=True, help="One line per component.")
def verify(
    sbom: Path,
    trust_root: str,
    staging: bool,
    vsa_bundle: Path | None,
    cert_identity: str | None,
    cert_oidc_issuer: str | None,
    verbose: bool,
) -> None:
    """Re-verify an enriched SBOM offline from the provenance embedded in it.

    Exits 1 if any component's status would now differ from the one recorded (altered
    evidence or digests, or a 'verified' component that carries no evidence), or, with
    --vsa, if the VSA does not verify, does not vouch for SBOM's bytes, or says FAILED.
    """
    from bomguard.reverify import reverify

    if vsa_bundle is None and (cert_identity or cert_oidc_issuer):
        raise click.UsageError("--cert-identity and --cert-oidc-issuer go with --vsa")
    if vsa_bundle is not None and not (cert_identity and cert_oidc_issuer):
        raise click.UsageError("--vsa needs --cert-identity and --cert-oidc-issuer")
    vsa_failed = False
    if vsa_bundle is not None:
        vsa_failed = _check_vsa(
            vsa_bundle, sbom, str(cert_identity), str(cert_oidc_issuer), trust_root, staging
        )
    findings = reverify(sbom, trust_root=trust_root, staging=staging)
    differing = [f for f in findings if f.differs]
    for finding in findings:
        if finding.differs or verbose:
            mark = "FAIL" if finding.differs else "OK"
            detail = f": {_explained(finding)}" if finding.reason and finding.differs else ""
            # The same status, not backed by the evidence, is "not proven"; else it changed.
            then_now = (
                f"recorded {finding.recorded}, not proven"
                if finding.problems and finding.recorded == finding.now
                else f"recorded {finding.recorded}, now {finding.now}"
            )
            click.echo(f"{mark}: {finding.component}: {then_now}{detail}", err=True)
    checked = sum(f.files_checked for f in findings)
    click.echo(
        f"bomguard: {len(findings)} components, {checked} embedded provenance objects "
        f"re-verified; {len(differing)} differ from the record",
        err=True,
    )
    sys.exit(EXIT_FAIL if differing or vsa_failed else EXIT_PASS)


def _check_vsa(
    bundle: Path, sbom: Path, identity: str, issuer: str, trust_root: str, staging: bool
) -> bool:
    """Verify the VSA for ``sbom``; report it; return whether it failed."""
    from bomguard.cli.vsa import report
    from bomguard.vsa.verify import VsaRejected, verify_vsa

    try:
        check = verify_vsa(
            bundle,
            sbom,
            cert_identity=identity,
            cert_oidc_issuer=issuer,
            trust_root=trust_root,
            staging=staging,
        )
    except VsaRejected as err:
        click.echo(f"FAIL: {err.message}", err=True)
        return True
    report(check)
    return not check.passed
