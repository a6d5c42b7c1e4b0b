"""Links from a verified identity to its source at the forge (GitHub, GitLab).

Every link is built from facts the signing certificate binds (the source repository URI,
the commit digest, the ref, the run URI) and the Trusted Publisher the certificate
satisfied (the workflow). Only ``https`` URLs come out, with each path part quoted, so a
hostile value can at worst produce a link to a page that does not exist, never a
``javascript:`` URL or one with credentials.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from bomguard.models import Identity
    from bomguard.report.data import SourceLinks

__all__ = ["safe_https_url", "source_links"]

_FORGES = {"GitHub": "https://github.com", "GitLab": "https://gitlab.com"}
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")


def safe_https_url(value: str | None) -> str:
    """``value`` when it is a plain ``https://host/...`` URL, else ``""``."""
    if not value or any(ch.isspace() or ord(ch) < 32 for ch in value):
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        return ""
    return value


def _repository_base(identity: Identity) -> str:
    base = safe_https_url(identity.repository_uri)
    if base:
        return base.rstrip("/")
    forge = _FORGES.get(identity.kind or "")
    if forge and identity.repository and "/" in identity.repository:
        return f"{forge}/{quote(identity.repository.strip('/'), safe='/')}"
    return ""


def _ref_name(ref: str) -> str:
    for prefix in ("refs/tags/", "refs/heads/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ""


def source_links(identity: Identity | None) -> SourceLinks:
    """The repository, workflow file, ref, commit and run pages of ``identity``."""
    from bomguard.report.data import SourceLinks

    if identity is None:
        return SourceLinks()
    base = _repository_base(identity)
    host = urlsplit(base).hostname or "" if base else ""
    gitlab = identity.kind == "GitLab" or "gitlab" in host
    github = identity.kind == "GitHub" or host == "github.com"
    sep = "/-/" if gitlab else "/"
    commit = identity.commit or ""
    commit = commit if _COMMIT.match(commit) else ""
    ref = _ref_name(identity.ref or "")
    links: dict[str, str] = {"repository": base}
    if base and (github or gitlab):
        if commit:
            links["commit"] = f"{base}{sep}commit/{commit}"
        if ref:
            links["ref"] = f"{base}{sep}tree/{quote(ref, safe='/')}"
        workflow = (identity.workflow or "").lstrip("/")
        if workflow and ".." not in workflow:
            path = workflow if gitlab else f".github/workflows/{workflow}"
            at = commit or quote(ref, safe="/")
            if at:
                links["workflow"] = f"{base}{sep}blob/{at}/{quote(path, safe='/')}"
    links["run"] = safe_https_url(identity.run_invocation_uri)
    return SourceLinks(**links)
