"""Releases answered from the store before any request (fresh pages, stored provenance).

A warm run answers such releases in one pass over the store instead of through the
fetching path. Each test runs ``bomguard enrich`` as a user does, against the loopback
index sending PyPI's ``Cache-Control``, and checks that this pass keeps every rule of the
fetching path: what it answers is what a fetch would say, a tampered row is dropped,
reported and fetched again, and whatever it cannot answer is fetched.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from helpers import PYPI_CACHE_CONTROL, cdx, enrich_cli, file_statuses, props, pypi, write_json
from hypothesis import given
from hypothesis import strategies as st
from indexserver import IndexServer
from storerows import Rows
from virtual_sigstore import Defect, GitHubIdentity, VirtualSigstore

from bomguard.index.cache import row_key
from bomguard.index.simple import _join, _on_index_origin, _origin
from bomguard.store import _close_all

pytestmark = pytest.mark.usefixtures("fresh_stores")

HONEST = GitHubIdentity(repository="octo/pkg")
MALLORY = GitHubIdentity(repository="mallory/evil")


@pytest.fixture
def sig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[VirtualSigstore, Path]:
    monkeypatch.setenv("BOMGUARD_CACHE_KEY_FILE", str(tmp_path / "config" / "cache-key"))
    sigstore = VirtualSigstore(seed=2718)
    return sigstore, sigstore.write_trusted_root(tmp_path / "trusted_root.json")


def _publish(server: IndexServer, sigstore: VirtualSigstore, project: str, version: str) -> None:
    for suffix in (".tar.gz", "-py3-none-any.whl"):
        filename = f"{project.replace('-', '_')}-{version}{suffix}"
        sha = hashlib.sha256(filename.encode()).hexdigest()
        identity = GitHubIdentity(repository=f"octo/{project}")
        provenance = sigstore.mint_provenance(filename, sha, identity)
        server.add_file(project, filename, sha256=sha, provenance=provenance)


def _run(
    server: IndexServer, root: Path, tmp_path: Path, names: list[str], *extra: str
) -> dict[str, dict[str, str]]:

    sbom = write_json(tmp_path / "in.json", cdx(pypi(n, "1.0") for n in names))
    out = tmp_path / "out.json"
    cache = ["--cache-dir", str(tmp_path / "cache"), *extra]
    enrich_cli(sbom, out, server.index_url, *cache, trust_root=root)
    _close_all()  # commit what the run queued
    doc = json.loads(out.read_text())
    return {c["name"]: props(c) for c in doc["components"]}


def _provenance(found: dict[str, str]) -> dict[str, str]:
    """The provenance facts of a component (drift facts grow with the store's history)."""
    return {k: v for k, v in found.items() if k.startswith("bomguard:provenance:")}


def _statuses(found: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: p["bomguard:provenance:status"] for name, p in found.items()}


def test_a_warm_run_fetches_only_what_the_store_cannot_answer(index_server, sig, tmp_path):
    sigstore, root = sig
    index_server.fault("/simple/", headers=PYPI_CACHE_CONTROL)
    for name in ("alpha", "beta"):
        _publish(index_server, sigstore, name, "1.0")
    assert _statuses(_run(index_server, root, tmp_path, ["alpha", "beta"], "--drift-depth", "0"))
    # A project the store has never seen joins the SBOM: only it is asked for.
    _publish(index_server, sigstore, "gamma", "1.0")
    index_server.reset_log()
    found = _run(index_server, root, tmp_path, ["alpha", "beta", "gamma"], "--drift-depth", "0")
    assert _statuses(found) == {"alpha": "verified", "beta": "verified", "gamma": "verified"}
    assert found["beta"]["bomguard:provenance:publisher:repository"] == "octo/beta"
    asked = {r.path for r in index_server.requests}
    assert asked and all("gamma" in path for path in asked)


def test_earlier_releases_for_drift_are_answered_from_the_store_too(index_server, sig, tmp_path):
    sigstore, root = sig
    index_server.fault("/simple/", headers=PYPI_CACHE_CONTROL)
    _publish(index_server, sigstore, "alpha", "0.9")
    _publish(index_server, sigstore, "alpha", "1.0")
    first = _run(index_server, root, tmp_path, ["alpha"], "--drift-depth", "1")
    assert first["alpha"]["bomguard:drift:checked"] == "previous-release:0.9"
    index_server.reset_log()
    again = _run(index_server, root, tmp_path, ["alpha"], "--drift-depth", "1")
    assert index_server.requests == []
    assert _provenance(again["alpha"]) == _provenance(first["alpha"])
    # The earlier release was compared again (and the store's history with it).
    assert again["alpha"]["bomguard:drift:checked"].startswith("previous-release:0.9, store:")


def test_a_stale_page_is_revalidated_not_answered(index_server, sig, tmp_path):
    sigstore, root = sig
    _publish(index_server, sigstore, "alpha", "1.0")  # no Cache-Control: never fresh
    assert _statuses(_run(index_server, root, tmp_path, ["alpha"])) == {"alpha": "verified"}
    index_server.reset_log()
    assert _statuses(_run(index_server, root, tmp_path, ["alpha"])) == {"alpha": "verified"}
    (page,) = [r for r in index_server.requests if r.path.startswith("/simple/")]
    assert "if-none-match" in page.headers
    assert index_server.count("/integrity/") == 0  # provenance from the store


def test_provenance_planted_in_the_store_is_dropped_when_the_page_is_fresh(
    index_server, sig, tmp_path, capsys
):
    """Another repository's attestation of the honest digest, planted under the file's key:
    the row's MAC does not match, so it is dropped, reported and fetched again."""
    sigstore, root = sig
    index_server.fault("/simple/", headers=PYPI_CACHE_CONTROL)
    filename = "alpha-1.0.tar.gz"
    content = b"the honest sdist\n"
    sha = hashlib.sha256(content).hexdigest()
    index_server.add_file(
        "alpha",
        filename,
        content=content,
        provenance=sigstore.mint_provenance(filename, sha, HONEST),
    )
    assert _statuses(_run(index_server, root, tmp_path, ["alpha"])) == {"alpha": "verified"}
    forged = sigstore.mint_provenance(filename, sha, MALLORY)
    key = row_key(index_server.base_url, filename, sha)
    with Rows(tmp_path / "cache") as rows:
        ((meta, _),) = [(m, b) for k, m, b in rows.entries("provenance") if k == key]
        planted: dict[str, Any] = {**meta, "body": base64.b64encode(forged).decode()}
        planted["body_sha256"] = hashlib.sha256(forged).hexdigest()
        rows.put("provenance", key, planted)
    capsys.readouterr()
    index_server.reset_log()

    again = _run(index_server, root, tmp_path, ["alpha"])
    assert again["alpha"]["bomguard:provenance:status"] == "verified"
    assert again["alpha"]["bomguard:provenance:publisher:repository"] == "octo/pkg"
    assert index_server.count("/simple/") == 0  # the page was fresh
    assert index_server.count("/integrity/") == 1  # the provenance was fetched anew
    err = capsys.readouterr().err
    assert f"WARNING: cache: the cached provenance for {filename}" in err


def test_a_fresh_page_edited_in_the_store_is_dropped_and_fetched(
    index_server, sig, tmp_path, capsys
):
    """The stored page edited to say the bad file has no provenance: not believed."""
    sigstore, root = sig
    index_server.fault("/simple/", headers=PYPI_CACHE_CONTROL)
    filename = "alpha-1.0.tar.gz"
    sha = hashlib.sha256(filename.encode()).hexdigest()
    bad = sigstore.mint_provenance(filename, sha, HONEST, defect=Defect.BAD_SIGNATURE)
    index_server.add_file("alpha", filename, sha256=sha, provenance=bad)
    assert _statuses(_run(index_server, root, tmp_path, ["alpha"])) == {"alpha": "invalid"}
    with Rows(tmp_path / "cache") as rows:
        ((key, meta, body),) = rows.entries("pages")
        assert body is not None
        page = json.loads(body)
        page["files"][0]["provenance"] = None
        edited = json.dumps(page).encode()
        rows.put(
            "pages",
            key,
            {
                **meta,
                "body": base64.b64encode(edited).decode(),
                "body_sha256": hashlib.sha256(edited).hexdigest(),
            },
        )
    capsys.readouterr()
    index_server.reset_log()

    again = _run(index_server, root, tmp_path, ["alpha"])
    assert again["alpha"]["bomguard:provenance:status"] == "invalid"
    assert index_server.count("/simple/alpha/") == 1
    err = capsys.readouterr().err
    assert "WARNING: cache: the cached project page" in err
    assert "dropped and fetched again" in err


def test_a_release_whose_page_links_relative_urls_is_answered_alike(sig, tmp_path):
    """Pages with relative file URLs (resolved against the page) answer as they fetch."""
    sigstore, root = sig
    with IndexServer(relative_urls=True) as server:
        server.fault("/simple/", headers=PYPI_CACHE_CONTROL)
        _publish(server, sigstore, "alpha", "1.0")
        cold_out = _run(server, root, tmp_path, ["alpha"])
        cold = json.loads((tmp_path / "out.json").read_text())["components"][0]
        server.reset_log()
        warm_out = _run(server, root, tmp_path, ["alpha"])
        warm = json.loads((tmp_path / "out.json").read_text())["components"][0]
        assert server.requests == []
    assert _provenance(warm_out["alpha"]) == _provenance(cold_out["alpha"])
    assert file_statuses(warm) == file_statuses(cold)


def test_a_page_the_index_redirected_resolves_its_relative_urls_alike_when_stored(
    index_server, sig, tmp_path
):
    """The index moved the page (a redirect on its own origin) and links provenance
    relative to where it served it: a fresh stored copy resolves them against that place
    too, not against the URL asked for (where another object is served)."""
    sigstore, root = sig
    filename = "alpha-1.0.tar.gz"
    sha = hashlib.sha256(filename.encode()).hexdigest()
    good = sigstore.mint_provenance(filename, sha, HONEST)
    bad = sigstore.mint_provenance(filename, sha, HONEST, defect=Defect.BAD_SIGNATURE)
    index_server.add_file("alpha", filename, sha256=sha, provenance=bad)  # at /integrity/...
    page = {
        "meta": {"api-version": "1.1"},
        "name": "alpha",
        "files": [
            {
                "filename": filename,
                "url": f"../../files/{filename}",
                "hashes": {"sha256": sha},
                "provenance": f"../../integrity/alpha/1.0/{filename}/provenance",
            }
        ],
    }
    index_server.fault("/simple/alpha/", status=302, headers={"Location": "/moved/simple/alpha/"})
    index_server.fault(
        "/moved/simple/alpha/",
        body=json.dumps(page).encode(),
        headers={
            "Content-Type": "application/vnd.pypi.simple.v1+json",
            "ETag": '"moved-1"',
            **PYPI_CACHE_CONTROL,
        },
    )
    index_server.fault(
        f"/moved/integrity/alpha/1.0/{filename}/provenance",
        body=good,
        headers={"Content-Type": "application/vnd.pypi.integrity.v1+json"},
    )
    assert _statuses(_run(index_server, root, tmp_path, ["alpha"])) == {"alpha": "verified"}
    with Rows(tmp_path / "cache") as rows:
        rows.sql("DELETE FROM entries WHERE kind IN (?, ?)", ("provenance", "verify"))
    index_server.reset_log()

    again = _run(index_server, root, tmp_path, ["alpha"])
    assert again["alpha"]["bomguard:provenance:status"] == "verified"
    assert [r.path for r in index_server.requests] == [
        f"/moved/integrity/alpha/1.0/{filename}/provenance"
    ]


# -- the URL join ------------------------------------------------------------------


def _outcome(function: Callable[..., object], *args: str) -> object:
    """What ``function`` returns, or ``ValueError`` when it raises that."""
    try:
        return function(*args)
    except ValueError:
        return ValueError


_BASES = st.sampled_from(
    [
        "https://pypi.org/simple/sample/",
        "http://127.0.0.1:8080/simple/sample/",
        "https://mirror.example/a/b/simple/sample/?x=1",
    ]
)
_HREF_CHARS = st.sampled_from(
    [*"aZ09.-_~:/@!$&'()*+,=%?#;[] \t\n\x00\x7fé", "https://", "http://", "HTTPS://", "//"]
)


@given(base=_BASES, href=st.lists(_HREF_CHARS, max_size=12).map("".join))
def test_the_url_join_is_urljoin(base: str, href: str) -> None:
    assert _outcome(_join, base, href) == _outcome(urljoin, base, href)


@pytest.mark.parametrize(
    "href",
    [
        "https://files.pythonhosted.org/packages/ab/cd/pkg-1.0.tar.gz",
        "https://pypi.org/integrity/pkg/1.0/pkg-1.0.tar.gz/provenance",
        "http://127.0.0.1:8080/files/pkg-1.0-py3-none-any.whl",
        "https://h/a/../b",
        "https://h",
        "http:///no-host",
        "https://h/p?",
        "https://h/p#",
        "https://h/p;x",
        "HTTPS://h/p",
        "https://[::1]/p",
        " https://h/p",
    ],
)
def test_the_url_join_is_urljoin_for_index_urls(href: str) -> None:
    for base in ("https://pypi.org/simple/pkg/", "http://127.0.0.1:8080/simple/pkg/"):
        assert _join(base, href) == urljoin(base, href)


_INDEXES = st.sampled_from(
    [
        "https://pypi.org/simple/",
        "HTTPS://PyPI.org/simple/",
        "https://pypi.org:443/simple/",
        "http://127.0.0.1:8080/simple/",
        "http://user:pw@127.0.0.1:8080/simple/",
        "https://[::1]:8443/simple/",
    ]
)
_URL_PARTS = st.sampled_from(
    [
        *("https://", "http://", "HTTPS://", "pypi.org", "PyPI.org", ":443", ":8080"),
        *("127.0.0.1", "[::1]", ":8443", "user:pw@", "/", "/integrity/x", "?q", "#f", "@", "\t"),
    ]
)


@given(index=_INDEXES, url=st.lists(_URL_PARTS, max_size=6).map("".join))
def test_the_origin_check_is_the_parsed_comparison(index: str, url: str) -> None:
    def parsed(url: str, index: str) -> bool:
        return _origin(url) == _origin(index)

    assert _outcome(_on_index_origin, url, index) == _outcome(parsed, url, index)


@pytest.mark.parametrize("served_from", ["/moved/simple/a/", "//other.example/simple/a/"])
def test_a_stored_page_resolves_against_the_place_it_was_served_from_on_its_origin(
    served_from: str,
) -> None:
    """As the fetch resolved it: against the redirect target on the index's own origin,
    never against another host (a served-from path that starts with ``//``)."""
    import asyncio

    from bomguard.index.cache import CachedPage
    from bomguard.index.simple import IndexOptions, _Client

    page = {
        "meta": {"api-version": "1.1"},
        "name": "a",
        "files": [
            {"filename": "a-1.0.tar.gz", "url": "a-1.0.tar.gz", "hashes": {}, "provenance": "p"}
        ],
    }
    body = json.dumps(page).encode()
    url = "http://index.example/simple/a/"

    async def both() -> tuple[object, object]:
        client = _Client(IndexOptions(index_url="http://index.example/simple/"), None)
        stored = CachedPage(url, body, "application/json", None, None, 0.0, served_from)
        fetched = client._parse_typed(
            body, "application/json", f"http://index.example{served_from}"
        )
        return client.parse_stored(stored, url), fetched

    stored, fetched = asyncio.run(both())
    assert stored == fetched
    assert all(f.url.startswith("http://index.example/") for f in stored)  # type: ignore[attr-defined]
