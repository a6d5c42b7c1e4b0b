"""Signed verdicts: 'bomguard enrich --vsa --sign' writes a SLSA Verification Summary
Attestation signed through sigstore-python's real signing client (against loopback Fulcio
and Rekor endpoints of the test Sigstore), and 'bomguard verify-vsa' / 'bomguard verify
--vsa' hold an SBOM to it. Each failure test names the tampering it catches."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from google.protobuf import json_format
from helpers import cdx, enrich_cli, pypi, run_cli, write_json
from in_toto_attestation.predicates.vsa.v1 import vsa_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from virtual_sigstore import GitHubIdentity, SigningServices, VirtualSigstore

from bomguard.vsa import check_statement
from bomguard.vsa.statement import StatementProblem

ROOT = Path(__file__).parent.parent
ACME = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")
SIGNER = GitHubIdentity(repository="acme/deploy", workflow="sbom.yml", ref="refs/heads/main")
SIGNER_ID = SIGNER.build_signer_uri
ISSUER = GitHubIdentity.issuer
_AMBIENT = ("GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "BUILDKITE", "GOOGLE_SERVICE_ACCOUNT_NAME")


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """The test Sigstore, its trusted root, and its Fulcio/Rekor endpoints on loopback."""
    folder = tmp_path_factory.mktemp("sigstore")
    with SigningServices(VirtualSigstore(seed=16)) as svc:
        root = svc.sigstore.write_trusted_root(folder / "trusted_root.json")
        config = svc.write_trust_config(folder / "trust_config.json")
        yield svc, root, config
    assert not svc.errors, svc.errors


@pytest.fixture(autouse=True)
def _no_ambient_ci(monkeypatch):
    for name in _AMBIENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SIGSTORE_IDENTITY_TOKEN", raising=False)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def _serve(server, sig, project, version, identity):
    filename = f"{project}-{version}.tar.gz"
    sha = hashlib.sha256(filename.encode()).hexdigest()
    provenance = sig.mint_provenance(filename, sha, identity)
    server.add_file(project, filename, sha256=sha, provenance=provenance)
    return filename, sha, provenance


def _enrich(index_server, services, tmp_path, *extra, components=None):
    _, root, _ = services
    sbom = write_json(
        tmp_path / "in.json", cdx(components or [pypi("widget", "1.0"), pypi("gadget", "2.0")])
    )
    out = tmp_path / "out.json"
    code = enrich_cli(sbom, out, index_server.index_url, "--no-cache", *extra, trust_root=root)
    return code, out


@pytest.fixture
def served(index_server, services):
    svc = services[0]
    widget = _serve(index_server, svc.sigstore, "widget", "1.0", ACME)
    gadget = _serve(
        index_server,
        svc.sigstore,
        "gadget",
        "2.0",
        replace(ACME, repository="acme/gadget", ref="refs/tags/v2.0"),
    )
    return {"widget": widget, "gadget": gadget}


@pytest.fixture
def signed(index_server, services, served, tmp_path, capsys):
    """An SBOM enriched with --vsa --sign (identity token given): (out, statement, bundle)."""
    svc, _, config = services
    vsa = tmp_path / "out.vsa.json"
    token = svc.mint_token(SIGNER)
    code, out = _enrich(
        index_server,
        services,
        tmp_path,
        "--vsa",
        str(vsa),
        "--sign",
        "--trust-config",
        str(config),
        "--identity-token",
        token,
    )
    err = capsys.readouterr().err
    assert code == 0, err
    return out, vsa, tmp_path / "out.vsa.json.sigstore.json"


def _verify_vsa(bundle, sbom, root, capsys, *, identity=SIGNER_ID, issuer=ISSUER):
    capsys.readouterr()
    code = run_cli(
        [
            "verify-vsa",
            str(bundle),
            "--sbom",
            str(sbom),
            "--cert-identity",
            identity,
            "--cert-oidc-issuer",
            issuer,
            "--trust-root",
            str(root),
        ]
    )
    return code, capsys.readouterr().err


def _in_toto_validate(data: bytes) -> None:
    """The in-toto project's own bindings: Statement v1 rules, and the VSA v1 predicate
    parsed strictly (unknown fields or wrong types are errors)."""
    pb = json_format.Parse(data, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    predicate = json_format.MessageToDict(pb.predicate)
    # in-toto-attestation 0.9.3's VSA proto predates SLSA v1.0's final text: it has
    # verifiedLevels as one string (the spec: an array) and no verifier.version (the
    # spec: an optional map of strings). Those two are checked against the spec apart.
    levels = predicate.pop("verifiedLevels")
    assert isinstance(levels, list) and all(isinstance(v, str) for v in levels)
    version = predicate["verifier"].pop("version")
    assert isinstance(version, dict) and all(isinstance(v, str) for v in version.values())
    json_format.ParseDict(predicate, vsa_pb2.VerificationSummary())


# --------------------------------------------------------------------------- the statement


def test_statement_says_what_was_verified(signed, served, index_server):
    out, vsa, _ = signed
    data = vsa.read_bytes()
    statement = json.loads(data)
    _in_toto_validate(data)
    assert check_statement(statement) is statement
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/verification_summary/v1"
    sbom, *files = statement["subject"]
    assert sbom == {
        "name": "out.json",
        "digest": {"sha256": hashlib.sha256(out.read_bytes()).hexdigest()},
    }
    assert sorted((f["name"], f["digest"]["sha256"]) for f in files) == sorted(
        (name, sha) for name, sha, _ in served.values()
    )
    assert {f["annotations"]["bomguard:provenance"] for f in files} == {"verified"}
    predicate = statement["predicate"]
    assert predicate["verifier"]["id"] == "https://pypi.org/project/bomguard/"
    assert "bomguard" in predicate["verifier"]["version"]
    assert predicate["resourceUri"] == "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
    assert predicate["policy"]["uri"] == "builtin:default-policy.yaml"
    assert len(predicate["policy"]["digest"]["sha256"]) == 64
    assert sorted(
        (a["uri"], a["digest"]["sha256"]) for a in predicate["inputAttestations"]
    ) == sorted(
        (
            index_server.provenance_url(project, version, name),
            hashlib.sha256(provenance).hexdigest(),
        )
        for (project, version), (name, _, provenance) in zip(
            [("widget", "1.0"), ("gadget", "2.0")], served.values(), strict=True
        )
    )
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["verifiedLevels"] == ["BOMGUARD_POLICY_DEFAULT"]
    assert not any(level.startswith("SLSA_") for level in predicate["verifiedLevels"])


def test_failed_verdict_is_a_failed_vsa_and_the_gate_refuses_it(
    index_server, services, served, tmp_path, capsys
):
    svc, root, config = services
    index_server.add_file("cryptography", "cryptography-50.0.2.tar.gz", sha256="ab" * 32)
    vsa = tmp_path / "out.vsa.json"
    code, out = _enrich(
        index_server,
        services,
        tmp_path,
        "--policy",
        str(ROOT / "policies" / "trusted-publisher-critical.yaml"),
        "--vsa",
        str(vsa),
        "--sign",
        "--trust-config",
        str(config),
        "--identity-token",
        svc.mint_token(SIGNER),
        components=[pypi("widget", "1.0"), pypi("cryptography", "50.0.2")],
    )
    assert code == 1, capsys.readouterr().err
    predicate = json.loads(vsa.read_bytes())["predicate"]
    _in_toto_validate(vsa.read_bytes())
    assert predicate["verificationResult"] == "FAILED"
    assert predicate["verifiedLevels"] == ["FAILED"]
    code, err = _verify_vsa(tmp_path / "out.vsa.json.sigstore.json", out, root, capsys)
    assert code == 1
    assert "FAIL: VSA signed by" in err and ": FAILED for" in err


def test_several_policies_are_one_policy_set_and_each_passed_is_a_level(
    index_server, services, served, tmp_path, capsys
):
    baseline = ROOT / "policies" / "baseline.yaml"
    vsa = tmp_path / "v.json"
    code, _ = _enrich(
        index_server, services, tmp_path, "--policy", str(baseline), "--strict", "--vsa", str(vsa)
    )
    assert code == 0, capsys.readouterr().err
    predicate = check_statement(json.loads(vsa.read_bytes()))["predicate"]
    assert predicate["verifiedLevels"] == ["BOMGUARD_POLICY_BASELINE", "BOMGUARD_POLICY_STRICT"]
    policy = predicate["policy"]
    assert policy["uri"] == "bomguard:policy-set"
    listed = policy["annotations"]["policies"]
    assert {p["uri"] for p in listed} == {str(baseline), "builtin:strict-policy.yaml"}
    baseline_sha = hashlib.sha256(baseline.read_bytes()).hexdigest()
    assert {"uri": str(baseline), "digest": {"sha256": baseline_sha}} in listed
    canonical = json.dumps(listed, sort_keys=True, separators=(",", ":")).encode()
    assert policy["digest"]["sha256"] == hashlib.sha256(canonical).hexdigest()


def test_statement_is_reproducible_with_source_date_epoch(
    index_server, services, served, tmp_path, monkeypatch
):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    runs = []
    for n in (1, 2):
        if n == 2:
            time.sleep(1.1)  # a later second on the clock: only SOURCE_DATE_EPOCH is written
        folder = tmp_path / str(n)
        folder.mkdir()
        code, _ = _enrich(index_server, services, folder, "--vsa", str(folder / "v.json"))
        assert code == 0
        runs.append((folder / "v.json").read_bytes())
    assert runs[0] == runs[1]
    assert (tmp_path / "1" / "out.json").read_bytes() == (tmp_path / "2" / "out.json").read_bytes()
    assert json.loads(runs[0])["predicate"]["timeVerified"] == "2026-01-01T00:00:00Z"
    assert not (tmp_path / "1" / "v.json.sigstore.json").exists()


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("_type",), "https://in-toto.io/Statement/v0.1", "_type"),
        (("subject",), [], "subject"),
        (("subject", 0, "digest", "sha256"), "ABC", "subject[0].digest.sha256"),
        (("predicate", "verificationResult"), "OK", "verificationResult"),
        (("predicate", "verifiedLevels"), ["SLSA_BUILD_LEVEL_3"], "FAILED"),
        (("predicate", "verifiedLevels"), ["SLSA_GOOD"], "SLSA_"),
        (("predicate", "policy"), {"digest": {"sha256": "0" * 64}}, "policy.uri"),
        (("predicate", "timeVerified"), "yesterday", "timeVerified"),
        (("predicate", "inputAttestations"), [{"uri": "x"}], "inputAttestations[0].digest"),
    ],
)
def test_checker_names_the_rule_a_statement_breaks(signed, path, value, problem):
    statement = json.loads(signed[1].read_bytes())
    if path[-1] == "verifiedLevels" and value == ["SLSA_BUILD_LEVEL_3"]:
        statement["predicate"]["verificationResult"] = "FAILED"
    target = statement
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(StatementProblem, match=problem.replace("[", r"\[").replace("]", r"\]")):
        check_statement(statement)


# --------------------------------------------------------------------------- verifying


def test_signed_vsa_verifies_with_bomguard_and_sigstore(signed, services, capsys):
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity

    out, vsa, bundle = signed
    _, root, _ = services
    code, err = _verify_vsa(bundle, out, root, capsys)
    assert code == 0, err
    assert f"OK: VSA signed by {SIGNER_ID} ({ISSUER}): PASSED" in err
    assert "policy: builtin:default-policy.yaml sha256:" in err
    assert "verified levels: BOMGUARD_POLICY_DEFAULT" in err
    # sigstore-python's own verifier agrees, and the signed payload is the statement written.
    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(root)))
    payload_type, payload = verifier.verify_dsse(
        Bundle.from_json(bundle.read_bytes()), Identity(identity=SIGNER_ID, issuer=ISSUER)
    )
    assert payload_type == "application/vnd.in-toto+json"
    assert payload == vsa.read_bytes()


def test_verify_with_vsa_catches_an_edit_the_offline_recheck_cannot_see(signed, services, capsys):
    out, _, bundle = signed
    _, root, _ = services
    doc = json.loads(out.read_text())
    # A component of another ecosystem: bomguard records nothing on it, so the offline
    # re-check has nothing to hold it to.
    doc["components"].append(
        {"type": "library", "name": "backdoor", "version": "0.1", "purl": "pkg:npm/backdoor@0.1"}
    )
    out.write_text(json.dumps(doc, indent=2))
    capsys.readouterr()
    assert run_cli(["verify", str(out), "--trust-root", str(root)]) == 0
    code = run_cli(
        [
            "verify",
            str(out),
            "--trust-root",
            str(root),
            "--vsa",
            str(bundle),
            "--cert-identity",
            SIGNER_ID,
            "--cert-oidc-issuer",
            ISSUER,
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "the SBOM is not the one that was verified" in err


def test_verify_with_vsa_passes_an_untouched_sbom(signed, services, capsys):
    out, _, bundle = signed
    _, root, _ = services
    capsys.readouterr()
    args = ["verify", str(out), "--trust-root", str(root), "--vsa", str(bundle)]
    ident = ["--cert-identity", SIGNER_ID, "--cert-oidc-issuer", ISSUER]
    assert run_cli([*args, *ident]) == 0, capsys.readouterr().err
    assert run_cli(args) == 2  # a VSA is only checked against an expected signer


def test_vsa_logged_under_a_log_key_outside_its_window_is_refused(
    signed, services, tmp_path, capsys
):
    """The same signed VSA against a trust root whose Rekor key was retired before the
    entry was integrated: sigstore alone accepts it (its keyring holds every key); bomguard
    refuses it, as it refuses such a provenance entry. (Control: the usual root passes.)"""
    from datetime import UTC, datetime

    from virtual_sigstore import CA_NOT_BEFORE

    out, _, bundle = signed
    svc, root, _ = services
    assert _verify_vsa(bundle, out, root, capsys)[0] == 0
    retired = svc.sigstore.write_trusted_root(
        tmp_path / "retired_root.json",
        rekor_valid_for=(CA_NOT_BEFORE, datetime(2025, 1, 1, tzinfo=UTC)),
    )
    code, err = _verify_vsa(bundle, out, retired, capsys)
    assert code == 1, err
    assert "was not valid at the entry's integrated time" in err


def test_sbom_edited_after_signing_is_refused(signed, services, capsys):
    out, _, bundle = signed
    _, root, _ = services
    out.write_bytes(out.read_bytes().replace(b'"verified"', b'"verified" ', 1))
    code, err = _verify_vsa(bundle, out, root, capsys)
    assert code == 1
    assert "is not the" in err and "the SBOM is not the one that was verified" in err


@pytest.mark.parametrize(
    ("identity", "issuer"),
    [
        ("https://github.com/evil/deploy/.github/workflows/sbom.yml@refs/heads/main", ISSUER),
        (SIGNER_ID, "https://gitlab.com"),
    ],
    ids=["wrong-identity", "wrong-issuer"],
)
def test_signer_other_than_expected_is_refused(signed, services, capsys, identity, issuer):
    out, _, bundle = signed
    code, err = _verify_vsa(bundle, out, services[1], capsys, identity=identity, issuer=issuer)
    assert code == 1
    assert "FAIL:" in err and "the VSA does not verify" in err


def test_statement_edited_inside_the_bundle_is_refused(signed, services, tmp_path, capsys):
    out, _, bundle = signed
    doc = json.loads(bundle.read_bytes())
    envelope = doc["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    # Point the statement at an edited SBOM and claim it passed: the signature breaks.
    edited = out.read_bytes() + b"\n"
    out.write_bytes(edited)
    statement["subject"][0]["digest"]["sha256"] = hashlib.sha256(edited).hexdigest()
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = write_json(tmp_path / "forged.sigstore.json", doc)
    code, err = _verify_vsa(forged, out, services[1], capsys)
    assert code == 1
    assert "the VSA does not verify" in err


def test_attacker_re_signing_an_edited_sbom_with_their_own_identity_is_refused(
    signed, services, tmp_path, capsys
):
    """Anyone with a CI identity can sign on the same Sigstore: the expected signer decides."""
    from bomguard.vsa.sign import sign_statement

    svc, root, config = services
    out, vsa, _ = signed
    statement = json.loads(vsa.read_bytes())
    edited = out.read_bytes().replace(b'"verified"', b'"verified" ', 1)
    out.write_bytes(edited)
    statement["subject"][0]["digest"]["sha256"] = hashlib.sha256(edited).hexdigest()
    evil = GitHubIdentity(repository="evil/deploy", workflow="sbom.yml")
    bundle = tmp_path / "evil.sigstore.json"
    bundle.write_bytes(
        sign_statement(
            json.dumps(statement).encode(),
            trust_config=config,
            identity_token=svc.mint_token(evil),
        )
    )
    assert _verify_vsa(bundle, out, root, capsys, identity=evil.build_signer_uri)[0] == 0
    code, err = _verify_vsa(bundle, out, root, capsys)
    assert code == 1
    assert "the VSA does not verify" in err


def test_bundle_from_another_sigstore_is_refused(index_server, services, served, tmp_path, capsys):
    _, root, _ = services
    with SigningServices(VirtualSigstore(seed=99)) as other:
        config = other.write_trust_config(tmp_path / "other.json")
        vsa = tmp_path / "out.vsa.json"
        code, out = _enrich(
            index_server,
            services,
            tmp_path,
            "--vsa",
            str(vsa),
            "--sign",
            "--trust-config",
            str(config),
            "--identity-token",
            other.mint_token(SIGNER),
        )
        assert code == 0, capsys.readouterr().err
    code, err = _verify_vsa(tmp_path / "out.vsa.json.sigstore.json", out, root, capsys)
    assert code == 1
    assert "the VSA does not verify" in err


def test_unsigned_statement_passed_as_signed_is_refused(signed, services, capsys):
    out, vsa, _ = signed
    code, err = _verify_vsa(vsa, out, services[1], capsys)
    assert code == 1
    assert "an unsigned in-toto statement, not a Sigstore bundle" in err


def test_not_a_bundle_is_an_input_error(signed, services, tmp_path, capsys):
    out, _, _ = signed
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    code, err = _verify_vsa(junk, out, services[1], capsys)
    assert code == 2
    assert err.count("\n") == 1 and str(junk) in err


# --------------------------------------------------------------------------- signing


def test_ambient_github_actions_identity_signs(
    index_server, services, served, tmp_path, monkeypatch, capsys
):
    svc, root, config = services
    for name, value in svc.github_env(SIGNER).items():
        monkeypatch.setenv(name, value)
    vsa = tmp_path / "v.json"
    code, out = _enrich(
        index_server, services, tmp_path, "--vsa", str(vsa), "--sign", "--trust-config", str(config)
    )
    assert code == 0, capsys.readouterr().err
    assert any(r.startswith("/github-actions/token") for r in svc.requests)
    code, err = _verify_vsa(tmp_path / "v.json.sigstore.json", out, root, capsys)
    assert code == 0, err


def test_no_sigstore_reachable_is_one_line_exit_3_and_the_unsigned_vsa_is_written(
    index_server, services, served, tmp_path, capsys
):
    svc, _, _ = services
    config = svc.trust_config()
    for service in (*config["signingConfig"]["caUrls"], *config["signingConfig"]["rekorTlogUrls"]):
        service["url"] = "http://127.0.0.1:9"  # the discard port: nothing listens
    path = write_json(tmp_path / "offline.json", config)
    vsa = tmp_path / "v.json"
    args = ["--vsa", str(vsa), "--sign", "--trust-config", str(path)]
    code, out = _enrich(
        index_server, services, tmp_path, *args, "--identity-token", svc.mint_token(SIGNER)
    )
    err = capsys.readouterr().err
    assert code == 3
    errors = [line for line in err.splitlines() if line.startswith("bomguard: error:")]
    assert len(errors) == 1
    assert "cannot sign the VSA: cannot reach http://127.0.0.1:9/api/v2/signingCert" in errors[0]
    assert "Traceback" not in err
    assert out.exists()
    subject = json.loads(vsa.read_bytes())["subject"][0]
    assert subject["digest"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert not (tmp_path / "v.json.sigstore.json").exists()


def test_no_network_for_sigstores_own_config_is_exit_3(
    index_server, services, served, tmp_path, monkeypatch, capsys
):
    """Without --trust-config the signing config comes over TUF: unreachable, exit 3."""
    monkeypatch.setenv("BOMGUARD_TUF_URL", "http://127.0.0.1:9/")
    vsa = tmp_path / "v.json"
    token = services[0].mint_token(SIGNER)
    code, out = _enrich(
        index_server, services, tmp_path, "--vsa", str(vsa), "--sign", "--identity-token", token
    )
    err = capsys.readouterr().err
    assert code == 3
    assert [line for line in err.splitlines() if line.startswith("bomguard: error:")] == [
        next(line for line in err.splitlines() if "could not refresh" in line)
    ]
    assert out.exists() and vsa.exists()
    assert not (tmp_path / "v.json.sigstore.json").exists()


def test_no_identity_is_exit_3_with_a_hint(index_server, services, served, tmp_path, capsys):
    vsa = tmp_path / "v.json"
    code, _ = _enrich(
        index_server,
        services,
        tmp_path,
        "--vsa",
        str(vsa),
        "--sign",
        "--trust-config",
        str(services[2]),
    )
    err = capsys.readouterr().err
    assert code == 3
    assert "--sign: no identity to sign with" in err and "--identity-token" in err
    assert vsa.exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["--sign"],
        ["--vsa", "{tmp}/v.json", "--sign", "--identity-token", "not-a-jwt"],
        ["--vsa", "{tmp}/out.json"],
        ["--vsa", "{tmp}/missing/v.json"],
        ["--vsa", "{tmp}/v.json", "--trust-config", "{tmp}/in.json"],
        ["--vsa", "{tmp}/v.json", "--sign", "--trust-config", "{tmp}/in.json"],
    ],
    ids=[
        "sign-without-vsa",
        "malformed-token",
        "vsa-is-output",
        "vsa-folder-missing",
        "config-without-sign",
        "config-not-a-trust-config",
    ],
)
def test_bad_vsa_options_are_refused_before_any_work(
    index_server, services, tmp_path, capsys, extra
):
    code, out = _enrich(index_server, services, tmp_path, *(e.format(tmp=tmp_path) for e in extra))
    assert code == 2
    assert not index_server.requests
    assert not out.exists()
    assert "Traceback" not in capsys.readouterr().err
