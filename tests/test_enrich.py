"""End to end: real provenance on a real loopback index, through the CLI and the library."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ATTESTATION_COMMENT, by_name, cdx, props, pypi, run_cli, write_json
from indexserver import add_dist, add_fixture, make_provenance

import bomguard
from bomguard.policy import validate_verdict

EMBEDDED = ["--trust-root", "embedded"]


def _enrich(server, tmp_path, doc, *extra):
    sbom = write_json(tmp_path / "in.cdx.json", doc)
    out = tmp_path / "out.cdx.json"
    verdict = tmp_path / "verdict.json"
    code = run_cli(
        [
            "enrich",
            str(sbom),
            "-o",
            str(out),
            "--verdict",
            str(verdict),
            "--index-url",
            server.index_url,
            *EMBEDDED,
            *extra,
        ]
    )
    enriched = json.loads(out.read_text()) if out.exists() else None
    verdict_doc = json.loads(verdict.read_text()) if verdict.exists() else None
    return code, enriched, verdict_doc


def test_real_attestations_verify_with_their_publisher(real_index, tmp_path):
    server, registered = real_index
    doc = cdx(pypi(r.project, r.version) for r in registered.values())
    code, out, verdict = _enrich(server, tmp_path, doc)
    assert code == 0
    comps = by_name(out)
    seen_kinds = set()
    for reg in registered.values():
        p = props(comps.get(reg.project, {}))
        # pypi-attestations is listed twice (two versions); find the right component.
        matches = [
            c for c in out["components"] if c["purl"] == f"pkg:pypi/{reg.project}@{reg.version}"
        ]
        assert len(matches) == 1
        p = props(matches[0])
        assert p["bomguard:provenance:status"] == "verified", (reg.filename, p)
        assert p["bomguard:provenance:publisher:kind"] == reg.publisher_kind
        seen_kinds.add(reg.publisher_kind)
        if reg.publisher_kind in ("GitHub", "GitLab"):
            assert p["bomguard:provenance:publisher:repository"] == reg.publisher["repository"]
            workflow = reg.publisher.get("workflow") or reg.publisher.get("workflow_filepath")
            assert p["bomguard:provenance:publisher:workflow"] == workflow
            assert reg.signer_identity == p["bomguard:provenance:publisher:identity"]
        refs = [r for r in matches[0]["externalReferences"] if r["comment"] == ATTESTATION_COMMENT]
        assert [r["url"] for r in refs] == [reg.provenance_url]
        assert refs[0]["type"] == "attestation"
    assert seen_kinds == {"GitHub", "GitLab", "Google", "CircleCI"}
    assert verdict["verdict"] == "pass"
    assert verdict["counts"]["verified"] == len(registered)
    validate_verdict(verdict)


def test_google_identity_is_the_service_account(real_index, tmp_path):
    server, registered = real_index
    reg = registered["gcb_attestation_test-0.0.0.tar.gz"]
    _, out, _ = _enrich(server, tmp_path, cdx([pypi(reg.project, reg.version)]))
    p = props(out["components"][0])
    assert p["bomguard:provenance:publisher:identity"] == reg.signer_identity
    assert p["bomguard:provenance:publisher:issuer"] == "https://accounts.google.com"


def test_null_provenance_is_absent_and_missing_key_is_unknown(index_server, data_dir, tmp_path):
    add_dist(index_server, data_dir, "rfc8785-0.1.2-py3-none-any.whl", provenance=None)
    add_dist(index_server, data_dir, "sampleproject-4.0.0-py3-none-any.whl", provenance_key=False)
    doc = cdx([pypi("rfc8785", "0.1.2"), pypi("sampleproject", "4.0.0")])
    code, out, verdict = _enrich(index_server, tmp_path, doc)
    comps = by_name(out)
    assert props(comps["rfc8785"])["bomguard:provenance:status"] == "absent"
    unknown = props(comps["sampleproject"])
    assert unknown["bomguard:provenance:status"] == "unknown"
    assert "does not advertise PEP 740" in unknown["bomguard:provenance:reason"]
    assert code == 0  # the default policy fails only on invalid
    assert verdict["counts"]["absent"] == 1 and verdict["counts"]["unknown"] == 1
    # Under --strict, unknown fails the verdict; absent still does not.
    code, _, verdict = _enrich(index_server, tmp_path, doc, "--strict")
    assert code == 1
    assert [(v["rule"], v["component"]) for v in verdict["violations"]] == [
        ("strict-known-provenance", "pkg:pypi/sampleproject@4.0.0")
    ]


def _flip_signature(provenance: bytes) -> bytes:
    doc = json.loads(provenance)
    att = doc["attestation_bundles"][0]["attestations"][0]
    sig = bytearray(base64.b64decode(att["envelope"]["signature"]))
    sig[len(sig) // 2] ^= 0x01
    att["envelope"]["signature"] = base64.b64encode(bytes(sig)).decode()
    return json.dumps(doc).encode()


def test_tampering_and_wrong_roots_are_invalid(index_server, data_dir, tmp_path):
    prov_dir = data_dir / "provenance"
    good = (prov_dir / "sigstore-3.6.1.tar.gz.provenance").read_bytes()
    add_dist(index_server, data_dir, "sigstore-3.6.1.tar.gz", provenance=_flip_signature(good))
    # The index's sha256 disagrees with the attested subject.
    add_dist(
        index_server,
        data_dir,
        "pypi_attestations-0.0.19.tar.gz",
        sha256="0" * 64,
        provenance=(prov_dir / "pypi_attestations-0.0.19.tar.gz.provenance").read_bytes(),
    )
    # Signed by Sigstore's staging instance, checked against the production root.
    staging = json.loads(
        (prov_dir / "staging" / "rfc8785-0.1.2-py3-none-any.whl.publish.attestation").read_text()
    )
    add_dist(
        index_server,
        data_dir,
        "rfc8785-0.1.2-py3-none-any.whl",
        provenance=make_provenance(
            [staging],
            {"kind": "GitHub", "repository": "trailofbits/rfc8785.py", "workflow": "release.yml"},
        ),
    )
    doc = cdx(
        [pypi("sigstore", "3.6.1"), pypi("pypi-attestations", "0.0.19"), pypi("rfc8785", "0.1.2")]
    )
    code, out, verdict = _enrich(index_server, tmp_path, doc)
    comps = by_name(out)
    reasons = {}
    for name in ("sigstore", "pypi-attestations", "rfc8785"):
        p = props(comps[name])
        assert p["bomguard:provenance:status"] == "invalid", (name, p)
        reasons[name] = p["bomguard:provenance:reason"]
        assert "bomguard:provenance:publisher:kind" not in p
    assert "signature" in reasons["sigstore"].lower()
    assert "sha256" in reasons["pypi-attestations"]
    assert "verification failed" in reasons["rfc8785"]
    assert code == 1
    assert verdict["verdict"] == "fail"
    assert {v["rule"] for v in verdict["violations"]} == {"default-no-invalid-provenance"}
    assert len(verdict["violations"]) == 3


def test_index_that_lies_about_the_publisher_is_invalid(index_server, data_dir, tmp_path):
    add_fixture(
        index_server,
        data_dir,
        "sigstore-3.6.1.tar.gz.provenance",
        wrap_publisher={
            "kind": "GitHub",
            "repository": "evil/sigstore-python",
            "workflow": "release.yml",
        },
    )
    code, out, _ = _enrich(index_server, tmp_path, cdx([pypi("sigstore", "3.6.1")]))
    p = props(out["components"][0])
    assert p["bomguard:provenance:status"] == "invalid"
    assert code == 1


def test_provenance_nothing_can_be_checked_of_is_invalid(index_server, data_dir, tmp_path):
    # A real provenance object from a Pulp index: an unknown publisher kind and an
    # attestation in a shape that is not Sigstore's. Nothing of it can be checked, so the
    # unknown kind does not make it "unsupported" (which default policies let pass).
    raw = (
        data_dir
        / "provenance"
        / "nonstandard"
        / "redhat-trusted-libraries_amqp-5.3.1-0-py3-none-any.whl.provenance"
    ).read_bytes()
    index_server.add_file(
        "amqp",
        "amqp-5.3.1-0-py3-none-any.whl",
        sha256="034b93b6620dd4db0899c5299ed8fb11b60d2cd6fbfb3d271bedbf9f62dc2a9d",
        provenance=raw,
    )
    code, out, _ = _enrich(index_server, tmp_path, cdx([pypi("amqp", "5.3.1")]))
    p = props(out["components"][0])
    assert p["bomguard:provenance:status"] == "invalid"
    assert "malformed" in p["bomguard:provenance:reason"]
    assert code == 1


def test_policy_verdict_and_exit_codes(real_index, tmp_path):
    server, _registered = real_index
    server.add_file("cryptography", "cryptography-50.0.2.tar.gz", sha256="ab" * 32, provenance=None)
    policy = Path(__file__).parent.parent / "policies" / "trusted-publisher-critical.yaml"
    doc = cdx([pypi("sigstore", "3.6.1"), pypi("cryptography", "50.0.2")])
    code, _, verdict = _enrich(server, tmp_path, doc, "--policy", str(policy))
    assert code == 1
    assert verdict["verdict"] == "fail"
    failing = {(v["rule"], v["component"]) for v in verdict["violations"]}
    assert ("critical-attested", "pkg:pypi/cryptography@50.0.2") in failing
    assert not any(c == "pkg:pypi/sigstore@3.6.1" for _, c in failing)
    validate_verdict(verdict)
    # Drop the unattested critical dependency: the same policy passes.
    code, _, verdict = _enrich(
        server, tmp_path, cdx([pypi("sigstore", "3.6.1")]), "--policy", str(policy)
    )
    assert code == 0 and verdict["verdict"] == "pass"
    assert verdict["policies"][0]["sha256"] == hashlib.sha256(policy.read_bytes()).hexdigest()


def test_versionless_nonpypi_and_duplicate_purls(real_index, tmp_path):
    server, _ = real_index
    dup = pypi("sigstore", "3.6.1")
    dup2 = dict(dup, **{"bom-ref": "another-ref"})
    npm = {
        "type": "library",
        "name": "left-pad",
        "version": "1.3.0",
        "purl": "pkg:npm/left-pad@1.3.0",
    }
    doc = cdx([dup, dup2, pypi("requests", None), npm])
    code, out, verdict = _enrich(server, tmp_path, doc)
    assert code == 0
    comps = out["components"]
    assert props(comps[0])["bomguard:provenance:status"] == "verified"
    assert props(comps[1])["bomguard:provenance:status"] == "verified"
    assert server.count("/simple/sigstore/") == 1
    assert server.count("/integrity/sigstore/") == 1
    versionless = props(comps[2])
    assert versionless["bomguard:provenance:status"] == "unknown"
    assert versionless["bomguard:provenance:reason"] == "no version"
    assert "properties" not in comps[3]
    assert verdict["counts"]["not-applicable"] == 1
    assert verdict["counts"]["verified"] == 2


def test_non_normalised_purl_names_are_found(real_index, tmp_path):
    server, _ = real_index
    comp = pypi("PyPI_Attestations", "0.0.19")
    _code, out, _ = _enrich(server, tmp_path, cdx([comp]))
    assert props(out["components"][0])["bomguard:provenance:status"] == "verified"


def test_sbom_hashes_narrow_the_files(index_server, data_dir, tmp_path):
    prov = (data_dir / "provenance" / "sigstore-3.6.1.tar.gz.provenance").read_bytes()
    sdist = add_dist(index_server, data_dir, "sigstore-3.6.1.tar.gz", provenance=prov)
    index_server.add_file(
        "sigstore", "sigstore-3.6.1-py3-none-any.whl", sha256="cd" * 32, provenance=None
    )
    # Without hashes: every file counts, one attested and one not → partial.
    _, out, _ = _enrich(index_server, tmp_path, cdx([pypi("sigstore", "3.6.1")]))
    assert props(out["components"][0])["bomguard:provenance:status"] == "partial"
    # With the sdist's hash in the SBOM, only the sdist counts.
    comp = pypi("sigstore", "3.6.1", hashes=[{"alg": "SHA-256", "content": sdist.sha256}])
    _, out, _ = _enrich(index_server, tmp_path, cdx([comp]))
    p = props(out["components"][0])
    assert p["bomguard:provenance:status"] == "verified"
    assert p["bomguard:provenance:files:total"] == "1"
    # A hash that no file of the release has describes other bytes: invalid, never absent
    # or verified.
    comp = pypi("sigstore", "3.6.1", hashes=[{"alg": "SHA-256", "content": "ef" * 32}])
    _, out, _ = _enrich(index_server, tmp_path, cdx([comp]))
    assert props(out["components"][0])["bomguard:provenance:status"] == "invalid"


def test_sbom_hash_that_disagrees_with_the_index_is_invalid(index_server, data_dir, tmp_path):
    prov = (data_dir / "provenance" / "sigstore-3.6.1.tar.gz.provenance").read_bytes()
    add_dist(index_server, data_dir, "sigstore-3.6.1.tar.gz", provenance=prov)
    ref = {
        "type": "distribution",
        "url": "https://files.example/sigstore-3.6.1.tar.gz",
        "hashes": [{"alg": "SHA-256", "content": "12" * 32}],
    }
    comp = pypi("sigstore", "3.6.1", externalReferences=[ref])
    code, out, _ = _enrich(index_server, tmp_path, cdx([comp]))
    p = props(out["components"][0])
    assert p["bomguard:provenance:status"] == "invalid"
    assert "disagrees" in p["bomguard:provenance:reason"]
    assert code == 1


@pytest.mark.parametrize(
    ("fault", "expected", "reason"),
    [
        ({"status": 404}, "unknown", "answered 404"),
        ({"status": 403}, "unknown", "disabled by the index"),
        ({"status": 503}, "unknown", "HTTP 503"),
        ({"truncate": True}, "unknown", "provenance fetch failed"),
        ({"status": 500, "times": 1}, "verified", None),
        ({"status": 429, "times": 2, "headers": {"Retry-After": "0"}}, "verified", None),
    ],
)
def test_provenance_faults_are_never_absent(real_index, tmp_path, fault, expected, reason):
    server, _registered = real_index
    server.fault("/integrity/sigstore/", **fault)
    _, out, _ = _enrich(server, tmp_path, cdx([pypi("sigstore", "3.6.1")]))
    p = props(out["components"][0])
    assert p["bomguard:provenance:status"] == expected
    if reason:
        assert reason in p["bomguard:provenance:reason"]


def test_unreachable_index_is_unknown(real_index, tmp_path):
    server, _ = real_index
    server.fault("/simple/sigstore/", status=503)
    code, out, _ = _enrich(server, tmp_path, cdx([pypi("sigstore", "3.6.1")]))
    p = props(out["components"][0])
    assert p["bomguard:provenance:status"] == "unknown"
    assert "503" in p["bomguard:provenance:reason"]
    assert code == 0


def test_input_errors_exit_2_with_file_and_field(tmp_path, index_server, capsys):
    missing = tmp_path / "nope.json"
    assert run_cli(["enrich", str(missing), *EMBEDDED]) == 2
    assert str(missing) in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6",\n "components": [')
    assert run_cli(["enrich", str(broken), *EMBEDDED]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "line 2" in err
    bad_field = write_json(tmp_path / "bad.json", cdx([{"name": "x", "purl": 42}]))
    assert run_cli(["enrich", str(bad_field), *EMBEDDED]) == 2
    err = capsys.readouterr().err
    assert "components[0].purl" in err
    assert len(err.strip().splitlines()) == 1
    spec = write_json(tmp_path / "old.json", cdx([], spec="1.2"))
    assert run_cli(["enrich", str(spec), *EMBEDDED]) == 2
    assert "specVersion" in capsys.readouterr().err
    assert run_cli(["enrich", str(spec), "--concurrency", "0"]) == 2


def test_failed_trust_root_refresh_exits_3_with_hint(real_index, tmp_path, monkeypatch, capsys):
    server, _ = real_index
    # A TUF repository URL on loopback that does not serve TUF metadata.
    monkeypatch.setenv("BOMGUARD_TUF_URL", server.url("/no-tuf-here"))
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sigstore", "3.6.1")]))
    out = tmp_path / "out.json"
    code = run_cli(["enrich", str(sbom), "-o", str(out), "--index-url", server.index_url])
    assert code == 3
    err = capsys.readouterr().err
    assert "--trust-root embedded" in err
    assert not out.exists()


def test_input_is_never_modified_and_outputs_are_whole(real_index, tmp_path):
    server, _ = real_index
    doc = cdx([pypi("sigstore", "3.6.1")])
    sbom = write_json(tmp_path / "in.json", doc)
    before = sbom.read_bytes()
    out = tmp_path / "out.json"
    assert (
        run_cli(["enrich", str(sbom), "-o", str(out), "--index-url", server.index_url, *EMBEDDED])
        == 0
    )
    assert sbom.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "out.json"]


def test_stdout_is_the_enriched_sbom(real_index, tmp_path, capsysbinary):
    server, _ = real_index
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sigstore", "3.6.1")]))
    assert run_cli(["enrich", str(sbom), "--index-url", server.index_url, *EMBEDDED]) == 0
    captured = capsysbinary.readouterr()
    doc = json.loads(captured.out)
    assert props(doc["components"][0])["bomguard:provenance:status"] == "verified"
    assert b"verdict: pass" in captured.err


def test_library_call_and_no_cache_left_behind(real_index, tmp_path):
    server, _ = real_index
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sigstore", "3.6.1")]))
    options = bomguard.EnrichOptions(
        trust_root="embedded", index=bomguard.IndexOptions(index_url=server.index_url)
    )
    result = bomguard.enrich(sbom, options)
    assert result.verdict.verdict == "pass"
    [evidence] = [e for e in result.evidence.values() if e is not None]
    assert evidence.status.value == "verified"
    identity = evidence.identity
    assert identity is not None
    assert identity.repository == "sigstore/sigstore-python"
    assert identity.ref == "refs/tags/v3.6.1"
    assert identity.log_index == 156716889
    # HOME is a fresh directory per test: sigstore's own TUF state must not appear.
    home = Path.home()
    assert not list(home.rglob("sigstore-python"))


def test_python_dash_m_runs(real_index, tmp_path):
    server, _ = real_index
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sigstore", "3.6.1")]))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bomguard",
            "enrich",
            str(sbom),
            "-o",
            str(tmp_path / "o.json"),
            "--index-url",
            server.index_url,
            *EMBEDDED,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "verdict: pass" in proc.stderr
