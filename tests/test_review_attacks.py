"""Attacks found in review: each test demonstrates a way to get a pass (or hide a
finding) that bomguard should refuse. Through the CLI, against attestations minted by
the virtual Sigstore and served by the loopback index, as in test_forgery.py."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
from helpers import cdx, enrich_cli, props, pypi, run_cli, write_json
from virtual_sigstore import Defect, GitHubIdentity, VirtualSigstore

ACME = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")
P = "bomguard:provenance:"


@pytest.fixture(scope="module")
def vsig(tmp_path_factory):
    sig = VirtualSigstore(seed=23)
    root = sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return sig, root


def _sha(filename: str) -> str:
    return hashlib.sha256(f"{filename} contents".encode()).hexdigest()


def _serve(server, sig, project, version, identity, **mint):
    filename = f"{project}-{version}.tar.gz"
    sha = _sha(filename)
    provenance = sig.mint_provenance(filename, sha, identity, **mint) if identity else None
    server.add_file(project, filename, sha256=sha, provenance=provenance)
    return filename, sha


def _component(data, name):
    return next(c for c in data["components"] if c["name"] == name)


def _verify(path, root, capsys):
    capsys.readouterr()
    code = run_cli(["verify", str(path), "--trust-root", str(root)])
    return code, capsys.readouterr().err


def _tamper(out, data, mutate):
    forged = copy.deepcopy(data)
    mutate(forged)
    path = out.with_name("forged.json")
    path.write_text(json.dumps(forged))
    return path


# -- (c) whoever carries the enriched SBOM ------------------------------------------------


def test_invalid_pypi_component_relabelled_not_applicable_passes_verify(
    index_server, vsig, tmp_path, capsys
):
    """A PyPI component whose provenance is *invalid* (bad signature, evidence still
    embedded) is relabelled ``not-applicable``: reverify skips such records outright, so
    ``bomguard verify`` exits 0 although the component is a PyPI package (it has a
    pkg:pypi purl, so bomguard would never record it not-applicable) and its embedded
    evidence fails."""
    sig, root = vsig
    _serve(index_server, sig, "widget", "1.0", ACME, defect=Defect.BAD_SIGNATURE)
    sbom = write_json(tmp_path / "in.json", cdx([pypi("widget", "1.0")]))
    out = tmp_path / "out.json"
    assert enrich_cli(sbom, out, index_server.index_url, "--no-cache", trust_root=root) == 1
    data = json.loads(out.read_text())
    assert props(_component(data, "widget"))[P + "status"] == "invalid"

    def relabel(d):
        for p in _component(d, "widget")["properties"]:
            if p["name"] == P + "status":
                p["value"] = "not-applicable"

    code, err = _verify(_tamper(out, data, relabel), root, capsys)
    assert code == 1, f"a forged not-applicable on a PyPI component passed verify: {err}"


# -- (d) a pull request's bomguard.toml, run by CI with its security options as flags ------

EVIL = GitHubIdentity(
    repository="evil/widget", ref="refs/tags/v1.0", trigger="release", repository_id="666"
)


def _hijacked_release(index_server, sig, tmp_path):
    """The real index: widget 0.9 by acme, then 1.0 signed by another repository (a
    hijack that drift against 0.9 catches). CI's hardened command, with every security
    option it has passed as a flag."""
    _serve(index_server, sig, "widget", "0.9", ACME)
    _serve(index_server, sig, "widget", "1.0", EVIL)
    repo = tmp_path / "repo"
    repo.mkdir()
    sbom = write_json(repo / "sbom.json", cdx([pypi("widget", "1.0")]))
    return repo, sbom


NO_DRIFT = """apiVersion: bomguard/v1
kind: Policy
metadata: {name: ci}
rules:
  - id: no-drift
    require: component.drift.count == 0
    message: "{name} {version}: identity drift"
