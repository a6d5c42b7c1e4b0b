"""The fleet identity history as a warm run reads and records it, on both backends.

A run reads every project's history rows and heads in a few batched queries, leaves a
head that already names the identity it saw, and computes each MAC for less: none of it
may change what the history guarantees. A tampered row or head met by the batched read is
still dropped and reported; an unchanged head still sets the expectation; the rows' last
seen still advances; and a store written before (rows MAC'd as they always were) still
reads clean.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import cdx, enrich_cli, props, pypi, write_json
from indexserver import IndexServer
from storerows import Rows, pg_database
from virtual_sigstore import GitHubIdentity, VirtualSigstore

from bomguard.store import _close_all, open_store

pytestmark = pytest.mark.usefixtures("fresh_stores")

OCTO = "octo-pkg"
WIDGET = "widget"
HONEST = GitHubIdentity(repository="octo/pkg")
ACME = GitHubIdentity(repository="acme/widget")
MALLORY = GitHubIdentity(repository="mallory/evil")


@pytest.fixture
def fleet_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    key = os.urandom(32).hex()
    path = tmp_path / "fleet-key"
    path.write_text(key)
    monkeypatch.setenv("BOMGUARD_STORE_KEY_FILE", str(path))
    return key.encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, fleet_key: bytes) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "store" / "bomguard.sqlite3")
    else:
        yield from pg_database()


@pytest.fixture
def sig(tmp_path: Path) -> tuple[VirtualSigstore, Path]:
    sigstore = VirtualSigstore(seed=31)
    return sigstore, sigstore.write_trusted_root(tmp_path / "trusted_root.json")


def _serve(server: IndexServer, sigstore: VirtualSigstore, project: str, version: str, who):
    """An sdist and a wheel of ``project`` ``version``, both signed by ``who``."""
    stem = project.replace("-", "_")
    for filename in (f"{stem}-{version}.tar.gz", f"{stem}-{version}-py3-none-any.whl"):
        content = f"{filename} by {who.repository}".encode()
        digest = hashlib.sha256(content).hexdigest()
        provenance = sigstore.mint_provenance(filename, digest, who)
        server.add_file(project, filename, content=content, provenance=provenance)


def _run(
    server: IndexServer, root: Path, tmp_path: Path, store: str, name: str, **versions: str
) -> tuple[list[dict[str, str]], dict[str, dict[str, str]]]:
    """Enrich an SBOM named ``name`` holding ``project=version`` (``_`` for ``-``):
    its drift events and each component's properties."""
    components = [pypi(p.replace("_", "-"), v) for p, v in versions.items()]
    sbom = write_json(tmp_path / f"{name}.json", cdx(components))
    serial = hashlib.sha256(name.encode()).hexdigest()[:8]
    sbom.write_text(sbom.read_text().replace("3e671687", serial))
    out, verdict = tmp_path / f"{name}.out.json", tmp_path / f"{name}.verdict.json"
    args = ["--store", store, "--drift-depth", "0", "--verdict", str(verdict)]
    enrich_cli(sbom, out, server.index_url, *args, trust_root=root)
    found = {c["name"]: props(c) for c in json.loads(out.read_text())["components"]}
    _close_all()
    return json.loads(verdict.read_text())["drift"], found


def test_an_unchanged_head_is_left_as_it_is_and_still_sets_the_expectation(
    index_server, sig, store, tmp_path, capsys
):
    """The same SBOM enriched again: the project's head (the identity seen last) is not
    rewritten, byte for byte, while every row's last seen advances (the fact "last seen"
    stays true) and its first seen stays. The head still says what to expect: mallory's
    1.1 in a new SBOM raises ``store`` drift, and only then is the head rewritten."""
    sigstore, root = sig
    _serve(index_server, sigstore, OCTO, "1.0", HONEST)
    _serve(index_server, sigstore, OCTO, "1.1", MALLORY)
    assert _run(index_server, root, tmp_path, store, "app-a", octo_pkg="1.0")[0] == []
    with Rows(store) as rows:
        head_before = rows.entries("history-head")
        seen_before = {r[2]: (r[5], r[6]) for r in rows.history()}
    assert [k for k, _m, _b in head_before] == [OCTO]
    assert len(seen_before) == 2  # the sdist and the wheel, one identity

    capsys.readouterr()
    assert _run(index_server, root, tmp_path, store, "app-a", octo_pkg="1.0")[0] == []
    assert "WARNING" not in capsys.readouterr().err
    with Rows(store) as rows:
        assert rows.entries("history-head") == head_before
        seen_after = {r[2]: (r[5], r[6]) for r in rows.history()}
    assert seen_after.keys() == seen_before.keys()
    for filename, (first, last) in seen_after.items():
        assert first == seen_before[filename][0]
        assert last > seen_before[filename][1], f"{filename}: last seen did not advance"

    drift, _ = _run(index_server, root, tmp_path, store, "app-b", octo_pkg="1.1")
    assert [(d["source"], d["kind"]) for d in drift] == [("store", "repository-changed")]
    assert "1.0 in app-a.json" in drift[0]["since"]
    with Rows(store) as rows:
        ((_key, head, _body),) = rows.entries("history-head")
        (manifest,) = rows.entries("history-manifest")
    assert head["version"] == "1.1" and "mallory/evil" in head["record"]
    assert manifest[1]["projects"] == [OCTO]


