"""The evidence store, on both backends (SQLite and a real PostgreSQL), through the CLI.

Each attack writes the store's rows directly, as someone with write access to the database
but not the store key would: nothing they plant may yield ``verified`` or set a drift
expectation, and each planted row is dropped with a warning.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import cdx, enrich_cli, file_statuses, props, pypi, run_cli, write_json
from indexserver import IndexServer
from storerows import Rows, pg_database
from virtual_sigstore import Defect, GitHubIdentity, VirtualSigstore

from bomguard.index.cache import row_key
from bomguard.store import _close_all

pytestmark = pytest.mark.usefixtures("fresh_stores")

PROJECT = "octo-pkg"
SDIST = "octo_pkg-1.0.tar.gz"
SDIST_BYTES = b"the honest sdist of octo-pkg 1.0\n"
WHEEL = "octo_pkg-1.0-py3-none-any.whl"
WHEEL_BYTES = b"the honest wheel of octo-pkg 1.0\n"
HONEST = GitHubIdentity(repository="octo/pkg")
MALLORY = GitHubIdentity(repository="mallory/evil")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fleet_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = tmp_path / "fleet-key"
    key.write_text(os.urandom(32).hex())
    monkeypatch.setenv("BOMGUARD_STORE_KEY_FILE", str(key))
    return key


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, fleet_key: Path) -> Iterator[str]:
    """The location of an empty store of each backend (with a fleet key configured)."""
    if request.param == "sqlite":
        yield str(tmp_path / "store" / "bomguard.sqlite3")
    else:
        yield from pg_database()


@pytest.fixture
def sig(tmp_path: Path) -> tuple[VirtualSigstore, Path]:
    sigstore = VirtualSigstore(seed=14)
    return sigstore, sigstore.write_trusted_root(tmp_path / "trusted_root.json")


def _enrich(
    server: IndexServer,
    root: Path,
    tmp_path: Path,
    store: str,
    name: str,
    version: str,
    *extra: str,
) -> tuple[int, dict[str, str], dict[str, object]]:

    sbom = write_json(tmp_path / f"{name}.json", cdx([pypi(PROJECT, version)]))
    sbom.write_text(sbom.read_text().replace("3e671687", _sha(name.encode())[:8]))
    out, verdict = tmp_path / f"{name}.out.json", tmp_path / f"{name}.verdict.json"
    args = ["--store", store, "--drift-depth", "0", "--verdict", str(verdict), *extra]
    code = enrich_cli(sbom, out, server.index_url, *args, trust_root=root)
    component = json.loads(out.read_text())["components"][0]
    return code, props(component), json.loads(verdict.read_text())


def test_rows_planted_without_the_key_never_yield_verified(
    index_server, sig, store, tmp_path, capsys
):
    sigstore, root = sig
    index_server.add_file(
        PROJECT,
        SDIST,
        content=SDIST_BYTES,
        provenance=sigstore.mint_provenance(SDIST, _sha(SDIST_BYTES), HONEST),
    )
    bad = sigstore.mint_provenance(WHEEL, _sha(WHEEL_BYTES), HONEST, defect=Defect.BAD_SIGNATURE)
    index_server.add_file(PROJECT, WHEEL, content=WHEEL_BYTES, provenance=bad)
    _, first, _ = _enrich(index_server, root, tmp_path, store, "a", "1.0")
    assert first["bomguard:provenance:status"] == "invalid"
    _close_all()

    origin = index_server.base_url
    with Rows(store) as rows:
        # 1. The sdist's verified result copied over the wheel's invalid one.
        results = {
            json.loads(b)["status"]: (k, {**m, "body": base64.b64encode(b).decode()})
            for k, m, b in rows.entries("verify")
        }
        rows.put("verify", results["invalid"][0], results["verified"][1])
        # 2. Mallory's attestation of the honest sdist, planted as its provenance.
        key = row_key(origin, SDIST, _sha(SDIST_BYTES))
        ((meta, body),) = [(m, b) for k, m, b in rows.entries("provenance") if k == key]
        forged = sigstore.mint_provenance(SDIST, _sha(SDIST_BYTES), MALLORY)
        planted = {**meta, "body": base64.b64encode(forged).decode()}
        planted["body_sha256"] = _sha(forged)
        rows.put("provenance", key, planted)
        assert body is not None and body != forged
    capsys.readouterr()
    index_server.reset_log()

    _, again, _ = _enrich(index_server, root, tmp_path, store, "a", "1.0")
    assert again["bomguard:provenance:status"] == "invalid"
    assert (
        file_statuses(json.loads((tmp_path / "a.out.json").read_text())["components"][0])[WHEEL]
        == "invalid"
    )
    assert again["bomguard:provenance:publisher:repository"] == "octo/pkg"
    assert index_server.count("/integrity/") == 1  # the planted provenance was fetched anew
    err = capsys.readouterr().err
    assert f"the cached verification result for {WHEEL} has a MAC" in err
    assert f"the cached provenance for {SDIST} (from {origin}) has a" in err


def test_the_fleet_history_catches_a_publisher_change_in_a_new_sbom(
    index_server, sig, store, tmp_path, capsys
):
    sigstore, root = sig
    index_server.add_file(
        PROJECT,
        SDIST,
        content=SDIST_BYTES,
        provenance=sigstore.mint_provenance(SDIST, _sha(SDIST_BYTES), HONEST),
    )
    _, first, _ = _enrich(index_server, root, tmp_path, store, "app-a", "1.0")
    assert first["bomguard:provenance:status"] == "verified"
    with Rows(store) as rows:
        history = rows.history()
    assert [(r[0], r[1], r[2]) for r in history] == [(PROJECT, "1.0", SDIST)]
    assert history[0][4].startswith("app-a.json (urn:uuid:")
    assert json.loads(history[0][3])["publisher:repository"] == "octo/pkg"

    # 1.1 comes from another repository; an SBOM never enriched before names it.
    sdist11 = "octo_pkg-1.1.tar.gz"
    index_server.add_file(
        PROJECT,
        sdist11,
        content=b"1.1",
        provenance=sigstore.mint_provenance(sdist11, _sha(b"1.1"), MALLORY),
    )
    capsys.readouterr()
    _, second, verdict = _enrich(index_server, root, tmp_path, store, "app-b", "1.1")
    assert second["bomguard:provenance:status"] == "verified"
    drift = verdict["drift"]
    assert drift and {d["source"] for d in drift} == {"store"}
    assert any("octo/pkg" in d["before"] and "mallory/evil" in d["after"] for d in drift)
    assert "1.0 in app-a.json" in drift[0]["since"]
    assert "DRIFT:" in capsys.readouterr().err

    # Turned off: no expectation from the store.
    _, _, off = _enrich(index_server, root, tmp_path, store, "app-c", "1.1", "--no-store-history")
    assert off["drift"] == []

    # The security team's view over the store.
    capsys.readouterr()
    inventory = ["inventory", "--store", store]
    assert run_cli([*inventory, "drift", "--format", "json"]) == 0
    (event,) = json.loads(capsys.readouterr().out)
    assert (event["project"], event["version"], event["source"]) == (PROJECT, "1.1", "store")
    assert event["sboms"].startswith("app-b.json")  # app-c ran with the history off
    assert "mallory/evil" in event["change"]
    assert run_cli([*inventory, "contains", "--project", "Octo_Pkg", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "sbom,project,version,status"
    # app-c ran with --no-store-history: not recorded at all.
    assert [line.split(",")[2:] for line in lines[1:]] == [["1.0", "verified"], ["1.1", "verified"]]
    assert run_cli([*inventory, "contains", "--project", PROJECT, "--version", "1.0"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 2 and table[1].startswith("app-a.json") and "verified" in table[1]
    assert run_cli([*inventory, "coverage", "--format", "json"]) == 0
    coverage = {r["sbom"].split(" ")[0]: r for r in json.loads(capsys.readouterr().out)}
    assert coverage["(fleet)"]["components"] == "2"
    assert coverage["(fleet)"]["coverage"] == "100.0%"


def test_a_planted_history_row_sets_no_expectation(index_server, sig, store, tmp_path, capsys):
    sigstore, root = sig
    index_server.add_file(
        PROJECT,
        SDIST,
        content=SDIST_BYTES,
        provenance=sigstore.mint_provenance(SDIST, _sha(SDIST_BYTES), MALLORY),
    )
    _enrich(index_server, root, tmp_path, store, "seed", "1.0", "--no-store-history")
    _close_all()
    # Someone with database access plants history saying the project is octo/pkg's, to
    # raise a false alarm (or, the other way round, to bless a hijack).
    record = json.dumps({"publisher:kind": "github", "publisher:repository": "octo/pkg"})
    with Rows(store) as rows:
        rows.sql(
            "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                PROJECT,
                "0.9",
                "octo_pkg-0.9.tar.gz",
                record,
                hashlib.sha256(record.encode()).hexdigest(),
                "x.json",
                1.0,
                2.0,
                "00" * 32,
            ),
        )
    capsys.readouterr()
    _, _, verdict = _enrich(index_server, root, tmp_path, store, "app", "1.0")
    assert verdict["drift"] == []
    err = capsys.readouterr().err
    assert f"the stored identity history of {PROJECT} 0.9" in err
    with Rows(store) as rows:
        assert [r[1] for r in rows.history()] == ["1.0"]  # the planted row is gone


def test_postgresql_needs_the_fleet_key_and_never_prints_the_password(
    index_server, sig, tmp_path, capsys, monkeypatch
):
    _, root = sig
    sbom = write_json(tmp_path / "in.json", cdx([pypi(PROJECT, "1.0")]))
    secret = "s3cr3t-pa55word"
    dsn = f"postgresql://bomguard:{secret}@127.0.0.1:9/fleet"  # port 9: nothing listens
    args = ["--store", dsn]
    monkeypatch.delenv("BOMGUARD_STORE_KEY_FILE", raising=False)
    assert (
        enrich_cli(sbom, tmp_path / "o.json", index_server.index_url, *args, trust_root=root) == 2
    )
    err = capsys.readouterr().err
    assert "needs the fleet key" in err and secret not in err
    assert "postgresql://bomguard:***@127.0.0.1:9/fleet" in err

    key = tmp_path / "k"
    key.write_text("k" * 40)
    monkeypatch.setenv("BOMGUARD_STORE_KEY_FILE", str(key))
    assert (
        enrich_cli(sbom, tmp_path / "o.json", index_server.index_url, *args, trust_root=root) == 3
    )
    err = capsys.readouterr().err
    assert secret not in err
    lines = [line for line in err.splitlines() if line.startswith("bomguard: error:")]
    assert len(lines) == 1 and "postgresql://bomguard:***@127.0.0.1:9/fleet" in lines[0]
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("damage", ["corrupt", "newer-schema"])
def test_a_damaged_sqlite_store_is_a_clear_operational_error(
    index_server, sig, tmp_path, capsys, damage
):
    sigstore, root = sig
    index_server.add_file(
        PROJECT,
        SDIST,
        content=SDIST_BYTES,
        provenance=sigstore.mint_provenance(SDIST, _sha(SDIST_BYTES), HONEST),
    )
    path = tmp_path / "cache" / "bomguard.sqlite3"
    sbom = write_json(tmp_path / "in.json", cdx([pypi(PROJECT, "1.0")]))
    args = ["--cache-dir", str(tmp_path / "cache")]
    assert (
        enrich_cli(sbom, tmp_path / "o.json", index_server.index_url, *args, trust_root=root) == 0
    )
    assert path.is_file()
    _close_all()
    if damage == "corrupt":
        path.write_bytes(b"this is not a database at all" * 100)
        for extra in ("-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
    else:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    capsys.readouterr()
    code = enrich_cli(sbom, tmp_path / "o2.json", index_server.index_url, *args, trust_root=root)
    assert code == 3
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("bomguard: error:")]
    assert str(path) in line
    assert (
        ("newer than this bomguard" in line)
        if damage == "newer-schema"
        else ("not a bomguard store or is corrupt" in line)
    )
    assert not (tmp_path / "o2.json").exists()
    # --no-cache still runs without it.
    assert (
        run_cli(
            [
                "enrich",
                str(sbom),
                "-o",
                str(tmp_path / "o3.json"),
                "--index-url",
                index_server.index_url,
                "--trust-root",
                str(root),
                "--no-cache",
            ]
        )
        == 0
    )


def _components(path: Path) -> dict[str, dict[str, str]]:
    """Each component's bomguard properties, less the drift bookkeeping (which sources
    were checked depends on what history the store held when the run began)."""
    doc = json.loads(path.read_text())
    return {
        c["name"]: {k: v for k, v in props(c).items() if not k.startswith("bomguard:drift:")}
        for c in doc["components"]
    }


def test_eight_processes_share_one_store_and_verify_each_file_once(
    index_server, sig, store, tmp_path
):
    import subprocess
    import sys

    sigstore, root = sig
    projects = [f"fleet-pkg-{i}" for i in range(12)]
    for i, name in enumerate(projects):
        filename = f"{name.replace('-', '_')}-1.0.tar.gz"
        content = f"{name} 1.0\n".encode()
        defect = Defect.BAD_SIGNATURE if i == 5 else None
        identity = GitHubIdentity(repository=f"fleet/{name}")
        index_server.add_file(
            name,
            filename,
            content=content,
            provenance=sigstore.mint_provenance(filename, _sha(content), identity, defect=defect),
        )
    # Eight SBOMs of eight projects each, every one overlapping its neighbours.
    sboms = []
    for n in range(8):
        doc = cdx([pypi(projects[(n + k) % 12], "1.0") for k in range(8)])
        doc["serialNumber"] = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        sboms.append(write_json(tmp_path / f"app-{n}.json", doc))
    worker = str(Path(__file__).parent / "store_worker.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def start(sbom: Path, out: Path, location: str) -> subprocess.Popen[str]:
        args = [sys.executable, worker, str(sbom), str(out), location, index_server.index_url]
        return subprocess.Popen(
            [*args, str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    running = [start(s, tmp_path / f"out-{i}.json", store) for i, s in enumerate(sboms)]
    verified: list[str] = []
    for process in running:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
        verified += json.loads(stdout)["verified"]

    files = sorted(f"{p.replace('-', '_')}-1.0.tar.gz" for p in projects)
    assert sorted(verified) == files  # every file verified once, by one process
    assert index_server.count("/integrity/") == len(files)  # and fetched once
    with Rows(store) as rows:
        assert rows.count("verify") == len(files)
        assert rows.count("provenance") == len(files)
        history = rows.history()
        registered = rows.sql(
            "SELECT sbom, project FROM sboms WHERE status NOT LIKE ?", ("drift:%",)
        )
    # Every verified file of every SBOM is in the history (the invalid one is not).
    expected = {
        (projects[(n + k) % 12], f"app-{n}.json")
        for n in range(8)
        for k in range(8)
        if (n + k) % 12 != 5
    }
    assert {(r[0], r[4].split(" ")[0]) for r in history} == expected
    assert len(registered) == 64

    # Every output is the one a lone run without any store writes.
    lone = [start(s, tmp_path / f"lone-{i}.json", "-") for i, s in enumerate(sboms)]
    for i, process in enumerate(lone):
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
        assert _components(tmp_path / f"out-{i}.json") == _components(tmp_path / f"lone-{i}.json")


def test_a_304_rewrites_only_freshness_and_revalidate_always_asks(
    index_server, sig, tmp_path, fleet_key
):
    sigstore, root = sig
    index_server.add_file(
        PROJECT,
        SDIST,
        content=SDIST_BYTES,
        provenance=sigstore.mint_provenance(SDIST, _sha(SDIST_BYTES), HONEST),
    )
    store = str(tmp_path / "s.sqlite3")
    _enrich(index_server, root, tmp_path, store, "a", "1.0")
    with Rows(store) as rows:
        page_before = rows.entries("pages")
        fresh_before = rows.entries("fresh")
    index_server.reset_log()
    _enrich(index_server, root, tmp_path, store, "a", "1.0")
    page_requests = [r for r in index_server.requests if r.path.startswith("/simple/")]
    assert len(page_requests) == 1 and "if-none-match" in page_requests[0].headers
    with Rows(store) as rows:
        assert rows.entries("pages") == page_before  # the 304 did not rewrite the page
        assert rows.entries("fresh") != fresh_before  # only its freshness row

    # An index that says max-age: not asked again, unless --revalidate.
    index_server.fault(f"/simple/{PROJECT}/", headers={"Cache-Control": "max-age=600"})
    _enrich(index_server, root, tmp_path, store, "a", "1.0")
    index_server.reset_log()
    _, again, _ = _enrich(index_server, root, tmp_path, store, "a", "1.0")
    assert again["bomguard:provenance:status"] == "verified"
    assert index_server.requests == []
    _enrich(index_server, root, tmp_path, store, "a", "1.0", "--revalidate")
    assert index_server.count(f"/simple/{PROJECT}/") == 1


def test_many_sboms_in_one_run_fetch_and_verify_each_file_once(index_server, sig, tmp_path):
    sigstore, root = sig
    projects = [f"many-pkg-{i}" for i in range(5)]
    for i, name in enumerate(projects):
        filename = f"{name.replace('-', '_')}-1.0.tar.gz"
        content = f"{name}\n".encode()
        defect = Defect.BAD_SIGNATURE if i == 4 else None
        index_server.add_file(
            name,
            filename,
            content=content,
            provenance=sigstore.mint_provenance(
                filename, _sha(content), GitHubIdentity(repository=f"org/{name}"), defect=defect
            ),
        )
    sboms = [
        write_json(tmp_path / f"{n}.json", cdx([pypi(p, "1.0") for p in chosen]))
        for n, chosen in (("a", projects[:3]), ("b", projects[1:4]), ("c", projects[2:]))
    ]
    out = tmp_path / "out"
    base = ["enrich", *map(str, sboms), "--index-url", index_server.index_url]
    base += ["--trust-root", str(root), "--drift-depth", "0"]
    assert run_cli([*base[:3], *base[4:]]) == 2  # two SBOMs without --out-dir: usage error
    assert run_cli([*base, "--out-dir", str(out), "--no-cache"]) == 1  # c holds the invalid one
    assert index_server.count("/integrity/") == len(projects)  # each file once, for all three
    summary = json.loads((out / "summary.json").read_text())
    assert [(Path(s["sbom"]).name, s["verdict"]) for s in summary["sboms"]] == [
        ("a.json", "pass"),
        ("b.json", "pass"),
        ("c.json", "fail"),
    ]
    assert (summary["passed"], summary["failed"]) == (2, 1)
    for sbom in sboms:
        enriched = json.loads((out / sbom.name).read_text())
        assert {props(c)["bomguard:provenance:status"] for c in enriched["components"]} <= {
            "verified",
            "invalid",
        }
        verdict = json.loads((out / f"{sbom.name}.verdict.json").read_text())
        assert verdict["sbom"] == str(sbom)
    assert not list(Path(tempfile.gettempdir()).glob("bomguard-run-*"))
