"""bomguard diff and bomguard upgrades: minted release histories on the loopback index,
through the CLI as a reviewer runs it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import cdx, enrich_cli, pypi, run_cli, write_json
from virtual_sigstore import (
    Defect,
    GitHubIdentity,
    GitLabIdentity,
    GoogleIdentity,
    VirtualSigstore,
)

from bomguard.policy.cel_engines import cpp_available

BASE_ID = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")
NEXT_TAG = replace(BASE_ID, ref="refs/tags/v1.1", commit="f" * 40)

CHANGES = {
    "repository-changed": replace(BASE_ID, repository="acme/widget-fork"),
    "owner-changed": replace(BASE_ID, owner_id="999999"),
    "workflow-changed": replace(BASE_ID, workflow="publish.yml"),
    "ref-changed": replace(BASE_ID, ref="refs/heads/main"),
    "trigger-changed": replace(BASE_ID, trigger="workflow_dispatch"),
    "runner-changed": replace(BASE_ID, runner_environment="self-hosted"),
    "publisher-kind-changed": GitLabIdentity(repository="acme/widget", ref="refs/tags/v1.0"),
    "environment-changed": replace(BASE_ID, environment="pypi"),
}

CHANGE_POLICY = """\
apiVersion: bomguard/v1
kind: Policy
metadata:
  name: review
critical: [widget]
rules:
  - id: critical-same-source
    description: An upgrade of a critical dependency keeps its repository and workflow
    when: component.critical && component.change.kind == "upgraded"
    require: >-
      component.change.compared
      && !("repository-changed" in component.change.kinds)
      && !("workflow-changed" in component.change.kinds)
  - id: new-verified
    description: No new dependency without verified provenance
    when: component.change.kind == "added"
    require: component.provenance.status == "verified"