"""


def _ci(sbom, out, index_url, root):
    policy = out.with_name("ci-policy.yaml")
    policy.write_text(NO_DRIFT)
    args = ["enrich", str(sbom), "-o", str(out), "--index-url", index_url, "--policy", str(policy)]
    return run_cli([*args, "--trust-root", str(root), "--strict", "--drift-depth", "1"])


def test_ci_flags_catch_the_hijack_without_settings(index_server, vsig, tmp_path, monkeypatch):
    """Control: the hardened CI command fails the hijacked release."""
    sig, root = vsig
    repo, sbom = _hijacked_release(index_server, sig, tmp_path)
    monkeypatch.chdir(repo)
    assert _ci(sbom, tmp_path / "out.json", index_server.index_url, root) == 1


def test_pr_settings_file_mirror_overrides_ci_index_url_and_hides_drift(
    index_server, vsig, tmp_path, monkeypatch, capsys
):
    """The PR adds ``bomguard.toml`` with ``mirror = "mirror"`` and a mirror it fetched
    from an index of its own that carries only the hijacked 1.0. There is no flag that
    turns a mirror off, and ``--index-url`` given as a flag does not win over it: CI
    reads the attacker's directory instead of the index it named, sees no earlier
    release, and passes."""
    sig, root = vsig
    repo, sbom = _hijacked_release(index_server, sig, tmp_path)
    from indexserver import IndexServer

    with IndexServer() as own:
        _serve(own, sig, "widget", "1.0", EVIL)
        fetch = ["fetch", str(sbom), "--into", str(repo / "mirror"), "--index-url", own.index_url]
        assert run_cli(fetch) == 0
    (repo / "bomguard.toml").write_text('mirror = "mirror"\n')
    monkeypatch.chdir(repo)
    capsys.readouterr()
    code = _ci(sbom, tmp_path / "out.json", index_server.index_url, root)
    # Refused outright: a file in the working directory may not say where evidence comes from.
    assert code == 2, "a settings file's mirror replaced the index CI named on the command line"
    assert "bomguard.toml: mirror: decides where evidence comes from" in capsys.readouterr().err


# -- (c)+(e): evidence re-signed under the attacker's own identity -------------------------


def _items(data, target):
    claim = next(c for c in data["declarations"]["claims"] if c.get("target") == target)
    evidence = {e["bom-ref"]: e for e in data["declarations"]["evidence"]}
    return evidence[claim["evidence"][0]]["data"]


def test_file_identities_property_overrides_the_recorded_publisher(
    index_server, vsig, tmp_path, capsys
):
    """The carrier swaps widget's embedded evidence for an attestation signed by their own
    repository (over the same file name and digest) and adds a
    ``file-identities`` property for the file naming that repository. The component's
    ``publisher:*`` fields still say acme/widget, yet reverify holds the evidence only to
    the per-file record and never compares that record with the component's: verify
    exits 0 while the publisher an auditor reads has no signature in the SBOM."""
    sig, root = vsig
    filename, sha = _serve(index_server, sig, "widget", "1.0", ACME)
    sbom = write_json(
        tmp_path / "in.json",
        cdx([pypi("widget", "1.0", hashes=[{"alg": "SHA-256", "content": sha}])]),
    )
    out = tmp_path / "out.json"
    assert enrich_cli(sbom, out, index_server.index_url, "--no-cache", trust_root=root) == 0
    data = json.loads(out.read_text())
    assert props(_component(data, "widget"))[P + "publisher:repository"] == "acme/widget"

    # The attacker's own identity record, as bomguard would write it for their signature.
    from indexserver import IndexServer

    with IndexServer() as own:
        _serve(own, sig, "widget", "1.0", EVIL)
        theirs = tmp_path / "theirs.json"
        assert enrich_cli(sbom, theirs, own.index_url, "--no-cache", trust_root=root) == 0
    evil_data = json.loads(theirs.read_text())
    evil_props = props(_component(evil_data, "widget"))
    evil_record = {k[len(P) :]: v for k, v in evil_props.items() if k.startswith(P + "publisher:")}
    evil_item = _items(evil_data, "pkg:pypi/widget@1.0")[0]

    def swap(d):
        _items(d, "pkg:pypi/widget@1.0")[0]["contents"] = copy.deepcopy(evil_item["contents"])
        _component(d, "widget")["properties"].append(
            {
                "name": f"{P}file-identities",
                "value": json.dumps({"file": filename, "identities": [evil_record]}),
            }
        )

    forged = _tamper(out, data, swap)
    assert (
        props(_component(json.loads(forged.read_text()), "widget"))[P + "publisher:repository"]
        == "acme/widget"
    )
    code, err = _verify(forged, root, capsys)
    assert code == 1, f"acme/widget recorded, evil/widget's evidence embedded, verify: {err}"


# -- (a)/(e): a hijacked release that leaves one file unsigned -----------------------------

SAME_SOURCE = """apiVersion: bomguard/v1
kind: Policy
metadata: {name: same-source}
rules:
  - id: same-source
    description: A release keeps its repository and workflow
    require: >-
      !("repository-changed" in component.drift.kinds)
      && !("workflow-changed" in component.drift.kinds)
    message: "{name} {version}: published from another source"