def test_the_batched_read_drops_and_reports_each_tampered_row_and_head(
    index_server, sig, store, tmp_path, capsys
):
    """Two projects read in one batch. octo-pkg's rows are edited to name mallory (their
    MAC no longer matches) and widget's head is edited the same way: each is dropped and
    reported by name, and what stays authentic still sets the expectation, so mallory's
    1.1 of both raises ``store`` drift for both."""
    sigstore, root = sig
    _serve(index_server, sigstore, OCTO, "1.0", HONEST)
    _serve(index_server, sigstore, OCTO, "1.1", MALLORY)
    _serve(index_server, sigstore, WIDGET, "1.0", ACME)
    _serve(index_server, sigstore, WIDGET, "1.1", MALLORY)
    seeded, _ = _run(index_server, root, tmp_path, store, "app-a", octo_pkg="1.0", widget="1.0")
    assert seeded == []
    with Rows(store) as rows:
        for project, _v, filename, record, *_rest in rows.history():
            if project == OCTO:
                forged = record.replace("octo/pkg", "mallory/evil")
                rows.sql(
                    "UPDATE history SET record = ?, record_sha256 = ?"
                    " WHERE project = ? AND filename = ?",
                    (forged, hashlib.sha256(forged.encode()).hexdigest(), project, filename),
                )
        ((key, meta, _body),) = [e for e in rows.entries("history-head") if e[0] == WIDGET]
        meta["record"] = meta["record"].replace("acme/widget", "mallory/evil")
        rows.sql(
            "UPDATE entries SET meta = ? WHERE kind = 'history-head' AND key = ?",
            (json.dumps(meta, sort_keys=True), key),
        )

    capsys.readouterr()
    drift, _ = _run(index_server, root, tmp_path, store, "app-b", octo_pkg="1.1", widget="1.1")
    err = capsys.readouterr().err
    assert sorted((d["source"], d["kind"], d["since"].split(" ")[0]) for d in drift) == [
        ("store", "repository-changed", "1.0"),
        ("store", "repository-changed", "1.0"),
    ], drift
    before = sorted(d["before"] for d in drift)
    assert "acme/widget" in before[0] and "octo/pkg" in before[1], before
    assert all("mallory/evil" in d["after"] for d in drift)
    for filename in ("octo_pkg-1.0.tar.gz", "octo_pkg-1.0-py3-none-any.whl"):
        assert (
            f"the stored identity history of {OCTO} 1.0 ({filename}) has a MAC that does "
            "not match its contents; dropped"
        ) in err
    assert f"the stored identity history head of {WIDGET} has a MAC that does not match" in err
    assert f"the stored identity history of {WIDGET} has lost its head" in err
    with Rows(store) as rows:
        assert all("mallory/evil" not in r[3] for r in rows.history() if r[1] == "1.0")
        assert {r[0] for r in rows.history() if r[1] == "1.0"} == {WIDGET}


def _reference_mac(key: bytes, *parts: str) -> str:
    """The store's MAC as it has been computed since its first schema: HMAC-SHA256 over
    each part's UTF-8 length (8 bytes, big-endian) and bytes, updated part by part."""
    h = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        raw = part.encode("utf-8")
        h.update(len(raw).to_bytes(8, "big") + raw)
    return h.hexdigest()


