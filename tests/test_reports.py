"""All four reports from one run; the HTML report in a real headless browser."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from helpers import cdx, pypi, run_cli, write_json

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
EVIL = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def reports(real_index, tmp_path, monkeypatch):
    """One enrich run writing every report, over real provenance and a hostile name."""
    server, registered = real_index
    server.add_file("cryptography", "cryptography-50.0.2.tar.gz", sha256="ab" * 32, provenance=None)
    components = [pypi(r.project, r.version) for r in registered.values()]
    components.append(pypi("cryptography", "50.0.2"))
    components.append(
        {"type": "library", "name": EVIL, "version": "1.0", "purl": "pkg:pypi/evil-pkg@1.0"}
    )
    sbom = write_json(tmp_path / "app.cdx.json", cdx(components))
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = {fmt: tmp_path / f"report.{fmt}" for fmt in ("html", "sarif", "markdown", "junit")}
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
        str(ROOT / "policies" / "trusted-publisher-critical.yaml"),
        "--policy",
        str(ROOT / "policies" / "baseline.yaml"),
    ]
    for fmt, path in out.items():
        args += ["--report", f"{fmt}:{path}"]
    code = run_cli(args)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    return code, verdict, out, summary, len(components)


def test_sarif_validates_and_has_one_result_per_violation(reports):
    code, verdict, out, _, _ = reports
    assert code == 1
    log = json.loads(out["sarif"].read_text())
    schema = json.loads((DATA / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert len(results) == len(verdict["violations"]) > 0
    rule_ids = {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in results} <= rule_ids
    assert all(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("app.cdx.json")
        for r in results
    )
    assert {r["properties"]["component"] for r in results} >= {"pkg:pypi/cryptography@50.0.2"}


def test_junit_has_a_case_per_rule_and_component(reports):
    _, verdict, out, _, n = reports
    root = ET.fromstring(out["junit"].read_bytes())
    rules = [r for p in verdict["policies"] for r in p.get("rules", [])]
    suites = root.findall("testsuite")
    assert len(suites) == len(rules)
    assert all(len(s.findall("testcase")) == n for s in suites)
    errors = [v for v in verdict["violations"] if v["severity"] == "error"]
    assert int(root.get("failures")) == len(errors)


def test_markdown_summary_and_github_step_summary(reports):
    _, _verdict, out, summary, _ = reports
    text = out["markdown"].read_text()
    assert "bomguard: fail" in text
    assert "critical-attested" in text and "cryptography" in text
    assert "<script>" not in text  # escaped
    appended = summary.read_text()
    assert appended.startswith("earlier step\n") and appended.endswith(text)


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("BOMGUARD_REQUIRE_BROWSER"),
    reason="chromium is not installed (.ci/run installs it)",
)
def test_html_report_in_a_real_headless_browser(reports, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    assert CHROMIUM, "BOMGUARD_REQUIRE_BROWSER is set but chromium is missing"
    _, verdict, out, _, n = reports
    requests, dialogs = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(out["html"].as_uri())
            page.wait_for_load_state("load")
            # Every component and every rule is in the DOM.
            rows = page.locator("#components tbody tr")
            assert rows.count() == n
            names = page.locator("#components tbody tr td:first-child").all_inner_texts()
            assert EVIL in names  # shown as text, never run
            assert dialogs == []
            assert page.locator("#components script").count() == 0
            rule_cells = page.locator("#rules tbody tr td:first-child").all_inner_texts()
            rules = {r["id"] for p_ in verdict["policies"] for r in p_.get("rules", [])}
            assert set(rule_cells) == rules
            assert page.locator("#verdict").inner_text() == "FAIL"
            # The filter and the sort work.
            page.fill("#filter", "cryptography")
            visible = [r for r in rows.all() if r.is_visible()]
            assert len(visible) == 1
            page.fill("#filter", "")
            page.click("#components thead th:nth-child(1)")
            first = page.locator("#components tbody tr td:first-child").all_inner_texts()
            assert first == sorted(first, key=str.casefold)
        finally:
            browser.close()
    # The page made no request of its own: only the file itself was loaded.
    assert requests == [out["html"].as_uri()]
