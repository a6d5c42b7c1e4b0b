"""Identity drift: one test per event kind with minted releases, quiet cases, every source."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import cdx, drift_events, enrich_cli, props, pypi, run_cli, write_json
from virtual_sigstore import GitHubIdentity, GitLabIdentity, GoogleIdentity, VirtualSigstore

DATA = Path(__file__).parent / "data"
BASE = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")


@pytest.fixture(scope="module")
def vsig(tmp_path_factory):
    sig = VirtualSigstore(seed=7)
    root = sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return sig, root


def _release(server, sig, project, version, identity, *, attested=True, suffix=".tar.gz"):
    filename = f"{project.replace('-', '_')}-{version}{suffix}"
    sha = hashlib.sha256(f"{filename} contents".encode()).hexdigest()
    provenance = sig.mint_provenance(filename, sha, identity) if attested else None
    server.add_file(project, filename, sha256=sha, provenance=provenance)


def _drift(server, tmp_path, root, names, *extra):
    doc = cdx(pypi(name, version) for name, version in names)
    sbom = write_json(tmp_path / "in.json", doc)
    out = tmp_path / "out.json"
    code = enrich_cli(sbom, out, server.index_url, "--no-cache", *extra, trust_root=root)
    enriched = json.loads(out.read_text())
    result = {}
    for comp in enriched["components"]:
        p = props(comp)
        events = drift_events(comp)
        assert len(events) == int(p.get("bomguard:drift:count", "0"))
        result[comp["name"]] = (p, events)
    return code, result


CHANGES = {
    "repository-changed": replace(BASE, repository="acme/widget-fork"),
    "owner-changed": replace(BASE, owner_id="999999"),
    "workflow-changed": replace(BASE, workflow="publish.yml", ref="refs/tags/v1.1"),
    "ref-changed": replace(BASE, ref="refs/heads/main"),
    "trigger-changed": replace(BASE, trigger="workflow_dispatch"),
    "runner-changed": replace(BASE, runner_environment="self-hosted"),
    "publisher-kind-changed": GitLabIdentity(repository="acme/widget", ref="refs/tags/v1.0"),
    "environment-changed": replace(BASE, environment="pypi"),
}


@pytest.mark.parametrize("kind", sorted(CHANGES))
def test_each_event_kind(index_server, vsig, tmp_path, kind):
    sig, root = vsig
    _release(index_server, sig, "widget", "1.0", BASE)
    _release(index_server, sig, "widget", "1.1", CHANGES[kind])
    code, result = _drift(index_server, tmp_path, root, [("widget", "1.1")])
    p, events = result["widget"]
    assert p["bomguard:provenance:status"] == "verified"
    kinds = [e["kind"] for e in events]
    assert kind in kinds, events
    event = next(e for e in events if e["kind"] == kind)
    assert event["source"] == "previous-release" and event["since"] == "1.0"
    assert event["before"] != event["after"]
    if kind == "environment-changed":
        assert event["asserted-by"] == "index"
    assert p["bomguard:drift:checked"] == "previous-release:1.0"
    assert code == 0  # the default policy does not fail on drift


def test_repository_recreated_under_the_same_name(index_server, vsig, tmp_path):
    sig, root = vsig
    _release(index_server, sig, "widget", "1.0", BASE)
    _release(index_server, sig, "widget", "1.1", replace(BASE, repository_id="555"))
    _, result = _drift(index_server, tmp_path, root, [("widget", "1.1")])
    [event] = result["widget"][1]
    assert event["kind"] == "repository-changed"
    assert "id 100000" in event["before"] and "id 555" in event["after"]


def test_attestation_disappeared(index_server, vsig, tmp_path):
    sig, root = vsig
    _release(index_server, sig, "widget", "1.0", BASE)
    _release(index_server, sig, "widget", "1.1", BASE, attested=False)
    _, result = _drift(index_server, tmp_path, root, [("widget", "1.1")])
    p, events = result["widget"]
    assert p["bomguard:provenance:status"] == "absent"
    assert [(e["kind"], e["before"], e["after"]) for e in events] == [
        ("attestation-disappeared", "attested", "not attested")
    ]


def test_signer_changed_for_service_accounts(index_server, vsig, tmp_path):
    sig, root = vsig
    _release(
        index_server,
        sig,
        "gcp-thing",
        "2.0",
        GoogleIdentity(email="builder@a.iam.gserviceaccount.com"),
    )
    _release(
        index_server,
        sig,
        "gcp-thing",
        "2.1",
        GoogleIdentity(email="other@b.iam.gserviceaccount.com"),
    )
    _, result = _drift(index_server, tmp_path, root, [("gcp-thing", "2.1")])
    assert [e["kind"] for e in result["gcp-thing"][1]] == ["signer-changed"]


@pytest.mark.parametrize(
    "later",
    [
        pytest.param(BASE, id="same identity"),
        pytest.param(replace(BASE, ref="refs/tags/v1.1", commit="f" * 40), id="next tag"),
    ],
)
def test_quiet_cases(index_server, vsig, tmp_path, later):
    sig, root = vsig
    _release(index_server, sig, "widget", "1.0", BASE)
    _release(index_server, sig, "widget", "1.1", later)
    _release(index_server, sig, "widget", "1.1", later, suffix="-py3-none-any.whl")
    _, result = _drift(index_server, tmp_path, root, [("widget", "1.1")])
    p, events = result["widget"]
    assert events == []
    assert p["bomguard:drift:count"] == "0"
    assert p["bomguard:provenance:files:verified"] == "2"


def test_unattested_history_expects_nothing(index_server, vsig, tmp_path):
    sig, root = vsig
    _release(index_server, sig, "widget", "1.0", BASE, attested=False)
    _release(index_server, sig, "widget", "1.1", BASE, attested=False)
    _, result = _drift(index_server, tmp_path, root, [("widget", "1.1")])
    assert result["widget"][1] == []


def test_depth_compares_several_earlier_releases_and_zero_turns_it_off(
    index_server, vsig, tmp_path
):
    sig, root = vsig
    _release(index_server, sig, "widget", "0.9", replace(BASE, workflow="old.yml"))
    _release(index_server, sig, "widget", "1.0", BASE)
    _release(index_server, sig, "widget", "1.1", BASE)
    _, one = _drift(index_server, tmp_path, root, [("widget", "1.1")])
    assert one["widget"][1] == []
    _, two = _drift(index_server, tmp_path, root, [("widget", "1.1")], "--drift-depth", "2")
    assert [(e["kind"], e["since"]) for e in two["widget"][1]] == [("workflow-changed", "0.9")]
    assert (
        two["widget"][0]["bomguard:drift:checked"] == "previous-release:1.0, previous-release:0.9"
    )
    index_server.reset_log()
    _, off = _drift(index_server, tmp_path, root, [("widget", "1.1")], "--drift-depth", "0")
    assert "bomguard:drift:checked" not in off["widget"][0]
    assert index_server.count("/integrity/") == 1


def test_real_releases_of_one_project_are_quiet(real_index, tmp_path):
    server, _ = real_index
    doc = cdx([pypi("pypi-attestations", "0.0.19")])
    sbom = write_json(tmp_path / "in.json", doc)
    out = tmp_path / "out.json"
    enrich_cli(sbom, out, server.index_url, "--no-cache")
    p = props(json.loads(out.read_text())["components"][0])
    assert p["bomguard:drift:checked"] == "previous-release:0.0.16"
    assert p["bomguard:drift:count"] == "0"


def test_baseline_whose_recorded_workflow_differs(index_server, vsig, tmp_path, capsys):
    sig, root = vsig
    _release(index_server, sig, "widget", "1.1", BASE)
    _, _first = _drift(index_server, tmp_path, root, [("widget", "1.1")], "--drift-depth", "0")
    baseline = json.loads((tmp_path / "out.json").read_text())
    # The same SBOM as an earlier run recorded it, but published from another workflow.
    for prop in baseline["components"][0]["properties"]:
        if prop["name"] == "bomguard:provenance:publisher:workflow":
            prop["value"] = "legacy-release.yml"
    base_path = write_json(tmp_path / "baseline.json", baseline)
    capsys.readouterr()
    _, result = _drift(
        index_server,
        tmp_path,
        root,
        [("widget", "1.1")],
        "--drift-depth",
        "0",
        "--baseline",
        str(base_path),
    )
    [event] = result["widget"][1]
    assert (event["kind"], event["before"], event["after"], event["source"]) == (
        "workflow-changed",
        "legacy-release.yml",
        "release.yml",
        "baseline",
    )
    err = capsys.readouterr().err
    assert (
        "DRIFT: widget 1.1: workflow changed legacy-release.yml → release.yml since the baseline"
        in err
    )


PYLOCK = """\
lock-version = "1.0"
created-by = "test"

