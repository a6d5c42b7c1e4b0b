"""The dependency graph and download-rank criticality through the CLI, as a user runs it.

A real loopback index serves real provenance; the shipped ``critical-graph`` policy judges
an SBOM whose graph puts an unattested, top-ranked project at the top level and an
unattested, unranked one below a verified dependency. ``bomguard data refresh`` is run
against a loopback HTTP server.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import cdx, props, pypi, run_cli, walk, write_json

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "critical-graph.yaml"
DEEP = "bomguard-test-deeplib"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BUILTIN = json.loads((ROOT / "src/bomguard/data/top-pypi-projects.json").read_text())


def _sbom(registered: dict[str, Any], *, graph: bool = True) -> dict[str, Any]:
    components = [pypi(r.project, r.version) for r in registered.values()]
    components += [pypi("cryptography", "50.0.2"), pypi(DEEP, "1.0")]
    doc = cdx(components)
    doc["metadata"]["component"] = {"type": "application", "name": "app", "bom-ref": "app"}
    if graph:
        refs = [c["bom-ref"] for c in components]
        sigstore = next(r for r in refs if "/sigstore@" in r)
        sample = next(r for r in refs if "/sampleproject@" in r)
        deep = f"pkg:pypi/{DEEP}@1.0"
        direct = [r for r in refs if r not in (sample, deep)]
        doc["dependencies"] = [
            {"ref": "app", "dependsOn": direct},
            {"ref": sigstore, "dependsOn": [sample, deep]},
            {"ref": deep, "dependsOn": ["pkg:pypi/cryptography@50.0.2"]},
        ]
    return doc


def _enrich(server: Any, tmp_path: Path, doc: dict[str, Any], *extra: str) -> dict[str, Any]:
    sbom = write_json(tmp_path / "app.cdx.json", doc)
    out = {fmt: tmp_path / f"report.{fmt}" for fmt in ("html", "sarif", "markdown")}
    args = [
        "enrich",
        str(sbom),
        "-o",
        str(tmp_path / "out.json"),
        "--verdict",
        str(tmp_path / "verdict.json"),
        "--index-url",
        server.index_url,
        "--trust-root",
        "embedded",
        "--no-cache",
        "--policy",
        str(POLICY),
        *extra,
    ]
    for fmt, path in out.items():
        args += ["--report", f"{fmt}:{path}"]
    code = run_cli(args)
    result: dict[str, Any] = {"code": code, "reports": out}
    if (tmp_path / "verdict.json").exists():
        result["verdict"] = json.loads((tmp_path / "verdict.json").read_text())
        result["sbom"] = json.loads((tmp_path / "out.json").read_text())
    return result


def _found(verdict: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (v["rule"], v["component"].split("@")[0].removeprefix("pkg:pypi/"), v["severity"])
        for v in verdict["violations"]
    }


@pytest.fixture
def graph_index(real_index: Any) -> Any:
    server, registered = real_index
    server.add_file("cryptography", "cryptography-50.0.2.tar.gz", sha256="ab" * 32, provenance=None)
    server.add_file(DEEP, f"{DEEP.replace('-', '_')}-1.0.tar.gz", sha256="cd" * 32, provenance=None)
    return server, registered


def test_direct_and_top_ranked_must_be_verified_transitive_only_warns(
    graph_index: Any, tmp_path: Path
) -> None:
    server, registered = graph_index
    run = _enrich(server, tmp_path, _sbom(registered))
    assert run["code"] == 1
    assert _found(run["verdict"]) == {
        ("direct-trusted-publisher", "cryptography", "error"),
        ("critical-trusted-publisher", "cryptography", "error"),
        ("transitive-unattested", DEEP, "warning"),
    }
    # Which snapshot judged criticality (cryptography is ranked 11 in it).
    record = run["verdict"]["criticality"]
    assert record["sha256"] == BUILTIN["sha256"] and record["date"] == "2026-10"
    # The enriched SBOM says where each PyPI component sits; nothing for what it cannot say.
    by_name = {c["name"]: props(c) for c in walk(run["sbom"])}
    assert by_name[DEEP]["bomguard:graph:depth"] == "2"
    assert by_name[DEEP]["bomguard:graph:direct"] == "false"
    assert by_name[DEEP]["bomguard:graph:path"] == f"app > sigstore > {DEEP}"
    assert by_name["cryptography"]["bomguard:graph:direct"] == "true"
    assert by_name["cryptography"]["bomguard:graph:dependents"] == "2"
    assert by_name["cryptography"]["bomguard:download-rank"] == "11"
    assert "bomguard:download-rank" not in by_name[DEEP]
    assert by_name["sampleproject"]["bomguard:graph:depth"] == "2"
    # Markdown and SARIF name the path from the root of each finding.
    markdown = run["reports"]["markdown"].read_text().replace("\\", "")  # unescaped
    assert f"| transitive-unattested | pkg:pypi/{DEEP}@1.0 |" in markdown
    assert f"app > sigstore > {DEEP} |" in markdown
    sarif = json.loads(run["reports"]["sarif"].read_text())
    paths = {r["ruleId"]: r["properties"]["dependencyPath"] for r in sarif["runs"][0]["results"]}
    assert paths["transitive-unattested"] == f"app > sigstore > {DEEP}"
    assert paths["direct-trusted-publisher"] == "app > cryptography"
    texts = [r["message"]["text"] for r in sarif["runs"][0]["results"]]
    assert any(t.endswith(f"(path from the root: app > sigstore > {DEEP})") for t in texts)


def test_without_a_graph_nothing_is_called_direct_and_the_sbom_rule_warns(
    graph_index: Any, tmp_path: Path
) -> None:
    server, registered = graph_index
    run = _enrich(server, tmp_path, _sbom(registered, graph=False))
    assert run["code"] == 1  # cryptography is still top-ranked
    assert _found(run["verdict"]) == {
        ("critical-trusted-publisher", "cryptography", "error"),
        ("graph-stated", "(sbom)", "warning"),
    }
    for component in walk(run["sbom"]):
        assert not any(k.startswith("bomguard:graph:") for k in props(component)), component


class _ListServer:
    """A loopback HTTP server answering every GET with one body."""

    def __init__(self, body: bytes, content_type: str = "text/tab-separated-values") -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.body = body
        self.requests = 0
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/top-pypi-projects.tsv"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def list_server() -> Iterator[_ListServer]:
    body = f"rank\tproject\n1\tboto3\n2\tpackaging\n7\t{DEEP.upper()}\n".encode()
    server = _ListServer(body)
    yield server
    server.close()


def test_data_refresh_replaces_the_snapshot_that_judges_criticality(
    graph_index: Any,
    list_server: _ListServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("BOMGUARD_DATA_DIR", str(data_dir))
    assert run_cli(["data", "refresh", "--url", list_server.url]) == 0
    assert list_server.requests == 1
    assert "3 projects" in capsys.readouterr().err
    stored = (data_dir / "top-pypi-projects.tsv").read_bytes()
    server, registered = graph_index
    run = _enrich(server, tmp_path, _sbom(registered))
    # Ranked 7 now, the deep dependency is critical; cryptography is no longer ranked.
    assert _found(run["verdict"]) == {
        ("direct-trusted-publisher", "cryptography", "error"),
        ("critical-trusted-publisher", DEEP, "error"),
    }
    record = run["verdict"]["criticality"]
    assert record["source"] == list_server.url
    assert record["sha256"] == hashlib.sha256(stored).hexdigest() != BUILTIN["sha256"]
    assert record["projects"] == 3


def test_data_refresh_reads_the_top_pypi_packages_json_too(tmp_path: Path) -> None:
    rows = {"last_update": "2026-10-31", "rows": [{"project": "Foo_Bar", "download_count": 9}]}
    server = _ListServer(json.dumps(rows).encode(), "application/json")
    try:
        code = run_cli(["data", "refresh", "--url", server.url, "--data-dir", str(tmp_path)])
    finally:
        server.close()
    assert code == 0
    assert (tmp_path / "top-pypi-projects.tsv").read_text() == "rank\tproject\n1\tfoo-bar\n"


def test_data_refresh_offline_fails_clearly_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/top.tsv"
    code = run_cli(["data", "refresh", "--url", url, "--data-dir", str(tmp_path / "d")])
    assert code == 3
    err = capsys.readouterr().err
    assert f"cannot download the download ranks from {url}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "d").exists()


def test_data_refresh_refuses_what_is_not_a_list(tmp_path: Path) -> None:
    server = _ListServer(b"<html>rate limited</html>", "text/html")
    try:
        code = run_cli(["data", "refresh", "--url", server.url, "--data-dir", str(tmp_path)])
    finally:
        server.close()
    assert code == 2
    assert list(tmp_path.iterdir()) == []


def test_a_tampered_snapshot_is_refused(
    graph_index: Any,
    list_server: _ListServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("BOMGUARD_DATA_DIR", str(data_dir))
    assert run_cli(["data", "refresh", "--url", list_server.url]) == 0
    snapshot = data_dir / "top-pypi-projects.tsv"
    snapshot.write_text(snapshot.read_text().replace(f"7\t{DEEP}", "7\tcryptography"))
    server, registered = graph_index
    run = _enrich(server, tmp_path, _sbom(registered))
    assert run["code"] == 2
    assert f"{snapshot}: sha256" in capsys.readouterr().err


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("BOMGUARD_REQUIRE_BROWSER"),
    reason="chromium is not installed (.ci/run installs it)",
)
def test_html_dependency_view_in_a_real_headless_browser(graph_index: Any, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    assert CHROMIUM, "BOMGUARD_REQUIRE_BROWSER is set but chromium is missing"
    server, registered = graph_index
    run = _enrich(server, tmp_path, _sbom(registered))
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(run["reports"]["html"].as_uri())
            page.wait_for_load_state("load")
            # Unattested, by blast radius: above the component table, most dependents first.
            blast = page.locator("#blast-radius tbody tr")
            assert blast.count() == 2
            first = blast.nth(0).inner_text()
            assert first.startswith("cryptography@50.0.2") and "critical" in first
            assert "direct" in first and "app > cryptography" in first
            assert DEEP in blast.nth(1).inner_text()
            top = page.locator("#blast-radius").bounding_box()
            table = page.locator("#components").bounding_box()
            assert top is not None and table is not None and top["y"] < table["y"]
            # The tree: every top-level dependency under the root, coloured by status.
            tree = page.locator("#dependency-tree")
            root = tree.locator("li").first
            assert root.locator("summary").first.inner_text().startswith("app")
            deep = tree.locator("li", has_text=DEEP).last
            assert deep.get_attribute("data-status") == "absent"
            assert deep.is_visible()
            colour = deep.locator(".node-status").first.evaluate("e => getComputedStyle(e).color")
            assert colour == "rgb(110, 119, 129)"  # absent's grey
            # Folding sigstore hides what sits below it.
            tree.locator("summary", has_text="sigstore@3.6.1").first.click()
            assert not deep.is_visible()
            crypto = tree.locator("li[data-status=absent]", has_text="cryptography@50.0.2").first
            assert crypto.locator(".badge.critical").count() == 1
            assert crypto.locator(".badge.direct").count() == 1
            assert DEEP in page.locator("#criticality").inner_text() or (
                BUILTIN["sha256"] in page.locator("#criticality").inner_text()
            )
        finally:
            browser.close()
    assert requests == [run["reports"]["html"].as_uri()]
