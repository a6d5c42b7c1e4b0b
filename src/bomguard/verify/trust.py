"""Load the Sigstore trust root: embedded, from a file, or refreshed over TUF.

None of these read or write sigstore-python's own TUF state under ``~/.cache`` or
``~/.local/share``: the embedded root is read straight from the installed sigstore
package, and a TUF refresh runs in a temporary directory that is removed afterwards,
so no state left behind can change a later result.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bomguard.errors import InputError, OperationalError, describe

__all__ = [
    "PRODUCTION_TUF_URL",
    "STAGING_TUF_URL",
    "TrustRoot",
    "check_trust_root",
    "load_trust_root",
    "read_trust_root",
]

PRODUCTION_TUF_URL = "https://tuf-repo-cdn.sigstore.dev"
STAGING_TUF_URL = "https://tuf-repo-cdn.sigstage.dev"
#: Overrides the TUF repository URL (used by tests to point at loopback).
TUF_URL_ENV = "BOMGUARD_TUF_URL"
_HINT = "use --trust-root embedded (the root shipped with sigstore) or --trust-root FILE"


@dataclass(frozen=True)
class TrustRoot:
    """A loaded trust root, and where it came from (recorded in the verdict)."""

    source: str
    """``embedded``, ``tuf``, or the file path given."""
    instance: str
    """``production`` or ``staging`` (or ``custom`` for a file)."""
    sha256: str
    """Digest of the ``trusted_root.json`` bytes, so results can be keyed by it."""
    raw: bytes

    def load(self) -> object:
        """The sigstore ``TrustedRoot`` (imported lazily: sigstore is slow to import)."""
        from sigstore.models import TrustedRoot
        from sigstore_models.trustroot import v1 as trustroot_v1

        return TrustedRoot(trustroot_v1.TrustedRoot.from_json(self.raw))


def _embedded(name: str, tuf_url: str) -> bytes:
    folder = importlib.resources.files("sigstore") / "_store" / quote(tuf_url, safe="")
    try:
        return (folder / name).read_bytes()
    except FileNotFoundError as err:  # pragma: no cover - depends on the sigstore build
        raise OperationalError(
            f"the installed sigstore package has no embedded {name} for {tuf_url}"
        ) from err


_parsed: set[str] = set()
"""Digests of the trust roots this process has parsed successfully."""


def _make(source: str, instance: str, raw: bytes, *, check: bool = True) -> TrustRoot:
    root = TrustRoot(source, instance, hashlib.sha256(raw).hexdigest(), raw)
    if check:
        check_trust_root(root)
    return root


def check_trust_root(root: TrustRoot) -> None:
    """Parse ``root`` as a Sigstore ``trusted_root.json`` (once per process and digest).

    Raises :class:`InputError` for a file that does not parse, :class:`OperationalError`
    for an embedded or TUF root that does not (not the user's input).
    """
    if root.sha256 in _parsed:
        return
    source = root.source
    try:
        root.load()
    except Exception as err:
        if source in ("embedded", "tuf"):
            # Not the user's input: the installed package or the TUF repository is at fault.
            raise OperationalError(
                f"the {source} trust root is not a valid Sigstore trusted_root.json: {err}",
                hint=_HINT,
            ) from err
        raise InputError(f"{source}: not a valid Sigstore trusted_root.json: {err}") from err
    _parsed.add(root.sha256)


def _refresh_over_tuf(tuf_url: str, staging: bool, target: str = "trusted_root.json") -> bytes:
    from tuf.ngclient.config import UpdaterConfig
    from tuf.ngclient.updater import Updater

    bootstrap = _embedded("root.json", STAGING_TUF_URL if staging else PRODUCTION_TUF_URL)
    with tempfile.TemporaryDirectory(prefix="bomguard-tuf-") as tmp:
        metadata_dir = Path(tmp) / "metadata"
        targets_dir = Path(tmp) / "targets"
        metadata_dir.mkdir()
        targets_dir.mkdir()
        try:
            updater = Updater(
                metadata_dir=str(metadata_dir),
                metadata_base_url=tuf_url,
                target_base_url=tuf_url.rstrip("/") + "/targets/",
                target_dir=str(targets_dir),
                config=UpdaterConfig(app_user_agent="bomguard"),
                bootstrap=bootstrap,
            )
            updater.refresh()
            info = updater.get_targetinfo(target)
            if info is None:
                raise OperationalError(f"TUF repository {tuf_url} has no {target}")
            path = updater.download_target(info)
            return Path(path).read_bytes()
        except OperationalError:
            raise
        except Exception as err:
            raise OperationalError(
                f"could not refresh the Sigstore trust root over TUF from {tuf_url}: "
                f"{describe(err)}",
                hint=_HINT,
            ) from err


def load_trust_root(spec: str = "tuf", *, staging: bool = False) -> TrustRoot:
    """Load the trust root named by ``spec``: ``embedded``, ``tuf``, or a file path.

    Raises :class:`OperationalError` (exit 3) when a TUF refresh fails, and
    :class:`InputError` (exit 2) for an unreadable or malformed file.
    """
    return _read(spec, staging, check=True)


def read_trust_root(spec: str = "tuf", *, staging: bool = False) -> TrustRoot:
    """:func:`load_trust_root` without parsing the root (reading it is all that is done).

    For a caller that may need nothing but its digest (a run whose every result is in
    the store, keyed by that digest): it calls :func:`check_trust_root` before anything
    relies on the root parsing (see :mod:`bomguard.verify.rootcheck`).
    """
    return _read(spec, staging, check=False)


def _read(spec: str, staging: bool, *, check: bool) -> TrustRoot:
    instance = "staging" if staging else "production"
    if spec == "embedded":
        url = STAGING_TUF_URL if staging else PRODUCTION_TUF_URL
        return _make("embedded", instance, _embedded("trusted_root.json", url), check=check)
    if spec == "tuf":
        url = os.environ.get(TUF_URL_ENV) or (STAGING_TUF_URL if staging else PRODUCTION_TUF_URL)
        return _make("tuf", instance, _refresh_over_tuf(url, staging), check=check)
    path = Path(spec)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read trust root: {err.strerror or err}") from err
    return _make(str(path), "custom", raw, check=check)