[[packages]]
name = "widget"
version = "1.1"
attestation-identities = [
  {{ kind = "GitHub", repository = "{repository}", workflow = "release.yml" }},
]
"""


@pytest.mark.parametrize(
    ("repository", "events"), [("acme/widget", []), ("acme/other", ["repository-changed"])]
)
def test_pylock_pins(index_server, vsig, tmp_path, repository, events):
    sig, root = vsig
    _release(index_server, sig, "widget", "1.1", BASE)
    pylock = tmp_path / "pylock.toml"
    pylock.write_text(PYLOCK.format(repository=repository))
    _, result = _drift(
        index_server,
        tmp_path,
        root,
        [("widget", "1.1")],
        "--drift-depth",
        "0",
        "--pins",
        str(pylock),
    )
    assert [e["kind"] for e in result["widget"][1]] == events
    if events:
        assert result["widget"][1][0]["source"] == "pin"


def test_pin_file_any_identity_matches_and_absence_breaks_a_pin(index_server, vsig, tmp_path):
    sig, root = vsig
    _release(index_server, sig, "widget", "1.1", BASE)
    _release(index_server, sig, "gone", "3.0", BASE, attested=False)
    pins = tmp_path / "pins.yaml"
    pins.write_text(
        "apiVersion: bomguard/v1\nkind: Pins\npins:\n"
        "  widget:\n    - {kind: GitLab, repository: acme/widget}\n"
        "    - {kind: GitHub, repository: acme/widget, workflow: release.yml}\n"
        "  gone:\n    - {kind: GitHub, repository: acme/gone}\n"
    )
    _, result = _drift(
        index_server,
        tmp_path,
        root,
        [("widget", "1.1"), ("gone", "3.0")],
        "--drift-depth",
        "0",
        "--pins",
        str(pins),
    )
    assert result["widget"][1] == []
    assert [e["kind"] for e in result["gone"][1]] == ["attestation-disappeared"]


def test_bad_pin_files_are_input_errors(tmp_path, index_server, capsys):
    sbom = write_json(tmp_path / "in.json", cdx([pypi("widget", "1.1")]))
    pins = tmp_path / "pins.yaml"
    pins.write_text(
        "apiVersion: bomguard/v1\nkind: Pins\npins:\n  widget:\n    - {kind: GitHub, repo: x}\n"
    )
    code = run_cli(
        ["enrich", str(sbom), "--pins", str(pins), "--index-url", index_server.index_url]
    )
    assert code == 2
    assert "pins.widget[0].repo: unknown identity field" in capsys.readouterr().err