"""


def test_partial_release_hides_the_repository_change(index_server, vsig, tmp_path):
    """widget 0.9 was acme's. 1.0's sdist is signed by another repository and its wheel
    carries no provenance: the release is ``partial``, and ``compare`` then records only
    ``attestation-disappeared`` and never compares the verified file's identity, so the
    repository change is hidden and a "same repository" rule (as docs/review.md shows)
    passes the hijack. Fully signed by evil/widget, the same rule fails."""
    sig, root = vsig
    _serve(index_server, sig, "widget", "0.9", ACME)
    _serve(index_server, sig, "widget", "1.0", EVIL)
    wheel = "widget-1.0-py3-none-any.whl"
    index_server.add_file("widget", wheel, sha256=_sha(wheel), provenance=None)
    policy = tmp_path / "same-source.yaml"
    policy.write_text(SAME_SOURCE)
    sbom = write_json(tmp_path / "in.json", cdx([pypi("widget", "1.0")]))
    out = tmp_path / "out.json"
    args = ["--no-cache", "--policy", str(policy), "--drift-depth", "1"]
    code = enrich_cli(sbom, out, index_server.index_url, *args, trust_root=root)
    p = props(_component(json.loads(out.read_text()), "widget"))
    assert p[P + "status"] == "partial"
    assert p[P + "publisher:repository"] == "evil/widget"
    assert code == 1, (
        f"hijack passed a same-source policy; drift kinds: {p.get('bomguard:drift:kinds')}"
    )
    assert "repository-changed" in p.get("bomguard:drift:kinds", "")


# -- (b)/(d): the fleet's identity history -------------------------------------------------

STORE_PROJECT = "octo-pkg"
HONEST = GitHubIdentity(repository="octo/pkg")
MALLORY = GitHubIdentity(repository="mallory/evil")


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    from bomguard.store import _close_all

    key = tmp_path / "fleet-key"
    key.write_text("ab" * 32)
    monkeypatch.setenv("BOMGUARD_STORE_KEY_FILE", str(key))
    yield str(tmp_path / "store" / "bomguard.sqlite3")
    _close_all()


def _fleet_run(server, root, tmp_path, store, name, version, *extra):
    sbom = write_json(tmp_path / f"{name}.json", cdx([pypi(STORE_PROJECT, version)]))
    sbom.write_text(
        sbom.read_text().replace("3e671687", hashlib.sha256(name.encode()).hexdigest()[:8])
    )
    out, verdict = tmp_path / f"{name}.out.json", tmp_path / f"{name}.verdict.json"
    args = ["--store", store, "--drift-depth", "0", "--verdict", str(verdict), *extra]
    enrich_cli(sbom, out, server.index_url, *args, trust_root=root)
    return json.loads(verdict.read_text())["drift"]


def _serve_octo(index_server, sig):
    """octo-pkg 1.0 signed by octo/pkg, 1.1 by mallory/evil."""
    for version, identity in (("1.0", HONEST), ("1.1", MALLORY)):
        filename = f"octo_pkg-{version}.tar.gz"
        content = f"octo-pkg {version}".encode()
        index_server.add_file(
            STORE_PROJECT,
            filename,
            content=content,
            provenance=sig.mint_provenance(filename, hashlib.sha256(content).hexdigest(), identity),
        )


def _fleet_hijack(index_server, sig, tmp_path, store):
    """octo-pkg 1.0 by octo/pkg is seen by app-a; 1.1 is signed by mallory/evil."""
    from bomguard.store import _close_all

    _serve_octo(index_server, sig)
    root = root_of(sig, tmp_path)
    assert _fleet_run(index_server, root, tmp_path, store, "app-a", "1.0") == []
    _close_all()


def root_of(sig, tmp_path):
    path = tmp_path / "trusted_root.json"
    if not path.exists():
        sig.write_trusted_root(path)
    return path


def test_pr_settings_file_turns_off_store_history_with_no_flag_to_restore(
    index_server, vsig, tmp_path, fleet, monkeypatch
):
    """A PR's ``bomguard.toml`` says ``no-store-history = true``: the fleet's history
    no longer sets an expectation (nor records this run), and CI has no flag that turns
    it back on, so the hijacked 1.1 raises no drift. (Control: the same run without the
    file raises ``store`` drift.)"""
    sig, _ = vsig
    root = root_of(sig, tmp_path)
    _fleet_hijack(index_server, sig, tmp_path, fleet)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "bomguard.toml").write_text("no-store-history = true\n")
    with monkeypatch.context() as m:
        m.chdir(repo)
        # Refused: the file may not switch the history off (and is no valid key anyway:
        # the option is --store-history/--no-store-history, so CI can also turn it back on).
        sbom = write_json(repo / "app-b.json", cdx([pypi(STORE_PROJECT, "1.1")]))
        code = enrich_cli(sbom, repo / "out.json", index_server.index_url, "--store", fleet)
        assert code == 2, "a repository's settings file switched the fleet history off"
        (repo / "bomguard.toml").write_text("store-history = false\n")
        code = enrich_cli(sbom, repo / "out.json", index_server.index_url, "--store", fleet)
        assert code == 2
    # Control, and the last flag wins: the history is on and catches mallory's 1.1.
    assert _fleet_run(
        index_server, root, tmp_path, fleet, "flag", "1.1", "--no-store-history", "--store-history"
    ), "the flag turns the history back on"


def _fleet_verdict(server, root, tmp_path, store, name, version, *extra):
    """Like :func:`_fleet_run`, but the whole verdict and the run's stderr."""
    import io
    from contextlib import redirect_stderr

    err = io.StringIO()
    with redirect_stderr(err):
        _fleet_run(server, root, tmp_path, store, name, version, *extra)
    verdict = json.loads((tmp_path / f"{name}.verdict.json").read_text())
    return verdict, err.getvalue()


