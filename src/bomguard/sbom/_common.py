"""Helpers every SBOM backend shares: labels, timestamps, distribution URLs, PyPI identity."""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from bomguard.distname import DIST_SUFFIXES, parse_dist_filename
from bomguard.errors import InputError
from bomguard.models import PypiRef
from bomguard.sbom.purl import PurlError, parse_pypi_purl

__all__ = [
    "ATTESTATION_COMMENT",
    "DIST_SUFFIXES",
    "MAX_DEPTH",
    "NAMESPACE",
    "PypiIdentity",
    "dump_json",
    "filename_from_url",
    "json_indent",
    "label_of",
    "one_line",
    "pypi_identity",
    "supported_version",
    "timestamp",
    "tool_name",
]

#: Every property bomguard adds is named ``bomguard:…``.
NAMESPACE = "bomguard:"
#: The comment on every external reference bomguard adds (and how it finds its own again).
ATTESTATION_COMMENT = "bomguard: PEP 740 provenance (PyPI Integrity API)"
#: Deepest nesting of JSON/YAML containers or XML elements accepted. Real SBOMs stay far
#: below it; deeper input is refused before anything recursive (schema validation,
#: serialisation) can run out of stack.
MAX_DEPTH = 96

_PYPI_PROJECT = re.compile(r"^/project/([^/]+)(?:/([^/]+))?/?$")


def label_of(path: Path | None) -> str:
    """How a document is named in messages."""
    return str(path) if path is not None else "<sbom>"


def supported_version(where: str, value: object, supported: tuple[str, ...], what: str = "") -> str:
    """``value`` when it is one of the ``supported`` spec versions; else an InputError.

    ``where`` names the file and the field (``app.json: specVersion``); ``what`` prefixes
    the version in the message (``CycloneDX ``).
    """
    if not isinstance(value, str):
        raise InputError(f"{where}: missing or not a string")
    if value not in supported:
        raise InputError(
            f"{where}: {what}{value} is not supported (supported: {', '.join(supported)})"
        )
    return value


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (errors are printed one per line), shortened to ``limit``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def tool_name() -> str:
    """``bomguard-<version>``: how bomguard names itself as an SBOM tool."""
    from bomguard import __version__

    return f"bomguard-{__version__}"


def timestamp() -> str:
    """Now, in UTC, as ``YYYY-MM-DDTHH:MM:SSZ`` (``SOURCE_DATE_EPOCH`` when set)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        now = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)
    else:
        now = datetime.datetime.now(tz=datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def filename_from_url(url: str) -> str | None:
    """The distribution filename a URL names, in its path or its fragment."""
    base, _, fragment = url.partition("#")
    for candidate in (fragment, base.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]):
        candidate = candidate.split("&", 1)[0]
        if candidate.endswith(DIST_SUFFIXES) and "/" not in candidate and "=" not in candidate:
            return unquote(candidate)
    return None


_INDENT = re.compile(rb"\n([ \t]+)\S")


def json_indent(raw: bytes) -> str | None:
    """The indentation step of a JSON document (``None`` when it is all on one line)."""
    head = raw[:65536]
    if b"\n" not in head.strip():
        return None
    match = _INDENT.search(head)
    return match.group(1).decode("ascii") if match else "  "


def dump_json(data: object, indent: str | None) -> bytes:
    """JSON text in the input's style: its indentation, or one line if it was one line."""
    from bomguard._fastjson import dumps

    return dumps(data, indent)


class PypiIdentity:
    """What an SPDX package says about being a PyPI package.

    ``pypi`` is set when it is one; ``error`` when it claims to be one but the claim
    cannot be used (malformed or conflicting); ``purl`` is the purl the component is
    shown with. A package that is not a PyPI package has neither ``pypi`` nor ``error``.
    """

    __slots__ = ("error", "purl", "pypi")

    def __init__(
        self, purl: str | None, pypi: PypiRef | None = None, error: str | None = None
    ) -> None:
        self.purl = purl
        self.pypi = pypi
        self.error = error


def _pypi_from_url(url: str) -> tuple[str, str | None] | None:
    """``(name, version)`` when ``url`` is PyPI's own page or file URL for a release."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https"):
        return None
    if host in ("pypi.org", "www.pypi.org"):
        match = _PYPI_PROJECT.match(parts.path)
        if match:
            return unquote(match.group(1)), unquote(match.group(2)) if match.group(2) else None
        return None
    if host == "files.pythonhosted.org":
        filename = filename_from_url(url)
        parsed = parse_dist_filename(filename) if filename is not None else None
        if parsed is None:
            return None
        return str(parsed[0]), str(parsed[1])
    return None


def pypi_identity(
    *,
    purls: Iterable[str],
    other_package_manager_refs: Iterable[tuple[str, str]],
    download_location: str | None,
    name: str,
    version: str | None,
) -> PypiIdentity:
    """Decide whether an SPDX package is a PyPI package, never guessing across ecosystems.

    In order: a ``pkg:pypi`` purl (several that disagree are an error); any other purl or
    package-manager reference (``npm``, ``maven-central``, …) means another ecosystem;
    with neither, a ``downloadLocation`` on PyPI itself (``pypi.org/project/NAME/VERSION``
    or a ``files.pythonhosted.org`` distribution file) names the release, provided it
    agrees with the package's own name and version.
    """
    purl_list = list(purls)
    pypi_purls = [p for p in purl_list if p.lower().startswith("pkg:pypi/")]
    if pypi_purls:
        refs: list[PypiRef] = []
        for purl in pypi_purls:
            try:
                ref = parse_pypi_purl(purl)
            except PurlError as err:
                return PypiIdentity(purl, error=str(err))
            if ref is not None:
                refs.append(ref)
        first = refs[0]
        for other in refs[1:]:
            if (other.name, other.version) != (first.name, first.version):
                return PypiIdentity(
                    pypi_purls[0],
                    error=f"conflicting pkg:pypi purls {pypi_purls[0]!r} and {other.raw_name}"
                    f"@{other.raw_version}",
                )
        return PypiIdentity(pypi_purls[0], pypi=first)
    if purl_list:
        return PypiIdentity(purl_list[0])
    pm_refs = list(other_package_manager_refs)
    for ref_type, locator in pm_refs:
        if ref_type.lower() == "pypi":
            # Not an SPDX-listed type, but unambiguous: ``name==version`` or ``name@version``.
            pkg_name, _, pkg_version = locator.replace("==", "@").partition("@")
            return _identity_from_name(pkg_name, pkg_version or version, f"pypi {locator}")
    if pm_refs:
        return PypiIdentity(None)
    if not download_location:
        return PypiIdentity(None)
    found = _pypi_from_url(download_location)
    if found is None:
        return PypiIdentity(None)
    url_name, url_version = found
    if name and canonicalize_name(name) != canonicalize_name(url_name):
        return PypiIdentity(
            None,
            error=f"downloadLocation {download_location} names PyPI project {url_name!r} "
            f"but the package is named {name!r}",
        )
    if url_version and version and url_version != version:
        return PypiIdentity(
            None,
            error=f"downloadLocation {download_location} names version {url_version!r} "
            f"but the package's version is {version!r}",
        )
    return _identity_from_name(url_name, url_version or version, download_location)


def _identity_from_name(name: str, version: str | None, source: str) -> PypiIdentity:
    purl = f"pkg:pypi/{name}" + (f"@{version}" if version else "")
    try:
        ref = parse_pypi_purl(purl)
    except PurlError as err:
        return PypiIdentity(None, error=f"{source}: {err}")
    return PypiIdentity(None, pypi=ref)
