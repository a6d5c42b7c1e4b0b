"""Sign a VSA statement with Sigstore: a DSSE envelope in a Sigstore bundle.

Keyless, as sigstore-python signs: an OIDC identity token (given, or the ambient CI
credential sigstore-python detects: GitHub Actions, GitLab CI, Google Cloud, CircleCI...)
gets a short-lived certificate from Fulcio, the statement is signed into a DSSE envelope,
and the signature is entered in Rekor. Which Fulcio and Rekor: Sigstore's public instance
(its trusted root and signing config refreshed over TUF in a temporary directory, like
:func:`bomguard.verify.load_trust_root`), its staging instance, or a ``ClientTrustConfig``
file naming a private deployment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bomguard.errors import InputError, OperationalError, describe

__all__ = ["BUNDLE_SUFFIX", "check_identity_token", "load_trust_config", "sign_statement"]

BUNDLE_SUFFIX = ".sigstore.json"
"""The bundle of ``--vsa PATH`` is written to ``PATH.sigstore.json``."""
_IDENTITY_HINT = (
    "run in GitHub Actions with 'permissions: id-token: write' (or another CI "
    "sigstore-python detects), or pass --identity-token / SIGSTORE_IDENTITY_TOKEN; the "
    "unsigned VSA and every other output were written"
)
_CLIENT_TRUST_CONFIG = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"


def check_identity_token(token: str) -> None:
    """Raise :class:`InputError` unless ``token`` is a JWT sigstore-python would send."""
    from sigstore.oidc import IdentityError, IdentityToken

    try:
        IdentityToken(token)
    except IdentityError as err:
        raise InputError(f"--identity-token: {err}") from err


def load_trust_config(path: Path | None, *, staging: bool) -> Any:
    """The ``ClientTrustConfig`` to sign with: from ``path``, or Sigstore's over TUF.

    A bad file raises :class:`InputError`; a failed TUF refresh :class:`OperationalError`.
    """
    from sigstore.models import ClientTrustConfig
    from sigstore_models.trustroot import v1 as trustroot_v1

    if path is not None:
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise InputError(f"{path}: cannot read --trust-config: {err.strerror or err}") from err
        try:
            config = ClientTrustConfig.from_json(raw.decode("utf-8"))
            config.signing_config  # noqa: B018 - validates the services it names
            config.trusted_root  # noqa: B018
        except Exception as err:
            raise InputError(
                f"{path}: not a Sigstore ClientTrustConfig ({_CLIENT_TRUST_CONFIG}): "
                f"{describe(err)}"
            ) from err
        return config

    from bomguard.verify.trust import (
        PRODUCTION_TUF_URL,
        STAGING_TUF_URL,
        TUF_URL_ENV,
        _refresh_over_tuf,
    )

    url = os.environ.get(TUF_URL_ENV) or (STAGING_TUF_URL if staging else PRODUCTION_TUF_URL)
    root = _refresh_over_tuf(url, staging)
    signing = _refresh_over_tuf(url, staging, "signing_config.v0.2.json")
    try:
        return ClientTrustConfig(
            trustroot_v1.ClientTrustConfig(
                media_type="application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                trusted_root=trustroot_v1.TrustedRoot.from_json(root),
                signing_config=trustroot_v1.SigningConfig.from_json(signing),
            )
        )
    except Exception as err:
        raise OperationalError(
            f"the signing configuration from {url} does not load: {describe(err)}"
        ) from err


def sign_statement(
    statement: bytes,
    *,
    trust_config: Path | None = None,
    staging: bool = False,
    identity_token: str | None = None,
) -> bytes:
    """Sign ``statement`` (in-toto JSON bytes, signed as they are) and return the Sigstore
    bundle's JSON bytes.

    Raises :class:`OperationalError` (exit 3) with one line when there is no identity
    or the Sigstore services cannot be reached or refuse.
    """
    from sigstore.dsse import Statement
    from sigstore.oidc import IdentityError, IdentityToken, detect_credential
    from sigstore.sign import SigningContext

    config = load_trust_config(trust_config, staging=staging)
    try:
        raw = identity_token or detect_credential()
    except IdentityError as err:
        raise OperationalError(
            f"--sign: no identity to sign with: the ambient CI credential failed: {err}",
            hint=_IDENTITY_HINT,
        ) from err
    if not raw:
        raise OperationalError(
            "--sign: no identity to sign with: no ambient CI credential was detected",
            hint=_IDENTITY_HINT,
        )
    try:
        token = IdentityToken(raw)
    except IdentityError as err:
        raise OperationalError(f"--sign: the identity token is not usable: {err}") from err
    try:
        context = SigningContext.from_trust_config(config)
        with context.signer(token, cache=True) as signer:
            bundle = signer.sign_dsse(Statement(statement))
    except Exception as err:
        raise _signing_error(err) from err
    return bundle.to_json().encode("utf-8")


_UNSIGNED_HINT = (
    "the unsigned VSA and every other output were written; sign again when Sigstore is reachable"
)


def _signing_error(err: BaseException) -> OperationalError:
    """One line for a failed signing: a service that cannot be reached is named by URL."""
    import requests

    current: BaseException | None = err
    while current is not None:
        if isinstance(current, requests.ConnectionError | requests.Timeout):
            raw = current.request.url if current.request is not None else None
            url = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
            return OperationalError(
                f"cannot sign the VSA: cannot reach {url or 'Sigstore'} ({type(current).__name__})",
                hint=_UNSIGNED_HINT,
            )
        current = current.__cause__ or current.__context__
    return OperationalError(f"cannot sign the VSA: {describe(err)}", hint=_UNSIGNED_HINT)
