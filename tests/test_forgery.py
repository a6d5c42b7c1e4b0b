"""Forged evidence, as an attacker would make it, fails closed: through the CLI, against
minted attestations served by the loopback index and SBOMs edited on their way to an
auditor. Each test names the attack it stops."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import replace

import pytest
from helpers import cdx, drift_events, enrich_cli, props, pypi, run_cli, write_json
from virtual_sigstore import (
    Defect,
    GitHubIdentity,
    GoogleIdentity,
    VirtualSigstore,
)

ACME = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")
EVIL = GitHubIdentity(
    repository="evil/widget", ref="refs/tags/v1.0", trigger="release", repository_id="666"
)


@pytest.fixture(scope="module")
def vsig(tmp_path_factory):
    sig = VirtualSigstore(seed=11)
    root = sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return sig, root


def _sha(filename: str) -> str:
    return hashlib.sha256(f"{filename} contents".encode()).hexdigest()


def _serve(server, sig, project, version, identity, *, suffix=".tar.gz", **mint):
    filename = f"{project}-{version}{suffix}"
    sha = _sha(filename)
    provenance = sig.mint_provenance(filename, sha, identity, **mint) if identity else None
    server.add_file(project, filename, sha256=sha, provenance=provenance)
    return filename, sha


def _enrich(server, tmp_path, root, components, *extra, name="out.json"):
    sbom = write_json(tmp_path / f"in-{name}", cdx(components))
    out = tmp_path / name
    code = enrich_cli(sbom, out, server.index_url, "--no-cache", *extra, trust_root=root)
    return code, out


def _component(data, name):
    return next(c for c in data["components"] if c["name"] == name)


def _verify(path, root, capsys):
    capsys.readouterr()
    code = run_cli(["verify", str(path), "--trust-root", str(root)])
    return code, capsys.readouterr().err


def _claim(data, target):
    return next(c for c in data["declarations"]["claims"] if c.get("target") == target)


def _items(data, target):
    claim = _claim(data, target)
    evidence = {e["bom-ref"]: e for e in data["declarations"]["evidence"]}
    return evidence[claim["evidence"][0]]["data"]


def _embed(item, provenance: bytes, sha: str | None = None) -> None:
    item["contents"]["attachment"]["content"] = base64.b64encode(provenance).decode()
    if sha is not None:
        item["name"] = item["name"].rsplit(" sha256:", 1)[0] + " sha256:" + sha


@pytest.fixture
def enriched(index_server, vsig, tmp_path):
    """widget 1.0 (with its SBOM hash) and gadget 2.0, both verified, enriched."""
    sig, root = vsig
    widget, widget_sha = _serve(index_server, sig, "widget", "1.0", ACME)
    _serve(
        index_server,
        sig,
        "gadget",
        "2.0",
        replace(ACME, repository="acme/gadget", ref="refs/tags/v2.0"),
    )
    components = [
        pypi("widget", "1.0", hashes=[{"alg": "SHA-256", "content": widget_sha}]),
        pypi("gadget", "2.0"),
    ]
    code, out = _enrich(index_server, tmp_path, root, components)
    assert code == 0
    data = json.loads(out.read_text())
    assert props(_component(data, "widget"))["bomguard:provenance:status"] == "verified"
    return out, data, root, sig, widget


def _tamper(out, data, mutate):
    forged = copy.deepcopy(data)
    mutate(forged)
    path = out.with_name("forged.json")
    path.write_text(json.dumps(forged))
    return path


def test_untouched_evidence_reverifies(enriched, capsys):
    out, _, root, _, _ = enriched
    code, err = _verify(out, root, capsys)
    assert code == 0, err


def _drop_file_properties(data):
    widget = _component(data, "widget")
    widget["properties"] = [
        p for p in widget["properties"] if not p["name"].startswith("bomguard:provenance:file")
    ]


def _drop_declarations(data):
    del data["declarations"]


def _point_gadget_at_widget_evidence(data):
    _claim(data, "pkg:pypi/gadget@2.0")["evidence"] = _claim(data, "pkg:pypi/widget@1.0")[
        "evidence"
    ]


def _reversion_widget(data):
    widget = _component(data, "widget")
    widget["version"] = "9.9"
    widget["purl"] = "pkg:pypi/widget@9.9"


def _rename_widget(data):
    widget = _component(data, "widget")
    widget["name"] = "requests"
    widget["version"] = "2.31.0"
    widget["purl"] = "pkg:pypi/requests@2.31.0"


def _recorded_repository_edited(data):
    widget = _component(data, "widget")
    for p in widget["properties"]:
        if p["name"] == "bomguard:provenance:publisher:repository-uri":
            p["value"] = "https://github.com/evil/widget"


def _trusted_publisher(value):
    def edit(data):
        for p in _component(data, "widget")["properties"]:
            if p["name"] == "bomguard:provenance:publisher:trusted-publisher":
                p["value"] = value

    return edit


@pytest.mark.parametrize(
    "attack",
    [
        _trusted_publisher("{not json"),
        _trusted_publisher(json.dumps(EVIL.publisher())),
        _drop_file_properties,
        _drop_declarations,
        _point_gadget_at_widget_evidence,
        _reversion_widget,
        _rename_widget,
        _recorded_repository_edited,
    ],
)
def test_evidence_moved_removed_or_relabelled_fails(enriched, capsys, attack):
    out, data, root, _, _ = enriched
    code, err = _verify(_tamper(out, data, attack), root, capsys)
    assert code == 1, err
    assert "FAIL:" in err


def test_evidence_re_signed_by_another_repository_fails(enriched, capsys):
    # Anyone with a repository can mint a valid signature over the same file and digest.
    out, data, root, sig, widget = enriched
    forged = sig.mint_provenance(widget, _sha(widget), EVIL)

    def swap(d):
        _embed(_items(d, "pkg:pypi/widget@1.0")[0], forged)

    code, err = _verify(_tamper(out, data, swap), root, capsys)
    assert code == 1, err
    assert "widget" in err


def test_evidence_re_signed_under_the_recorded_publisher_name_fails(enriched, capsys):
    # The forged bundle even claims the recorded publisher: the certificate says otherwise.
    out, data, root, sig, widget = enriched
    forged = sig.mint_provenance(widget, _sha(widget), EVIL, publisher=ACME.publisher())

    def swap(d):
        _embed(_items(d, "pkg:pypi/widget@1.0")[0], forged)

    code, err = _verify(_tamper(out, data, swap), root, capsys)
    assert code == 1, err


def test_new_digest_and_signature_against_the_sbom_hash_fails(enriched, capsys):
    # Other bytes, their digest recorded and signed: the component's own hash disagrees.
    out, data, root, sig, widget = enriched
    other = "ee" * 32
    forged = sig.mint_provenance(widget, other, ACME)

    def swap(d):
        _embed(_items(d, "pkg:pypi/widget@1.0")[0], forged, other)

    code, err = _verify(_tamper(out, data, swap), root, capsys)
    assert code == 1, err
    assert "SBOM hashes" in err


def test_invalid_recorded_as_absent_is_caught(index_server, vsig, tmp_path, capsys):
    sig, root = vsig
    filename, _ = _serve(index_server, sig, "widget", "1.0", ACME, defect=Defect.BAD_SIGNATURE)
    code, out = _enrich(index_server, tmp_path, root, [pypi("widget", "1.0")])
    assert code == 1
    data = json.loads(out.read_text())
    assert props(_component(data, "widget"))["bomguard:provenance:status"] == "invalid"

    def hide(d):
        for p in _component(d, "widget")["properties"]:
            if p["name"] == "bomguard:provenance:status":
                p["value"] = "absent"
            elif p["value"] == f"{filename} invalid":
                p["value"] = f"{filename} absent"
            elif p["name"] == "bomguard:provenance:files:invalid":
                p["value"] = "0"
            elif p["name"] == "bomguard:provenance:files:absent":
                p["value"] = "1"

    code, err = _verify(_tamper(out, data, hide), root, capsys)
    assert code == 1, err
    assert "recorded absent, now invalid" in err


def test_formats_without_evidence_say_they_cannot_be_proven(index_server, vsig, tmp_path, capsys):
    sig, root = vsig
    _serve(index_server, sig, "widget", "1.0", ACME)
    sbom = write_json(tmp_path / "in.json", cdx([pypi("widget", "1.0")], spec="1.5"))
    out = tmp_path / "out.json"
    assert enrich_cli(sbom, out, index_server.index_url, "--no-cache", trust_root=root) == 0
    code, err = _verify(out, root, capsys)
    assert code == 1
    assert "cannot be re-proven offline" in err
    assert "differ" not in err


# -- unsupported never shields a forgery ----------------------------------------------


def _dress_as_rekor_v2(provenance: bytes) -> bytes:
    doc = json.loads(provenance)
    for att in doc["attestation_bundles"][0]["attestations"]:
        entry = att["verification_material"]["transparency_entries"][0]
        entry["kindVersion"] = {"kind": "hashedrekord", "version": "0.0.2"}
        entry.pop("inclusionPromise", None)
    return json.dumps(doc).encode()


def _two_entries(provenance: bytes) -> bytes:
    doc = json.loads(provenance)
    for att in doc["attestation_bundles"][0]["attestations"]:
        entries = att["verification_material"]["transparency_entries"]
        entries.append(copy.deepcopy(entries[0]))
    return json.dumps(doc).encode()


def _jenkins(provenance: bytes) -> bytes:
    doc = json.loads(provenance)
    doc["attestation_bundles"][0]["publisher"] = {"kind": "Jenkins", "url": "https://ci.example"}
    return json.dumps(doc).encode()


@pytest.mark.parametrize("dress", [_dress_as_rekor_v2, _two_entries, _jenkins])
def test_a_bad_signature_stays_invalid_whatever_it_is_dressed_as(
    index_server, vsig, tmp_path, dress
):
    sig, root = vsig
    filename = "widget-1.0.tar.gz"
    bad = sig.mint_provenance(filename, _sha(filename), ACME, defect=Defect.BAD_SIGNATURE)
    index_server.add_file("widget", filename, sha256=_sha(filename), provenance=dress(bad))
    for extra in ((), ("--strict",)):
        code, out = _enrich(index_server, tmp_path, root, [pypi("widget", "1.0")], *extra)
        p = props(json.loads(out.read_text())["components"][0])
        assert p["bomguard:provenance:status"] == "invalid", p["bomguard:provenance:reason"]
        assert code == 1


def test_a_sound_attestation_of_an_unknown_kind_is_unsupported(index_server, vsig, tmp_path):
    sig, root = vsig
    filename = "widget-1.0.tar.gz"
    good = sig.mint_provenance(filename, _sha(filename), ACME)
    index_server.add_file("widget", filename, sha256=_sha(filename), provenance=_jenkins(good))
    _, out = _enrich(index_server, tmp_path, root, [pypi("widget", "1.0")])
    p = props(json.loads(out.read_text())["components"][0])
    assert p["bomguard:provenance:status"] == "unsupported"
    assert "Jenkins" in p["bomguard:provenance:reason"]


def test_verified_then_unsupported_is_drift(index_server, vsig, tmp_path):
    sig, root = vsig
    _serve(index_server, sig, "widget", "1.0", ACME)
    filename = "widget-1.1.tar.gz"
    good = sig.mint_provenance(filename, _sha(filename), ACME)
    index_server.add_file("widget", filename, sha256=_sha(filename), provenance=_jenkins(good))
    code, out = _enrich(
        index_server,
        tmp_path,
        root,
        [pypi("widget", "1.1")],
        "--policy",
        "policies/strict.yaml",
    )
    p = props(json.loads(out.read_text())["components"][0])
    assert p["bomguard:drift:kinds"] == "attestation-disappeared"
    assert drift_events(json.loads(out.read_text())["components"][0])[0]["after"] == "unsupported"
    assert code == 1


# -- drift and pins look at every identity ---------------------------------------------


def _kinds(out, name="widget"):
    p = props(_component(json.loads(out.read_text()), name))
    return p, p.get("bomguard:drift:kinds", "").split(", ")


def test_a_file_from_another_repository_is_drift_and_breaks_a_pin(index_server, vsig, tmp_path):
    sig, root = vsig
    _serve(index_server, sig, "widget", "0.9", ACME)
    _serve(index_server, sig, "widget", "1.0", ACME, suffix="-py3-none-any.whl")
    _serve(index_server, sig, "widget", "1.0", EVIL)
    pins = tmp_path / "pins.yaml"
    pins.write_text(
        "apiVersion: bomguard/v1\nkind: Pins\npins:\n"
        "  widget:\n    - {kind: GitHub, repository: acme/widget, workflow: release.yml}\n"
    )
    _, out = _enrich(index_server, tmp_path, root, [pypi("widget", "1.0")], "--pins", str(pins))
    p, kinds = _kinds(out)
    assert p["bomguard:provenance:status"] == "verified"
    assert "multiple-identities" in kinds
    assert "repository-changed" in kinds
    events = [
        (e["kind"], e["source"])
        for e in drift_events(_component(json.loads(out.read_text()), "widget"))
    ]
    assert len(events) == int(p["bomguard:drift:count"])
    assert ("repository-changed", "pin") in events
    assert ("repository-changed", "previous-release") in events
    # bomguard's own record of such a release still proves itself.
    assert run_cli(["verify", str(out), "--trust-root", str(root)]) == 0


def test_a_second_bundle_from_another_publisher_is_not_hidden(index_server, vsig, tmp_path):
    sig, root = vsig
    filename = "widget-1.0.tar.gz"
    sha = _sha(filename)
    doc = json.loads(sig.mint_provenance(filename, sha, ACME))
    second = json.loads(sig.mint_provenance(filename, sha, EVIL))
    doc["attestation_bundles"].extend(second["attestation_bundles"])
    index_server.add_file("widget", filename, sha256=sha, provenance=json.dumps(doc).encode())
    _, out = _enrich(index_server, tmp_path, root, [pypi("widget", "1.0")])
    p, kinds = _kinds(out)
    assert p["bomguard:provenance:status"] == "verified"
    assert kinds == ["multiple-identities"]
    event = drift_events(_component(json.loads(out.read_text()), "widget"))[0]
    assert "evil/widget" in event["after"]


def test_a_pin_field_the_identity_lacks_is_a_mismatch(index_server, vsig, tmp_path):
    sig, root = vsig
    _serve(index_server, sig, "widget", "1.0", GoogleIdentity(email="ci@evil.iam.example"))
    pins = tmp_path / "pins.yaml"
    pins.write_text(
        "apiVersion: bomguard/v1\nkind: Pins\npins:\n  widget:\n    - {repository: acme/widget}\n"
    )
    _, out = _enrich(index_server, tmp_path, root, [pypi("widget", "1.0")], "--pins", str(pins))
    _, kinds = _kinds(out)
    assert "repository-changed" in kinds


def test_a_signing_workflow_in_another_repository_is_drift(index_server, vsig, tmp_path):
    sig, root = vsig
    _serve(index_server, sig, "widget", "0.9", ACME)
    borrowed = replace(ACME, build_signer="evil/tools/.github/workflows/sign.yml@refs/heads/main")
    _serve(index_server, sig, "widget", "1.0", borrowed)
    _, out = _enrich(index_server, tmp_path, root, [pypi("widget", "1.0")])
    p, kinds = _kinds(out)
    assert "signer-outside-repository" in kinds
    assert "signer-changed" in kinds
    assert p["bomguard:provenance:publisher:identity"].startswith("https://github.com/evil/tools/")


# -- offline drift is honest -----------------------------------------------------------


def test_offline_drift_compares_from_the_mirror(index_server, vsig, tmp_path):
    sig, root = vsig
    _serve(index_server, sig, "widget", "0.9", replace(ACME, workflow="old.yml"))
    _serve(index_server, sig, "widget", "1.0", ACME)
    sbom = write_json(tmp_path / "in.json", cdx([pypi("widget", "1.0")]))
    mirror = tmp_path / "mirror"
    assert (
        run_cli(["fetch", str(sbom), "--into", str(mirror), "--index-url", index_server.index_url])
        == 0
    )
    index_server.close()
    out = tmp_path / "out.json"
    args = ["enrich", str(sbom), "-o", str(out), "--mirror", str(mirror)]
    run_cli([*args, "--trust-root", str(root)])
    p, kinds = _kinds(out)
    assert p["bomguard:drift:checked"] == "previous-release:0.9"
    assert kinds == ["workflow-changed"]


def test_a_comparison_that_could_not_be_made_fails_strict(index_server, vsig, tmp_path):
    sig, root = vsig
    _serve(index_server, sig, "widget", "0.9", ACME)
    _serve(index_server, sig, "widget", "1.0", ACME)
    index_server.fault("/integrity/widget/0.9/", status=404)
    code, out = _enrich(
        index_server,
        tmp_path,
        root,
        [pypi("widget", "1.0")],
        "--policy",
        "policies/strict.yaml",
    )
    p = props(json.loads(out.read_text())["components"][0])
    assert p["bomguard:provenance:status"] == "verified"
    assert "bomguard:drift:checked" not in p
    assert p["bomguard:drift:unchecked"].startswith("previous-release:0.9 (")
    assert code == 1


def test_a_component_whose_record_was_removed_is_caught(index_server, vsig, tmp_path, capsys):
    # An invalid component stripped of every trace of bomguard looks "not enriched".
    sig, root = vsig
    _serve(index_server, sig, "widget", "1.0", ACME)
    _serve(index_server, sig, "gadget", "2.0", ACME, defect=Defect.BAD_SIGNATURE)
    code, out = _enrich(
        index_server, tmp_path, root, [pypi("widget", "1.0"), pypi("gadget", "2.0")]
    )
    assert code == 1
    data = json.loads(out.read_text())

    def scrub(d):
        gadget = _component(d, "gadget")
        del gadget["properties"]
        d["declarations"]["claims"] = [
            c for c in d["declarations"]["claims"] if c.get("target") != gadget["bom-ref"]
        ]

    code, err = _verify(_tamper(out, data, scrub), root, capsys)
    assert code == 1, err
    assert "pkg:pypi/gadget@2.0" in err and "without bomguard's record" in err


# -- every claim names its component ----------------------------------------------------


def test_components_without_bom_ref_get_one_and_reverify(index_server, vsig, tmp_path, capsys):
    sig, root = vsig
    _serve(index_server, sig, "widget", "1.0", ACME)
    _serve(index_server, sig, "gadget", "2.0", ACME)
    components = [pypi("widget", "1.0"), pypi("gadget", "2.0")]
    for c in components:
        del c["bom-ref"]
    code, out = _enrich(index_server, tmp_path, root, components)
    assert code == 0
    data = json.loads(out.read_text())
    refs = [_component(data, n)["bom-ref"] for n in ("widget", "gadget")]
    assert len(set(refs)) == 2 and all(r.startswith("bomguard:component:") for r in refs)
    assert {c["target"] for c in data["declarations"]["claims"]} == set(refs)
    code, err = _verify(out, root, capsys)
    assert code == 0, err


def test_a_shared_bom_ref_is_refused_before_any_request(index_server, vsig, tmp_path, capsys):
    sig, root = vsig
    _serve(index_server, sig, "widget", "1.0", ACME)
    _serve(index_server, sig, "gadget", "2.0", ACME)
    components = [
        pypi("widget", "1.0"),
        pypi("gadget", "2.0", **{"bom-ref": "pkg:pypi/widget@1.0"}),
    ]
    index_server.reset_log()
    capsys.readouterr()
    code, out = _enrich(index_server, tmp_path, root, components)
    err = capsys.readouterr().err
    assert code == 2
    assert "bom-ref 'pkg:pypi/widget@1.0'" in err and "/components/1" in err
    assert index_server.count("/") == 0
    assert not out.exists()


def test_a_record_the_evidence_does_not_back_reads_not_proven(enriched, capsys):
    out, data, root, _, _ = enriched
    code, err = _verify(_tamper(out, data, _recorded_repository_edited), root, capsys)
    assert code == 1
    line = next(x for x in err.splitlines() if x.startswith("FAIL: pkg:pypi/widget@1.0"))
    assert line.startswith("FAIL: pkg:pypi/widget@1.0: recorded verified, not proven: ")
    assert "recorded https://github.com/evil/widget" in line
