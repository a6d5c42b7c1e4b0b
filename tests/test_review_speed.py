"""Attacks on the warm-run speed work (the store-answered pass, the URL fast paths).

Each test runs ``bomguard enrich`` as a user does, against the loopback index.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from helpers import PYPI_CACHE_CONTROL, cdx, enrich_cli, props, pypi, write_json
from indexserver import IndexServer
from virtual_sigstore import GitHubIdentity, VirtualSigstore

from bomguard.store import _close_all

pytestmark = pytest.mark.usefixtures("fresh_stores")


@pytest.fixture
def sig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[VirtualSigstore, Path]:
    monkeypatch.setenv("BOMGUARD_CACHE_KEY_FILE", str(tmp_path / "config" / "cache-key"))
    sigstore = VirtualSigstore(seed=4242)
    return sigstore, sigstore.write_trusted_root(tmp_path / "trusted_root.json")


def _publish(server: IndexServer, sigstore: VirtualSigstore, project: str, **extra: str) -> None:
    filename = f"{project}-1.0-py3-none-any.whl"
    sha = hashlib.sha256(filename.encode()).hexdigest()
    provenance = sigstore.mint_provenance(filename, sha, GitHubIdentity(repository=f"o/{project}"))
    server.add_file(project, filename, sha256=sha, provenance=provenance, extra=extra)


def _run(
    server: IndexServer, root: Path, tmp_path: Path, names: list[str], *extra: str
) -> tuple[int, dict[str, str]]:
    sbom = write_json(tmp_path / "in.json", cdx(pypi(n, "1.0") for n in names))
    out = tmp_path / "out.json"
    out.unlink(missing_ok=True)
    code = enrich_cli(
        sbom,
        out,
        server.index_url,
        "--cache-dir",
        str(tmp_path / "cache"),
        *extra,
        trust_root=root,
    )
    _close_all()
    if not out.exists():
        return code, {}
    doc = json.loads(out.read_text())
    return code, {c["name"]: props(c)["bomguard:provenance:status"] for c in doc["components"]}


@pytest.mark.parametrize("warm", [False, True])
@pytest.mark.parametrize(
    "hostile",
    [
        {"url": "http://[evil/evil-1.0-py3-none-any.whl"},
        {"provenance": "http://[evil/provenance"},
        {"provenance": "http://127.0.0.1:99999/provenance"},
        {"provenance": "http://127.0.0.1:port/provenance"},
    ],
    ids=["file-url-bracket", "provenance-bracket", "provenance-port-range", "provenance-port"],
)
def test_a_page_with_a_url_that_does_not_parse_makes_its_project_unknown_only(
    index_server, sig, tmp_path, warm, hostile
):
    """A page with a file or provenance URL that does not parse (an unclosed IPv6 bracket,
    a port out of range or not a number) aborted the whole run (``internal error``, exit
    3), on the fetching path and, from the store, in the pass that answers releases before
    any request: one hostile project page stopped every other component's evidence. Now
    only that project is ``unknown``."""
    sigstore, root = sig
    index_server.fault("/simple/", headers=PYPI_CACHE_CONTROL)
    _publish(index_server, sigstore, "good")
    _publish(index_server, sigstore, "evil", **hostile)
    if warm:
        # The store knows both pages (the hostile one served later, while still fresh).
        _run(index_server, root, tmp_path, ["good"])
        _run(index_server, root, tmp_path, ["good", "evil"])
    code, statuses = _run(index_server, root, tmp_path, ["good", "evil"])
    assert code in (0, 1)
    assert statuses == {"good": "verified", "evil": "unknown"}


def test_a_redirect_to_a_url_that_does_not_parse_makes_its_project_unknown_only(
    index_server, sig, tmp_path
):
    """A ``Location`` urljoin refuses aborted the whole run (``internal error``, exit 3)."""
    sigstore, root = sig
    _publish(index_server, sigstore, "good")
    _publish(index_server, sigstore, "evil")
    index_server.fault("/simple/evil/", status=302, headers={"Location": "http://[evil/"})
    code, statuses = _run(index_server, root, tmp_path, ["good", "evil"])
    assert code in (0, 1)
    assert statuses == {"good": "verified", "evil": "unknown"}


def test_a_provenance_url_on_an_allowed_host_with_a_port_that_does_not_parse(
    index_server, sig, tmp_path
):
    """``--allow-provenance-host`` names the host; the URL's port is out of range: the
    file is refused (unknown), the run goes on."""
    sigstore, root = sig
    _publish(index_server, sigstore, "good")
    _publish(index_server, sigstore, "evil", provenance="http://cdn.example:99999/p")
    allow = ("--allow-provenance-host", "cdn.example")
    code, statuses = _run(index_server, root, tmp_path, ["good", "evil"], *allow)
    assert code in (0, 1)
    assert statuses == {"good": "verified", "evil": "unknown"}


def test_a_page_of_an_unexpected_content_type_is_refused_from_the_store_too(
    index_server, sig, tmp_path
):
    """A page sent as ``text/plain`` is refused when fetched (``unexpected content type``),
    but was stored first (with its ``Cache-Control`` freshness), and a warm run then read
    the stored page as HTML: the same page the index sent, once ``unknown``, then
    ``verified``. Fail closed, the same on either path."""
    sigstore, root = sig
    _publish(index_server, sigstore, "good")
    filename = "evil-1.0-py3-none-any.whl"
    sha = hashlib.sha256(filename.encode()).hexdigest()
    provenance = sigstore.mint_provenance(filename, sha, GitHubIdentity(repository="o/evil"))
    entry = index_server.add_file("evil", filename, sha256=sha, provenance=provenance)
    html = (
        f'<html><body><a href="{entry.file_url}#sha256={sha}" '
        f'data-provenance="{entry.provenance_url}">{filename}</a></body></html>'
    ).encode()
    index_server.fault("/simple/evil/", body=html, headers=PYPI_CACHE_CONTROL)
    index_server.fault("/simple/", headers=PYPI_CACHE_CONTROL)
    first = _run(index_server, root, tmp_path, ["good", "evil"])
    assert first[1] == {"good": "verified", "evil": "unknown"}
    again = _run(index_server, root, tmp_path, ["good", "evil"])
    assert again[1] == first[1]


def test_hash_files_is_never_answered_from_the_store(index_server, sig, tmp_path):
    """With ``--hash-files`` the bytes the index serves decide, in every run: a warm run
    (page fresh, provenance stored) downloads again and still finds the other bytes."""
    sigstore, root = sig
    index_server.fault("/simple/", headers=PYPI_CACHE_CONTROL)
    filename = "swapped-1.0-py3-none-any.whl"
    content = b"the bytes that were signed"
    sha = hashlib.sha256(content).hexdigest()
    provenance = sigstore.mint_provenance(filename, sha, GitHubIdentity(repository="o/swapped"))
    entry = index_server.add_file(
        "swapped", filename, content=content, sha256=sha, provenance=provenance
    )
    _run(index_server, root, tmp_path, ["swapped"])  # the store: page and provenance
    index_server.fault(entry.file_url, body=b"other bytes")
    for _ in range(2):
        code, statuses = _run(index_server, root, tmp_path, ["swapped"], "--hash-files")
        assert statuses == {"swapped": "invalid"}
        assert code == 1
