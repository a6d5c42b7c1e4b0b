"""The HTML report as an auditor reads it, in a real headless Chromium at 1400 px and 400 px.

Two runs through the CLI: one that fails (a critical component without provenance, a
hostile name, an sbom-scope finding) and one that passes with 160+ warnings. Each page
is loaded from disk under its strict CSP and checked for what a reader sees: the state,
problems first and highlighted, links to the source, one reason per row, no sideways
scroll, readable wrapping, paging with counts, and no request of its own.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import cdx, pypi, run_cli, write_json

ROOT = Path(__file__).parent.parent
EVIL = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTHS = (1400, 400)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("BOMGUARD_REQUIRE_BROWSER"),
    reason="chromium is not installed (.ci/run installs it)",
)

SBOM_RULES = """\
apiVersion: bomguard/v1
kind: Policy
metadata:
  name: sbom-wide
rules:
  - id: sbom-most-attested
    scope: sbom
    severity: warning
    description: Most PyPI components are attested
    require: sbom.coverage.overall >= 0.9
    message: "only {verified} of {pypi} PyPI components are verified"
"""


def _enrich(tmp_path: Path, server: Any, components: list[dict[str, Any]], *policies: Path) -> Any:
    sbom = write_json(tmp_path / "app.cdx.json", cdx(components))
    html = tmp_path / "report.html"
    args = ["enrich", str(sbom), "-o", str(tmp_path / "out.json")]
    args += ["--verdict", str(tmp_path / "verdict.json"), "--report", f"html:{html}"]
    args += ["--index-url", server.index_url, "--trust-root", "embedded", "--no-cache"]
    for policy in policies:
        args += ["--policy", str(policy)]
    code = run_cli(args)
    return code, json.loads((tmp_path / "verdict.json").read_text()), html


@pytest.fixture
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    assert CHROMIUM, "BOMGUARD_REQUIRE_BROWSER is set but chromium is missing"
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
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
            yield b
        finally:
            b.close()


def _open(browser: Any, html: Path, width: int) -> tuple[Any, list[str], list[str]]:
    requests: list[str] = []
    dialogs: list[str] = []
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    return page, requests, dialogs


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def _lines(page: Any, selector: str) -> list[float]:
    """How many text lines each matching element takes."""
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => e.getBoundingClientRect().height / "
        "parseFloat(getComputedStyle(e).lineHeight || 16))",
    )


def row_repo(row: Any) -> str:
    """The repository link of a verified row (the certificate's source repository)."""
    href = row.locator("td").nth(3).locator("a").first.get_attribute("href") or ""
    assert href.startswith("https://"), href
    return href


def _screenshot(page: Any, tmp_path: Path, name: str, full_page: bool = True) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=full_page)
    assert shot.stat().st_size > 10_000
    if os.environ.get("BOMGUARD_UPDATE_SCREENSHOT"):
        shutil.copy(shot, ROOT / "docs" / name)


@pytest.fixture
def failing(real_index, tmp_path):
    server, registered = real_index
    server.add_file("cryptography", "cryptography-50.0.2.tar.gz", sha256="ab" * 32, provenance=None)
    components = [pypi(r.project, r.version) for r in registered.values()]
    components += [
        pypi("cryptography", "50.0.2"),
        {"type": "library", "name": EVIL, "version": "1.0", "purl": "pkg:pypi/evil-pkg@1.0"},
    ]
    policy = tmp_path / "sbom-wide.yaml"
    policy.write_text(SBOM_RULES)
    code, verdict, html = _enrich(
        tmp_path,
        server,
        components,
        ROOT / "policies" / "trusted-publisher-critical.yaml",
        ROOT / "policies" / "baseline.yaml",
        policy,
    )
    assert code == 1
    return verdict, html, registered, len(components)


def test_a_failing_report_puts_problems_first(failing, browser, tmp_path):
    for width in WIDTHS:
        _check_failing(browser, failing, tmp_path, width)


