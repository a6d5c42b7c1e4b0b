"""Provenance acquisition against the loopback index: cache, mirror, faults, credentials."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from helpers import cdx, file_statuses, props, pypi, run_cli, write_json
from indexserver import IndexServer, add_dist
from storerows import Rows

import bomguard
from bomguard.index import IndexOptions, ReleaseRequest, fetch_releases

EMBEDDED = ["--trust-root", "embedded"]
DATA = Path(__file__).parent / "data"


def _run(server_or_url, tmp_path, doc, *extra, name="out.json"):
    url = server_or_url if isinstance(server_or_url, str) else server_or_url.index_url
    sbom = write_json(tmp_path / "in.json", doc)
    out = tmp_path / name
    code = run_cli(["enrich", str(sbom), "-o", str(out), "--index-url", url, *EMBEDDED, *extra])
    return code, (json.loads(out.read_text()) if out.exists() else None)


def _statuses(doc):
    return {c["purl"]: props(c).get("bomguard:provenance:status") for c in doc["components"]}


def _all_real(registered):
    return cdx(pypi(r.project, r.version) for r in registered.values())


def test_warm_cache_makes_no_provenance_requests(real_index, tmp_path):
    server, registered = real_index
    cache = ["--cache-dir", str(tmp_path / "cache")]
    doc = _all_real(registered)
    _, cold = _run(server, tmp_path, doc, *cache)
    assert server.count("/integrity/") == len(registered)
    server.reset_log()
    _, warm = _run(server, tmp_path, doc, *cache, name="warm.json")
    assert server.count("/integrity/") == 0
    # Pages are revalidated, not trusted blindly: each is asked for once, conditionally.
    page_requests = [r for r in server.requests if r.path.startswith("/simple/")]
    assert page_requests
    assert all("if-none-match" in r.headers for r in page_requests)
    assert _statuses(cold) == _statuses(warm)
    assert set(_statuses(warm).values()) == {"verified"}


def test_changed_page_is_seen_through_the_cache(index_server, data_dir, tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    add_dist(index_server, data_dir, "sampleproject-4.0.0-py3-none-any.whl", provenance=None)
    doc = cdx([pypi("sampleproject", "4.0.0")])
    _, first = _run(index_server, tmp_path, doc, *cache)
    assert _statuses(first) == {"pkg:pypi/sampleproject@4.0.0": "absent"}
    # The index now stops advertising PEP 740 for the file: a stale cache must not hide it.
    add_dist(index_server, data_dir, "sampleproject-4.0.0-py3-none-any.whl", provenance_key=False)
    _, second = _run(index_server, tmp_path, doc, *cache)
    assert _statuses(second) == {"pkg:pypi/sampleproject@4.0.0": "unknown"}


def test_corrupt_cache_entries_are_refetched_never_trusted(real_index, tmp_path):
    server, _ = real_index
    cache_dir = tmp_path / "cache"
    doc = cdx([pypi("sigstore", "3.6.1")])
    _run(server, tmp_path, doc, "--cache-dir", str(cache_dir))
    with Rows(cache_dir) as rows:
        key, data = rows.entry("provenance")
        body = bytearray(base64.b64decode(data["body"]))
        body[200] ^= 0x01  # a flipped byte: the recorded digest no longer matches
        rows.put("provenance", key, {**data, "body": base64.b64encode(bytes(body)).decode()})
        for key, _, _ in rows.entries("pages"):
            rows.sql("UPDATE entries SET meta = substr(meta, 1, 50) WHERE key = ?", (key,))
    server.reset_log()
    _, out = _run(server, tmp_path, doc, "--cache-dir", str(cache_dir))
    assert server.count("/integrity/") == 1
    assert _statuses(out) == {"pkg:pypi/sigstore@3.6.1": "verified"}


def test_no_cache_fetches_every_time(real_index, tmp_path):
    server, _ = real_index
    doc = cdx([pypi("sigstore", "3.6.1")])
    for _ in range(2):
        _run(server, tmp_path, doc, "--no-cache")
    assert server.count("/integrity/") == 2
    assert not (Path.home() / ".cache" / "bomguard").exists()


def test_offline_mirror_gives_the_same_statuses_with_no_network(real_index, data_dir, tmp_path):
    server, registered = real_index
    add_dist(server, data_dir, "rfc8785-0.1.2-py3-none-any.whl", provenance=None)
    doc = _all_real(registered)
    doc["components"].append(pypi("rfc8785", "0.1.2"))
    doc["components"].append(pypi("not-on-the-index", "1.0"))
    _, online = _run(server, tmp_path, doc, "--no-cache")
    sbom = tmp_path / "in.json"
    mirror = tmp_path / "mirror"
    code = run_cli(["fetch", str(sbom), "--into", str(mirror), "--index-url", server.index_url])
    assert code == 3  # not-on-the-index: a partial mirror is an error unless allowed
    code = run_cli(
        [
            "fetch",
            str(sbom),
            "--into",
            str(mirror),
            "--index-url",
            server.index_url,
            "--allow-partial",
        ]
    )
    assert code == 0
    manifest = json.loads((mirror / "manifest.json").read_text())
    assert manifest["format"] == "bomguard-mirror/1"
    assert "simple/sigstore/index.json" in manifest["files"]
    server.close()  # nothing may be fetched from here on
    _, offline = _run(
        "http://127.0.0.1:9/simple/", tmp_path, doc, "--mirror", str(mirror), name="off.json"
    )
    assert _statuses(offline) == _statuses(online)
    assert _statuses(online)["pkg:pypi/not-on-the-index@1.0"] == "unknown"
    assert _statuses(online)["pkg:pypi/rfc8785@0.1.2"] == "absent"
    # A tampered mirror file is refused through the manifest.
    target = mirror / "provenance" / "sigstore-3.6.1.tar.gz.json"
    target.write_bytes(target.read_bytes() + b"\n")  # still valid JSON, but not what was mirrored
    _, tampered = _run(
        "http://127.0.0.1:9/simple/", tmp_path, doc, "--mirror", str(mirror), name="t.json"
    )
    comp = next(c for c in tampered["components"] if c["purl"] == "pkg:pypi/sigstore@3.6.1")
    assert props(comp)["bomguard:provenance:status"] == "unknown"
    assert "does not match its manifest" in props(comp)["bomguard:provenance:reason"]


def test_shipped_example_mirror_works_offline(tmp_path):
    root = Path(__file__).parent.parent / "examples"
    out = tmp_path / "out.json"
    code = run_cli(
        [
            "enrich",
            str(root / "app.cdx.json"),
            "--mirror",
            str(root / "mirror"),
            "--trust-root",
            "embedded",
            "-o",
            str(out),
            "--policy",
            str(root.parent / "policies" / "baseline.yaml"),
        ]
    )
    assert code == 0
    statuses = _statuses(json.loads(out.read_text()))
    assert statuses["pkg:pypi/sigstore@3.6.1"] == "verified"
    assert statuses["pkg:pypi/sampleproject@4.0.0"] == "verified"


def test_credentials_go_to_the_index_only_and_never_leak(real_index, tmp_path, capsys):
    server, _ = real_index
    other = IndexServer().start()
    try:
        other.add_file("elsewhere", "elsewhere-1.0.tar.gz", sha256="aa" * 32, provenance=b"{}")
        server.add_file(
            "elsewhere",
            "elsewhere-1.0.tar.gz",
            sha256="aa" * 32,
            provenance_url=other.provenance_url("elsewhere", "1.0", "elsewhere-1.0.tar.gz"),
        )
        secret = "s3cr3t-Passw0rd"
        url = server.index_url.replace("http://", f"http://alice:{secret}@")
        doc = cdx([pypi("sigstore", "3.6.1"), pypi("elsewhere", "1.0")])
        sbom = write_json(tmp_path / "in.json", doc)
        out, verdict = tmp_path / "out.json", tmp_path / "verdict.json"
        code = run_cli(
            [
                "enrich",
                str(sbom),
                "-o",
                str(out),
                "--verdict",
                str(verdict),
                "--index-url",
                url,
                "-v",
                *EMBEDDED,
            ]
        )
        assert code == 0
        expected = "Basic " + base64.b64encode(f"alice:{secret}".encode()).decode()
        assert server.requests
        assert all(r.headers.get("authorization") == expected for r in server.requests)
        # The off-origin provenance URL was refused and never contacted.
        assert other.count("/") == 0
        statuses = _statuses(json.loads(out.read_text()))
        assert statuses["pkg:pypi/elsewhere@1.0"] == "unknown"
        captured = capsys.readouterr()
        for text in (captured.out, captured.err, out.read_text(), verdict.read_text()):
            assert secret not in text
            assert "alice:" not in text
        assert "not on the index's origin" in out.read_text()
        # Allowing that host lets the fetch through (and the credentials still stay home).
        code = run_cli(
            [
                "enrich",
                str(sbom),
                "-o",
                str(out),
                "--index-url",
                url,
                "--allow-provenance-host",
                "127.0.0.1",
                *EMBEDDED,
            ]
        )
        assert other.count("/integrity/") == 1
        assert all("authorization" not in r.headers for r in other.requests)
    finally:
        other.close()


def test_netrc_credentials_are_used(real_index, tmp_path, monkeypatch):
    server, _ = real_index
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login bob password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    _run(server, tmp_path, cdx([pypi("sigstore", "3.6.1")]), "--no-cache")
    expected = "Basic " + base64.b64encode(b"bob:hunter2").decode()
    assert all(r.headers.get("authorization") == expected for r in server.requests)


def test_slow_and_reset_connections_are_unknown(real_index, tmp_path):
    server, _ = real_index
    server.fault("/integrity/sigstore/", delay=3.0)
    server.fault("/integrity/pypi-attestations/", reset=True)
    doc = cdx([pypi("sigstore", "3.6.1"), pypi("pypi-attestations", "0.0.19")])
    _, out = _run(
        server,
        tmp_path,
        doc,
        "--no-cache",
        "--timeout",
        "0.3",
        "--retries",
        "1",
        "--drift-depth",
        "0",
    )
    comps = {c["name"]: props(c) for c in out["components"]}
    assert comps["sigstore"]["bomguard:provenance:status"] == "unknown"
    assert "timed out" in comps["sigstore"]["bomguard:provenance:reason"]
    assert comps["pypi-attestations"]["bomguard:provenance:status"] == "unknown"
    assert "connection failed" in comps["pypi-attestations"]["bomguard:provenance:reason"]
    assert server.count("/integrity/pypi-attestations/") == 2  # the first try and one retry


def test_retry_after_is_honoured_then_succeeds(real_index, tmp_path):
    server, _ = real_index
    server.fault("/simple/sigstore/", status=429, times=1, headers={"Retry-After": "1"})
    server.fault("/integrity/sigstore/", reset=True, times=1)
    _, out = _run(server, tmp_path, cdx([pypi("sigstore", "3.6.1")]), "--no-cache")
    assert _statuses(out) == {"pkg:pypi/sigstore@3.6.1": "verified"}
    assert server.count("/simple/sigstore/") == 2
    assert server.count("/integrity/sigstore/") == 2


def test_html_pages_with_data_provenance_are_understood(real_index, tmp_path):
    server, registered = real_index
    reg = registered["sigstore-3.6.1.tar.gz"]
    html = (
        "<!DOCTYPE html><html><body>"
        f'<a href="../../files/{reg.filename}#sha256={reg.sha256}" '
        f'data-provenance="{reg.provenance_url}">{reg.filename}</a>'
        '<a href="../../files/sigstore-3.6.1-py3-none-any.whl#sha256=' + "bc" * 32 + '">w</a>'
        "</body></html>"
    ).encode()
    server.fault("/simple/sigstore/", body=html, headers={"Content-Type": "text/html"})
    _, out = _run(server, tmp_path, cdx([pypi("sigstore", "3.6.1")]), "--no-cache")
    files = file_statuses(out["components"][0])
    # The sdist is verified; the wheel has no data-provenance attribute: not PEP 740 → unknown.
    assert files["sigstore-3.6.1.tar.gz"] == "verified"
    assert files["sigstore-3.6.1-py3-none-any.whl"] == "unknown"


def test_redirects_off_the_index_origin_are_refused(real_index, tmp_path):
    server, _ = real_index
    other = IndexServer().start()
    try:
        server.fault(
            "/simple/sigstore/", status=302, headers={"Location": other.project_url("sigstore")}
        )
        _, out = _run(server, tmp_path, cdx([pypi("sigstore", "3.6.1")]), "--no-cache")
        p = props(out["components"][0])
        assert p["bomguard:provenance:status"] == "unknown"
        assert "redirected off the index's origin" in p["bomguard:provenance:reason"]
        assert other.count("/") == 0
    finally:
        other.close()


def test_size_caps_and_non_json_bodies(real_index):
    server, _ = real_index
    request = ReleaseRequest("sigstore", "3.6.1")
    capped = fetch_releases(
        [request], IndexOptions(index_url=server.index_url, max_provenance_bytes=1000)
    )[request]
    assert capped.files[0].state.value == "unknown"
    assert "1000-byte limit" in capped.files[0].reason
    server.fault("/integrity/sigstore/", body=b"<html>oops</html>")
    garbled = fetch_releases([request], IndexOptions(index_url=server.index_url))[request]
    assert garbled.files[0].state.value == "unknown"
    assert "not JSON" in garbled.files[0].reason


def test_one_page_fetch_per_project(real_index, tmp_path):
    server, _ = real_index
    doc = cdx(
        [
            pypi("pypi-attestations", "0.0.16"),
            pypi("pypi-attestations", "0.0.19"),
            pypi("pypi_attestations", "0.0.19"),
        ]
    )
    _, out = _run(server, tmp_path, doc, "--no-cache")
    assert set(_statuses(out).values()) == {"verified"}
    assert server.count("/simple/pypi-attestations/") == 1


@pytest.mark.parametrize("qualified", [True, False])
def test_repository_url_qualifier_needs_an_allowed_index(real_index, tmp_path, qualified):
    server, _ = real_index
    other = IndexServer().start()
    try:
        add_dist(other, DATA, "rfc8785-0.1.2-py3-none-any.whl", provenance=None)
        purl = f"pkg:pypi/rfc8785@0.1.2?repository_url={other.index_url}"
        comp = {"type": "library", "name": "rfc8785", "version": "0.1.2", "purl": purl}
        extra = ["--extra-index-url", other.index_url] if qualified else []
        _, out = _run(server, tmp_path, cdx([comp]), "--no-cache", *extra)
        p = props(out["components"][0])
        if qualified:
            assert p["bomguard:provenance:status"] == "absent"
            assert other.count("/simple/rfc8785/") == 1
        else:
            assert p["bomguard:provenance:status"] == "unknown"
            assert "--extra-index-url" in p["bomguard:provenance:reason"]
            assert other.count("/") == 0
    finally:
        other.close()


def test_library_fetch_and_mirror(real_index, tmp_path):
    server, _ = real_index
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sigstore", "3.6.1")]))
    options = bomguard.EnrichOptions(index=IndexOptions(index_url=server.index_url))
    from bomguard.pipeline import fetch

    counts = fetch(sbom, tmp_path / "m", options)
    assert counts == {"releases": 1, "files": 1, "provenance": 1, "unknown": 0, "failed": []}


def test_concurrent_runs_share_a_cache_safely(real_index, tmp_path):
    import os
    import subprocess
    import sys

    server, registered = real_index
    sbom = write_json(tmp_path / "in.json", _all_real(registered))
    cache = tmp_path / "shared-cache"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}

    def start(n):
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bomguard",
                "enrich",
                str(sbom),
                "-o",
                str(tmp_path / f"o{n}.json"),
                "--index-url",
                server.index_url,
                "--trust-root",
                "embedded",
                "--cache-dir",
                str(cache),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )

    runs = [start(n) for n in range(3)]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    statuses = [_statuses(json.loads((tmp_path / f"o{n}.json").read_text())) for n in range(3)]
    assert statuses[0] == statuses[1] == statuses[2]
    assert set(statuses[0].values()) == {"verified"}
    assert not list(cache.rglob(".tmp-*"))  # no half-written entry left behind
    server.reset_log()
    _, warm = _run(
        server, tmp_path, _all_real(registered), "--cache-dir", str(cache), name="w.json"
    )
    assert server.count("/integrity/") == 0
    assert _statuses(warm) == statuses[0]


def test_pages_fresh_by_cache_control_are_not_asked_again(real_index, tmp_path):
    server, _ = real_index
    cache = ["--cache-dir", str(tmp_path / "cache")]
    doc = cdx([pypi("sigstore", "3.6.1")])
    server.fault("/simple/sigstore/", headers={"Cache-Control": "max-age=600, public"})
    _, first = _run(server, tmp_path, doc, *cache, "--drift-depth", "0")
    server.reset_log()
    _, second = _run(server, tmp_path, doc, *cache, "--drift-depth", "0", name="again.json")
    assert server.requests == []  # fresh page, cached provenance: nothing to ask
    assert _statuses(second) == _statuses(first) == {"pkg:pypi/sigstore@3.6.1": "verified"}
    # no-cache (or no Cache-Control at all) means: revalidate every time.
    server.clear_faults()
    server.fault("/simple/sigstore/", headers={"Cache-Control": "no-cache"})
    cache_dir = tmp_path / "cache2"
    for _ in range(2):
        _run(server, tmp_path, doc, "--cache-dir", str(cache_dir), "--drift-depth", "0")
    assert server.count("/simple/sigstore/") == 2


def test_a_partial_mirror_is_an_error_unless_allowed(real_index, tmp_path, capsys):
    server, _ = real_index
    missing = [pypi(f"not-on-the-index-{i}", "1.0") for i in range(7)]
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sigstore", "3.6.1"), *missing]))
    mirror = tmp_path / "mirror"
    args = ["fetch", str(sbom), "--into", str(mirror), "--index-url", server.index_url]
    assert run_cli(args) == 3
    err = capsys.readouterr().err
    assert "7 could not be fetched" in err
    error = next(line for line in err.splitlines() if line.startswith("bomguard: error:"))
    assert "partial" in error and "not-on-the-index-0==1.0" in error
    assert "not-on-the-index-6" not in error  # the first few, not all
    assert "--allow-partial" in err
    assert run_cli([*args, "--allow-partial"]) == 0
    assert (mirror / "manifest.json").exists()
