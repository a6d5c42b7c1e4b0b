"""All four reports from one run; the HTML report in a real headless browser."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
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


def _sarif_multitool() -> str | None:
    found = shutil.which("sarif-multitool")
    if found is None and os.environ.get("CI") == "true":
        pytest.fail("CI=true but sarif-multitool is missing (.ci/run installs it with npm)")
    return found


def _multitool_findings(sarif: Path, tmp_path: Path) -> list[str]:
    """What the SARIF Multitool's SARIF and GitHub rules say of a log (errors, warnings)."""
    tool = _sarif_multitool()
    if tool is None:
        pytest.skip(
            "sarif-multitool is not installed "
            "(npm install -g @microsoft/sarif-multitool; .ci/run installs it)"
        )
    out = tmp_path / "validation.sarif"
    # The npm launcher runs the tool through a shell: quote every argument for it.
    args = ["validate", "--rule-kind", "Gh;Sarif", "-o", str(out), str(sarif)]
    env = {**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1"}
    env.setdefault("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
    proc = subprocess.run(
        [tool, *(shlex.quote(a) for a in args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.exists(), f"sarif-multitool failed: {proc.stdout}{proc.stderr}"
    log = json.loads(out.read_text(encoding="utf-8-sig"))
    findings = []
    for run in log["runs"]:
        rules = {r["id"]: r for r in run["tool"]["driver"].get("rules", [])}
        for r in run.get("results", []):
            if r.get("level", "warning") not in ("error", "warning"):
                continue
            message = r["message"]
            strings = rules.get(r["ruleId"], {}).get("messageStrings", {})
            text = message.get("text") or strings.get(message.get("id"), {}).get("text", "")
            findings.append(f"{r['ruleId']}: {text} {message.get('arguments', [])}")
    return findings


def test_sarif_passes_the_sarif_multitool_github_rules(reports, tmp_path):
    _, _, out, _, _ = reports
    assert _multitool_findings(out["sarif"], tmp_path) == []
    log = json.loads(out["sarif"].read_text())
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(r["help"]["text"] and r["name"] != r["id"] for r in rules)
    severities = {r["id"]: r["properties"]["security-severity"] for r in rules}
    assert severities["critical-attested"] == "8.0"
    assert all("security" in r["properties"]["tags"] for r in rules)


def test_sarif_locates_each_finding_in_the_sbom_relative_to_the_checkout(
    real_index, tmp_path, monkeypatch
):
    server, registered = real_index
    server.add_file("cryptography", "cryptography-50.0.2.tar.gz", sha256="ab" * 32, provenance=None)
    components = [pypi(r.project, r.version) for r in registered.values()]
    components.append(pypi("cryptography", "50.0.2"))
    (tmp_path / "sboms").mkdir()
    sbom = write_json(tmp_path / "sboms" / "app.cdx.json", cdx(components))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    args = ["enrich", "sboms/app.cdx.json", "-o", "out.json", "--no-cache"]
    args += ["--index-url", server.index_url, "--trust-root", "embedded"]
    args += ["--policy", str(ROOT / "policies" / "trusted-publisher-critical.yaml")]
    assert run_cli([*args, "--report", "sarif:report.sarif"]) == 1
    log = json.loads((tmp_path / "report.sarif").read_text())
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    [result] = [r for r in run["results"] if r["ruleId"] == "critical-attested"]
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "sboms/app.cdx.json"
    assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    line = sbom.read_text().splitlines()[physical["region"]["startLine"] - 1]
    start, end = physical["region"]["startColumn"], physical["region"]["endColumn"]
    assert line[start - 1 : end - 1] == "pkg:pypi/cryptography@50.0.2"
    assert _multitool_findings(tmp_path / "report.sarif", tmp_path) == []


def test_junit_has_a_case_per_rule_and_component(reports):
    _, verdict, out, _, n = reports
    root = ET.fromstring(out["junit"].read_bytes())
    rules = [r for p in verdict["policies"] for r in p.get("rules", [])]
    suites = root.findall("testsuite")
    assert len(suites) == len(rules)
    assert all(len(s.findall("testcase")) == n for s in suites)
    # Every violation is a failing case, warnings included (typed by severity).
    assert int(root.get("failures")) == len(verdict["violations"])
    types = sorted(f.get("type") for f in root.iter("failure"))
    assert types == sorted(v["severity"] for v in verdict["violations"])


SBOM_RULE_POLICY = """\
apiVersion: bomguard/v1
kind: Policy
metadata:
  name: coverage
rules:
  - id: full-coverage
    scope: sbom
    description: Every PyPI component is attested
    require: sbom.coverage.overall >= 1.0
    message: "{verified} of {pypi} PyPI components are verified"
"""


def test_junit_fails_on_an_sbom_scope_rule(real_index, tmp_path):
    server, registered = real_index
    server.add_file("cryptography", "cryptography-50.0.2.tar.gz", sha256="ab" * 32, provenance=None)
    components = [pypi(r.project, r.version) for r in registered.values()]
    components.append(pypi("cryptography", "50.0.2"))
    sbom = write_json(tmp_path / "app.cdx.json", cdx(components))
    policy = tmp_path / "coverage.yaml"
    policy.write_text(SBOM_RULE_POLICY)
    junit = tmp_path / "report.xml"
    args = ["enrich", str(sbom), "-o", str(tmp_path / "out.json"), "--no-cache"]
    args += ["--index-url", server.index_url, "--trust-root", "embedded"]
    args += ["--policy", str(policy), "--report", f"junit:{junit}"]
    assert run_cli(args) == 1
    root = ET.fromstring(junit.read_bytes())
    assert root.get("failures") == "1"
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "coverage/full-coverage"
    [case] = suite.findall("testcase")
    assert case.get("name") == "(sbom)"
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "error"
    assert f"of {len(components)} PyPI components are verified" in (failure.text or "")


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


def test_markdown_code_span_shows_the_sbom_path_as_it_is(tmp_path):
    """GitHub shows a code span literally: no backslash escapes inside it."""
    from markdown_it import MarkdownIt

    npm = {"type": "library", "name": "left-pad", "purl": "pkg:npm/left-pad@1.0.0"}
    sbom = write_json(tmp_path / "big_datasci`v2`*x*.cdx.json", cdx([npm]))
    report = tmp_path / "summary.md"
    args = ["enrich", str(sbom), "-o", str(tmp_path / "out.json"), "--trust-root", "embedded"]
    assert run_cli([*args, "--report", f"markdown:{report}"]) == 0
    html = MarkdownIt("commonmark").enable("table").render(report.read_text())
    assert f"<code>{sbom}</code>" in html