def _check_failing(browser: Any, failing: Any, tmp_path: Path, width: int) -> None:
    verdict, html, registered, n = failing
    page, requests, dialogs = _open(browser, html, width)
    assert page.locator("#verdict").inner_text() == "FAIL"
    assert "critical-attested (1)" in page.locator("#why").inner_text()
    # sbom-scope findings are shown, before the tables.
    sbom_msgs = [v["message"] for v in verdict["violations"] if v["component"] == "(sbom)"]
    assert sbom_msgs and all(m in page.locator("#sbom-findings").inner_text() for m in sbom_msgs)
    # The component failing a rule is the first row, highlighted.
    rows = page.locator("#components tbody tr")
    assert rows.count() == n
    first = rows.nth(0)
    assert first.locator("td").nth(0).inner_text() == "cryptography"
    assert "failing" in (first.get_attribute("class") or "")
    background = first.locator("td").nth(1).evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
    # The reason is said once per row: the sentence, with the raw text folded away.
    findings = first.locator("td").nth(6).inner_text()
    assert findings.count("no file of this release has provenance") <= 1
    assert "The project publishes no PEP 740 provenance" in findings
    assert "no-provenance" in findings
    # Each reason code once above the table, with its count and what to do.
    reasons = page.locator("#reasons tbody tr")
    codes = {f["code"]: 0 for f in verdict["findings"]}
    for f in verdict["findings"]:
        codes[f["code"]] += 1
    assert reasons.count() == len(codes)
    row = page.locator('#reasons tr[data-code="no-provenance"]')
    assert row.locator("td").nth(1).inner_text() == str(codes["no-provenance"])
    assert "ask the project to publish" in row.inner_text()
    # The hostile name is text, never run.
    assert EVIL in page.locator("#components tbody tr td:first-child").all_inner_texts()
    assert dialogs == [] and page.locator("#components script").count() == 0
    # Verified rows link to their source, built from the certificate's claims.
    verified = page.locator('#components tbody tr[data-status="verified"]')
    assert verified.count() == len(registered)
    for forge, commit_path in (("github.com", "/commit/"), ("gitlab.com", "/-/commit/")):
        row = verified.filter(has=page.locator(f'a[href^="https://{forge}/"] code.commit')).first
        commit = row.locator("a:has(code.commit)")
        full = commit.get_attribute("title") or ""
        href = commit.get_attribute("href") or ""
        assert len(full) == 40 and href == f"{row_repo(row)}{commit_path}{full}"
        assert commit.locator("code").inner_text() == full  # copying takes the whole commit
        workflow = row.locator("td").nth(3).locator("a").nth(1)
        assert f"/blob/{full}/" in (workflow.get_attribute("href") or "")
    # Readable at this width: no sideways scroll, and no column squeezed to a few letters.
    _no_sideways_scroll(page)
    assert max(_lines(page, "#rules tbody td:first-child code")) <= 2
    assert max(_lines(page, "#components tbody td:nth-child(5) code.ref")) <= 2
    _screenshot(page, tmp_path, f"report-fail-{width}.png")
    # It prints: every row, as a PDF.
    assert page.pdf()[:5] == b"%PDF-" if width > 720 else True
    assert requests == [html.as_uri()]


@pytest.fixture
def many_warnings(real_index, tmp_path):
    server, registered = real_index
    components = [pypi(r.project, r.version) for r in registered.values()]
    # 160 components the index does not have: unknown, a warning each under baseline.yaml.
    names = [f"pkg{n:03d}" for n in range(157)] + ["Zope", "alpha", "Beta"]
    components += [pypi(name, "1.0") for name in names]
    code, verdict, html = _enrich(tmp_path, server, components, ROOT / "policies" / "baseline.yaml")
    assert code == 0
    return verdict, html, len(components)


def test_a_pass_with_warnings_is_its_own_state_and_long_lists_are_paged(
    many_warnings, browser, tmp_path
):
    for width in WIDTHS:
        _check_warnings(browser, many_warnings, tmp_path, width)


def _check_warnings(browser: Any, many_warnings: Any, tmp_path: Path, width: int) -> None:
    verdict, html, n = many_warnings
    warnings = len(verdict["violations"])
    assert verdict["verdict"] == "pass" and warnings >= 160
    page, requests, _ = _open(browser, html, width)
    assert page.locator("#verdict").inner_text() == "PASS WITH WARNINGS"
    colour = page.locator("#verdict").evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour != "rgb(26, 127, 55)"  # not the green of a clean pass
    why = page.locator("#why").inner_text()
    assert f"Passed with {warnings} warnings" in why and "All rules passed" not in why
    # One page of rows at a time, with counts; the groups say how many each holds.
    rows = page.locator("#components tbody tr")
    assert rows.count() == n
    assert sum(1 for r in rows.all() if r.is_visible()) == 50
    assert page.locator("#pageinfo").inner_text() == f"Showing 1\u201350 of {n} components"
    page.click("#next")
    assert page.locator("#pageinfo").inner_text() == f"Showing 51\u2013100 of {n} components"
    chip = page.locator('.chips button[data-group="verified"]')
    verified = verdict["counts"]["verified"]
    assert chip.inner_text() == f"verified {verified}"
    chip.click()
    assert sum(1 for r in rows.all() if r.is_visible()) == verified
    page.click('.chips button[data-group="all"]')
    # Sorting by name ignores case.
    if width > 720:
        page.click("#components thead th:nth-child(1)")
    else:  # the table is a list of cards: sorting is a menu
        page.select_option("#sort", "name")
    page.fill("#filter", "")
    names = page.locator("#components tbody tr td:first-child").all_inner_texts()
    assert names == sorted(names, key=str.casefold)
    assert names.index("alpha") < names.index("Beta") < names.index("pkg000") < names.index("Zope")
    _no_sideways_scroll(page)
    page.evaluate("window.scrollTo(0, 0)")
    _screenshot(page, tmp_path, f"report-warnings-{width}.png", full_page=False)
    # Printing shows every row, not one page.
    page.emulate_media(media="print")
    shown = page.eval_on_selector_all(
        "#components tbody tr",
        "rs => rs.filter(r => getComputedStyle(r).display !== 'none').length",
    )
    assert shown == n
    page.emulate_media(media="screen")
    assert requests == [html.as_uri()]