def _unchecked(tmp_path, name):
    doc = json.loads((tmp_path / f"{name}.out.json").read_text())
    return props(_component(doc, STORE_PROJECT)).get("bomguard:drift:unchecked", "")


def test_deleting_history_rows_without_the_key_keeps_the_store_drift(
    index_server, vsig, tmp_path, fleet, capfd
):
    """Whoever writes the database without the fleet key deletes a project's ``history``
    rows: the project's MAC'd history head still holds the identity last seen, so the
    hijacked 1.1 in a new SBOM still raises ``store`` drift, and the removal is reported."""
    from storerows import Rows

    from bomguard.store import _close_all

    sig, _ = vsig
    root = root_of(sig, tmp_path)
    _fleet_hijack(index_server, sig, tmp_path, fleet)
    with Rows(fleet) as rows:
        assert rows.history(), "app-a recorded octo/pkg"
        rows.sql("DELETE FROM history WHERE project = ?", (STORE_PROJECT,))
    _close_all()
    capfd.readouterr()
    drift = _fleet_run(index_server, root, tmp_path, fleet, "app-b", "1.1")
    assert [(d["source"], d["kind"]) for d in drift] == [("store", "repository-changed")], drift
    assert "was removed from the store" in capfd.readouterr().err


@pytest.mark.parametrize("also", ["head", "head-and-manifest"])
def test_deleting_history_and_its_head_leaves_the_store_source_unchecked(
    index_server, vsig, tmp_path, fleet, capfd, also
):
    """The same deletion taking the project's head too (and then the manifest that lists
    the projects with heads): the removal cannot pass for "no history". The ``store``
    source becomes unchecked (``policies/strict.yaml`` fails) and the run says why."""
    from storerows import Rows

    from bomguard.store import _close_all

    sig, _ = vsig
    root = root_of(sig, tmp_path)
    _fleet_hijack(index_server, sig, tmp_path, fleet)
    with Rows(fleet) as rows:
        assert [k for k, _m, _b in rows.entries("history-head")] == [STORE_PROJECT]
        rows.sql("DELETE FROM history WHERE project = ?", (STORE_PROJECT,))
        rows.sql("DELETE FROM entries WHERE kind = 'history-head'")
        if also == "head-and-manifest":
            rows.sql("DELETE FROM entries WHERE kind = 'history-manifest'")
            # Another project's history remains: the store is not simply new.
            rows.sql("INSERT INTO history VALUES ('other', '1', 'f', '{}', 'x', 's', 0, 0, 'bad')")
    _close_all()
    capfd.readouterr()
    verdict_path = tmp_path / "app-b.verdict.json"
    strict = str(Path(__file__).parent.parent / "policies" / "strict.yaml")
    assert _fleet_run(index_server, root, tmp_path, fleet, "app-b", "1.1", "--policy", strict) == []
    assert "store (" in _unchecked(tmp_path, "app-b")
    assert json.loads(verdict_path.read_text())["verdict"] == "fail"
    err = capfd.readouterr().err
    assert "removed" in err, err