def test_a_store_signed_as_before_still_reads_clean(
    index_server, sig, store, tmp_path, fleet_key, capsys
):
    """Every entry and history row signed again the way the store always signed them
    (the reference MAC, meta as ``json.dumps(..., sort_keys=True)``): the next run
    authenticates them all: no warning, no provenance fetched again, the same result."""
    sigstore, root = sig
    _serve(index_server, sigstore, OCTO, "1.0", HONEST)
    _, first = _run(index_server, root, tmp_path, store, "app-a", octo_pkg="1.0")
    with Rows(store) as rows:
        entries = rows.sql("SELECT kind, key, meta, body FROM entries")
        assert {kind for kind, *_ in entries} >= {"provenance", "verify", "history-head"}
        for kind, key, meta, body in entries:
            fields = json.loads(meta)
            fields.pop("mac")
            signed = json.dumps(fields, sort_keys=True, separators=(",", ":"))
            fields["mac"] = _reference_mac(fleet_key, "bomguard-store", kind, key, signed)
            rows.sql(
                "UPDATE entries SET meta = ? WHERE kind = ? AND key = ?",
                (json.dumps(fields, sort_keys=True), kind, key),
            )
            assert body is None or hashlib.sha256(bytes(body)).hexdigest() == fields["body_sha256"]
        history = rows.history()
        for project, version, filename, record, sbom, _first, _last, _mac in history:
            tag = _reference_mac(
                fleet_key, "bomguard-history", project, version, filename, record, sbom
            )
            rows.sql(
                "UPDATE history SET mac = ? WHERE project = ? AND version = ? AND filename = ?",
                (tag, project, version, filename),
            )
    capsys.readouterr()
    index_server.reset_log()
    _, again = _run(index_server, root, tmp_path, store, "app-a", octo_pkg="1.0")
    assert "WARNING" not in capsys.readouterr().err
    assert index_server.count("/integrity/") == 0
    assert again[OCTO]["bomguard:provenance:status"] == "verified"
    assert again[OCTO]["bomguard:drift:checked"].startswith("store:1.0 in app-a.json")

    def evidence(found: dict[str, dict[str, str]]) -> dict[str, str]:
        return {k: v for k, v in found[OCTO].items() if not k.startswith("bomguard:drift:")}

    assert evidence(again) == evidence(first)


def test_the_mac_of_known_parts_is_unchanged():
    """A fixed key and parts give the MAC every earlier store holds for them."""
    from bomguard._cachekey import mac

    record = '{"publisher:repository":"octo/pkg","x":"\u00e9\u4e2d"}'
    parts = (
        "bomguard-history",
        OCTO,
        "1.0",
        "octo_pkg-1.0.tar.gz",
        record,
        "app.json (urn:uuid:1)",
    )
    expected = "25d829d85a4bf47698a80eaa7ebc66e01703ecb1daeb704a8993859b75236ef6"
    assert mac(b"ab" * 32, *parts) == expected == _reference_mac(b"ab" * 32, *parts)
    assert mac(b"k" * 40) == "4259a0e4f8eacaf2fbfcba3f7bf2cccaecbe890c0b9569efcb36d147d3188fc2"
    assert mac(b"k" * 40, "") == _reference_mac(b"k" * 40, "")
    # Another key in the same process: each key's MAC is its own.
    assert mac(b"cd" * 32, *parts) == _reference_mac(b"cd" * 32, *parts) != expected


def test_a_remembered_entry_is_checked_again_once_its_bytes_change(store, fleet_key):
    """What a read remembered vouches only for the very bytes it checked: the same row
    edited behind the store's back is checked, dropped and reported; rewritten by another
    runner with the key, the new content is what a later read returns."""
    first = open_store(store, fleet_key)
    other = open_store(store, fleet_key)
    assert first is not None and other is not None
    try:
        first.put("history-head", OCTO, {"version": "1.0", "seen": 1.0}, None)
        first.flush()
        reports: list[str] = []

        def read() -> dict[str, object] | None:
            found = first.get_many(
                "history-head",
                [OCTO],
                lambda p: f"the head of {p}",
                reports.append,
                "written",
                True,
            )
            return found[OCTO][0] if OCTO in found else None

        assert read() == {"version": "1.0", "seen": 1.0}
        assert read() == {"version": "1.0", "seen": 1.0}

        other.put("history-head", OCTO, {"version": "2.0", "seen": 2.0}, None)
        other.flush()
        assert read() == {"version": "2.0", "seen": 2.0}
        assert reports == []

        with Rows(store) as rows:
            ((_key, meta, _body),) = rows.entries("history-head")
            meta["version"] = "9.9"
            rows.sql(
                "UPDATE entries SET meta = ? WHERE kind = 'history-head'",
                (json.dumps(meta, sort_keys=True),),
            )
        assert read() is None
        assert reports == [
            f"the head of {OCTO} has a MAC that does not match its contents;"
            " dropped and written again"
        ]
        with Rows(store) as rows:
            assert rows.entries("history-head") == []
    finally:
        first.close()
        other.close()