"""


@pytest.fixture(scope="module")
def vsig(tmp_path_factory):
    sig = VirtualSigstore(seed=17)
    root = sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return sig, root


def release(server, sig, project, version, identity=BASE_ID, *, attested=True, defect=None):
    filename = f"{project.replace('-', '_')}-{version}.tar.gz"
    sha = hashlib.sha256(f"{filename} contents".encode()).hexdigest()
    provenance = None
    if attested:
        if defect is not None:
            provenance = sig.mint_provenance(filename, sha, identity, defect=defect)
        else:
            provenance = sig.mint_provenance(filename, sha, identity)
    server.add_file(project, filename, sha256=sha, provenance=provenance)


def sbom(path: Path, *packages: tuple[str, str]) -> Path:
    return write_json(path, cdx(pypi(name, version) for name, version in packages))


def diff_cli(server, root, base, new, *extra, fmt="json", out=None):
    args = ["diff", str(base), str(new), "--index-url", server.index_url]
    args += ["--trust-root", str(root), "--no-cache", "--format", fmt, *extra]
    if out is not None:
        args += ["-o", str(out)]
    return run_cli(args)


def diff_json(server, root, tmp_path, base, new, *extra):
    out = tmp_path / "diff.json"
    code = diff_cli(server, root, base, new, *extra, out=out)
    data = json.loads(out.read_text())
    return code, data, {c["normalized_name"]: c for c in data["changes"]}


def test_quiet_upgrade(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", NEXT_TAG)
    base = sbom(tmp_path / "base.json", ("widget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.1"))
    code, data, changes = diff_json(index_server, root, tmp_path, base, new)
    assert code == 0
    widget = changes["widget"]
    assert (widget["change"], widget["from"], widget["to"]) == ("upgraded", "1.0", "1.1")
    assert widget["base"]["status"] == "verified" and widget["base"]["source"] == "verified"
    assert widget["new"]["status"] == "verified"
    assert widget["compared"] is True and widget["attestation"] == "kept"
    assert widget["events"] == [] and widget["review"] == []
    assert data["summary"]["review"] == 0
    out = tmp_path / "comment.md"
    assert diff_cli(index_server, root, base, new, fmt="markdown", out=out) == 0
    comment = out.read_text()
    assert "**0 of 1 package changes need review**" in comment
    assert "same publisher, same workflow" in comment


@pytest.mark.parametrize("kind", sorted(CHANGES))
def test_each_identity_change(index_server, vsig, tmp_path, kind):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", CHANGES[kind])
    base = sbom(tmp_path / "base.json", ("widget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.1"))
    code, _, changes = diff_json(index_server, root, tmp_path, base, new)
    widget = changes["widget"]
    assert kind in [e["kind"] for e in widget["events"]], widget
    event = next(e for e in widget["events"] if e["kind"] == kind)
    assert event["source"] == "baseline" and event["since"] == "base.json: 1.0"
    assert event["before"] != event["after"]
    assert kind in widget["review"]
    assert code == 0  # the default policy does not fail on identity changes
    # ... but a policy that says so does, with either CEL engine.
    policy = tmp_path / "review.yaml"
    policy.write_text(CHANGE_POLICY)
    engines = ["python", "cpp"] if cpp_available() else ["python"]
    for engine in engines:
        code, _, changes = diff_json(
            index_server, root, tmp_path, base, new, "--policy", str(policy), "--cel-engine", engine
        )
        kinds = {e["kind"] for e in changes["widget"]["events"]}
        fails = bool(kinds & {"repository-changed", "workflow-changed"})
        assert code == (1 if fails else 0), (engine, kind)
        rules = [v["rule"] for v in changes["widget"]["violations"]]
        assert rules == (["critical-same-source"] if fails else [])


def test_signer_changed_for_service_accounts(index_server, vsig, tmp_path):
    sig, root = vsig
    release(
        index_server, sig, "gcp-thing", "2.0", GoogleIdentity(email="a@x.iam.gserviceaccount.com")
    )
    release(
        index_server, sig, "gcp-thing", "2.1", GoogleIdentity(email="b@y.iam.gserviceaccount.com")
    )
    base = sbom(tmp_path / "base.json", ("gcp-thing", "2.0"))
    new = sbom(tmp_path / "new.json", ("gcp-thing", "2.1"))
    _, _, changes = diff_json(index_server, root, tmp_path, base, new)
    [event] = changes["gcp-thing"]["events"]
    assert (event["kind"], event["before"], event["after"]) == (
        "signer-changed",
        "a@x.iam.gserviceaccount.com",
        "b@y.iam.gserviceaccount.com",
    )


def test_attestation_lost_and_gained(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", attested=False)
    release(index_server, sig, "gadget", "1.0", attested=False)
    release(index_server, sig, "gadget", "1.1")
    base = sbom(tmp_path / "base.json", ("widget", "1.0"), ("gadget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.1"), ("gadget", "1.1"))
    _, _, changes = diff_json(index_server, root, tmp_path, base, new)
    widget, gadget = changes["widget"], changes["gadget"]
    assert widget["attestation"] == "lost"
    assert [e["kind"] for e in widget["events"]] == ["attestation-disappeared"]
    assert "attestation lost" in widget["review"] and "provenance absent" in widget["review"]
    assert gadget["attestation"] == "gained" and gadget["review"] == []


def test_added_unattested_dependency(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "sketchy", "0.1", attested=False)
    base = sbom(tmp_path / "base.json", ("widget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.0"), ("sketchy", "0.1"))
    code, data, changes = diff_json(index_server, root, tmp_path, base, new)
    assert code == 0
    sketchy = changes["sketchy"]
    assert (sketchy["change"], sketchy["from"], sketchy["to"]) == ("added", None, "0.1")
    assert sketchy["base"] is None and sketchy["new"]["status"] == "absent"
    assert sketchy["review"] == ["provenance absent"]
    assert changes["widget"]["change"] == "unchanged"
    policy = tmp_path / "review.yaml"
    policy.write_text(CHANGE_POLICY)
    code, data, changes = diff_json(
        index_server, root, tmp_path, base, new, "--policy", str(policy)
    )
    assert code == 1
    assert [v["rule"] for v in data["verdict"]["violations"]] == ["new-verified"]
    assert data["verdict"]["violations"][0]["component"] == "pkg:pypi/sketchy@0.1"


def test_removed_dependency_is_listed_and_not_fetched(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    base = sbom(tmp_path / "base.json", ("widget", "1.0"), ("gone", "3.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.0"))
    code, data, changes = diff_json(index_server, root, tmp_path, base, new)
    assert code == 0
    assert (changes["gone"]["change"], changes["gone"]["from"], changes["gone"]["to"]) == (
        "removed",
        "3.0",
        None,
    )
    assert changes["gone"]["review"] == []
    assert data["summary"] == {
        "added": 0,
        "upgraded": 0,
        "downgraded": 0,
        "removed": 1,
        "unchanged": 1,
        "review": 0,
    }
    assert index_server.count("/simple/") == 0  # nothing was brought in: nothing fetched


def test_downgrade(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0", replace(BASE_ID, workflow="old.yml"))
    release(index_server, sig, "widget", "1.1")
    base = sbom(tmp_path / "base.json", ("widget", "1.1"))
    new = sbom(tmp_path / "new.json", ("widget", "1.0"))
    _, _, changes = diff_json(index_server, root, tmp_path, base, new)
    widget = changes["widget"]
    assert (widget["change"], widget["from"], widget["to"]) == ("downgraded", "1.1", "1.0")
    assert widget["review"][0] == "downgrade"
    assert [e["kind"] for e in widget["events"]] == ["workflow-changed"]


def test_enriched_base_is_the_expectation_and_its_release_is_not_fetched(
    index_server, vsig, tmp_path
):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", NEXT_TAG)
    plain = sbom(tmp_path / "plain.json", ("widget", "1.0"))
    enriched = tmp_path / "base.json"
    assert enrich_cli(plain, enriched, index_server.index_url, "--no-cache", trust_root=root) == 0
    new = sbom(tmp_path / "new.json", ("widget", "1.1"))

    index_server.reset_log()
    _, _, changes = diff_json(index_server, root, tmp_path, enriched, new)
    assert changes["widget"]["base"]["source"] == "recorded"
    assert changes["widget"]["events"] == []
    assert index_server.count("/integrity/widget/1.0/") == 0
    assert index_server.count("/integrity/widget/1.1/") == 1

    # The base recorded another workflow: that record is what the new release must match.
    doc = json.loads(enriched.read_text())
    for prop in doc["components"][0]["properties"]:
        if prop["name"] == "bomguard:provenance:publisher:workflow":
            prop["value"] = "legacy.yml"
    write_json(enriched, doc)
    _, _, changes = diff_json(index_server, root, tmp_path, enriched, new)
    [event] = changes["widget"]["events"]
    assert (event["kind"], event["before"], event["after"]) == (
        "workflow-changed",
        "legacy.yml",
        "release.yml",
    )

    # The plain base is verified afresh instead.
    index_server.reset_log()
    _, _, changes = diff_json(index_server, root, tmp_path, plain, new)
    assert changes["widget"]["base"]["source"] == "verified"
    assert index_server.count("/integrity/widget/1.0/") == 1
    assert changes["widget"]["events"] == []


def test_unverifiable_base_is_not_compared_and_says_so(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0", defect=Defect.BAD_SIGNATURE)
    release(index_server, sig, "widget", "1.1", CHANGES["repository-changed"])
    base = sbom(tmp_path / "base.json", ("widget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.1"))
    code, _, changes = diff_json(index_server, root, tmp_path, base, new)
    widget = changes["widget"]
    assert widget["base"]["status"] == "invalid"
    assert widget["compared"] is False and widget["events"] == []
    assert widget["unchecked"] == ["baseline:base.json: 1.0 (invalid)"]
    assert any(r.startswith("not compared:") for r in widget["review"])
    assert code == 0  # the release brought in verifies; the base's problem is flagged


def test_invalid_new_release_fails_the_default_policy(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", defect=Defect.BAD_SIGNATURE)
    base = sbom(tmp_path / "base.json", ("widget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.1"))
    code, _, changes = diff_json(index_server, root, tmp_path, base, new)
    assert code == 1
    assert changes["widget"]["new"]["status"] == "invalid"
    assert changes["widget"]["attestation"] == "unknown"
    assert "provenance invalid" in changes["widget"]["review"]


SPDX_TV = """\
SPDXVersion: SPDX-2.3
DataLicense: CC0-1.0
SPDXID: SPDXRef-DOCUMENT
DocumentName: app
DocumentNamespace: https://example.com/spdx/app-1
Creator: Tool: test
Created: 2026-01-01T00:00:00Z