def test_planted_history_head_sets_no_expectation(index_server, vsig, tmp_path, fleet, capfd):
    """A head copied from another project (MAC'd under its own key) or edited to name
    mallory's identity does not authenticate: it is dropped and reported, and the
    genuine rows still raise the drift."""
    from storerows import Rows

    from bomguard.store import _close_all

    sig, _ = vsig
    root = root_of(sig, tmp_path)
    _fleet_hijack(index_server, sig, tmp_path, fleet)
    with Rows(fleet) as rows:
        ((key, meta, _body),) = rows.entries("history-head")
        meta["record"] = meta["record"].replace("octo/pkg", "mallory/evil")
        rows.sql(
            "UPDATE entries SET meta = ? WHERE kind = 'history-head' AND key = ?",
            (json.dumps(meta), key),
        )
    _close_all()
    capfd.readouterr()
    drift = _fleet_run(index_server, root, tmp_path, fleet, "app-b", "1.1")
    assert [(d["source"], d["kind"]) for d in drift] == [("store", "repository-changed")], drift
    assert "history head of octo-pkg has a MAC that does not match" in capfd.readouterr().err


def test_store_from_before_heads_gets_them_on_upgrade(index_server, vsig, tmp_path, fleet, capfd):
    """A store written before heads existed (schema 1: history rows, no head, no
    manifest) is not mistaken for a tampered one: opening it builds the heads from its
    authentic rows, silently, and a later deletion of the rows is then caught."""
    from storerows import Rows

    from bomguard.store import _close_all

    sig, _ = vsig
    root = root_of(sig, tmp_path)
    _fleet_hijack(index_server, sig, tmp_path, fleet)
    with Rows(fleet) as rows:
        rows.sql("DELETE FROM entries WHERE kind IN ('history-head', 'history-manifest')")
        rows.sql("UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    _close_all()
    capfd.readouterr()
    assert _fleet_run(index_server, root, tmp_path, fleet, "app-a2", "1.0") == []
    assert "removed" not in capfd.readouterr().err
    _close_all()
    with Rows(fleet) as rows:
        assert [k for k, _m, _b in rows.entries("history-head")] == [STORE_PROJECT]
        rows.sql("DELETE FROM history WHERE project = ?", (STORE_PROJECT,))
    _close_all()
    drift = _fleet_run(index_server, root, tmp_path, fleet, "app-b", "1.1")
    assert [(d["source"], d["kind"]) for d in drift] == [("store", "repository-changed")], drift


# -- (c): a second record beside bomguard's own ---------------------------------------------


def test_duplicate_status_property_shadowing_the_record_passes_verify(
    index_server, vsig, tmp_path, capsys
):
    """CycloneDX allows repeated property names, and bomguard reads the *last* one. The
    carrier puts ``bomguard:provenance:status = verified`` (and a publisher) *before*
    bomguard's honest ``invalid`` record: ``bomguard verify`` proves only the last value
    and exits 0, while any reader that takes the first value (or shows every property)
    sees a verified component. A record bomguard vouches for must be unambiguous."""
    sig, root = vsig
    _serve(index_server, sig, "widget", "1.0", ACME, defect=Defect.BAD_SIGNATURE)
    sbom = write_json(tmp_path / "in.json", cdx([pypi("widget", "1.0")]))
    out = tmp_path / "out.json"
    assert enrich_cli(sbom, out, index_server.index_url, "--no-cache", trust_root=root) == 1
    data = json.loads(out.read_text())

    def shadow(d):
        widget = _component(d, "widget")
        widget["properties"] = [
            {"name": P + "status", "value": "verified"},
            {"name": P + "files:verified", "value": "1"},
            {"name": P + "publisher:repository", "value": "acme/widget"},
            *widget["properties"],
        ]

    forged = _tamper(out, data, shadow)
    first = next(
        p["value"]
        for p in _component(json.loads(forged.read_text()), "widget")["properties"]
        if p["name"] == P + "status"
    )
    assert first == "verified"
    code, err = _verify(forged, root, capsys)
    assert code == 1, f"a shadowing 'verified' status passed verify: {err}"


def test_history_row_moved_to_the_future_does_not_become_the_expectation(
    index_server, vsig, tmp_path, fleet
):
    """A history row's first and last seen are not MAC'd. The fleet saw mallory's 1.1
    first, then octo/pkg's 1.0 most recently; moving mallory's row to the year 2100 would
    make it "the latest" and let the next 1.1 pass unremarked. The head, MAC'd, decides."""
    from storerows import Rows

    from bomguard.store import _close_all

    sig, _ = vsig
    root = root_of(sig, tmp_path)
    _serve_octo(index_server, sig)
    assert _fleet_run(index_server, root, tmp_path, fleet, "app-m", "1.1") == []
    _close_all()
    assert _fleet_run(index_server, root, tmp_path, fleet, "app-a", "1.0") != []
    _close_all()
    with Rows(fleet) as rows:
        moved = rows.sql(
            "UPDATE history SET last_seen = 4102444800 WHERE project = ? AND version = '1.1'",
            (STORE_PROJECT,),
        )
        assert moved is not None
    _close_all()
    drift = _fleet_run(index_server, root, tmp_path, fleet, "app-b", "1.1")
    assert [(d["source"], d["kind"]) for d in drift] == [("store", "repository-changed")], drift


def test_a_run_the_store_cannot_record_says_so(index_server, vsig, tmp_path, fleet, capfd):
    """The store refuses the run's writes (here a trigger aborts them, as a full disk or a
    read-only replica would): the run still finishes with its verdict, and says that the
    fleet's history and inventory do not include it, rather than losing it silently."""
    from storerows import Rows

    from bomguard.store import _close_all

    sig, _ = vsig
    root = root_of(sig, tmp_path)
    _fleet_hijack(index_server, sig, tmp_path, fleet)
    with Rows(fleet) as rows:
        rows.sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON sboms "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    _close_all()
    capfd.readouterr()
    drift = _fleet_run(index_server, root, tmp_path, fleet, "app-b", "1.1")
    assert [(d["source"], d["kind"]) for d in drift] == [("store", "repository-changed")]
    err = capfd.readouterr().err
    assert "WARNING: store:" in err and "database or disk is full" in err, err
    assert "not fully recorded" in err
