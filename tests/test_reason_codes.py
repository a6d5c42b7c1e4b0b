"""Every status reason has a stable code, a plain sentence and what to do: in the verdict,
in ``-v``, in CEL (``component.provenance.code``) and in SARIF.

Each forgery the test Sigstore can mint is served by the loopback index and enriched
through the CLI; the code must name what was forged, and a policy on the code must see it.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from helpers import cdx, pypi, run_cli, write_json
from virtual_sigstore import Defect, GitHubIdentity, VirtualSigstore

from bomguard.models import DigestSource, Status
from bomguard.reasons import CATALOGUE, explain

ACME = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")

EXPECTED = {
    Defect.EXPIRED_CERTIFICATE: "certificate-untrusted",
    Defect.CERTIFICATE_NOT_YET_VALID: "certificate-untrusted",
    Defect.UNTRUSTED_CA: "certificate-untrusted",
    Defect.BAD_SCT: "certificate-untrusted",
    Defect.BAD_SET: "transparency-log-invalid",
    Defect.BAD_CHECKPOINT: "transparency-log-invalid",
    Defect.BAD_INCLUSION_PROOF: "transparency-log-invalid",
    Defect.BAD_SIGNATURE: "signature-invalid",
    Defect.WRONG_SUBJECT_NAME: "subject-name-mismatch",
    Defect.WRONG_SUBJECT_DIGEST: "subject-digest-mismatch",
    Defect.WRONG_PUBLISHER: "publisher-mismatch",
}

POLICY = """\
apiVersion: bomguard/v1
kind: Policy
metadata:
  name: codes
rules:
  - id: no-forged-publisher
    description: A certificate issued to another publisher is a forgery
    require: component.provenance.code != "publisher-mismatch"
    message: "{name}: publisher mismatch"
  - id: files-have-codes
    severity: warning
    description: Every file that is not verified says why in a code
    require: component.provenance.files.all(f, f.status == "verified" || f.code != "")
"""


@pytest.fixture(scope="module")
def vsig(tmp_path_factory):
    sig = VirtualSigstore(seed=18)
    root = sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return sig, root


def _run(index_server, vsig, tmp_path, capsys, defects, publisher=None):
    sig, root = vsig
    components = []
    for n, defect in enumerate(defects):
        project = f"widget{n}"
        filename = f"{project}-1.0.tar.gz"
        sha = hashlib.sha256(filename.encode()).hexdigest()
        provenance = sig.mint_provenance(filename, sha, ACME, defect=defect, publisher=publisher)
        index_server.add_file(project, filename, sha256=sha, provenance=provenance)
        components.append(pypi(project, "1.0"))
    sbom = write_json(tmp_path / "in.json", cdx(components))
    policy = tmp_path / "codes.yaml"
    policy.write_text(POLICY)
    verdict, sarif = tmp_path / "verdict.json", tmp_path / "out.sarif"
    capsys.readouterr()
    code = run_cli(
        [
            "enrich",
            str(sbom),
            "-o",
            str(tmp_path / "out.json"),
            "--verdict",
            str(verdict),
            "--report",
            f"sarif:{sarif}",
            "--index-url",
            index_server.index_url,
            "--trust-root",
            str(root),
            "--no-cache",
            "--policy",
            str(policy),
            "-v",
        ]
    )
    return (
        code,
        json.loads(verdict.read_text()),
        json.loads(sarif.read_text()),
        capsys.readouterr().err,
    )


def test_every_forgery_gets_the_code_that_names_it(index_server, vsig, tmp_path, capsys):
    defects = list(EXPECTED)
    code, verdict, sarif, _ = _run(index_server, vsig, tmp_path, capsys, defects)
    found = {f["component"]: f for f in verdict["findings"]}
    for n, defect in enumerate(defects):
        finding = found[f"pkg:pypi/widget{n}@1.0"]
        assert finding["status"] == "invalid"
        assert finding["code"] == EXPECTED[defect], (defect, finding["detail"])
        assert finding["message"] and finding["hint"] and finding["detail"]
        assert finding["hint"] == CATALOGUE[finding["code"]].hint
    wrong = found[f"pkg:pypi/widget{defects.index(Defect.WRONG_PUBLISHER)}@1.0"]
    assert wrong["message"] == (
        "The publisher on the index names acme/widget (workflow not-release.yml); the "
        "certificate was issued to acme/widget (workflow release.yml)."
    )
    # A policy on the code sees it: only the publisher forgery fails that rule.
    failed = {v["component"] for v in verdict["violations"] if v["rule"] == "no-forged-publisher"}
    n = defects.index(Defect.WRONG_PUBLISHER)
    assert failed == {f"pkg:pypi/widget{n}@1.0"} and code == 1
    # No file lacks a code.
    assert not [v for v in verdict["violations"] if v["rule"] == "files-have-codes"]
    # SARIF results carry the code.
    codes = {
        r["properties"]["component"]: r["properties"]["reasonCode"]
        for r in sarif["runs"][0]["results"]
    }
    assert codes[f"pkg:pypi/widget{n}@1.0"] == "publisher-mismatch"


def test_a_publisher_forgery_reads_as_something_to_act_on(index_server, vsig, tmp_path, capsys):
    evil = {"kind": "GitHub", "repository": "evil-org/widget", "workflow": "release.yml"}
    _, verdict, _, err = _run(index_server, vsig, tmp_path, capsys, [None], publisher=evil)
    finding = verdict["findings"][0]
    assert finding["code"] == "publisher-mismatch"
    # Both sides named: the publisher the index names and the one the certificate was issued to.
    assert finding["message"].startswith(
        "The publisher on the index names evil-org/widget; the certificate was issued to "
        "acme/widget"
    )
    assert "do not install" in finding["hint"] and "report it to the index" in finding["hint"]
    # -v prints the code, the sentence, what to do and the raw detail.
    assert "[publisher-mismatch]" in err and "what to do: " in err
    assert f"detail: {finding['detail']}" in err


def test_a_digest_mismatch_says_where_the_digest_came_from():
    raw = "x.tar.gz: attestations[0]: subject sha256 aa does not match the file's bb"
    for source, words in (
        (DigestSource.INDEX, "the sha256 the index advertises"),
        (DigestSource.SBOM, "the sha256 the SBOM records"),
        (DigestSource.DOWNLOADED, "the sha256 of the bytes bomguard downloaded"),
    ):
        explained = explain(Status.INVALID, raw, source)
        assert explained.code == "subject-digest-mismatch"
        assert words in explained.message and "the file's" not in explained.message
        assert explained.detail == raw


def test_an_unknown_reason_keeps_its_status_catch_all():
    for status, other in (
        (Status.INVALID, "invalid-other"),
        (Status.UNKNOWN, "unknown-other"),
        (Status.UNSUPPORTED, "unsupported-other"),
    ):
        assert explain(status, "something never seen before").code == other
    assert all(CATALOGUE[c.code].status is c.status for c in CATALOGUE.values())
    # A code of one status is never given to another.
    assert explain(Status.UNKNOWN, "signature verification failed: x").code.startswith("unknown")


def test_every_code_is_documented():
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "enrichment.md").read_text()
    missing = [
        c.code
        for c in CATALOGUE.values()
        if f"| `{c.code}` | `{c.status.value}` | {c.summary} | {c.hint} |" not in doc
    ]
    assert missing == []