PackageName: widget
SPDXID: SPDXRef-widget
PackageVersion: 1.0
PackageDownloadLocation: NOASSERTION
ExternalRef: PACKAGE-MANAGER purl pkg:pypi/widget@1.0

PackageName: helper
SPDXID: SPDXRef-helper
PackageVersion: 2.0
PackageDownloadLocation: NOASSERTION
ExternalRef: PACKAGE-MANAGER purl pkg:pypi/helper@2.0
"""


def test_base_and_new_in_different_formats(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", CHANGES["workflow-changed"])
    base = tmp_path / "base.spdx"
    base.write_text(SPDX_TV)
    new = sbom(tmp_path / "new.cdx.json", ("widget", "1.1"), ("helper", "2.0"))
    _, data, changes = diff_json(index_server, root, tmp_path, base, new)
    assert changes["helper"]["change"] == "unchanged"
    assert changes["widget"]["change"] == "upgraded"
    assert [e["kind"] for e in changes["widget"]["events"]] == ["workflow-changed"]
    assert data["base"] == str(base) and data["new"] == str(new)


def test_dependabot_style_one_line_bump(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", NEXT_TAG)
    packages = [(f"dep{i}", "1.0") for i in range(20)]
    base = sbom(tmp_path / "base.json", *packages, ("widget", "1.0"))
    doc = json.loads(base.read_text())
    # What the bot changes: one version, in the purl and the version field.
    text = json.dumps(doc, indent=2).replace("widget@1.0", "widget@1.1")
    text = text.replace(
        '"version": "1.0",\n      "purl": "pkg:pypi/widget@1.1"',
        '"version": "1.1",\n      "purl": "pkg:pypi/widget@1.1"',
    )
    new = tmp_path / "new.json"
    new.write_text(text)
    index_server.reset_log()
    code, data, changes = diff_json(index_server, root, tmp_path, base, new)
    assert code == 0
    assert data["summary"]["upgraded"] == 1 and data["summary"]["unchanged"] == 20
    assert changes["widget"]["review"] == []
    # Only the bumped package (both sides: the base is not enriched) was looked up.
    assert {
        r.path.split("/")[2] for r in index_server.requests if r.path.startswith("/simple/")
    } == {"widget"}
    out = tmp_path / "comment.md"
    diff_cli(index_server, root, base, new, fmt="markdown", out=out)
    comment = out.read_text()
    assert "20 unchanged packages are not listed." in comment
    assert "dep1" not in comment


def _rows(comment: str) -> list[str]:
    return [line for line in comment.splitlines() if line.startswith("| ") and "---" not in line]


def test_markdown_comment_structure_and_escaping(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", CHANGES["workflow-changed"])
    release(index_server, sig, "quiet", "1.0")
    release(index_server, sig, "quiet", "1.1", NEXT_TAG)
    release(index_server, sig, "sketchy", "0.1", attested=False)
    base = sbom(tmp_path / "base.json", ("widget", "1.0"), ("quiet", "1.0"), ("old", "1"))
    hostile = pypi("sketchy", "0.1")
    hostile["name"] = "sketchy | <img src=x onerror=alert(1)> @octocat [x](http://evil)"
    doc = cdx([pypi("widget", "1.1"), pypi("quiet", "1.1"), hostile])
    new = write_json(tmp_path / "new.json", doc)
    out = tmp_path / "comment.md"
    assert diff_cli(index_server, root, base, new, fmt="markdown", out=out) == 0
    comment = out.read_text()
    assert comment.startswith("<!-- bomguard:diff -->\n")
    assert "**2 of 4 package changes need review**" in comment
    main, _, collapsed = comment.partition("<details>")
    # The rows that need review come first, in the one table outside the collapsed part:
    # an identity change before a new unattested package.
    assert [r.split(" | ")[2] for r in _rows(main)[1:]] == ["upgraded", "added"]
    assert "workflow changed release.yml → publish.yml" in main
    assert "<summary>2 more without findings</summary>" in collapsed
    assert [r.split(" | ")[2] for r in _rows(collapsed)[1:]] == ["removed", "upgraded"]
    assert "</details>" in collapsed
    # The hostile name stays inside its cell, inert.
    assert "<img" not in comment and "@octocat" not in comment and "](http" not in comment
    for row in _rows(comment):
        assert len(re.findall(r"(?<!\\)\|", row)) == 7, row


def test_markdown_comment_fits_the_limit_and_says_what_it_left_out(index_server, vsig, tmp_path):
    sig, root = vsig
    names = [f"package-with-a-long-name-{'x' * 120}-{i}" for i in range(300)]
    for name in names:
        release(index_server, sig, name, "1.0", attested=False)
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", NEXT_TAG)
    base = sbom(tmp_path / "base.json", ("widget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.1"), *((n, "1.0") for n in names))
    for limit in (65536, 20000):
        out = tmp_path / f"comment-{limit}.md"
        code = diff_cli(
            index_server, root, base, new, "--comment-limit", str(limit), fmt="markdown", out=out
        )
        assert code == 0
        comment = out.read_text()
        assert len(comment.encode("utf-16-le")) // 2 <= limit
        assert limit - len(comment) < 2000  # cut near the limit, not far below it
        shown = len(_rows(comment)) - 1  # the header row
        match = re.search(
            r"\*\*(\d+) more rows not shown\*\* \((\d+) of them need review\)", comment
        )
        assert match, comment[-500:]
        assert shown + int(match[1]) == 301  # the quiet upgrade is among those left out
        assert int(match[2]) == 300 - shown
        assert "`bomguard diff --format json`" in comment
    # GitLab's larger limit holds everything.
    out = tmp_path / "gitlab.md"
    diff_cli(index_server, root, base, new, "--comment-limit", "1000000", fmt="markdown", out=out)
    comment = out.read_text()
    assert "not shown" not in comment
    assert len(_rows(comment)) == 303  # 301 rows, two header rows


def test_sarif_and_step_summary(index_server, vsig, tmp_path, monkeypatch):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", CHANGES["workflow-changed"])
    base = sbom(tmp_path / "base.json", ("widget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.1"))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "diff.sarif"
    assert diff_cli(index_server, root, base, new, fmt="sarif", out=out) == 0
    log = json.loads(out.read_text())
    [result] = log["runs"][0]["results"]
    assert result["ruleId"] == "workflow-changed"
    assert "release.yml → publish.yml" in result["message"]["text"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == str(new)
    text = summary.read_text()
    assert text.startswith("earlier step\n<!-- bomguard:diff -->")
    assert "workflow changed" in text


def test_bad_input_is_one_line_exit_2(index_server, tmp_path, capsys):
    new = sbom(tmp_path / "new.json", ("widget", "1.1"))
    bad = tmp_path / "base.json"
    bad.write_text("{not json")
    code = run_cli(["diff", str(bad), str(new), "--index-url", index_server.index_url])
    assert code == 2
    err = capsys.readouterr().err
    assert "base.json" in err and "Traceback" not in err
    code = run_cli(["diff", str(tmp_path / "missing.json"), str(new)])
    assert code == 2
    # An output that is an input is refused before any work.
    code = run_cli(["diff", str(new), str(new), "-o", str(new)])
    assert code == 2
    assert index_server.count() == 0


# -- upgrades ------------------------------------------------------------------------------


def _history(server, sig):
    release(server, sig, "widget", "1.0")
    release(server, sig, "widget", "1.1", NEXT_TAG)
    release(server, sig, "widget", "1.2", replace(BASE_ID, workflow="publish.yml"))
    release(server, sig, "widget", "2.0rc1", replace(BASE_ID, repository="evil/widget"))
    release(server, sig, "widget", "0.9")


def upgrades_cli(server, root, sbom_path, *extra, out):
    args = ["upgrades", str(sbom_path), "--index-url", server.index_url, "--no-cache"]
    return run_cli([*args, "--trust-root", str(root), "-o", str(out), *extra])


def test_upgrades_table(index_server, vsig, tmp_path):
    sig, root = vsig
    _history(index_server, sig)
    path = sbom(tmp_path / "app.json", ("widget", "1.0"))
    out = tmp_path / "upgrades.txt"
    assert upgrades_cli(index_server, root, path, out=out) == 0
    lines = out.read_text().splitlines()
    assert lines == [
        "  widget 1.0 → 1.1: same publisher, same workflow",
        "! widget 1.0 → 1.2: workflow changed release.yml → publish.yml",
    ]
    assert upgrades_cli(index_server, root, path, "--pre", "--max", "1", out=out) == 0
    [line] = out.read_text().splitlines()
    assert line.startswith("! widget 1.0 → 2.0rc1: repository changed")


def test_upgrades_json_and_policy_exit(index_server, vsig, tmp_path):
    sig, root = vsig
    _history(index_server, sig)
    path = sbom(tmp_path / "app.json", ("widget", "1.0"))
    policy = tmp_path / "review.yaml"
    policy.write_text(CHANGE_POLICY)
    out = tmp_path / "upgrades.json"
    code = upgrades_cli(
        index_server, root, path, "--format", "json", "--policy", str(policy), out=out
    )
    assert code == 1
    data = json.loads(out.read_text())
    by_version = {c["to"]: c for c in data["changes"]}
    assert sorted(by_version) == ["1.1", "1.2"]
    assert by_version["1.1"]["violations"] == []
    assert [v["rule"] for v in by_version["1.2"]["violations"]] == ["critical-same-source"]
    assert data["verdict"]["violations"][0]["component"] == "pkg:pypi/widget@1.2"
    out = tmp_path / "upgrades.md"
    assert upgrades_cli(index_server, root, path, "--format", "markdown", out=out) == 0
    assert "### bomguard: upgrade candidates" in out.read_text()


def test_upgrades_names_what_it_could_not_check(index_server, vsig, tmp_path, capsys):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    path = sbom(tmp_path / "app.json", ("widget", "1.0"), ("nowhere", "1.0"))
    out = tmp_path / "upgrades.json"
    assert upgrades_cli(index_server, root, path, "--format", "json", out=out) == 0
    data = json.loads(out.read_text())
    assert data["changes"] == []
    assert [u["package"] for u in data["unchecked"]] == ["nowhere==1.0"]
    assert "WARNING: nowhere==1.0: newer releases not checked" in capsys.readouterr().err


def test_policy_check_knows_component_change(tmp_path, capsys):
    good = tmp_path / "review.yaml"
    good.write_text(CHANGE_POLICY)
    assert run_cli(["policy", "check", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(CHANGE_POLICY.replace("component.change.kinds)", "component.change.kindz)", 1))
    assert run_cli(["policy", "check", str(bad)]) == 2
    assert "no field 'kindz' in component.change" in capsys.readouterr().out


def test_a_second_version_beside_the_first_is_still_compared(index_server, vsig, tmp_path):
    """NEW keeps widget 1.0 and adds 1.1 from a fork: not a new package, an upgrade."""
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1", CHANGES["repository-changed"])
    base = sbom(tmp_path / "base.json", ("widget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.0"), ("widget", "1.1"))
    _, data, _ = diff_json(index_server, root, tmp_path, base, new)
    [upgrade] = [c for c in data["changes"] if c["change"] == "upgraded"]
    assert (upgrade["from"], upgrade["to"]) == ("1.0", "1.1")
    assert "repository-changed" in upgrade["review"]
    assert [c["change"] for c in data["changes"]].count("unchanged") == 1


def test_real_releases_quiet_upgrade_and_upgrade_candidate(real_index, tmp_path):
    """Real PEP 740 provenance of two pypi-attestations releases, the real Sigstore root."""
    server, _ = real_index
    base = sbom(tmp_path / "base.json", ("pypi-attestations", "0.0.16"))
    new = sbom(tmp_path / "new.json", ("pypi-attestations", "0.0.19"))
    out = tmp_path / "diff.json"
    args = ["diff", str(base), str(new), "--index-url", server.index_url, "--no-cache"]
    code = run_cli([*args, "--trust-root", "embedded", "--format", "json", "-o", str(out)])
    assert code == 0
    [change] = json.loads(out.read_text())["changes"]
    assert change["base"]["status"] == "verified" and change["new"]["status"] == "verified"
    assert change["base"]["publisher"]["repository"] == "trailofbits/pypi-attestations"
    assert change["compared"] is True and change["events"] == [] and change["review"] == []

    out = tmp_path / "upgrades.txt"
    args = ["upgrades", str(base), "--index-url", server.index_url, "--no-cache"]
    assert run_cli([*args, "--trust-root", "embedded", "-o", str(out)]) == 0
    assert out.read_text() == "  pypi-attestations 0.0.16 → 0.0.19: same publisher, same workflow\n"


def test_a_release_that_cannot_be_fetched_is_unknown_never_quiet(index_server, vsig, tmp_path):
    sig, root = vsig
    release(index_server, sig, "widget", "1.0")
    release(index_server, sig, "widget", "1.1")
    index_server.fault("/integrity/widget/1.1/", status=500)
    base = sbom(tmp_path / "base.json", ("widget", "1.0"))
    new = sbom(tmp_path / "new.json", ("widget", "1.1"))
    code, _, changes = diff_json(index_server, root, tmp_path, base, new, "--retries", "0")
    widget = changes["widget"]
    assert widget["new"]["status"] == "unknown" and widget["attestation"] == "unknown"
    assert widget["compared"] is False
    assert "provenance unknown" in widget["review"]
    assert code == 0  # the default policy fails on invalid only ...
    code, _, _ = diff_json(index_server, root, tmp_path, base, new, "--retries", "0", "--strict")
    assert code == 1  # ... --strict on unknown too
