"""Understand ``pkg:pypi`` package URLs as PyPI names and versions."""

from __future__ import annotations

import re

from packageurl import PackageURL
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bomguard.models import PypiRef

__all__ = ["PurlError", "parse_pypi_purl"]

#: A valid project name (PEP 508 / the core metadata ``Name`` field), ASCII only.
_PROJECT_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE | re.ASCII)


class PurlError(ValueError):
    """A purl that claims to be ``pkg:pypi`` but cannot be read."""


def parse_pypi_purl(purl: str) -> PypiRef | None:
    """Return the PyPI package a purl names, or ``None`` if it is not a ``pkg:pypi`` purl.

    The name must be a valid project name (PEP 508) and is PEP 503-normalised (``PyJWT``
    → ``pyjwt``, ``ruamel.yaml`` → ``ruamel-yaml``); the version PEP 440-normalised when
    it parses. Raises :class:`PurlError` for a ``pkg:pypi`` purl that is malformed or
    whose name is not a valid project name.
    """
    if not purl.lower().startswith("pkg:pypi/"):
        return None
    try:
        parsed = PackageURL.from_string(purl)
    except ValueError as err:
        raise PurlError(f"malformed purl {purl!r}: {err}") from err
    if parsed.type != "pypi" or not parsed.name:
        raise PurlError(f"malformed purl {purl!r}: no package name")
    if not _PROJECT_NAME.fullmatch(parsed.name):
        # Only a valid name is ever put into an index URL (no '/', '?', '%', CR/LF, …).
        raise PurlError(f"purl {purl!r}: {parsed.name!r} is not a valid PyPI project name")
    qualifiers = parsed.qualifiers if isinstance(parsed.qualifiers, dict) else {}
    repository_url = qualifiers.get("repository_url")
    raw_version = parsed.version or None
    version: str | None = raw_version
    version_error = None
    if raw_version is not None:
        try:
            version = str(Version(raw_version))
        except InvalidVersion:
            version_error = f"version {raw_version!r} is not a PEP 440 version"
    return PypiRef(
        name=canonicalize_name(parsed.name),
        version=version,
        raw_name=parsed.name,
        raw_version=raw_version,
        repository_url=repository_url,
        version_error=version_error,
    )
