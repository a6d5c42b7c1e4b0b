"""``bomguard verify-vsa``: check a signed VSA and that it vouches for an SBOM.

Also the expected-signer options ``bomguard verify --vsa`` shares, and the one-line
report both print.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bomguard.cli._common import EXIT_FAIL, EXIT_PASS, with_trust_root

__all__ = ["identity_options", "report", "verify_vsa"]


def identity_options(required: bool) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--cert-identity`` and ``--cert-oidc-issuer``, named as ``sigstore verify identity``."""

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        func = click.option(
            "--cert-oidc-issuer",
            required=required,
            metavar="URL",
            help="The OIDC issuer the signer's certificate must name, exactly (e.g. "
            "https://token.actions.githubusercontent.com).",
        )(func)
        return click.option(
            "--cert-identity",
            required=required,
            metavar="IDENTITY",
            help="The identity the signer's certificate must carry, exactly (the workflow "
            "URI 'https://github.com/OWNER/REPO/.github/workflows/FILE@REF', or an e-mail).",
        )(func)

    return decorate


def report(check: Any) -> None:
    """What a verified VSA says, on stderr: the result, who signed it and the policies."""
    predicate = check.predicate
    click.echo(
        f"{'OK' if check.passed else 'FAIL'}: VSA signed by {check.signer} "
        f"({check.issuer}): {predicate['verificationResult']} for "
        f"{predicate['resourceUri']} (sha256 {check.sbom_sha256[:12]}…) at "
        f"{predicate.get('timeVerified', '?')}",
        err=True,
    )
    for policy in check.policies:
        digest = policy.get("digest", {}).get("sha256", "")
        click.echo(f"  policy: {policy['uri']} sha256:{digest}", err=True)
    click.echo(f"  verified levels: {', '.join(check.levels) or 'none'}", err=True)


@click.command("verify-vsa")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sbom",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The enriched SBOM the VSA must vouch for (its bytes are hashed).",
)
@identity_options(required=True)
@with_trust_root("embedded")
def verify_vsa(
    bundle: Path,
    sbom: Path,
    cert_identity: str,
    cert_oidc_issuer: str,
    trust_root: str,
    staging: bool,
) -> None:
    """Verify a signed VSA (a Sigstore bundle) and that it vouches for the SBOM.

    Checks the signature against the trust root and its transparency log entry, that
    the signer is exactly --cert-identity from --cert-oidc-issuer, that the statement is
    a well-formed SLSA VSA, and that the SBOM's sha256 is its subject's. Exits 0 when all
    hold and the VSA says PASSED; 1 when any fails or it says FAILED.
    """
    from bomguard.vsa.verify import VsaRejected
    from bomguard.vsa.verify import verify_vsa as check_vsa

    try:
        check = check_vsa(
            bundle,
            sbom,
            cert_identity=cert_identity,
            cert_oidc_issuer=cert_oidc_issuer,
            trust_root=trust_root,
            staging=staging,
        )
    except VsaRejected as err:
        click.echo(f"FAIL: {err.message}", err=True)
        sys.exit(EXIT_FAIL)
    report(check)
    sys.exit(EXIT_PASS if check.passed else EXIT_FAIL)
